"""PyTorch's reduction long tail as ``Tensor`` methods and ``gg`` functions: ``nansum``,
``nanmean``, ``nanmedian``, ``aminmax``, ``logcumsumexp``, ``quantile``/``nanquantile``,
``mode``, ``msort`` and ``diff``.

Each is composed of existing differentiable ops (sum, sort, gather, logsumexp, narrow...), so
its gradient, the simulator's costs and every device come from those.
"""
import math
from typing import NamedTuple

from . import dtypes as _dtypes
from .ops import reduce as R
from .ops.broadcast import normalize_dims
from .tensor import ReductionResult, Tensor
from .tensor_api import tensor_method
from .tensor_reduction_methods import _one_dim, _select_one
from .tensor_shape_methods import cat


class AminmaxResult(NamedTuple):
    """``(min, max)`` as returned by ``aminmax`` (PyTorch's ``torch.return_types.aminmax``)."""

    min: Tensor
    max: Tensor


def _not_nan(self):
    return self == self


@tensor_method("nansum")
def nansum(self, dim=None, keepdim=False, *, dtype=None):
    """The sum over ``dim`` (an int, a tuple, or None for all) treating NaN as 0; NaN entries
    get a zero gradient. ``dtype`` casts the input first."""
    if self.dtype.is_floating_point:  # (before a cast: NaN has no integer to become)
        self = self.masked_fill(~_not_nan(self), 0)
    if dtype is not None:
        self = self.to(dtype)
    return self.sum(dim, keepdim)


@tensor_method("nanmean")
def nanmean(self, dim=None, keepdim=False, *, dtype=None):
    """The mean over ``dim`` of the non-NaN entries (NaN where a slice has none); floating
    tensors only."""
    if dtype is not None:
        self = self.to(dtype)
    if not self.dtype.is_floating_point:
        raise RuntimeError(f"nanmean(): expected input to have floating point or complex dtype "
                           f"but got {self.dtype.name.capitalize()}")
    return nansum(self, dim, keepdim) / _not_nan(self).sum(dim, keepdim)


def _nanmedian_position(self, pair, dim):
    """Per slice, the lower median's position among its non-NaN entries (which sort first)."""
    counts = _not_nan(self).sum(dim, keepdim=True)
    return ((counts - 1).clamp(min=0) // 2)._data


@tensor_method("nanmedian")
def nanmedian(self, dim=None, keepdim=False) -> Tensor | ReductionResult:
    """The lower median ignoring NaN (NaN only for a slice of all NaN). Without ``dim``: a 0-d
    tensor of all elements, whose gradient ties share evenly (all NaN: the NaNs share it); with
    ``dim``: ``(values, indices)``, the gradient going to ``indices``."""
    if dim is None:
        flat = self.detach().reshape(-1)
        if flat.shape[0] == 0:
            return self.median()
        value = _select_one(flat, 0, False, "nanmedian", _nanmedian_position).values
        return R.NanmedianAll.apply(self, value=value._data)  # ties share the gradient
    return _select_one(self, dim, keepdim, "nanmedian", _nanmedian_position)


@tensor_method("aminmax")
def aminmax(self, *, dim=None, keepdim=False) -> AminmaxResult:
    """``(min, max)`` over ``dim`` (an int, or None for all), as ``amin`` and ``amax``."""
    if math.prod(self.shape) == 0 and dim is None:
        raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the "
                           "operation has no identity.")
    return AminmaxResult(self.amin(dim, keepdim), self.amax(dim, keepdim))


@tensor_method("logcumsumexp")
def logcumsumexp(self, dim):
    """``log(cumsum(exp(self), dim))``, each prefix computed as a stable ``logsumexp`` (exact
    for any spread of values; it takes n * n work per slice of length n)."""
    if not self.dtype.is_floating_point:
        self = self.to(_dtypes.default_float_for(self.dtype))
    dim = _one_dim(self, dim, "logcumsumexp")
    if self.ndim == 0:
        return self.clone()
    moved = self.transpose(dim, -1)
    n = moved.shape[-1]
    later = self.new_ones((n, n), dtype=_dtypes.bool_).triu(1)  # row i masks columns j > i
    prefixes = moved.unsqueeze(-2).expand(*moved.shape[:-1], n, n).masked_fill(later, -math.inf)
    return prefixes.logsumexp(-1).transpose(dim, -1)


# ---- quantiles -------------------------------------------------------------------------------
_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile(self, q, dim, keepdim, interpolation, name, ignore_nan):
    if not self.dtype.is_floating_point:
        raise RuntimeError(f"{name}() input tensor must be either float or double dtype")
    if interpolation not in _INTERPOLATIONS:
        raise RuntimeError(f"{name}() interpolation must be one of linear, lower, higher, "
                           f"midpoint or nearest. Got {interpolation}")
    scalar_q = not isinstance(q, Tensor)
    if scalar_q:
        if not 0 <= q <= 1:
            raise RuntimeError(f"{name}() q must be in the range [0, 1] but got {q}")
        q = self.new_tensor([float(q)])
    else:
        if q.ndim > 1:
            raise RuntimeError(f"{name}() q must be a scalar or 1D tensor")
        if q.dtype is not self.dtype:
            raise RuntimeError(f"{name}() q tensor must be same dtype as the input tensor")
        if not bool(((q >= 0) & (q <= 1)).all()):
            raise RuntimeError(f"{name}() q values must be in the range [0, 1]")
        scalar_q = q.ndim == 0
        q = q.reshape(-1).detach()
    if dim is None:
        values, kept = self.reshape(-1), [1] * self.ndim
    else:
        d = _one_dim(self, dim, name)
        values = self.reshape(1) if self.ndim == 0 else self.movedim(d, -1)
        kept = list(self.shape)
        if self.ndim:
            kept[d] = 1
    if values.shape[-1] == 0:
        raise RuntimeError(f"{name}() input tensor must be non-empty")
    ordered = values.sort(-1).values  # NaN sorts last
    finite = _not_nan(values).sum(-1, keepdim=True)
    counts = finite if ignore_nan else finite.new_full(finite.shape, values.shape[-1])
    rank = (q * (counts - 1).clamp(min=0).to(self.dtype))  # (..., Q)
    if not ignore_nan:  # a slice with a NaN takes its last sorted entry, a NaN, as PyTorch
        # does (so the gradient flows to that NaN)
        rank = rank.masked_fill(finite < values.shape[-1], values.shape[-1] - 1)
    low = rank.floor()
    high = rank.ceil()
    if interpolation == "nearest":
        low = high = rank.round()

    def take(position):
        return ordered.gather(-1, position.to(_dtypes.int64))

    if interpolation == "lower":
        result = take(low)
    elif interpolation in ("higher", "nearest"):
        result = take(high)
    elif interpolation == "midpoint":
        result = (take(low) + take(high)) * 0.5
    else:
        result = take(low).lerp(take(high), rank - low)
    result = result.movedim(-1, 0)  # (Q, ...)
    if keepdim:
        result = result.reshape(result.shape[0], *kept)
    return result[0] if scalar_q else result


@tensor_method("quantile")
def quantile(self, q, dim=None, keepdim=False, *, interpolation="linear"):
    """The ``q``-th quantiles (a float, or a 1-d tensor of them, first in the result) over
    ``dim`` (None: all elements), between the sorted values by ``interpolation``: linear,
    lower, higher, midpoint or nearest (half to even). NaN in a slice gives NaN."""
    return _quantile(self, q, dim, keepdim, interpolation, "quantile", False)


@tensor_method("nanquantile")
def nanquantile(self, q, dim=None, keepdim=False, *, interpolation="linear"):
    """``quantile`` of the non-NaN entries of each slice (NaN only for a slice of all NaN)."""
    return _quantile(self, q, dim, keepdim, interpolation, "nanquantile", True)


# ---- mode, msort, diff -----------------------------------------------------------------------
@tensor_method("mode")
def mode(self, dim=-1, keepdim=False) -> ReductionResult:
    """``(values, indices)``: the most frequent value along ``dim`` (the smallest of equally
    frequent ones) and its last position, as PyTorch's CPU; the gradient goes to
    ``indices``. NaNs count as one value, the largest (PyTorch's CPU result with NaNs varies).
    It compares each pair of a slice: n * n work per slice of length n."""
    d = _one_dim(self, dim, "mode")
    if self.ndim == 0:
        return ReductionResult(self.clone(), self.new_zeros((), dtype=_dtypes.int64))
    moved = self.detach().transpose(d, -1)
    ordered = moved.sort(-1).values
    counts = _same(ordered.unsqueeze(-1), ordered.unsqueeze(-2)).sum(-1)  # (..., n)
    first_most = (counts == counts.amax(-1, keepdim=True)).to(_dtypes.int32).argmax(-1, True)
    winner = ordered.gather(-1, first_most)
    n = moved.shape[-1]
    positions = self.new_tensor(list(range(n)), dtype=_dtypes.int64)
    last = positions.where(_same(moved, winner), -1).amax(-1, keepdim=True).transpose(d, -1)
    values = self.gather(d, last)
    if not keepdim:
        values, last = values.squeeze(d), last.squeeze(d)
    return ReductionResult(values, last)


def _same(a, b):
    """``a == b`` with NaN equal to NaN (one value to count, as ``sort`` and ``unique`` see)."""
    equal = a == b
    if a.dtype.is_floating_point:
        equal = equal | (a.isnan() & b.isnan())
    return equal


@tensor_method("msort")
def msort(self):
    """``self`` sorted along dim 0 (the values of ``sort(dim=0)``)."""
    return self.sort(0).values


@tensor_method("diff")
def diff(self, n=1, dim=-1, prepend=None, append=None):
    """The ``n``-th forward difference along ``dim`` (``out[i] = x[i + 1] - x[i]``), after
    ``prepend`` and ``append`` (tensors) are joined on; bool tensors give ``x[i + 1] !=
    x[i]``."""
    if self.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    d = normalize_dims(dim, self.ndim, "diff")[0]
    parts = [t for t in (prepend, self, append) if t is not None]
    x = cat(parts, d) if len(parts) > 1 else self
    for _ in range(n):
        length = x.shape[d]
        if length == 0:
            break
        later, earlier = x.narrow(d, 1, length - 1), x.narrow(d, 0, length - 1)
        x = later != earlier if x.dtype is _dtypes.bool_ else later - earlier
    return x
