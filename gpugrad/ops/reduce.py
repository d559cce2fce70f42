"""Reductions: sum, mean, max/min (amax/amin, the full ``max()``, the ``(values, indices)``
form), var/std and the vector norm, with PyTorch's gradients where they are not smooth: ties,
NaNs, zero spread and zero norm (the rules of PyTorch's ``FunctionsManual.cpp``, named per op).
"""
import math

from ..dtypes import int64
from ..engine.function import Function
from ..tensor import Tensor
from .broadcast import keepdim_shape, reduction_dims
from .elementwise import Abs, Div, Where, binary_arrays, in_float32
from .scan import Cumprod, reverse
from .shape import Cat, Expand, Getitem, Reshape


def _axis(dims, ndim):
    return None if len(dims) == ndim else dims


class Sum(Function):
    autocast = "gpu_float32"

    def forward(self, a, dim=None, keepdim=False):
        self.in_shape = a.shape
        self.keepdim = keepdim
        if dim is None:  # the common full reduction, without normalizing dims
            self.dims = tuple(range(a.ndim))
            return self.backend.reduce("sum", a, None, keepdim)
        self.dims = reduction_dims(dim, a.ndim, "sum")
        return self.backend.reduce("sum", a, _axis(self.dims, a.ndim), keepdim)

    def backward(self, grad):
        # straight to the ops: the shapes are known to be valid, so skip the methods' checks
        if not self.keepdim and len(self.dims) != len(self.in_shape):
            grad = Reshape.apply(grad, shape=keepdim_shape(self.in_shape, self.dims))
        return Expand.apply(grad, shape=self.in_shape)  # a full reduction broadcasts as is

    def backward_arrays(self, grad):
        return _spread(self, grad)


class Mean(Function):
    """The mean over dims in one kernel (floating-point inputs; the method checks the dtype)."""

    def forward(self, a, dim=None, keepdim=False):
        self.in_shape = a.shape
        self.keepdim = keepdim
        self.dims = tuple(range(a.ndim)) if dim is None else reduction_dims(dim, a.ndim, "mean")
        count = 1
        for d in self.dims:
            count *= a.shape[d]
        self.count = count
        axis = None if dim is None else _axis(self.dims, a.ndim)
        return self.backend.reduce("mean", a, axis, keepdim)

    def backward(self, grad):
        grad = grad / self.count  # one kernel on the reduced shape, then a broadcast view
        if not self.keepdim and len(self.dims) != len(self.in_shape):
            grad = Reshape.apply(grad, shape=keepdim_shape(self.in_shape, self.dims))
        return Expand.apply(grad, shape=self.in_shape)

    def backward_arrays(self, grad):
        return _spread(self, binary_arrays(Div, self.backend, grad, self.count))


def _spread(reduction, grad):
    """A reduction's gradient array broadcast back over the reduced dims (read-only, as
    ``Expand`` gives it)."""
    backend = reduction.backend
    if not reduction.keepdim and len(reduction.dims) != len(reduction.in_shape):
        grad = backend.reshape(grad, keepdim_shape(reduction.in_shape, reduction.dims))
    return backend.broadcast_to(grad, reduction.in_shape, False)


class Prod(Function):
    """The product over ``dim`` (an int; None: all). The gradient is the product of the other
    entries of each slice, computed as PyTorch's ``prod_safe_zeros_backward``: the running
    product from the left (exclusive) times the one from the right, exact with any number of
    zeros, and differentiable again."""

    autocast = "float32"

    save_inputs = True

    def forward(self, a, dim=None, keepdim=False):
        self.dim, self.keepdim = dim, keepdim
        return self.backend.reduce("prod", a, dim, keepdim)

    def backward(self, grad):
        x, dim = self.inputs[0], self.dim
        if dim is None or x.ndim == 0:  # the product of everything: one slice, flattened
            flat = x.reshape(-1)
            return (grad * _exclusive_products(flat, 0)).reshape(x.shape)
        if not self.keepdim:
            grad = grad.unsqueeze(dim)
        return grad * _exclusive_products(x, dim)


def _exclusive_products(x, dim):
    """``out[k] = prod(x[i] for i != k)`` along ``dim``: the running products of the entries
    before and after each one (no division, so zeros are exact)."""
    size = x.shape[dim]
    lead = (slice(None),) * dim
    one = x.new_ones(keepdim_shape(x.shape, (dim,)))
    shifted = Cat.apply(one, Getitem.apply(x, index=lead + (slice(0, size - 1),)), dim=dim)
    before = Cumprod.apply(shifted, dim=dim)
    flipped = reverse(x, dim)
    shifted = Cat.apply(one, Getitem.apply(flipped, index=lead + (slice(0, size - 1),)), dim=dim)
    after = reverse(Cumprod.apply(shifted, dim=dim), dim)
    return before * after


class _Extreme(Function):
    """amax/amin over dims; ties share the gradient evenly, as ``torch.amax`` does
    (``scale_grad_by_count``: ``grad / count * mask``, so a NaN result gives NaN everywhere)."""

    save_inputs = True
    op = None

    def forward(self, a, dim=None, keepdim=False):
        self.in_shape = a.shape
        self.dims = reduction_dims(dim, a.ndim, self.op)
        self.keepdim = keepdim
        if any(a.shape[d] == 0 for d in self.dims):
            raise RuntimeError(
                f"{self.op}: cannot reduce over an empty dimension of shape {tuple(a.shape)} "
                f"(the operation has no identity)"
            )
        out = self.backend.reduce(self.op, a, _axis(self.dims, a.ndim), True)
        self.saved = out
        return out if keepdim else self.backend.reshape(out, _drop(out.shape, self.dims))

    def backward(self, grad):
        x = self.inputs[0]
        kept = Tensor._make(self.saved, self.backend, False)
        mask = x == kept
        # ties counted in int64: a float16 count stops at 2048
        count = mask.sum(dim=self.dims, keepdim=True)
        if not self.keepdim:
            grad = grad.reshape(keepdim_shape(self.in_shape, self.dims))
        return grad / count * mask.to(grad.dtype)


def _drop(shape, dims):
    return tuple(s for i, s in enumerate(shape) if i not in dims)


class Amax(_Extreme):
    op = "max"


class Amin(_Extreme):
    op = "min"


class _ExtremeAll(Function):
    """The full ``max()``/``min()`` (no dim): the gradient is shared evenly among the entries
    equal to the result, or among the NaNs when the result is NaN, and the other entries get
    exactly 0 (PyTorch's ``evenly_distribute_backward`` on CPU)."""

    save_inputs = True
    save_output = True
    op = None

    def forward(self, a):
        if math.prod(a.shape) == 0:
            raise RuntimeError(
                f"{self.op}(): Expected reduction dim to be specified for input.numel() == 0. "
                f"Specify the reduction dim with the 'dim' argument."
            )
        return self.backend.reduce(self.op, a, None, False)

    def backward(self, grad):
        x, value = self.inputs[0], self.output()
        mask = (x == value).logical_or((x != x).logical_and(value != value))
        return Where.apply(mask, grad / mask.sum(), 0.0)  # (ties counted in int64)


class MaxAll(_ExtremeAll):
    op = "max"


class MinAll(_ExtremeAll):
    op = "min"


class _ExtremeAlong(Function):
    """The values of ``max(dim)``/``min(dim)``. ``indices`` (int64, argmax/argmin along
    ``dim``, computed by the caller and returned beside the values) picks the one entry per
    slice that gets the gradient, as PyTorch's ``value_selecting_reduction_backward``: ties do
    not share it."""

    save_inputs = True
    op = None

    def forward(self, a, indices, dim=0, keepdim=False):
        self.in_shape, self.dim, self.keepdim = a.shape, dim, keepdim
        if a.ndim == 0:
            return self.backend.contiguous(a)
        return self.backend.reduce(self.op, a, dim, keepdim)

    def backward(self, grad):
        indices = self.inputs[1]
        if not self.in_shape:
            return grad, None
        if not self.keepdim:
            grad, indices = grad.unsqueeze(self.dim), indices.unsqueeze(self.dim)
        backend, size = self.backend, self.in_shape[self.dim]
        along = tuple(size if i == self.dim else 1 for i in range(len(self.in_shape)))
        positions = backend.reshape(backend.arange(0, size, 1, int64), along)
        picked = Tensor._make(backend.binary("eq", positions, indices._data), backend, False)
        return Where.apply(picked, grad, 0.0), None


class MaxAlong(_ExtremeAlong):
    op = "max"


class MinAlong(_ExtremeAlong):
    op = "min"


class MedianAll(_ExtremeAll):
    """The lower median of all elements (``median()``): the middle of the sorted values, the
    smaller middle one of an even count, NaN when any element is; ties share the gradient
    evenly, as PyTorch's ``evenly_distribute_backward``."""

    def forward(self, a):
        backend, size = self.backend, math.prod(a.shape)
        values, _ = backend.sort(backend.reshape(a, (size,)), 0)
        last = backend.getitem(values, (slice(size - 1, size),))
        middle = backend.getitem(values, (slice((size - 1) // 2, (size + 1) // 2),))
        # NaN sorts last: a NaN there means the median is NaN
        median = backend.where(backend.binary("ne", last, last), last, middle)
        return backend.reshape(median, ())


class NanmedianAll(_ExtremeAll):
    """``nanmedian()`` of all elements, whose value (the lower median of the non-NaN entries,
    NaN when every entry is) the caller computes and passes as the array ``value``; ties share
    the gradient evenly, as PyTorch's ``evenly_distribute_backward``."""

    def forward(self, a, value=None):
        return value


class Var(Function):
    """The variance over ``dim`` (None: all), dividing by ``max(N - correction, 0)``.

    The algorithm follows PyTorch's CPU, whose results differ at the boundaries: a reduction to
    one value is two-pass (centered on the mean), any other centers each slice on its first
    element first, which is as exact as PyTorch's Welford pass there (a constant slice has a
    variance of exactly 0, so ``std`` gets a zero gradient). The gradient is PyTorch's
    ``var_backward``: ``2 / (N - correction) * grad * (x - mean)``; with no ``dim`` and
    ``N <= correction`` it is NaN where ``x`` equals the mean and inf elsewhere.
    """

    save_inputs = True

    def forward(self, a, dim=None, correction=1, keepdim=False):
        backend = self.backend
        self.in_shape, self.keepdim, self.correction = a.shape, keepdim, correction
        self.dims = dims = reduction_dims(dim, a.ndim, type(self).__name__.lower())
        # PyTorch's two gradient formulas: no dim (or a 0-d input), or the given dims
        self.dim_given = a.ndim > 0 and dim is not None and not (
            isinstance(dim, (tuple, list)) and not dim)
        self.count = math.prod(a.shape[d] for d in dims)
        # (float16 and bfloat16 in float32, rounded once: N - correction may pass 65504)
        return in_float32(backend, a, self._result)

    def _result(self, a):
        return self._variance(a)

    def _variance(self, a):
        backend, dims, keepdim = self.backend, self.dims, self.keepdim
        axis = None if len(dims) == a.ndim else dims
        outputs = math.prod(s for i, s in enumerate(a.shape) if i not in dims)
        if outputs > 1 and self.count > 1:
            first = tuple(slice(0, 1) if i in dims else slice(None) for i in range(a.ndim))
            a = backend.binary("sub", a, backend.getitem(a, first))
        centered = backend.binary("sub", a, backend.reduce("mean", a, axis, True))
        squares = backend.reduce("sum", backend.binary("mul", centered, centered), axis, keepdim)
        return backend.binary("div", squares, float(max(self.count - self.correction, 0)))

    def backward(self, grad):
        return self._var_backward(grad)

    def _var_backward(self, grad):
        x = self.inputs[0]
        if not self.keepdim:
            grad = grad.reshape(keepdim_shape(self.in_shape, self.dims))
        dof = self.count - self.correction
        if not self.dim_given:
            mean = x.mean()
            if dof <= 0:  # 2 / dof is inf: NaN where x - mean is 0, inf elsewhere
                return grad * Where.apply(x == mean, math.nan, math.inf)
            return grad * (2.0 / dof) * (x - mean)
        factor = 2.0 / dof if dof else math.inf
        return grad * factor * (x - x.mean(dim=self.dims, keepdim=True))


class Std(Var):
    """``sqrt(var)`` with ``Var``'s arguments. The gradient is PyTorch's ``std_backward``:
    ``var_backward`` of ``grad / (2 * std)``, taken as 0 where the std is 0."""

    save_output = True

    def _result(self, a):
        return self.backend.unary("sqrt", self._variance(a))

    def backward(self, grad):
        result = self.output()
        return self._var_backward(Where.apply(result == 0, 0.0, grad / (result * 2.0)))


def _power_sum_norm(backend, a, p, axis, keepdim):
    """``sum(|a| ** p) ** (1 / p)`` over ``axis`` (p finite and not 0)."""
    if p == 2.0:
        squares = backend.reduce("sum", backend.binary("mul", a, a), axis, keepdim)
        return backend.unary("sqrt", squares)
    size = backend.unary("abs", a)
    if p == 1.0:
        return backend.reduce("sum", size, axis, keepdim)
    powers = backend.reduce("sum", backend.binary("pow", size, p), axis, keepdim)
    return backend.binary("pow", powers, 1.0 / p)


class Norm(Function):
    """The vector ``p``-norm over ``dim`` (None: all), as ``torch.linalg.vector_norm``:
    ``sum(|x| ** p) ** (1 / p)``; ``p`` = inf / -inf is the largest / smallest ``|x|``, ``p`` = 0
    the count of nonzeros. ``p`` is a float (the method checks it and empty reductions).

    Over dims of size 1 the norm is ``|x|`` (``x != 0`` for ``p = 0``), as PyTorch computes it.
    The gradient is PyTorch's ``norm_backward``: 0 at a zero norm for ``p >= 1``; at
    ``p = +-inf`` shared evenly among the entries whose ``|x|`` is the norm (or NaN); none for
    ``p = 0``; ``sign(x)`` is 0 at NaN, as ``torch.sgn``.
    """

    autocast = "gpu_float32"

    save_inputs = True
    save_output = True

    def forward(self, a, p=2.0, dim=None, keepdim=False):
        backend = self.backend
        self.in_shape, self.keepdim, self.p = a.shape, keepdim, p
        self.dims = dims = reduction_dims(dim, a.ndim, "norm")
        axis = None if len(dims) == a.ndim else dims
        if all(a.shape[d] == 1 for d in dims):  # PyTorch: |x| itself (so |1e300| stays finite)
            one = backend.binary("ne", a, 0.0) if p == 0.0 else backend.unary("abs", a)
            if p == 0.0:
                one = backend.cast(one, backend.dtype(a))
            return one if keepdim else backend.reshape(one, _drop(a.shape, dims))
        if p == 0.0:
            nonzero = backend.reduce("sum", backend.binary("ne", a, 0.0), axis, keepdim)
            return backend.cast(nonzero, backend.dtype(a))
        if math.isinf(p):
            size = backend.unary("abs", a)
            return backend.reduce("max" if p > 0 else "min", size, axis, keepdim)
        # a sum of powers: float16 and bfloat16 in float32, rounded once, as PyTorch's (the sum
        # of squares of 70,000 normal float16 values passes 65,504)
        return in_float32(backend, a, lambda x: _power_sum_norm(backend, x, p, axis, keepdim))

    def backward(self, grad):
        x, norm, p = self.inputs[0], self.output(), self.p
        if p == 0.0:
            return None
        if not self.keepdim and x.ndim:
            shape = keepdim_shape(self.in_shape, self.dims)
            grad, norm = grad.reshape(shape), norm.reshape(shape)
        if p == 1.0:
            return Abs.sgn(x) * grad
        if p == 2.0:
            return grad * Where.apply(norm == 0, 0.0, x / norm)
        if math.isinf(p):
            size = x.abs()
            mask = (size == norm).logical_or(size != size)
            count = mask.sum(dim=self.dims, keepdim=True)  # (in int64: see _Extreme)
            return Abs.sgn(x) * ((grad / count) * mask.to(grad.dtype))
        if p < 1.0:
            scaled = Abs.sgn(x) * Where.apply(x == 0, 0.0, x.abs() ** (p - 1.0))
            return scaled * grad * norm ** (1.0 - p)
        scaled = Abs.sgn(x) * x.abs() ** (p - 1.0) if p < 2.0 else x * x.abs() ** (p - 2.0)
        return scaled * Where.apply(norm == 0, 0.0, grad / norm ** (p - 1.0))
