"""Ops that pick between values elementwise: ``maximum``/``minimum``, ``masked_fill`` and
``clamp``, with PyTorch's gradients at ties and bounds."""
from .. import dtypes as _dtypes
from ..finfo import check_fits
from .. import tensor as _tensor
from ..engine.function import Function
from .broadcast import sum_to
from .elementwise import Where, _Binary, _check_out, promoted_of


class _MaxMin(_Binary):
    """maximum/minimum; PyTorch's gradient: ``where(a == b, grad / 2, grad)``, set to 0 for the
    operand the other one beats. A NaN beats nothing and is beaten by nothing, so both operands
    of a NaN get the whole gradient."""

    save_inputs = True
    winner = None  # comparison under which ``a`` takes the whole gradient

    def backward(self, grad):
        a, b = self.inputs
        ta = _tensor.as_tensor_like(a, b)
        tb = _tensor.as_tensor_like(b, ta)
        shared = Where.apply(ta == tb, grad / 2, grad)
        ga = gb = None
        if self.shapes[0] is not None:
            ga = sum_to(Where.apply(tb._compare(self.winner, ta), 0.0, shared), self.shapes[0])
        if self.shapes[1] is not None:
            gb = sum_to(Where.apply(ta._compare(self.winner, tb), 0.0, shared), self.shapes[1])
        return ga, gb


class Maximum(_MaxMin):
    op, winner = "maximum", "gt"


class Minimum(_MaxMin):
    op, winner = "minimum", "lt"


class MaskedFill(Function):
    """``a`` with ``value`` (a number or a 0-d tensor, which gets the gradient of the filled
    entries) where ``mask``, a bool tensor broadcast to ``a``'s shape, is true; in place as
    ``masked_fill_``. The filled entries of ``a`` get no gradient."""

    supports_out = True

    def forward(self, a, mask, value, out=None):
        backend = self.backend
        self.value_shape = getattr(value, "shape", None)
        if self.value_shape:
            raise RuntimeError(f"masked_fill_ only supports a 0-dimensional value tensor, but got "
                               f"tensor with {len(self.value_shape)} dimension(s).")
        if backend.dtype(mask) is not _dtypes.bool_:
            raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with "
                               f"dtype {backend.dtype(mask).name}")
        dtype = backend.dtype(a)
        check_fits(value, dtype)
        self.saved = mask
        return backend.where(mask, value, a, dtype, out)

    def backward(self, grad):
        mask = _tensor.Tensor._make(self.saved, self.backend, False)
        grad_value = None if self.value_shape is None else Where.apply(mask, grad, 0.0).sum()
        return Where.apply(mask, 0.0, grad), None, grad_value


class Clamp(Function):
    """``clamp(x, min, max)``: ``minimum(maximum(x, min), max)``, with PyTorch's gradients
    (``clamp_backward``, ``clamp_backward_min_max``): ``x`` gets it where
    ``min <= x <= max`` (the bounds included; NaN gets none).

    Bounds are numbers, as keywords (``Clamp.apply(x, min=0.0)``), or tensors, positionally
    (``Clamp.apply(x, lo, hi)``, None for an absent one; they broadcast). A tensor bound gets
    the gradient where it binds: ``min`` where ``x < min`` and ``min < max``, ``max`` where
    ``x > max`` or ``max < min`` (with ``min > max`` the result is ``max``).
    """

    save_inputs = True
    supports_out = True

    def forward(self, a, min=None, max=None, out=None):
        backend = self.backend
        self.bounds = (min, max)
        self.shapes = tuple(getattr(x, "shape", None) for x in (a, min, max))
        dtype = promoted_of(backend, a, min, max)  # clamp(int_tensor, 0.5) is float32
        if self.shapes[1] is not None or self.shapes[2] is not None:
            kinds = tuple(None if s is None else backend.dtype(x)
                          for s, x in zip(self.shapes, (a, min, max)))
            if any(k is not None and k is not dtype for k in kinds):
                self.input_dtypes = kinds
        check_fits(min, dtype)  # (numbers only: a tensor bound passes)
        check_fits(max, dtype)
        if out is not None:
            _check_out(dtype, backend, out)
        result = a
        if min is not None:
            result = backend.binary("maximum", result, min, dtype, out)
        if max is not None:
            result = backend.binary("minimum", result, max, dtype, out)
        return result

    def backward(self, grad):
        x = self.inputs[0]
        lo, hi = (tuple(self.inputs[1:]) + (None, None))[:2]
        if len(self.inputs) == 1:
            lo, hi = self.bounds  # numbers, given as keywords
        inside = None
        if lo is not None:
            inside = x >= lo
        if hi is not None:
            inside = x <= hi if inside is None else inside.logical_and(x <= hi)
        grad_x = grad if inside is None else Where.apply(inside, grad, 0.0)
        grad_x = sum_to(grad_x, self.shapes[0])
        if len(self.inputs) == 1:
            return grad_x
        grads = [grad_x, None, None]
        for i in (1, 2):
            if self.shapes[i] is None or self.next_nodes[i] is None:
                continue
            if i == 1:  # min binds below x unless max overrides it
                binds = x < lo if hi is None else (x < lo).logical_and(lo < hi)
            else:
                binds = x > hi if lo is None else (x > hi).logical_or(hi < lo)
            grads[i] = sum_to(Where.apply(binds, grad, 0.0), self.shapes[i])
        return tuple(grads[:len(self.inputs)])
