"""The reduction, scan and sorting methods of ``Tensor`` beyond ``tensor_methods``' core ones:
prod, cumsum/cumprod/cummax/cummin, sort/argsort/topk/kthvalue/median, any/all with dims,
count_nonzero, var_mean/std_mean. Each is both ``x.op()`` and ``gg.op(x)`` with PyTorch's
signature; the ops (forward and backward) are in ``gpugrad.ops``.
"""
import math

from . import dtypes as _dtypes
from .ops import reduce as R
from .ops import scan as S
from .ops import sort as SO
from .ops.broadcast import normalize_dims, reduction_dims
from .tensor import ReductionResult, Tensor
from .tensor_api import tensor_method


def _one_dim(self, dim, name):
    """``dim`` normalized for an op along one dim (a 0-d tensor takes 0 or -1)."""
    if not isinstance(dim, int) or isinstance(dim, bool):
        raise TypeError(f"{name}(): argument 'dim' must be int, not {type(dim).__name__}")
    dims = normalize_dims(dim, self.ndim, name)
    return dims[0] if dims else 0


def _as_1d(self, fn):
    """``fn(self)`` on a 0-d tensor seen as 1-d, its results back to 0-d (PyTorch treats a
    0-d tensor as one element along dim 0)."""
    out = fn(self.reshape(1))
    if isinstance(out, tuple):
        return type(out)(*(t.reshape(()) for t in out))
    return out.reshape(())


def reduced_in(dtype, self, reduce):
    """``reduce(self)`` with PyTorch's ``dtype=`` argument: the input cast to ``dtype`` first,
    and the result kept in it (an integer sum in int8 wraps around, as PyTorch's does, where
    the plain sum of integers is int64). The gradient flows back through the casts."""
    if dtype is None:
        return reduce(self)
    dtype = _dtypes.as_dtype(dtype)
    out = reduce(self if self.dtype is dtype else self.to(dtype))
    return out if out.dtype is dtype else out.to(dtype)


# ---- products and scans ---------------------------------------------------------------------
@tensor_method("prod")
def prod(self, dim=None, keepdim=False, *, dtype=None):
    """The product of all elements, or over the int ``dim``. Bool and integer tensors give
    int64 (``dtype`` casts the input first, and the result stays in it). The gradient is exact
    where entries are zero."""
    return reduced_in(dtype, self, lambda x: _prod(x, dim, keepdim))


def _prod(self, dim, keepdim):
    if dim is not None:
        dim = _one_dim(self, dim, "prod")
        if self.ndim == 0:
            return R.Prod.apply(self)
    return R.Prod.apply(self, dim=dim, keepdim=keepdim)


def _scan(self, op, dim, dtype, name):
    dim = _one_dim(self, dim, name)
    if self.ndim == 0:
        return reduced_in(dtype, self, lambda x: _as_1d(x, lambda t: op.apply(t, dim=0)))
    return reduced_in(dtype, self, lambda x: op.apply(x, dim=dim))


@tensor_method("cumsum")
def cumsum(self, dim, *, dtype=None):
    """The running sum along ``dim``; bool and integer tensors give int64 (``dtype`` casts
    the input first, and the result stays in it)."""
    return _scan(self, S.Cumsum, dim, dtype, "cumsum")


@tensor_method("cumprod")
def cumprod(self, dim, *, dtype=None):
    """The running product along ``dim``; bool and integer tensors give int64 (``dtype`` casts
    the input first, and the result stays in it). Its gradient is exact where entries are
    zero (one or several), as PyTorch's."""
    return _scan(self, S.Cumprod, dim, dtype, "cumprod")


def _cum_extreme(self, op, dim, name):
    dim = _one_dim(self, dim, name)
    if self.ndim == 0:
        return _as_1d(self, lambda t: S.cum_extreme(t, op, 0))
    return S.cum_extreme(self, op, dim)


@tensor_method("cummax")
def cummax(self, dim) -> ReductionResult:
    """``(values, indices)``: the running max along ``dim`` and where it was last reached
    (ties take the later position; a NaN, once seen, stays). The gradient goes to
    ``indices``."""
    return _cum_extreme(self, "max", dim, "cummax")


@tensor_method("cummin")
def cummin(self, dim) -> ReductionResult:
    """``(values, indices)``: the running min along ``dim`` and where it was last reached
    (ties take the later position; a NaN, once seen, stays). The gradient goes to
    ``indices``."""
    return _cum_extreme(self, "min", dim, "cummin")


# ---- sorting and selection --------------------------------------------------------------------
def _sorted(self, dim, descending, name):
    dim = _one_dim(self, dim, name)
    if self.ndim == 0:
        return _as_1d(self, lambda t: SO.sort(t, 0, descending))
    return SO.sort(self, dim, descending)


@tensor_method("sort")
def sort(self, dim=-1, descending=False, stable=False) -> ReductionResult:
    """``(values, indices)``: ``self`` sorted along ``dim``, ascending unless ``descending``,
    and the positions the values came from. Always stable (equal values keep their order), so
    ``stable=False`` gives one of the orders PyTorch allows; NaN sorts above every number.
    The values' gradient goes back to ``indices``."""
    return _sorted(self, dim, descending, "sort")


@tensor_method("argsort")
def argsort(self, dim=-1, descending=False, stable=False):
    """The int64 indices that sort ``self`` along ``dim`` (``sort(...).indices``)."""
    return _sorted(self, dim, descending, "argsort").indices


@tensor_method("topk")
def topk(self, k, dim=-1, largest=True, sorted=True) -> ReductionResult:
    """``(values, indices)`` of the ``k`` largest (``largest=False``: smallest) entries along
    ``dim``, in sorted order (also for ``sorted=False``, which allows any). NaN counts as the
    largest value. The values' gradient goes back to ``indices``."""
    dim = _one_dim(self, dim, "topk")
    size = self.shape[dim] if self.ndim else 1
    if not 0 <= k <= size:
        raise RuntimeError(f"selected index k out of range (k={k}, size {size} along dim {dim})")
    if self.ndim == 0:
        return _as_1d(self, lambda t: SO.select(t, SO.sort(t, 0, largest), 0, slice(0, k)))
    return SO.select(self, SO.sort(self, dim, largest), dim, slice(0, k))


def _select_one(self, dim, keepdim, name, position):
    """``(values, indices)`` at ``position(sorted_pair, dim)`` of each ascending-sorted
    slice along ``dim`` (an int or a per-slice index array)."""
    dim = _one_dim(self, dim, name)
    if self.ndim == 0:
        return ReductionResult(*_as_1d(self, lambda t: _select_one(t, 0, False, name,
                                                                   position)))
    if self.shape[dim] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {dim} to have non-zero size.")
    pair = SO.sort(self, dim, False)
    at = position(self, pair, dim)
    if isinstance(at, int):
        at = slice(at, at + 1)
    return SO.select(self, pair, dim, at, keepdim)


@tensor_method("kthvalue")
def kthvalue(self, k, dim=-1, keepdim=False) -> ReductionResult:
    """``(values, indices)`` of the ``k``-th smallest entry (1-based) along ``dim``."""
    size = self.shape[_one_dim(self, dim, "kthvalue")] if self.ndim else 1
    if not 1 <= k <= size:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {dim} "
                           f"(k={k}, size {size})")
    return _select_one(self, dim, keepdim, "kthvalue", lambda t, pair, d: k - 1)


def _median_position(self, pair, dim):
    """Per slice, the lower median's position in the sorted slice, or the first NaN's when the
    slice holds one (sorted NaNs come last): PyTorch's median propagates NaN."""
    backend = self._backend
    size = self.shape[dim]
    data = self._data
    numbers = backend.reduce("sum", backend.binary("eq", data, data), dim, True)  # non-NaN
    has_nan = backend.binary("lt", numbers, size)
    return backend.where(has_nan, numbers, (size - 1) // 2, _dtypes.int64)


@tensor_method("median")
def median(self, dim=None, keepdim=False) -> Tensor | ReductionResult:
    """The lower median (of an even count, the smaller middle value, as PyTorch), NaN if any
    entry is. Without ``dim``: a 0-d tensor of all elements, whose gradient ties share
    evenly; with ``dim``: ``(values, indices)``, the gradient going to ``indices``."""
    if dim is None:
        if math.prod(self.shape) == 0:  # PyTorch: NaN (integers: their smallest value)
            fill = math.nan if self.dtype.is_floating_point else -2 ** (8 * self.dtype.itemsize - 1)
            return self.new_full((), fill)
        return R.MedianAll.apply(self)
    return _select_one(self, dim, keepdim, "median", _median_position)


# ---- logical reductions and counts ----------------------------------------------------------
def _count(self, op, dim, keepdim):
    """The number of nonzero (``op`` "ne") or zero (``op`` "eq") entries over ``dim``, int64."""
    data = self._backend.binary(op, self._data, False if self.dtype is _dtypes.bool_ else 0)
    dims = reduction_dims(dim, self.ndim, "count")
    axis = None if dim is None or len(dims) == self.ndim else dims
    return Tensor._make(self._backend.reduce("sum", data, axis, keepdim), self._backend, False)


def _truth(self, count, test):
    """``count`` (of ``_count``) compared with 0 by ``test``: bool, or uint8 for uint8 input."""
    result = count._compare(test, 0)
    return result.to(_dtypes.uint8) if self.dtype is _dtypes.uint8 else result


@tensor_method("any")
def any_(self, dim=None, keepdim=False):
    """True where any element over ``dim`` (an int, a tuple, or None for all) is nonzero; a
    bool tensor (uint8 for uint8 input, as PyTorch)."""
    return _truth(self, _count(self, "ne", dim, keepdim), "gt")


@tensor_method("all")
def all_(self, dim=None, keepdim=False):
    """True where every element over ``dim`` (an int, a tuple, or None for all) is nonzero; a
    bool tensor (uint8 for uint8 input, as PyTorch)."""
    return _truth(self, _count(self, "eq", dim, keepdim), "eq")


@tensor_method("count_nonzero")
def count_nonzero(self, dim=None):
    """The number of nonzero elements over ``dim`` (an int, a tuple, or None for all), int64."""
    return _count(self, "ne", dim, False)


# ---- moments with the mean ------------------------------------------------------------------
@tensor_method("var_mean")
def var_mean(self, dim=None, unbiased=None, keepdim=False, *, correction=None
             ) -> tuple[Tensor, Tensor]:
    """``(var, mean)`` over ``dim`` with ``var``'s arguments (``correction`` 1 by default), as
    ``torch.var_mean``."""
    return (self.var(dim, unbiased, keepdim, correction=correction),
            self.mean(dim=dim, keepdim=keepdim))


@tensor_method("std_mean")
def std_mean(self, dim=None, unbiased=None, keepdim=False, *, correction=None
             ) -> tuple[Tensor, Tensor]:
    """``(std, mean)`` over ``dim`` with ``std``'s arguments (``correction`` 1 by default), as
    ``torch.std_mean``."""
    return (self.std(dim, unbiased, keepdim, correction=correction),
            self.mean(dim=dim, keepdim=keepdim))
