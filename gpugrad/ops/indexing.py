"""Index tuples for the dimension-wise indexing ops (``gather``, ``scatter``, ``index_select``,
``diagonal``, ``nonzero``...), and the checks PyTorch makes of their arguments.

No op here has a kernel or a backward of its own: each is advanced indexing (``ops.shape.Getitem``,
a gather), its adjoint (``IndexAdd``, which accumulates repeated indices) or an indexed write
(``IndexPut``) with one of these index tuples. Their gradients, to any order, and the
simulator's kernel costs come from those three ops.
"""
from .. import dtypes
from ..engine.function import devices_differ_error
from ..tensor import Tensor

INDEX_DTYPES = (dtypes.int32, dtypes.int64)


def index_tensor(index, like, op_name, argument="index", position=2):
    """``index`` checked to be an int32/int64 tensor on ``like``'s device, as PyTorch checks
    the index of ``gather``, ``scatter``, ``index_select``... (which take no lists either)."""
    if not isinstance(index, Tensor):
        raise TypeError(f"{op_name}(): argument '{argument}' (position {position}) must be "
                        f"Tensor, not {type(index).__name__}")
    if index._backend is not like._backend:
        raise devices_differ_error(op_name, like.device, index.device)
    if index.dtype not in INDEX_DTYPES:
        raise RuntimeError(f"{op_name}(): Expected dtype int32/int64 for {argument}")
    return index


def arange_along(backend, start, size, dim, ndim):
    """The int64 array ``start .. start + size - 1``, laid along ``dim`` of ``ndim`` dimensions
    (size 1 in the others), to broadcast against other index arrays."""
    shape = [1] * ndim
    shape[dim] = size
    return backend.reshape(backend.arange(start, start + size, 1, dtypes.int64), tuple(shape))


def along_dim(index, dim):
    """The index tuple that addresses, for every position ``p`` of ``index`` (a tensor with the
    indexed tensor's ndim), the element ``p`` with coordinate ``dim`` replaced by ``index[p]``:
    the addressing of ``gather``, ``scatter`` and ``scatter_add`` (``out[i][j] = x[index[i][j]][j]``
    for ``dim=0``)."""
    backend, ndim = index._backend, index.ndim
    return tuple(index._data if d == dim else arange_along(backend, 0, index.shape[d], d, ndim)
                 for d in range(ndim))


def check_along_dim(op_name, self, dim, index, src=None):
    """PyTorch's shape rules for ``gather``/``scatter``: ``index`` has self's ndim and is no
    larger than self apart from ``dim`` (and, with ``src``, no larger than ``src`` at all)."""
    if index.ndim != self.ndim and index.numel() and self.ndim:
        raise RuntimeError("Index tensor must have the same number of dimensions as input tensor")
    if src is not None and index.numel() and src.ndim != index.ndim:
        raise RuntimeError("Index tensor must have the same number of dimensions as src tensor")
    too_big = any(i != dim and size > self.shape[i] for i, size in enumerate(index.shape))
    if src is None:
        if too_big:
            raise RuntimeError(f"Size does not match at dimension {_first_larger(index, self, dim)}"
                               f" expected index {list(index.shape)} to be no larger than self "
                               f"{list(self.shape)} apart from dimension {dim}")
    elif too_big or any(size > src.shape[i] for i, size in enumerate(index.shape)):
        raise RuntimeError(f"Expected index {list(index.shape)} to be no larger than self "
                           f"{list(self.shape)} apart from dimension {dim} and to be no larger "
                           f"size than src {list(src.shape)}")


def refuse_negative(op_name, index, dim, size, error=RuntimeError):
    """PyTorch's bounds check of the index ops that take no negative index (``gather``, the
    scatters, ``index_select``, ``index_add``, ``index_copy``, ``embedding``): a negative entry
    of ``index`` (a tensor) is refused rather than wrapped around to the end, as NumPy
    indexing would. Read where the index is in host memory (cpu, sim: no modeled work); on
    cuda it is not checked, as PyTorch's kernels only assert on the device."""
    host = index._backend.host_buffer(index._data)
    if host is not None and host.size and host.min() < 0:
        raise error(f"{op_name}(): index {int(host.min())} is out of bounds for dimension {dim} "
                    f"with size {size} ({op_name} takes no negative index, unlike x[index])")


def _first_larger(index, self, dim):
    return next(i for i, size in enumerate(index.shape) if i != dim and size > self.shape[i])


def select_along(dim, index_array):
    """The index tuple choosing the entries ``index_array`` (a 1-d backend array) along
    ``dim`` and everything along the other dims: ``index_select``'s and ``index_add``'s."""
    return (slice(None),) * dim + (index_array,)


def diagonal_index(backend, rows, cols, offset):
    """Row and column index arrays of the ``offset``-th diagonal of a ``rows x cols`` matrix
    (above the main diagonal for ``offset > 0``, below it for ``offset < 0``)."""
    row0, col0 = (0, offset) if offset >= 0 else (-offset, 0)
    length = max(0, min(rows - row0, cols - col0))
    return (backend.arange(row0, row0 + length, 1, dtypes.int64),
            backend.arange(col0, col0 + length, 1, dtypes.int64))
