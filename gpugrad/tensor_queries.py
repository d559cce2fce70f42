"""Questions about tensors and shapes under PyTorch's names: ``gg.is_tensor``,
``gg.is_floating_point`` (also ``x.is_floating_point()``), ``gg.numel`` and ``gg.Size``."""
from .tensor import Tensor
from .tensor_api import tensor_method


def is_tensor(obj) -> bool:
    """Whether ``obj`` is a gpugrad Tensor (a ``Parameter`` too), as ``torch.is_tensor``."""
    return isinstance(obj, Tensor)


@tensor_method("is_floating_point")
def is_floating_point(self) -> bool:
    """Whether the tensor's dtype is a floating type (float16, bfloat16, float32, float64)."""
    return self.dtype.is_floating_point


# ``gg.numel(x)`` is the method ``x.numel()`` itself (gpugrad/tensor.py), one function for both
tensor_method("numel")(Tensor.numel)


class Size(tuple):
    """A shape, as ``torch.Size``: a tuple of ints (``gg.Size([2, 3]) == (2, 3)``) with
    ``numel()``. ``Tensor.shape`` returns a plain tuple, which compares equal to a Size and is
    accepted wherever one is."""

    __slots__ = ()

    def __new__(cls, sizes=()):
        sizes = tuple(sizes)
        for s in sizes:
            if isinstance(s, bool) or not isinstance(s, int):
                raise TypeError(f"Size() takes an iterable of 'int' (item "
                                f"{sizes.index(s)} is '{type(s).__name__}')")
        return super().__new__(cls, sizes)

    def numel(self):
        """The number of elements of a tensor of this shape (1 for ``Size([])``)."""
        n = 1
        for s in self:
            n *= s
        return n

    def __getitem__(self, index):
        out = tuple.__getitem__(self, index)
        return Size(out) if isinstance(index, slice) else out

    def __add__(self, other):
        return Size(tuple(self) + tuple(other))

    def __repr__(self):
        return f"gpugrad.Size({list(self)})"
