"""The indexing methods of ``Tensor`` beyond ``x[...]``: ``gather``, ``scatter``,
``scatter_add``, ``index_select``, ``index_add``, ``index_copy``, ``index_fill``,
``masked_select``, ``take``, ``take_along_dim``, ``tril``/``triu``, ``diag``/``diagonal`` and
``nonzero``/``argwhere``, with PyTorch's signatures and errors.

Each is a thin front composing ``ops.shape``'s indexing ops (``Getitem``, a gather; ``IndexAdd``,
its adjoint, which accumulates repeated indices; ``IndexPut``, an indexed write) with the index
tuples of ``ops.indexing``: their gradients are those ops' own, and every device, the simulator's
cost model included, runs them with no primitive of their own.
"""
from . import creation
from . import dtypes as _dtypes
from .engine.function import devices_differ_error
from .finfo import check_fits
from .inplace import apply_inplace
from .ops import selection as SEL
from .ops import indexing as I
from .ops import shape as S
from .ops.broadcast import broadcast_shapes, normalize_dims
from .tensor import Tensor
from .tensor_api import tensor_argument, tensor_method


def _dim(self, dim, op_name):
    """``dim`` as a dimension of self in ``0..ndim-1`` (0 for a 0-d self, which takes 0 or -1)."""
    return (normalize_dims(dim, self.ndim, op_name) or (0,))[0]


def _same_dtype(op_name, self, other, what="src"):
    if other.dtype is not self.dtype:
        raise RuntimeError(f"{op_name}(): Expected self.dtype to be equal to {what}.dtype "
                           f"(got {self.dtype.name} and {other.dtype.name}); convert one first, "
                           f"e.g. {what}.to(self.dtype)")


# ---- gather / scatter ----------------------------------------------------------------------
@tensor_method("gather")
def gather(self, dim, index, *, sparse_grad=False):
    """The entries of self picked along ``dim`` by ``index`` (an int64 tensor of self's ndim):
    ``out[i][j] = self[index[i][j]][j]`` for ``dim=0``, ``self[i][index[i][j]]`` for ``dim=1``.

    ``index`` may be smaller than self in the other dims. Repeated indices each read the entry,
    and their gradients add up. ``sparse_grad`` must be False (no sparse tensors here).
    """
    if sparse_grad:
        raise RuntimeError("gather(sparse_grad=True) is not supported: gpugrad has no sparse "
                           "tensors; use sparse_grad=False (a dense gradient)")
    index = I.index_tensor(index, self, "gather")
    if min(self.ndim, index.ndim) == 0 and max(self.ndim, index.ndim) <= 1:  # 0-d as 1-d
        return gather(self.reshape(-1), _dim(self, dim, "gather"), index.reshape(-1)) \
            .reshape(index.shape)
    d = _dim(self, dim, "gather")
    I.check_along_dim("gather", self, d, index)
    I.refuse_negative("gather", index, d, self.shape[d])
    return S.Getitem.apply(self, index=I.along_dim(index, d))


def _scatter_args(op_name, self, dim, index, src):
    """The index tuple of a scatter and the values it writes (``src`` cut to ``index``'s
    shape, or a number), after PyTorch's checks."""
    index = I.index_tensor(index, self, op_name)
    d = _dim(self, dim, op_name)
    I.refuse_negative(op_name, index, d, self.shape[d] if self.ndim else 1)
    if not isinstance(src, Tensor):
        I.check_along_dim(op_name, self, d, index)
        check_fits(src, self.dtype)
        return I.along_dim(index, d), src
    if src._backend is not self._backend:
        raise devices_differ_error(op_name, self.device, src.device)
    _same_dtype(op_name, self, src)
    I.check_along_dim(op_name, self, d, index, src)
    if src.shape != index.shape:  # only src's leading block, of index's shape, is read
        src = src[tuple(slice(0, size) for size in index.shape)]
    return I.along_dim(index, d), src


def _scatter_value(src, value, reduce, op_name):
    if reduce is not None:
        raise RuntimeError(f"{op_name}(reduce={reduce!r}) is not supported (PyTorch deprecates "
                           f"it); use scatter_add for reduce='add'")
    if src is None:
        if value is None:
            raise TypeError(f"{op_name}() missing the values to write: pass src (a tensor) or "
                            f"value (a number)")
        return value
    return src


@tensor_method("scatter")
def scatter(self, dim, index, src=None, value=None, *, reduce=None):
    """A copy of self with ``src`` (a tensor of self's dtype, or a number, also accepted as
    ``value``) written at the positions ``index`` picks along ``dim``: ``out[index[i][j]][j] =
    src[i][j]`` for ``dim=0``; the inverse addressing of ``gather``.

    Only ``src``'s block of ``index``'s shape is read. Where ``index`` repeats a position, one
    of the values lands (which one is unspecified, as in PyTorch). ``reduce`` is not supported:
    use ``scatter_add``.
    """
    values = _scatter_value(src, value, reduce, "scatter")
    positions, values = _scatter_args("scatter", self, dim, index, values)
    return S.IndexPut.apply(self, values, index=positions)


@tensor_method("scatter_")
def scatter_(self, dim, index, src=None, value=None, *, reduce=None):
    """``scatter`` in place: writes into self and returns it."""
    values = _scatter_value(src, value, reduce, "scatter_")
    positions, values = _scatter_args("scatter_", self, dim, index, values)
    return apply_inplace(S.IndexPut, self, values, index=positions)


def _scattered_sum(op_name, self, dim, index, src):
    tensor_argument(src, op_name, "src", 3)
    positions, src = _scatter_args(op_name, self, dim, index, src)
    return S.IndexAdd.apply(src, shape=self.shape, index=positions, dtype=self.dtype)


@tensor_method("scatter_add")
def scatter_add(self, dim, index, src):
    """A copy of self with each entry of ``src`` added at the position ``index`` picks along
    ``dim`` (``out[index[i][j]][j] += src[i][j]`` for ``dim=0``); repeated positions accumulate."""
    return self + _scattered_sum("scatter_add", self, dim, index, src)


@tensor_method("scatter_add_")
def scatter_add_(self, dim, index, src):
    """``scatter_add`` in place: adds into self and returns it."""
    return self.add_(_scattered_sum("scatter_add_", self, dim, index, src))


# ---- index_* along one dimension -----------------------------------------------------------
def _vector_index(op_name, self, dim, index, position=2):
    index = I.index_tensor(index, self, op_name, position=position)
    if index.ndim > 1:
        raise IndexError(f"{op_name}(): Index is supposed to be a vector")
    if self.ndim == 0:
        raise IndexError(f"{op_name}(): self is 0-dimensional; reshape it to 1-d first "
                         f"(self.reshape(1))")
    return _dim(self, dim, op_name), index.reshape(-1)


@tensor_method("index_select")
def index_select(self, dim, index):
    """The slices of self along ``dim`` at the positions of ``index`` (a 1-d int64 tensor), in
    its order; repeated positions repeat the slice (and add up its gradients)."""
    d, index = _vector_index("index_select", self, dim, index)
    I.refuse_negative("index_select", index, d, self.shape[d], IndexError)
    return S.Getitem.apply(self, index=I.select_along(d, index._data))


def _index_source(op_name, self, dim, index, source):
    d, index = _vector_index(op_name, self, dim, index)
    I.refuse_negative(op_name, index, d, self.shape[d],
                      IndexError if op_name.startswith("index_copy") else RuntimeError)
    tensor_argument(source, op_name, "source", 3)
    if source._backend is not self._backend:
        raise devices_differ_error(op_name, self.device, source.device)
    if source.ndim != self.ndim or any(a != b for i, (a, b) in
                                       enumerate(zip(source.shape, self.shape)) if i != d):
        raise RuntimeError(f"source tensor shape must match self tensor shape, excluding the "
                           f"specified dimension. Got self.shape = {list(self.shape)} "
                           f"source.shape = {list(source.shape)}")
    inplace_name = op_name.rstrip("_") + "_"  # PyTorch names the in-place op in both forms
    if index.numel() != source.shape[d]:
        raise RuntimeError(f"{inplace_name}(): Number of indices ({index.numel()}) should be equal to "
                           f"source.size(dim): ({source.shape[d]}), for dim: {d}")
    if source.dtype is not self.dtype:
        raise RuntimeError(f"{inplace_name}(): self ({self.dtype.name}) and source "
                           f"({source.dtype.name}) must have the same scalar type")
    return I.select_along(d, index._data), source


def _indexed_sum(op_name, self, dim, index, source, alpha):
    positions, source = _index_source(op_name, self, dim, index, source)
    if alpha != 1:
        source = source * alpha
    return S.IndexAdd.apply(source, shape=self.shape, index=positions, dtype=self.dtype)


@tensor_method("index_add")
def index_add(self, dim, index, source, *, alpha=1):
    """A copy of self with ``alpha * source[i]`` added to slice ``index[i]`` along ``dim``;
    repeated indices accumulate. ``source`` has self's shape except along ``dim``, where its
    size is ``len(index)``."""
    return self + _indexed_sum("index_add", self, dim, index, source, alpha)


@tensor_method("index_add_")
def index_add_(self, dim, index, source, *, alpha=1):
    """``index_add`` in place: adds into self and returns it."""
    return self.add_(_indexed_sum("index_add_", self, dim, index, source, alpha))


@tensor_method("index_copy")
def index_copy(self, dim, index, source):
    """A copy of self with slice ``index[i]`` along ``dim`` replaced by ``source[i]``."""
    positions, source = _index_source("index_copy", self, dim, index, source)
    return S.IndexPut.apply(self, source, index=positions)


@tensor_method("index_fill")
def index_fill(self, dim, index, value):
    """A copy of self with the slices ``index`` along ``dim`` set to ``value`` (a number)."""
    d, index = _vector_index("index_fill", self, dim, index)
    check_fits(value, self.dtype)
    return S.IndexPut.apply(self, value, index=I.select_along(d, index._data))


# ---- masks and flat indices ----------------------------------------------------------------
@tensor_method("masked_select")
def masked_select(self, mask):
    """A 1-d tensor of the entries of self where ``mask`` (a bool tensor; the two broadcast
    together) is true, in row-major order."""
    if not isinstance(mask, Tensor) or mask.dtype is not _dtypes.bool_:
        raise RuntimeError("masked_select: expected BoolTensor for mask")
    shape = broadcast_shapes("masked_select", self.shape, mask.shape)
    source = self if self.shape == shape else self.expand(shape)
    mask = mask if mask.shape == shape else mask.expand(shape)
    return S.Getitem.apply(source, index=(mask._data,))


@tensor_method("take")
def take(self, index):
    """The entries of self, seen as 1-d, at ``index`` (an int64 tensor of any shape; negative
    entries count from the end); the result has ``index``'s shape."""
    if isinstance(index, Tensor) and index.dtype is not _dtypes.int64:
        raise RuntimeError(f"take(): Expected a long tensor for index, but got "
                           f"{index.dtype.name}")
    index = I.index_tensor(index, self, "take", position=1)
    return S.Getitem.apply(self.reshape(-1), index=(index._data,))


@tensor_method("take_along_dim")
def take_along_dim(self, indices, dim=None):
    """``gather`` along ``dim`` after broadcasting self and ``indices`` in the other dims (a
    negative index counts from the end, as in PyTorch); with ``dim=None``, ``gather`` on the
    flattened tensor (``indices`` also flattened; no negative index, as in PyTorch)."""
    indices = I.index_tensor(indices, self, "take_along_dim", "indices", 1)
    if dim is None:
        return gather(self.reshape(-1), 0, indices.reshape(-1))
    if indices.ndim != self.ndim:
        raise RuntimeError(f"torch.take_along_dim(): input and indices should have the same "
                           f"number of dimensions, but got {self.ndim} dimensions for input, and "
                           f"{indices.ndim} dimensions for indices")
    d = _dim(self, dim, "take_along_dim")
    others = broadcast_shapes("take_along_dim", _one_at(self.shape, d), _one_at(indices.shape, d))
    source = self.expand(others[:d] + (self.shape[d],) + others[d + 1:])
    indices = indices.expand(others[:d] + (indices.shape[d],) + others[d + 1:])
    # (gather without its sign check: a negative index counts from the end here, as in
    # PyTorch's take_along_dim with a dim)
    return S.Getitem.apply(source, index=I.along_dim(indices, d))


def _one_at(shape, dim):
    return shape[:dim] + (1,) + shape[dim + 1:]


# ---- triangles and diagonals ---------------------------------------------------------------
def _triangle(self, diagonal, name, keep_lower):
    if self.ndim < 2:
        raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions")
    backend = self._backend
    rows, cols = self.shape[-2:]
    offset = backend.binary("sub", I.arange_along(backend, 0, cols, 1, 2),
                            I.arange_along(backend, 0, rows, 0, 2))  # col - row
    outside = backend.binary("gt" if keep_lower else "lt", offset, diagonal, _dtypes.int64)
    return SEL.MaskedFill.apply(self, Tensor._make(outside, backend, False), 0)


@tensor_method("tril")
def tril(self, diagonal=0):
    """The lower triangle of each matrix (the last two dims): the entries with
    ``col - row <= diagonal``; the rest are zero."""
    return _triangle(self, diagonal, "tril", True)


@tensor_method("triu")
def triu(self, diagonal=0):
    """The upper triangle of each matrix (the last two dims): the entries with
    ``col - row >= diagonal``; the rest are zero."""
    return _triangle(self, diagonal, "triu", False)


@tensor_method("diag")
def diag(self, diagonal=0):
    """For a 1-d tensor, the square matrix with it on diagonal ``diagonal`` (0 the main one,
    > 0 above, < 0 below); for a 2-d tensor, that diagonal as a 1-d tensor (a copy)."""
    backend = self._backend
    if self.ndim == 1:
        size = self.shape[0] + abs(diagonal)
        positions = I.diagonal_index(backend, size, size, diagonal)
        return S.IndexAdd.apply(self, shape=(size, size), index=positions, dtype=self.dtype)
    if self.ndim == 2:
        return S.Getitem.apply(self, index=I.diagonal_index(backend, *self.shape, diagonal))
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {self.ndim}D")


@tensor_method("diagonal")
def diagonal(self, offset=0, dim1=0, dim2=1):
    """The ``offset`` diagonal of the matrices spanned by ``dim1`` and ``dim2``, as a last
    dimension after the others. Unlike PyTorch's (a view), the result is a copy: writes into it
    do not reach self."""
    d1, d2 = (_dim(self, d, "diagonal") for d in (dim1, dim2))
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    rest = [d for d in range(self.ndim) if d not in (d1, d2)]
    moved = self.permute(*rest, d1, d2)
    positions = I.diagonal_index(self._backend, self.shape[d1], self.shape[d2], offset)
    return S.Getitem.apply(moved, index=(Ellipsis,) + positions)


# ---- nonzero -------------------------------------------------------------------------------
@tensor_method("nonzero")
def nonzero(self, *, as_tuple=False) -> Tensor | tuple[Tensor, ...]:
    """The coordinates of the nonzero entries of self, in row-major order: an int64 tensor of
    shape (count, ndim), or with ``as_tuple=True`` a tuple of ndim 1-d tensors (the form that
    indexes: ``x[x.nonzero(as_tuple=True)]``). Carries no gradient."""
    backend = self._backend
    if self.ndim == 0:  # a 0-d tensor counts as 1-d in the tuple form, has no coordinates else
        (found,) = nonzero(self.reshape(1), as_tuple=True)
        if as_tuple:
            return (found,)
        return creation.zeros(found.shape[0], 0, dtype=_dtypes.int64, device=self.device)
    mask = (self if self.dtype is _dtypes.bool_ else self != 0)._data
    coordinates = []
    for d, size in enumerate(self.shape):
        grid = backend.broadcast_to(I.arange_along(backend, 0, size, d, self.ndim), self.shape,
                                    True)
        coordinates.append(backend.getitem(grid, (mask,)))
    if as_tuple:
        return tuple(Tensor._make(c, backend, False) for c in coordinates)
    count = coordinates[0].shape[0]
    columns = [backend.reshape(c, (count, 1)) for c in coordinates]
    return Tensor._make(backend.concatenate(columns, 1), backend, False)


@tensor_method("argwhere")
def argwhere(self):
    """``self.nonzero()``: the coordinates of the nonzero entries, shape (count, ndim)."""
    return nonzero(self)
