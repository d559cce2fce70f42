"""Ops that change where or how a tensor's values are held, keeping them: ``Cast`` (dtype),
``ToDevice`` and ``Identity`` (a new tensor of the same values, recorded in the graph)."""
from ..engine.function import Function


class Cast(Function):
    """A dtype conversion; the gradient is cast back to the input's dtype."""

    def forward(self, a, dtype=None):
        self.in_dtype = self.backend.dtype(a)
        return self.backend.cast(a, dtype)

    def backward(self, grad):
        return grad.to(self.in_dtype)

    def backward_arrays(self, grad):
        backend = self.backend
        return grad if backend.dtype(grad) is self.in_dtype else backend.cast(grad, self.in_dtype)


class ToDevice(Function):
    """A copy to another device; the gradient is copied back."""

    def forward(self, a, target=None):
        self.source = self.backend
        self.backend = target
        return target.from_backend(a, self.source)

    def backward(self, grad):
        return grad.to(self.source.device)


class Identity(Function):
    """A copy that keeps the graph (``clone``)."""

    def forward(self, a):
        return self.backend.contiguous(a)

    def backward(self, grad):
        return grad

    def backward_arrays(self, grad):
        return grad
