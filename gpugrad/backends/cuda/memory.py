"""PyTorch's ``torch.cuda`` device and memory queries on CuPy: ``current_device``,
``get_device_name``, ``memory_allocated``, ``max_memory_allocated``,
``reset_peak_memory_stats``.

Memory is CuPy's default pool's ``used_bytes()`` (live arrays, sizes rounded to 512 bytes as
PyTorch's caching allocator rounds them). CuPy keeps no peak, so the first cuda backend installs
an allocator over that pool (``track_peaks``) that notes each device's peak after every
allocation: a peak can only be reached by an allocation, so the record is exact. Every query
needs a usable GPU and raises ``gg.DeviceUnavailableError`` with the reason otherwise.
"""
import threading

from ...device_registry import Device
from .availability import require

_peaks: dict[int, int] = {}  # device index -> the most bytes in use since the last reset
_lock = threading.Lock()
_tracked = [None]  # the CuPy module whose allocations are tracked


def track_peaks(cupy):
    """Route ``cupy``'s allocations through its default pool with a peak record (once)."""
    with _lock:
        if _tracked[0] is cupy:
            return
        pool = cupy.get_default_memory_pool()
        get_device = cupy.cuda.runtime.getDevice

        def malloc(nbytes):
            memory = pool.malloc(nbytes)
            used = pool.used_bytes()  # of the current device, where CuPy allocated
            index = get_device()
            if used > _peaks.get(index, 0):
                with _lock:
                    if used > _peaks.get(index, 0):
                        _peaks[index] = used
            return memory

        cupy.cuda.set_allocator(malloc)
        _tracked[0] = cupy


def _index(device):
    """The GPU index of ``device``: None (the current GPU), an int, ``"cuda:N"`` or a Device."""
    if device is None:
        return require(0).cuda.runtime.getDevice()
    if isinstance(device, int) and not isinstance(device, bool):
        index = device
    else:
        dev = Device(device)
        if dev.type != "cuda":
            raise ValueError(f"Expected a cuda device, but got: {dev}")
        index = dev.index
    require(index)
    return index


def _used(cupy, index):
    with cupy.cuda.Device(index):
        return int(cupy.get_default_memory_pool().used_bytes())


def current_device():
    """The index of the current GPU (``torch.cuda.current_device()``)."""
    return _index(None)


def get_device_name(device=None):
    """The GPU's name, e.g. ``"NVIDIA H100 80GB HBM3"`` (``torch.cuda.get_device_name``)."""
    index = _index(device)
    name = require(index).cuda.runtime.getDeviceProperties(index)["name"]
    return name.decode() if isinstance(name, bytes) else name


def memory_allocated(device=None):
    """Bytes held by live arrays on the GPU (``torch.cuda.memory_allocated``)."""
    index = _index(device)
    return _used(require(index), index)


def max_memory_allocated(device=None):
    """The most bytes held by live arrays on the GPU since the program started or
    ``reset_peak_memory_stats`` (``torch.cuda.max_memory_allocated``)."""
    index = _index(device)
    used = _used(require(index), index)
    with _lock:
        return max(_peaks.get(index, 0), used)


def reset_peak_memory_stats(device=None):
    """Start the peak of ``max_memory_allocated`` over from the bytes in use now."""
    index = _index(device)
    used = _used(require(index), index)
    with _lock:
        _peaks[index] = used
