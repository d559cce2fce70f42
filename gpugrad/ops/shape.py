"""Layout ops: reshape, permute, expand, indexing (its adjoint, and writes), concatenation."""
import numbers

from .. import autograd as _autograd
from ..function import Function, devices_differ_error
from ..tensor import Tensor
from .broadcast import sum_to


class Reshape(Function):
    def forward(self, a, shape=None):
        self.in_shape = a.shape
        return self.backend.reshape(a, shape)

    def backward(self, grad):
        return grad.reshape(self.in_shape)


class Permute(Function):
    def forward(self, a, axes=None):
        self.axes = axes
        return self.backend.permute(a, axes)

    def backward(self, grad):
        inverse = [0] * len(self.axes)
        for i, axis in enumerate(self.axes):
            inverse[axis] = i
        return grad.permute(*inverse)


class Expand(Function):
    def forward(self, a, shape=None):
        self.in_shape = a.shape
        return self.backend.broadcast_to(a, shape)

    def backward(self, grad):
        return sum_to(grad, self.in_shape)


class Getitem(Function):
    """``a[index]``; ``index`` holds ints, slices, None, Ellipsis and backend index arrays."""

    def forward(self, a, index=None):
        self.in_shape = a.shape
        self.index = index
        self.dtype = self.backend.dtype(a)
        try:
            return self.backend.getitem(a, index)
        except IndexError as exc:
            raise IndexError(f"index {_describe(index)} is out of range for shape "
                             f"{tuple(a.shape)}: {exc}") from None

    def backward(self, grad):
        return IndexAdd.apply(grad, shape=self.in_shape, index=self.index, dtype=self.dtype)


class IndexAdd(Function):
    """Scatter-add into zeros: the adjoint of ``Getitem``."""

    def forward(self, values, shape=None, index=None, dtype=None):
        self.index = index
        return self.backend.index_add(shape, index, values, dtype)

    def backward(self, grad):
        return Getitem.apply(grad, index=self.index)


class IndexPut(Function):
    """``a`` with ``a[index] = value``, out of place: what ``Tensor.__setitem__`` records for
    autograd (PyTorch's CopySlices). ``value`` is an array broadcast to ``a[index]`` or a number."""

    def forward(self, a, value, index=None):
        self.index = index
        self.value_shape = getattr(value, "shape", None)
        out = self.backend.contiguous(a)
        put(self.backend, out, index, value)
        return out

    def backward(self, grad):
        grad_a = IndexPut.apply(grad, 0, index=self.index)  # overwritten elements get nothing
        if self.value_shape is None:
            return grad_a, None
        return grad_a, sum_to(Getitem.apply(grad, index=self.index), self.value_shape)


def put(backend, a, index, value):
    """``backend.setitem_`` with errors that name the index and the shapes."""
    try:
        backend.setitem_(a, index, value)
    except IndexError as exc:
        raise IndexError(f"index {_describe(index)} is out of range for shape "
                         f"{tuple(a.shape)}: {exc}") from None
    except ValueError as exc:
        if "read-only" in str(exc):
            raise RuntimeError("unsupported operation: more than one element of the written-to "
                               "tensor refers to a single memory location. Please clone() the "
                               "tensor before performing the operation.") from None
        target = backend.getitem(a, index).shape
        raise RuntimeError(f"shape mismatch: value tensor of shape {list(getattr(value, 'shape', ()))} "
                           f"cannot be broadcast to indexing result of shape {list(target)}") from None


def setitem(tensor, index, value):
    """``tensor[index] = value`` for ``Tensor.__setitem__`` (``index``: a tuple of backend
    entries, as for ``Getitem``). In place outside autograd; when the write must be recorded
    (grad enabled, and the tensor or the value requires grad) the tensor's array is replaced by
    an ``IndexPut`` result, so arrays saved for backward keep their values, and the tensor
    becomes a non-leaf, as in PyTorch."""
    if isinstance(value, Tensor):
        if value._backend is not tensor._backend:
            raise devices_differ_error("index_put_", tensor.device, value.device)
        if value.dtype is not tensor.dtype:
            value = value.to(tensor.dtype)
    elif isinstance(value, numbers.Number):
        value = value.item() if hasattr(value, "item") else value  # a NumPy scalar: a number
    else:
        raise TypeError(f"can't assign a {type(value).__name__} to a Tensor; assign a number or a "
                        f"tensor (e.g. gg.tensor(value, device=x.device))")
    value_grad = isinstance(value, Tensor) and value._requires_grad
    if not (_autograd.modes.grad_enabled and (tensor._requires_grad or value_grad)):
        put(tensor._backend, tensor._data, index, value._data if isinstance(value, Tensor) else value)
        tensor._bump_version()
        return
    if tensor._requires_grad and tensor.grad_fn is None:
        # PyTorch's words: basic indexing (but a lone ...) writes a view, index arrays index_put_
        advanced = any(hasattr(i, "shape") for i in index)
        view = "a view of " if not advanced and any(i is not Ellipsis for i in index) else ""
        raise RuntimeError(f"{view}a leaf Variable that requires grad is being used in an in-place "
                           f"operation.")
    out = IndexPut.apply(tensor, value, index=index)
    # ops that saved this tensor object would now read the new array: a new version says so;
    # ops that saved its old array (and detached views of it) still see it unchanged, so the
    # new version goes into a box of its own
    tensor._version_box = [tensor._version + 1]
    tensor._data, tensor.grad_fn, tensor._requires_grad = out._data, out.grad_fn, True


def _describe(index):
    parts = []
    for i in index:
        if hasattr(i, "shape") and not isinstance(i, (int, slice)):
            parts.append(f"<index array of shape {tuple(i.shape)}>")
        else:
            parts.append(repr(i))
    return "[" + ", ".join(parts) + "]"


class Cat(Function):
    def forward(self, *arrays, dim=0):
        self.dim = dim
        self.sizes = [a.shape[dim] for a in arrays]
        return self.backend.concatenate(arrays, dim)

    def backward(self, grad):
        grads = []
        start = 0
        lead = (slice(None),) * self.dim
        for size in self.sizes:
            grads.append(grad[lead + (slice(start, start + size),)])
            start += size
        return tuple(grads)
