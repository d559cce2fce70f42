"""PyTorch's indexing long tail: ``index_put``/``index_put_``, ``masked_scatter``/
``masked_scatter_``, ``put``/``put_``, ``scatter_reduce``, ``diag_embed``, ``diagflat`` and
``fill_diagonal_``.

Each composes ``ops.shape``'s indexing ops (``Getitem``, ``IndexAdd``, ``IndexPut``) and the
reductions, so gradients, every device and the simulator's costs are those ops' own.
"""
import numpy as np

from . import creation
from . import dtypes as _dtypes
from .engine import no_grad
from .engine.function import devices_differ_error
from .finfo import check_fits
from .inplace import apply_inplace
from .ops import indexing as I
from .ops import shape as S
from .tensor import Tensor
from .tensor_api import tensor_argument, tensor_method
from .ops.broadcast import broadcast_shapes, normalize_dims
from .tensor_index_methods import _dim, _scatter_args
from .tensor_shape_methods import _index_entry, cat


# ---- index_put ------------------------------------------------------------------------------
def _index_arrays(self, indices, op_name):
    if not isinstance(indices, (tuple, list)):
        raise TypeError(f"{op_name}(): argument 'indices' must be tuple of Tensors, not "
                        f"{type(indices).__name__}")
    for i in indices:
        if i is not None and not isinstance(i, Tensor):
            raise TypeError(f"{op_name}(): argument 'indices' must be tuple of Tensors, but "
                            f"found element of type {type(i).__name__}")
    return tuple(slice(None) if i is None else _index_entry(i, self._backend) for i in indices)


def _values(self, values, op_name):
    tensor_argument(values, op_name, "values", None)
    if values._backend is not self._backend:
        raise devices_differ_error(op_name, self.device, values.device)
    if values.dtype is not self.dtype:
        raise RuntimeError(f"Index put requires the source and destination dtypes match, got "
                           f"{self.dtype.name} for the destination and {values.dtype.name} for "
                           f"the source.")
    return values


def _accumulated(self, index, values):
    """``values`` (broadcast to ``self[index]``) summed into zeros of self's shape at
    ``index``, repeated positions adding up."""
    backend = self._backend
    index = tuple(_nonzero_arrays(backend, i) if _is_mask(backend, i) else (i,) for i in index)
    index = tuple(a for group in index for a in group)
    with no_grad():
        target = S.Getitem.apply(self.detach(), index=index).shape
    return S.IndexAdd.apply(values.expand(target), shape=self.shape, index=index,
                            dtype=self.dtype)


def _is_mask(backend, entry):
    return hasattr(entry, "shape") and backend.dtype(entry) is _dtypes.bool_


def _nonzero_arrays(backend, mask):
    return tuple(t._data for t in Tensor._make(mask, backend, False).nonzero(as_tuple=True))


@tensor_method("index_put")
def index_put(self, indices, values, accumulate=False):
    """A copy of self with ``values`` (broadcast) written at ``self[indices]`` (``indices``: a
    tuple of int or bool tensors, as in ``x[i, j]``); with ``accumulate=True`` added there
    instead, repeated positions adding up."""
    index = _index_arrays(self, indices, "index_put")
    values = _values(self, values, "index_put")
    if accumulate:
        return self + _accumulated(self, index, values)
    return S.IndexPut.apply(self, values, index=index)


@tensor_method("index_put_")
def index_put_(self, indices, values, accumulate=False):
    """``index_put`` in place: writes (or adds) into self and returns it."""
    index = _index_arrays(self, indices, "index_put_")
    values = _values(self, values, "index_put_")
    if accumulate:
        return self.add_(_accumulated(self, index, values))
    return apply_inplace(S.IndexPut, self, values, index=index)


# ---- put: flat indices ----------------------------------------------------------------------
def _flat_index(self, index, op_name):
    """``index`` checked against self's number of entries (negative ones count from the end),
    as the 1-d index tuple into ``self.reshape(-1)``."""
    index = I.index_tensor(index, self, op_name, position=1)
    numel = self.numel()
    if index.numel():
        low, high = int(index.min().item()), int(index.max().item())
        if low < -numel or high >= numel:
            bad = low if low < -numel else high
            raise IndexError(f"out of range: tried to access index {bad} on a tensor of "
                             f"{numel} elements.")
    return (index.reshape(-1)._data,)


def _put_source(self, index, source, op_name):
    source = _values(self, source, op_name)
    if source.numel() != index.numel():
        raise RuntimeError(f"{op_name}(): Expected source and index to have the same number "
                           f"of elements, but got source.numel() = {source.numel()}, "
                           f"index.numel() = {index.numel()}")
    return source.reshape(-1)


@tensor_method("put")
def put(self, index, source, accumulate=False):
    """A copy of self, seen as 1-d, with ``source`` written at the flat positions ``index``
    (one per entry of ``source``); with ``accumulate=True`` added there instead."""
    flat_index = _flat_index(self, index, "put")
    source = _put_source(self, index, source, "put")
    flat = self.reshape(-1)
    if accumulate:
        return (flat + _accumulated(flat, flat_index, source)).reshape(self.shape)
    return S.IndexPut.apply(flat, source, index=flat_index).reshape(self.shape)


@tensor_method("put_")
def put_(self, index, source, accumulate=False):
    """``put`` in place: writes (or adds) into self and returns it (through a copy of the
    result into self, which works whatever self's strides)."""
    return self.copy_(put(self, index, source, accumulate))


# ---- masked_scatter -------------------------------------------------------------------------
def _masked_source(self, mask, source, op_name, inplace):
    if not isinstance(mask, Tensor) or mask.dtype is not _dtypes.bool_:
        raise RuntimeError(f"{op_name}_ only supports boolean masks, but got mask with dtype "
                           f"{getattr(mask, 'dtype', type(mask).__name__)}")
    tensor_argument(source, op_name, "source", None)
    if source.dtype is not self.dtype:
        raise RuntimeError(f"{op_name}: expected self and source to have same dtypes but got "
                           f"{self.dtype.name} and {source.dtype.name}")
    if inplace:
        mask = mask.expand(self.shape)
    else:
        shape = broadcast_shapes("masked_scatter", self.shape, mask.shape)
        self, mask = self.expand(shape), mask.expand(shape)
    positions = mask.nonzero(as_tuple=True)
    count = positions[0].shape[0]
    if count > source.numel():
        raise RuntimeError("masked_scatter: expected source to have at least as many elements "
                           "as ones in mask")
    return self, tuple(p._data for p in positions), source.reshape(-1)[:count]


@tensor_method("masked_scatter")
def masked_scatter(self, mask, source):
    """A copy of self with the entries where ``mask`` (bool, broadcast with self) is true
    replaced, in row-major order, by the first entries of ``source``."""
    self, index, values = _masked_source(self, mask, source, "masked_scatter", False)
    return S.IndexPut.apply(self, values, index=index)


@tensor_method("masked_scatter_")
def masked_scatter_(self, mask, source):
    """``masked_scatter`` in place (``mask`` broadcasts to self's shape); returns self."""
    _, index, values = _masked_source(self, mask, source, "masked_scatter", True)
    return apply_inplace(S.IndexPut, self, values, index=index)


# ---- scatter_reduce -------------------------------------------------------------------------
_REDUCES = ("sum", "prod", "mean", "amax", "amin")


@tensor_method("scatter_reduce")
def scatter_reduce(self, dim, index, src, reduce, *, include_self=True):
    """A copy of self where each position ``index`` picks along ``dim`` (as ``scatter_add``)
    becomes the ``reduce`` (``'sum'``, ``'prod'``, ``'mean'``, ``'amax'`` or ``'amin'``) of the
    ``src`` entries sent there, and of self's entry unless ``include_self=False``. Positions
    nothing is sent to keep self's entry. Gradients as PyTorch's: ``amax``/``amin`` share the
    gradient evenly among the entries equal to the result.

    ``prod``, ``amax`` and ``amin`` compare every sent entry with every position along ``dim``
    (memory ``index.numel() * self.shape[dim]``).
    """
    if reduce not in _REDUCES:
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got "
                           f"{reduce}")
    tensor_argument(src, "scatter_reduce", "src", 3)
    _scatter_args("scatter_reduce", self, dim, index, src)  # PyTorch's checks, named for it
    # validates like scatter_add (dtypes, shapes); cuts src to index's shape
    from_self = self if include_self else self.scatter(dim, index, 0)
    if reduce in ("sum", "mean"):
        total = from_self.scatter_add(dim, index, src)
        if reduce == "sum":
            return total
        ones = creation.ones(index.shape, dtype=self.dtype, device=self.device)
        count = creation.zeros(self.shape, dtype=self.dtype, device=self.device) \
            .scatter_add(dim, index, ones)
        count = (count + 1 if include_self else count).clamp(min=1)
        if self.dtype.is_floating_point:
            return total / count
        return (total / count).floor().to(self.dtype)  # integers: floor division, as PyTorch
    return _scatter_compare(self, dim, index, src, reduce, include_self)


def _scatter_compare(self, dim, index, src, reduce, include_self):
    _, src = _scatter_args("scatter_reduce", self, dim, index, src)  # checks; src cut
    d = _dim(self, dim, "scatter_reduce")
    size = self.shape[d]
    block = tuple(slice(0, s) if i != d else slice(None) for i, s in enumerate(index.shape))
    base = self[block].movedim(d, -1)  # (..., size): the positions the index can reach
    hit_map = index.movedim(d, -1).unsqueeze(-1) == creation.arange(size, device=self.device)
    neutral = {"prod": 1, "amax": _lowest(self.dtype), "amin": -_lowest(self.dtype)}[reduce]
    sent = src.movedim(d, -1).unsqueeze(-1).expand(hit_map.shape)
    sent = sent.masked_fill(hit_map.logical_not(), neutral)
    if include_self:
        sent = cat([base.unsqueeze(-2), sent], -2)
    reduced = getattr(sent, reduce)(-2)
    hit = hit_map.any(-2)
    out = reduced.where(hit, base).movedim(-1, d)
    if out.shape == self.shape:
        return out
    return S.IndexPut.apply(self, out, index=block)


def _lowest(dtype):
    if dtype.is_floating_point:
        return -float("inf")
    if dtype is _dtypes.bool_:
        return False
    return int(np.iinfo(dtype.name).min)


# ---- diagonals ------------------------------------------------------------------------------
@tensor_method("diag_embed")
def diag_embed(self, offset=0, dim1=-2, dim2=-1):
    """Matrices with self's last dim on their ``offset`` diagonal, the matrix dims placed at
    ``dim1`` and ``dim2`` of the result (which has one more dim than self); zeros elsewhere."""
    ndim = self.ndim + 1
    d1, d2 = (normalize_dims(d, ndim, "diag_embed")[0] for d in (dim1, dim2))
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    size = self.shape[-1] + abs(offset)
    positions = I.diagonal_index(self._backend, size, size, offset)
    shape = self.shape[:-1] + (size, size)
    embedded = S.IndexAdd.apply(self, shape=shape, index=(Ellipsis,) + positions,
                                dtype=self.dtype)
    return embedded.movedim((-2, -1), (d1, d2))


@tensor_method("diagflat")
def diagflat(self, offset=0):
    """The square matrix with self, flattened, on its ``offset`` diagonal."""
    return self.reshape(-1).diag(offset)


@tensor_method("fill_diagonal_")
def fill_diagonal_(self, fill_value, wrap=False):
    """The main diagonal of self (a matrix, or a tensor whose dims are all equal) set to
    ``fill_value`` in place; returns self. With ``wrap=True`` the diagonal of a tall matrix
    restarts after every ``cols + 1`` rows, as NumPy's ``fill_diagonal``."""
    if self.ndim < 2:
        raise RuntimeError("dimensions must larger than 1")
    if self.ndim > 2 and len(set(self.shape)) != 1:
        raise RuntimeError("all dimensions of input must be of equal length")
    if self.ndim == 2:
        rows, cols = self.shape
        stop = rows * cols if wrap else min(rows, cols) * cols
        flat = np.arange(0, stop, cols + 1)
    else:
        n = self.shape[0]
        flat = np.arange(n) * sum(n ** k for k in range(self.ndim))
    coords = np.unravel_index(flat, self.shape)
    index = tuple(self._backend.from_host(c.astype(np.int64)) for c in coords)
    check_fits(fill_value, self.dtype)
    return apply_inplace(S.IndexPut, self, fill_value, index=index)
