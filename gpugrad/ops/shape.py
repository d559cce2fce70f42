"""Layout ops: reshape, permute, expand, indexing (and its adjoint), concatenation."""
from ..function import Function
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
