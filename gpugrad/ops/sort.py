"""Sorting and selection along a dim: sort, argsort, topk, kthvalue, median.

Each runs the backend's stable ``sort`` (values and int64 indices in one launch) and reads what
it needs from the sorted slices. Gradients flow through ``Gathered``: the values are taken to be
``x`` gathered at the indices, so the gradient is scattered back to those positions (PyTorch's
``value_selecting_reduction_backward``; ties do not share it).
"""
from ..engine.function import Function
from ..dtypes import int64
from ..tensor import ReductionResult, Tensor
from .shape import IndexAdd


def along_index(backend, shape, dim, indices):
    """The advanced index that gathers ``indices`` (an int64 backend array with ``len(shape)``
    dims) along ``dim`` of an array of ``shape``: ``a[along_index(...)][..., i, ...]`` is
    ``a[..., indices[..., i, ...], ...]``, NumPy's ``take_along_axis``. The other dims get
    ``arange``s shaped to broadcast against ``indices``."""
    index = []
    for d, size in enumerate(shape):
        if d == dim:
            index.append(indices)
        else:
            along = tuple(size if i == d else 1 for i in range(len(shape)))
            index.append(backend.reshape(backend.arange(0, size, 1, int64), along))
    return tuple(index)


class Gathered(Function):
    """``values``, a backend array the caller took from ``a`` at the advanced index ``index``
    (``a[index]``, computed beside the indices by one kernel: a sort, a scan), as a
    differentiable op of ``a``: the gradient is scattered back to ``index`` with ``IndexAdd``,
    repeated positions accumulating (a ``cummax`` index repeats), and its own gradient is a
    gather again."""

    def forward(self, a, values=None, index=None):
        self.in_shape, self.index, self.dtype = a.shape, index, self.backend.dtype(a)
        return values

    def backward(self, grad):
        return IndexAdd.apply(grad, shape=self.in_shape, index=self.index, dtype=self.dtype)


def gathered(x, values, indices, dim):
    """``(values, indices)`` as tensors: ``values`` (a backend array equal to ``x`` gathered
    at the int64 backend array ``indices`` along ``dim``) differentiable in ``x``."""
    backend = x._backend
    index = along_index(backend, x.shape, dim, indices)
    out = Gathered.apply(x, values=values, index=index)
    return ReductionResult(out, Tensor._make(indices, backend, False))


def sort(x, dim, descending):
    """``(values, indices)`` of ``x`` sorted along the int ``dim`` (normalized, ``x`` at
    least 1-d), stably."""
    values, indices = x._backend.sort(x._data, dim, descending)
    return gathered(x, values, indices, dim)


def select(x, sorted_pair, dim, positions, keepdim=True):
    """``(values, indices)`` at ``positions`` along ``dim`` of the pair ``sorted_pair`` (from
    ``sort``): a slice (``topk``'s first k), or an int64 backend array with one entry per
    slice and a size-1 ``dim`` (``median``'s per-slice position). ``keepdim=False`` drops the
    size-1 ``dim``. The values are differentiable in ``x``."""
    backend = x._backend
    values, indices = sorted_pair
    if isinstance(positions, slice):
        index = (slice(None),) * dim + (positions,)
    else:
        index = along_index(backend, values.shape, dim, positions)
    value_data = backend.contiguous(backend.getitem(values._data, index))
    index_data = backend.contiguous(backend.getitem(indices._data, index))
    out = gathered(x, value_data, index_data, dim)
    if keepdim:
        return out
    return ReductionResult(out.values.squeeze(dim), out.indices.squeeze(dim))
