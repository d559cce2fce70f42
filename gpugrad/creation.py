"""Creation functions with PyTorch's signatures: ``tensor``, ``zeros``, ``ones``, ``full``,
``empty`` and their ``*_like`` forms, the ``Tensor.new_*`` methods, and the default device.

Ranges (``arange``, ``linspace``, ``logspace``, ``eye``) are in ``creation_ranges`` and random
draws (``rand``, ``randn``, ``randint``, ``normal``) in ``creation_random``; both are
re-exported here. With no ``device=``, tensors are created on the default device
(``set_default_device``, cpu unless changed); float tensors get the default dtype
(``gg.set_default_dtype``, float32 unless changed).
"""
import operator

from . import defaults as _defaults
from . import dtypes as _dtypes
from .finfo import check_fits
from .device_registry import Device, get_backend
from .tensor import Tensor, _shape_args
from .tensor_api import tensor_method


def set_default_device(device):
    """Create tensors on ``device`` when a creation function gets no ``device=``, as
    ``torch.set_default_device``; None restores cpu. Per thread, as in PyTorch (a new thread
    starts on cpu). ``from_numpy`` is not affected (its tensor shares the array's memory)."""
    _defaults.set_device(None if device is None else Device(device))


def get_default_device():
    """The device creation functions use without ``device=`` (``gg.Device("cpu")`` unless
    ``set_default_device`` changed it), as ``torch.get_default_device``."""
    return _defaults.device() or Device("cpu")


def _backend(device):
    """The backend of ``device``, or of the default device when None."""
    if device is None:
        device = _defaults.device() or "cpu"
    return get_backend(device)


def _finish(data, backend, requires_grad):
    t = Tensor._make(data, backend, False)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _float_dtype(dtype):
    """``dtype``, or the default float dtype when None (that of the float creation functions)."""
    return _dtypes.as_dtype(dtype) or _dtypes.DEFAULT_FLOAT


def _size(args, size, name):
    """The shape PyTorch's ``name(*size)`` reads: ``f(2, 3)``, ``f((2, 3))``, ``f([2, 3])``,
    ``f(x.shape)`` or ``f(size=(2, 3))``; entries may be any integer (``np.int64``)."""
    if size is not None:
        if args:
            raise TypeError(f"{name}() got multiple values for argument 'size'")
        args = (size,)
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = args[0]
    shape = []
    for s in args:
        try:
            shape.append(s if type(s) is int else operator.index(s))
        except TypeError:
            raise TypeError(f"{name}(): argument 'size' must be tuple of ints, but found "
                            f"element of type {type(s).__name__} in {tuple(args)!r}") from None
    return _shape_args(tuple(shape))


def tensor(data, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A new tensor holding a copy of ``data`` (nested lists, a number, a NumPy array or a
    Tensor). Python floats get the default float dtype (float32), ints int64, bools bool; a
    NumPy array keeps its dtype. ``device`` defaults to the default device (or ``data``'s
    device for a Tensor)."""
    if isinstance(data, Tensor):
        out = data.detach().to(device or data.device)
        out = out.to(_dtypes.as_dtype(dtype)) if dtype is not None else out
        if out._data is data._data:
            out = Tensor._make(out._backend.contiguous(out._data), out._backend, False)
        return _finish(out._data, out._backend, requires_grad)
    backend = _backend(device)
    try:
        array = backend.from_host(data, _dtypes.as_dtype(dtype))
        # the backends read Python floats as float32; under another default float dtype they
        # are read again in it (from the Python values: no float32 rounding on the way)
        if dtype is None and _dtypes.DEFAULT_FLOAT is not _dtypes.float32 and \
                not hasattr(data, "dtype") and backend.dtype(array) is _dtypes.float32:
            array = backend.from_host(data, _dtypes.DEFAULT_FLOAT)
    except ValueError as exc:
        if "inhomogeneous" not in str(exc):
            raise
        raise ValueError("tensor: the nested lists are ragged; the lists at each depth must all "
                         f"have the same length (NumPy: {exc})") from None
    return _finish(array, backend, requires_grad)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """``data`` as a tensor, without copying when it already is one of that dtype and device."""
    if isinstance(data, Tensor):
        return data.to(device or data.device, dtype=_dtypes.as_dtype(dtype))
    return tensor(data, dtype=dtype, device=device)


def from_numpy(array, device=None) -> Tensor:
    """A cpu tensor sharing memory with the NumPy array, as ``torch.from_numpy``: a write
    through either shows in the other, and the tensor keeps the array alive. The dtype is kept.

    As in PyTorch: dtypes gpugrad lacks (uint16, complex, object...) raise TypeError, arrays in
    non-native byte order ValueError, and a read-only array is shared with a warning (in-place
    ops on the tensor then fail). Unlike PyTorch, negative strides are fine. ``device`` is
    gpugrad's own: on any device but cpu the tensor holds a copy (on sim, a modeled
    host-to-device transfer), since device memory cannot alias host memory. The default device
    does not apply, as in PyTorch.
    """
    cpu = get_backend("cpu")
    shared = Tensor._make(cpu.share_host(array), cpu, False)
    if device is None or Device(device).type == "cpu":
        return shared
    return shared.to(device)  # device memory cannot alias host memory: a copy


def _fill_dtype(fill_value):
    """The dtype PyTorch's ``full`` infers from a fill value: bool, int64 or the default float."""
    try:  # (a NumPy integer counts as an int: np.int32(3) fills int64, as in PyTorch)
        return _dtypes.scalar_dtype(fill_value)
    except TypeError:
        return _dtypes.DEFAULT_FLOAT  # (a 0-d array or another number-like: read as a float)


def full(*shape, size=None, fill_value=None, dtype=None, device=None,
         requires_grad=False) -> Tensor:
    """A tensor of ``size`` filled with ``fill_value``: ``full((2, 3), 7.0)`` (also
    ``full(size=(2, 3), fill_value=7.0)`` or ``full(2, 3, fill_value=7.0)``). Without
    ``dtype``: bool, int64 or the default float, from the fill value, as in PyTorch."""
    if fill_value is None and len(shape) == 2 and isinstance(shape[0], (tuple, list)):
        shape, fill_value = (shape[0],), shape[1]
    if fill_value is None:
        raise TypeError("full() missing required argument 'fill_value': full(size, fill_value)")
    dtype = _dtypes.as_dtype(dtype) or _fill_dtype(fill_value)
    check_fits(fill_value, dtype)
    return _filled(shape, size, fill_value, dtype, device, requires_grad, "full")


def zeros(*shape, size=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of zeros: ``zeros(2, 3)``, ``zeros((2, 3))`` or ``zeros(size=(2, 3))``; of the
    default float dtype unless ``dtype`` says."""
    return _filled(shape, size, 0, _float_dtype(dtype), device, requires_grad, "zeros")


def ones(*shape, size=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of ones: ``ones(2, 3)``, ``ones((2, 3))`` or ``ones(size=(2, 3))``; of the
    default float dtype unless ``dtype`` says."""
    return _filled(shape, size, 1, _float_dtype(dtype), device, requires_grad, "ones")


def empty(*shape, size=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Like ``zeros`` (gpugrad never hands out uninitialized memory)."""
    return _filled(shape, size, 0, _float_dtype(dtype), device, requires_grad, "empty")


def _filled(shape, size, value, dtype, device, requires_grad, name):
    backend = _backend(device)
    data = backend.full(_size(shape, size, name), value, dtype)
    return _finish(data, backend, requires_grad)


def like(fn, input, dtype, device, requires_grad, *args, **kw):
    """``fn(input.shape, *args, **kw)`` with ``input``'s dtype and device unless given."""
    return fn(input.shape, *args, dtype=dtype or input.dtype, device=device or input.device,
              requires_grad=requires_grad, **kw)


def zeros_like(input, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Zeros with ``input``'s shape, dtype and device (unless ``dtype``/``device`` say)."""
    return like(zeros, input, dtype, device, requires_grad)


def ones_like(input, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Ones with ``input``'s shape, dtype and device (unless ``dtype``/``device`` say)."""
    return like(ones, input, dtype, device, requires_grad)


def empty_like(input, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``empty`` with ``input``'s shape, dtype and device (unless ``dtype``/``device`` say)."""
    return like(empty, input, dtype, device, requires_grad)


def full_like(input, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``fill_value`` everywhere, with ``input``'s shape, dtype and device (unless given)."""
    return like(full, input, dtype, device, requires_grad, fill_value)


# ---- Tensor.new_*: the tensor's dtype and device unless given -------------------------------
@tensor_method("new_tensor", function=False)
def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
    """A copy of ``data`` with this tensor's dtype and device unless given."""
    return tensor(data, dtype=dtype or self.dtype, device=device or self.device,
                  requires_grad=requires_grad)


def _new_filled(fn, self, args, size, dtype, device, requires_grad):
    return fn(*args, size=size, dtype=dtype or self.dtype, device=device or self.device,
              requires_grad=requires_grad)


@tensor_method("new_zeros", function=False)
def new_zeros(self, *shape, size=None, dtype=None, device=None, requires_grad=False):
    """``zeros(*shape)`` with this tensor's dtype and device unless given."""
    return _new_filled(zeros, self, shape, size, dtype, device, requires_grad)


@tensor_method("new_ones", function=False)
def new_ones(self, *shape, size=None, dtype=None, device=None, requires_grad=False):
    """``ones(*shape)`` with this tensor's dtype and device unless given."""
    return _new_filled(ones, self, shape, size, dtype, device, requires_grad)


@tensor_method("new_empty", function=False)
def new_empty(self, *shape, size=None, dtype=None, device=None, requires_grad=False):
    """``empty(*shape)`` with this tensor's dtype and device unless given."""
    return _new_filled(empty, self, shape, size, dtype, device, requires_grad)


@tensor_method("new_full", function=False)
def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False):
    """``full(size, fill_value)`` with this tensor's dtype and device unless given."""
    return full(size, fill_value, dtype=dtype or self.dtype, device=device or self.device,
                requires_grad=requires_grad)


# the ranges and random draws, re-exported: ``from gpugrad.creation import rand`` keeps working
from .creation_random import (normal, rand, rand_like, randint, randint_like, randn,  # noqa: E402
                              randn_like, randperm)
from .creation_ranges import arange, eye, linspace, logspace  # noqa: E402

__all__ = ["tensor", "as_tensor", "from_numpy", "full", "zeros", "ones", "empty", "zeros_like",
           "ones_like", "empty_like", "full_like", "arange", "linspace", "logspace", "eye",
           "rand", "randn", "rand_like", "randn_like", "randint", "randint_like", "normal", "randperm",
           "set_default_device", "get_default_device", "Device"]
