"""Comparisons to a tolerance and facts about a tensor, as PyTorch has them: ``isclose``,
``allclose``, ``equal``, ``is_nonzero``, ``is_same_size``, ``is_signed``, ``element_size``,
``nbytes``, ``itemsize``, ``nelement``, ``ndimension``, ``is_cpu``, ``is_cuda`` and
``get_device``. None of them has a gradient."""
from . import dtypes as _dtypes
from .tensor import Tensor
from .tensor_api import tensor_argument, tensor_method


def _same_dtype(self, other, name):
    tensor_argument(other, name)
    if other.dtype is not self.dtype:
        raise RuntimeError(f"{self.dtype.name.capitalize()} did not match "
                           f"{other.dtype.name.capitalize()}")


@tensor_method("isclose")
def isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """True where ``|self - other| <= atol + rtol * |other|`` (broadcast), as a bool tensor;
    equal infinities are close, NaN is close to NaN only with ``equal_nan``. Both tensors
    must share a dtype."""
    _same_dtype(self, other, "isclose")
    if rtol < 0:
        raise RuntimeError(f"rtol must be greater than or equal to zero, but got {rtol}")
    if atol < 0:
        raise RuntimeError(f"atol must be greater than or equal to zero, but got {atol}")
    close = self == other
    if equal_nan and self.dtype.is_floating_point:
        close = close | ((self != self) & (other != other))
    if self.dtype is _dtypes.bool_ or (rtol == 0 and atol == 0):
        return close
    a = self if self.dtype.is_floating_point else self.to(_dtypes.get_default_dtype())
    b = other if other.dtype.is_floating_point else other.to(a.dtype)
    gap = (a - b).abs().detach()
    return close | (gap.isfinite() & (gap <= atol + rtol * b.abs().detach()))


@tensor_method("allclose")
def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    """Whether every element of ``isclose(self, other, ...)`` holds, as a Python bool."""
    return bool(isclose(self, other, rtol, atol, equal_nan).all())


@tensor_method("equal")
def equal(self, other) -> bool:
    """Whether ``self`` and ``other`` have the same shape and elements (NaN is never equal),
    as a Python bool."""
    tensor_argument(other, "equal")
    return self.shape == other.shape and bool((self == other).all())


@tensor_method("is_nonzero")
def is_nonzero(self) -> bool:
    """Whether the one element of a one-element tensor is nonzero."""
    size = self.numel()
    if size == 0:
        raise RuntimeError("Boolean value of Tensor with no values is ambiguous")
    if size > 1:
        raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
    return bool(self.item())


@tensor_method("is_same_size")
def is_same_size(self, other) -> bool:
    """Whether ``other`` has self's shape."""
    return self.shape == other.shape


@tensor_method("is_signed")
def is_signed(self) -> bool:
    """Whether self's dtype holds negative values (not bool or uint8)."""
    return self.dtype.is_signed


@tensor_method("element_size", function=False)
def element_size(self) -> int:
    """The size of one element in bytes."""
    return self.dtype.itemsize


@tensor_method("nelement", function=False)
def nelement(self) -> int:
    """The number of elements (``numel()``)."""
    return self.numel()


@tensor_method("ndimension", function=False)
def ndimension(self) -> int:
    """The number of dimensions (``dim()``)."""
    return self.ndim


@tensor_method("get_device", function=False)
def get_device(self) -> int:
    """The index of self's device; -1 on the CPU, as PyTorch."""
    device = self.device
    if device.type == "cpu":
        return -1
    return device.index if device.index is not None else 0


Tensor.itemsize = property(element_size, doc="The size of one element in bytes.")
Tensor.nbytes = property(lambda self: self.numel() * self.dtype.itemsize,
                         doc="The size of the elements in bytes (``numel() * itemsize``).")
Tensor.is_cpu = property(lambda self: self.device.type == "cpu",
                         doc="Whether self is on the CPU.")
Tensor.is_cuda = property(lambda self: self.device.type == "cuda",
                          doc="Whether self is on a CUDA GPU (the simulator is not one).")
