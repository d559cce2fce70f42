"""The in-place methods of ``Tensor`` (``add_``, ``mul_``, ``exp_``, ``clamp_``, ``copy_``,
``fill_``, ``normal_``...) and the augmented operators (``+=``, ``-=``, ``*=``, ``/=``, ``**=``,
``@=``).

Each writes into the tensor's own storage (seen by every view of it) and runs the same op as its
out-of-place twin through ``inplace.apply_inplace``, which records it for autograd as PyTorch
does. Under ``gg.no_grad()`` a parameter updated in place (``p -= lr * p.grad``) stays the same
leaf tensor.
"""
from . import dtypes as _dtypes
from .finfo import check_fits
from . import random as _random
from .inplace import apply_inplace
from .ops import elementwise as E
from .ops import selection as SEL
from .ops import matmul as M
from .ops import random as R
from .ops import shape as S
from .tensor import Tensor, as_tensor_like
from .tensor_api import tensor_method as _method


def _scaled(other, alpha, name):
    if alpha == 1:
        return other
    if not isinstance(other, Tensor) and not isinstance(other, (int, float)):
        raise TypeError(f"{name}(): argument 'other' must be Tensor or Number, not "
                        f"{type(other).__name__}")
    return other * alpha


@_method("add_")
def add_(self, other, *, alpha=1):
    """``self += alpha * other`` in place; returns self."""
    return apply_inplace(E.Add, self, _scaled(other, alpha, "add_"))


@_method("sub_")
def sub_(self, other, *, alpha=1):
    """``self -= alpha * other`` in place; returns self."""
    return apply_inplace(E.Sub, self, _scaled(other, alpha, "sub_"))


for _name, _op, _sym in (("mul_", E.Mul, "*"), ("div_", E.Div, "/"), ("pow_", E.Pow, "**")):
    _method(_name, f"``self {_sym}= other`` in place (``other`` a tensor or a number, "
                   f"broadcast to self's shape); returns self.")(
        (lambda op: lambda self, other: apply_inplace(op, self, other))(_op))

Tensor.__iadd__ = lambda self, other: apply_inplace(E.Add, self, other)
Tensor.__isub__ = lambda self, other: apply_inplace(E.Sub, self, other)
Tensor.__imul__ = Tensor.mul_
Tensor.__itruediv__ = Tensor.div_
Tensor.__ipow__ = Tensor.pow_
Tensor.subtract_, Tensor.multiply_, Tensor.divide_ = Tensor.sub_, Tensor.mul_, Tensor.div_


@_method("__imatmul__")
def imatmul(self, other):
    """``self @= other``: in place when the product has self's shape and dtype; otherwise
    Python rebinds ``self`` to ``self @ other`` (as it does for PyTorch tensors)."""
    if not isinstance(other, Tensor):
        return NotImplemented
    shape_a, shape_b = self.shape, other.shape
    if len(shape_a) >= 2 and len(shape_b) >= 2 and shape_b[-2] == shape_b[-1] and \
            len(shape_b) <= len(shape_a) and other.dtype is self.dtype:
        return apply_inplace(M.Matmul, self, other)
    return NotImplemented


for _name, _op in (("neg_", E.Neg), ("exp_", E.Exp), ("log_", E.Log), ("sqrt_", E.Sqrt),
                   ("abs_", E.Abs), ("sign_", E.Sign), ("relu_", E.Relu),
                   ("sigmoid_", E.Sigmoid), ("tanh_", E.Tanh)):
    _method(_name, f"``self.{_name[:-1]}()`` written into self; returns self.")(
        (lambda op: lambda self: apply_inplace(op, self))(_op))
Tensor.negative_, Tensor.absolute_ = Tensor.neg_, Tensor.abs_


@_method("square_")
def square_(self):
    """``self * self`` written into self; returns self."""
    return apply_inplace(E.Pow, self, 2)


@_method("clamp_")
def clamp_(self, min=None, max=None):
    """``self.clamp(min, max)`` written into self (``clip_`` is an alias); returns self."""
    if min is None and max is None:
        raise RuntimeError("clamp_: at least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):  # tensor bounds, positionally
        return apply_inplace(SEL.Clamp, self, min, max)
    return apply_inplace(SEL.Clamp, self, min=min, max=max)


Tensor.clip_ = clamp_


@_method("clamp_min_")
def clamp_min_(self, min):
    """``self.clamp_(min=min)``."""
    return clamp_(self, min=min)


@_method("clamp_max_")
def clamp_max_(self, max):
    """``self.clamp_(max=max)``."""
    return clamp_(self, max=max)


@_method("masked_fill_")
def masked_fill_(self, mask, value):
    """Set the entries where ``mask`` (a bool tensor broadcast to self's shape) is true to
    ``value`` (a number or a 0-d tensor), in place; returns self."""
    return apply_inplace(SEL.MaskedFill, self, _mask(self, mask), _fill(value, "masked_fill_"))


@_method("masked_fill")
def masked_fill(self, mask, value):
    """A copy of self with ``value`` where ``mask`` (a bool tensor) is true."""
    return SEL.MaskedFill.apply(self, _mask(self, mask), _fill(value, "masked_fill"))


def _mask(self, mask):
    return mask if isinstance(mask, Tensor) else as_tensor_like(mask, self)


def _fill(value, op_name):
    """A fill value: a tensor or a number (None and other objects are refused, as in
    PyTorch, rather than read as NaN)."""
    if isinstance(value, Tensor):
        return value
    try:
        return _dtypes.as_number(value, op_name)
    except TypeError:
        raise TypeError(f"{op_name}(): argument 'value' must be Number or Tensor, not "
                        f"{type(value).__name__}") from None


@_method("copy_")
def copy_(self, src, non_blocking=False):
    """Copy ``src``'s values (a tensor broadcast to self's shape, moved to self's device and
    dtype, or a number) into self; returns self. Gradients flow back to ``src``."""
    if isinstance(src, Tensor):
        src = src.to(self.device)
        if src.dtype is not self.dtype:
            src = src.to(self.dtype)
    elif not isinstance(src, (int, float, bool)):
        src = as_tensor_like(src, self).to(self.dtype)
    return apply_inplace(S.Copy, self, src)


@_method("fill_")
def fill_(self, value):
    """Set every element to ``value`` (a number, or a 0-d tensor, which then gets the
    gradient) in place; returns self."""
    if isinstance(value, Tensor) and value.ndim:
        raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with "
                           f"{value.ndim} dimensions.")
    check_fits(value, self.dtype)
    return copy_(self, value)


@_method("zero_")
def zero_(self):
    """Set every element to 0 in place; returns self."""
    return apply_inplace(S.Copy, self, 0)


@_method("normal_")
def normal_(self, mean=0.0, std=1.0):
    """Overwrite self with normal random values of ``mean`` and ``std`` (from the generator
    seeded by ``gg.manual_seed``); returns self."""
    return apply_inplace(R.RandomFill, self, kind="normal", loc=mean, scale=std,
                         seed=_random.next_seed())


@_method("uniform_")
def uniform_(self, from_=0.0, to=1.0):
    """Overwrite self with uniform random values in ``[from_, to)`` (PyTorch's ``from``,
    ``to``); returns self."""
    return apply_inplace(R.RandomFill, self, kind="uniform", loc=from_, scale=to - from_,
                         seed=_random.next_seed())


# ---- compositions (an out-of-place product, then one in-place op) ---------------------------
@_method("addcmul_")
def addcmul_(self, tensor1, tensor2, *, value=1):
    """``self += value * tensor1 * tensor2`` in place; returns self."""
    return add_(self, tensor1 * tensor2 * value if value != 1 else tensor1 * tensor2)


@_method("addcdiv_")
def addcdiv_(self, tensor1, tensor2, *, value=1):
    """``self += value * tensor1 / tensor2`` in place; returns self."""
    return add_(self, tensor1 / tensor2 * value if value != 1 else tensor1 / tensor2)
