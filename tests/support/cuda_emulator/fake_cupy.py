"""A NumPy-backed stand-in for the part of CuPy that CupyBackend's fused primitives use.

Arrays are ``ndarray``, a NumPy subclass with CuPy's extras (``.data.ptr``, ``.get()``,
``.device.id``); buffers the fake allocates start on a 256-byte boundary, as CuPy's memory pool
gives, so the kernels' 16-byte vector paths run, and ``empty`` fills its buffer with NaN bytes
(0xff) so a kernel that leaves an element unwritten shows. ``RawModule`` compiles the kernels
for the CPU (loader.py). There is one device, ``cuda:0``.

Everything else raises NotImplementedError naming the call, so a CupyBackend change that needs
more of CuPy fails loudly here instead of passing for the wrong reason: extend this file then.
"""
import types

import numpy as np

from .loader import EmulatedModule

__version__ = "0.0+cpu-emulator"
_ALIGNMENT = 256


def _not_implemented(name):
    def call(*args, **kwargs):
        raise NotImplementedError(f"the emulated CuPy does not implement {name}; extend "
                                  "tests/support/cuda_emulator/fake_cupy.py")

    call.__name__ = name
    return call


class _Memory:
    """What ``ndarray.data`` returns: a pointer holder (CuPy's MemoryPointer)."""

    def __init__(self, ptr):
        self.ptr = ptr


class Device:
    """``cupy.cuda.Device(i)``: only device 0 exists."""

    def __init__(self, device=None):
        self.id = 0 if device is None else int(device)
        if self.id != 0:
            raise NotImplementedError(f"the emulated CuPy has only device 0, not {self.id}")

    def synchronize(self):
        """Kernels run to completion when launched: nothing to wait for."""

    def __getattr__(self, name):
        return _not_implemented(f"cupy.cuda.Device.{name}")

    def __eq__(self, other):
        return isinstance(other, Device) and other.id == self.id

    __hash__ = object.__hash__


class ndarray(np.ndarray):  # noqa: N801  (CuPy's name)
    """A "device" array: host memory with CuPy's array attributes."""

    @property
    def data(self):
        return _Memory(self.__array_interface__["data"][0])

    @property
    def device(self):
        return Device(0)

    def get(self, stream=None):
        """A host copy, as a plain NumPy array."""
        if stream is not None:
            raise NotImplementedError("cupy.ndarray.get(stream=...)")
        return np.array(self, copy=True, subok=False)

    def copy(self, order="C"):
        if order != "C":
            raise NotImplementedError(f"cupy.ndarray.copy(order={order!r})")
        out = empty(self.shape, self.dtype)
        out[...] = self
        return out

    def astype(self, dtype, order="K", casting=None, subok=None, copy=True):
        if order != "K" or casting is not None or subok is not None:
            raise NotImplementedError("cupy.ndarray.astype with order/casting/subok")
        if not copy and np.dtype(dtype) == self.dtype:
            return self
        out = empty(self.shape, dtype)
        out[...] = self
        return out


def empty(shape, dtype=float):
    """An uninitialized array on a 256-byte boundary; its bytes are 0xff (NaN for floats)."""
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = np.full(nbytes + _ALIGNMENT, 0xFF, np.uint8)
    start = (-raw.ctypes.data) % _ALIGNMENT
    return raw[start:start + nbytes].view(dtype).reshape(shape).view(ndarray)


def full(shape, fill_value, dtype=None):
    out = empty(shape, np.asarray(fill_value).dtype if dtype is None else dtype)
    out[...] = fill_value
    return out


def zeros(shape, dtype=float):
    return full(shape, 0, dtype)


def asarray(a, dtype=None, order=None):
    """A device array of ``a``: ``a`` itself when it already is one of that dtype, else a copy."""
    if order is not None:
        raise NotImplementedError(f"cupy.asarray(order={order!r})")
    if isinstance(a, ndarray) and (dtype is None or np.dtype(dtype) == a.dtype):
        return a
    host = np.asarray(a, dtype=dtype)
    out = empty(host.shape, host.dtype)
    out[...] = host
    return out


def ascontiguousarray(a, dtype=None):
    if not isinstance(a, ndarray):
        raise NotImplementedError("cupy.ascontiguousarray of a host array")
    dtype = a.dtype if dtype is None else np.dtype(dtype)
    if a.flags.c_contiguous and a.dtype == dtype:
        return a
    out = empty(a.shape, dtype)
    out[...] = a
    return out


def broadcast_to(array, shape):
    if not isinstance(array, ndarray):
        raise NotImplementedError("cupy.broadcast_to of a host array")
    return np.broadcast_to(array, shape, subok=True)


def RawModule(code=None, options=(), **kwargs):  # noqa: N802  (CuPy's name)
    """The kernels of ``code`` compiled for the CPU; ``options`` (NVRTC flags) are recorded."""
    if code is None or kwargs:
        raise NotImplementedError(f"cupy.RawModule without code= or with {sorted(kwargs)}")
    return EmulatedModule(code, options, is_device_array=lambda a: isinstance(a, ndarray))


class ElementwiseKernel:
    """Constructible (CupyBackend builds one at start-up); calling it is not emulated."""

    def __init__(self, in_params, out_params, operation, name="kernel", **kwargs):
        self.name = name

    def __call__(self, *args, **kwargs):
        raise NotImplementedError(f"cupy.ElementwiseKernel {self.name!r} is not emulated")


class OutOfMemoryError(MemoryError):
    """cupy.cuda.memory.OutOfMemoryError (never raised: the fake has no capacity)."""


class _Runtime:
    def __init__(self):
        self.current = 0

    def getDevice(self):  # noqa: N802  (CuPy's names)
        return self.current

    def setDevice(self, index):  # noqa: N802
        Device(index)  # only 0 exists
        self.current = int(index)

    def getDeviceCount(self):  # noqa: N802
        return 1

    def __getattr__(self, name):
        return _not_implemented(f"cupy.cuda.runtime.{name}")


class _Namespace(types.SimpleNamespace):
    """A CuPy submodule: the listed names, and NotImplementedError for any other."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _not_implemented(f"{self._name}.{name}")


cuda = _Namespace(_name="cupy.cuda", runtime=_Runtime(), Device=Device,
                  memory=_Namespace(_name="cupy.cuda.memory", OutOfMemoryError=OutOfMemoryError))


def __getattr__(name):
    """Any other ``cupy.<name>``: a function that raises NotImplementedError when called (the
    backend looks its elementwise table up at start-up, so the lookup itself must work)."""
    if name.startswith("__"):
        raise AttributeError(name)
    return _not_implemented(f"cupy.{name}")
