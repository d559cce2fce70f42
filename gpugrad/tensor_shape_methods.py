"""The shape methods of ``Tensor``: reshaping, transposing, broadcasting, indexing and joining.

Like ``tensor_methods``, each method is a thin front on an op in ``gpugrad.ops.shape``, where
forward and backward live.
"""
import operator
import warnings

from . import creation
from . import dtypes as _dtypes
from .engine.function import devices_differ_error
from .ops import shape as S
from .ops.broadcast import normalize_dims
from .tensor import Tensor
from .tensor_api import tensor_method as _method


# ---- shape ops ------------------------------------------------------------------------------
@_method("reshape")
def reshape(self, *shape):
    """The same values in a new shape; one entry may be -1 (inferred).

    Takes ``reshape(2, 3)`` or ``reshape((2, 3))``. A view of self (sharing its storage) when
    the strides allow one, as they always do for a contiguous tensor; otherwise a copy, as in
    PyTorch. Returns self when the shape is unchanged.
    """
    shape = _resolve_shape(_flat_shape(shape), self.numel())
    if shape == self.shape:
        return self
    return S.Reshape.apply(self, shape=shape)


@_method("view", function=False)
def view(self, *shape):
    """A view of self in a new shape, sharing its storage (a write through either is seen by
    both); one entry may be -1. Raises, as in PyTorch, when the strides allow no view (a
    transposed tensor, say): use ``reshape``, which copies then."""
    if len(shape) == 1 and not isinstance(shape[0], (int, tuple, list)):
        raise TypeError(f"view(): expected a shape (ints), got {type(shape[0]).__name__}; to "
                        f"reinterpret a dtype, use .to(dtype)")
    shape = _resolve_shape(_flat_shape(shape), self.numel())
    if shape != self.shape and not S.can_view(self._backend, self._data, shape):
        raise RuntimeError("view size is not compatible with input tensor's size and stride (at "
                           "least one dimension spans across two contiguous subspaces). Use "
                           ".reshape(...) instead.")
    return reshape(self, shape)


@_method("view_as", function=False)
def view_as(self, other):
    """``self.view(other.shape)``."""
    return view(self, other.shape)


def _flat_shape(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def _resolve_shape(shape, numel):
    known = 1
    unknown = None
    for i, s in enumerate(shape):
        if s == -1:
            if unknown is not None:
                raise RuntimeError("only one dimension can be inferred (-1) in a shape")
            unknown = i
        elif not isinstance(s, int) or s < 0:
            raise RuntimeError(f"invalid shape dimension {s!r} in {shape}")
        else:
            known *= s
    if unknown is not None:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape = shape[:unknown] + (numel // known,) + shape[unknown + 1:]
    elif known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


@_method("permute")
def permute(self, *dims):
    """The dimensions reordered: output dim ``i`` is input dim ``dims[i]``."""
    dims = _flat_shape(dims)
    if sorted(d % max(self.ndim, 1) for d in dims) != list(range(self.ndim)):
        raise RuntimeError(f"permute: dims {dims} are not a permutation of {self.ndim} dims")
    return S.Permute.apply(self, axes=tuple(d % self.ndim for d in dims))


@_method("transpose")
def transpose(self, dim0, dim1):
    """``dim0`` and ``dim1`` swapped (``swapaxes`` and ``swapdims`` are aliases)."""
    if self.ndim == 0:  # dims 0 and -1 name the one "dim" of a 0-d tensor, as in PyTorch
        normalize_dims((dim0, dim1), 0, "transpose")
        return self
    axes = list(range(self.ndim))
    d0, d1 = (normalize_dims(d, self.ndim, "transpose")[0] for d in (dim0, dim1))
    axes[d0], axes[d1] = axes[d1], axes[d0]
    return S.Permute.apply(self, axes=tuple(axes))


@_method("t")
def t(self):
    """The transpose of a matrix; 0-d and 1-d tensors come back unchanged."""
    if self.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {self.ndim}D")
    return self if self.ndim < 2 else self.transpose(0, 1)


Tensor.T = property(lambda self: self if self.ndim < 2 else self.permute(*reversed(range(self.ndim))),
                    doc="The tensor with all dimensions reversed.")


def _mT(self) -> Tensor:
    if self.ndim == 1:
        raise RuntimeError("tensor.mT is only supported on matrices or batches of matrices. Got 1-D tensor.")
    return self.transpose(-2, -1) if self.ndim else self


Tensor.mT = property(_mT, doc="The last two dimensions swapped (batched matrix transpose).")


@_method("unsqueeze")
def unsqueeze(self, dim):
    """A new dimension of size 1 inserted at ``dim`` (``-ndim - 1 <= dim <= ndim``)."""
    ndim = self.ndim + 1
    if not -ndim <= dim < ndim:
        raise IndexError(f"unsqueeze: Dimension out of range (expected to be in range of "
                         f"[{-ndim}, {ndim - 1}], but got {dim})")
    dim %= ndim
    return self.reshape(self.shape[:dim] + (1,) + self.shape[dim:])


@_method("squeeze")
def squeeze(self, dim=None):
    """Size-1 dimensions removed: all of them, or those among ``dim`` (an int or a tuple);
    a named dimension whose size is not 1 is left as is, as in PyTorch."""
    if dim is None:
        dims = {i for i, s in enumerate(self.shape) if s == 1}
    else:
        dims = {d for d in normalize_dims(dim, self.ndim, "squeeze") if self.shape[d] == 1}
    return self.reshape(tuple(s for i, s in enumerate(self.shape) if i not in dims))


@_method("flatten")
def flatten(self, start_dim=0, end_dim=-1):
    """Dimensions ``start_dim`` through ``end_dim`` merged into one (a 0-d tensor becomes 1-d);
    a view when the strides allow one, as ``reshape``."""
    if self.ndim == 0:
        normalize_dims((start_dim, end_dim), 0, "flatten")
        return self.reshape(1)
    start, end = (normalize_dims(d, self.ndim, "flatten")[0] for d in (start_dim, end_dim))
    if start > end:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    middle = 1
    for s in self.shape[start:end + 1]:
        middle *= s
    return self.reshape(self.shape[:start] + (middle,) + self.shape[end + 1:])


@_method("expand", function=False)
def expand(self, *shape):
    """Size-1 dimensions broadcast to ``shape`` (-1 keeps a size); new dims may lead.

    Gradients sum back over the broadcast dimensions.
    """
    shape = _flat_shape(shape)
    lead = len(shape) - self.ndim
    if lead < 0:
        raise RuntimeError(f"expand: the number of sizes provided ({len(shape)}) must be greater "
                           f"or equal to the number of dimensions in the tensor ({self.ndim})")
    shape = tuple(self.shape[i - lead] if s == -1 else s for i, s in enumerate(shape))
    for i, s in enumerate(self.shape):
        if s != 1 and s != shape[i + lead]:
            raise RuntimeError(f"expand: the expanded size of the tensor ({shape[i + lead]}) must "
                               f"match the existing size ({s}) at non-singleton dimension {i}. "
                               f"Target sizes: {list(shape)}.  Tensor sizes: {list(self.shape)}")
    if shape == self.shape:
        return self
    return S.ExpandView.apply(self, shape=shape)


@_method("narrow")
def narrow(self, dim, start, length):
    """The view ``self[..., start:start + length, ...]`` along ``dim`` (shares storage)."""
    if self.ndim == 0:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    d = normalize_dims(dim, self.ndim, "narrow")[0]
    size = self.shape[d]
    start = operator.index(start)
    length = operator.index(length)
    if start < 0:
        start += size
    if not 0 <= start <= size:
        raise IndexError(f"start out of range (expected to be in range of [{-size}, {size}], "
                         f"but got {start})")
    if length < 0 or start + length > size:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size "
                           f"({size}).")
    return S.Getitem.apply(self, index=(slice(None),) * d + (slice(start, start + length),))


@_method("expand_as", function=False)
def expand_as(self, other):
    """``self.expand(other.shape)``."""
    return self.expand(other.shape)


@_method("broadcast_to")
def broadcast_to(self, shape):
    """``self.expand(shape)``: self broadcast to ``shape``."""
    return self.expand(shape)


# ---- indexing -------------------------------------------------------------------------------
def _index_entry(entry, backend):
    if isinstance(entry, Tensor):
        if entry._backend is not backend:
            raise devices_differ_error("indexing", backend.device, entry.device)
        if entry.dtype.is_floating_point:
            raise IndexError("tensors used as indices must be long, int or bool tensors")
        if entry.dtype is _dtypes.uint8:  # PyTorch still reads a uint8 tensor as a mask
            warnings.warn("indexing with dtype gpugrad.uint8 is now deprecated, please use a "
                          "dtype gpugrad.bool instead.", UserWarning, stacklevel=5)
            return (entry != 0)._data
        return entry._data
    if isinstance(entry, (list, tuple)) and not entry:  # x[[]]: no rows (int64, not float)
        return backend.from_host(entry, _dtypes.int64)
    if isinstance(entry, (list, tuple)) or getattr(entry, "ndim", 0):  # lists, NumPy arrays
        return backend.from_host(entry)
    if entry is None or entry is Ellipsis or isinstance(entry, (slice, bool)):
        return entry  # (a bool adds a dimension, as in NumPy and PyTorch; it is no 0 or 1)
    try:
        return operator.index(entry)
    except TypeError:
        raise IndexError(
            f"only integers, slices, None, ..., and integer or bool tensors are valid indices "
            f"(got {type(entry).__name__})"
        ) from None


def _index_tuple(self, index):
    if not isinstance(index, tuple):
        index = tuple(index) if _sequence_as_tuple(index) else (index,)
    return tuple(_index_entry(i, self._backend) for i in index)


def _sequence_as_tuple(index):
    """Whether a list index means a tuple of indices, as PyTorch still reads it (deprecated
    there, with this warning): a short list holding a sequence, a tensor, a slice, None or
    ``...`` (``x[[rows, cols]]`` is ``x[rows, cols]``). A list of ints or bools is one index."""
    if not isinstance(index, list) or len(index) >= 32:
        return False
    if not any(isinstance(i, (list, tuple, slice, Tensor)) or i is None or i is Ellipsis or
               getattr(i, "ndim", 0) for i in index):
        return False
    warnings.warn("Using a non-tuple sequence for multidimensional indexing is deprecated; use "
                  "x[tuple(seq)] instead of x[seq] (read here as PyTorch reads it: x[[rows, "
                  "cols]] is x[rows, cols]), or x[gg.tensor(seq)] for one index array.",
                  UserWarning, stacklevel=4)
    return True


@_method("__getitem__")
def getitem(self, index):
    """``self[index]`` with ints, slices, None, ``...``, lists and integer or bool tensors,
    as in PyTorch; gradients flow back to the indexed entries."""
    return S.Getitem.apply(self, index=_index_tuple(self, index))


@_method("__setitem__")
def setitem(self, index, value):
    """``self[index] = value``: a number or a tensor broadcast to ``self[index]``'s shape.
    Recorded for autograd as in PyTorch (see ``ops.shape.setitem``)."""
    S.setitem(self, _index_tuple(self, index), value)


@_method("__iter__")
def iter_(self):
    """Iterate over ``self[0], self[1], ...`` along the first dimension."""
    if self.ndim == 0:
        raise TypeError("iteration over a 0-d tensor")
    return (self[i] for i in range(self.shape[0]))


@_method("gather_rows", function=False)
def gather_rows(self, index):
    """``self[arange(n), index]``: one entry per row (used by losses)."""
    return self[creation.arange(self.shape[0], device=self.device), index]


# ---- joining --------------------------------------------------------------------------------
def cat(tensors, dim=0):
    """Concatenate tensors along an existing dimension. A 1-d empty tensor (shape ``(0,)``)
    beside tensors of another shape is skipped, as in PyTorch."""
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("cat expects a non-empty list of tensors")
    shaped = [t for t in tensors if tuple(t.shape) != (0,)]
    if shaped and len(shaped) < len(tensors):
        tensors = shaped
    for i, t in enumerate(tensors):
        if t.ndim == 0:
            raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be concatenated; "
                               f"use stack, or unsqueeze it first")
    first = tensors[0]
    d = normalize_dims(dim, first.ndim, "cat")[0]
    for i, t in enumerate(tensors[1:], 1):
        if t.ndim != first.ndim or any(a != b for j, (a, b) in enumerate(zip(t.shape, first.shape))
                                       if j != d):
            raise RuntimeError(
                f"cat: sizes of tensors must match except in dimension {d}: tensor 0 has shape "
                f"{first.shape} and tensor {i} has shape {t.shape}"
            )
    return S.Cat.apply(*tensors, dim=d)


def stack(tensors, dim=0):
    """Join tensors of one shape along a new dimension."""
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty list of tensors")
    shape = tensors[0].shape
    for i, t in enumerate(tensors):
        if t.shape != shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {shape} at "
                               f"entry 0 and {t.shape} at entry {i}")
    return cat([t.unsqueeze(dim) for t in tensors], dim=dim)
