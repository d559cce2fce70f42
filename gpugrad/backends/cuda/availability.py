"""Is a usable NVIDIA GPU here, and if not, why not (``gg.cuda.is_available()`` and friends).

Nothing here imports CuPy until a function is called, and no function lets a CuPy exception
escape: a machine without CuPy, without a driver or without a GPU gets ``False`` from
``is_available()`` and a sentence from ``unavailable_reason()``; ``.to("cuda")`` then raises
``gg.DeviceUnavailableError`` with that sentence. ``unavailable_reason`` and ``device_rows`` are
the cuda package's answers to the device protocol (``gpugrad/device_registry.py``).
"""
import os

from ...device_registry import Device, loaded_backends
from ...errors import DeviceUnavailableError

# cudaError_t codes that mean "no usable driver" rather than "no GPU" (CUDA runtime API).
_NO_DRIVER_CODES = {35: "cudaErrorInsufficientDriver", 34: "cudaErrorStubLibrary"}
_NO_DEVICE_CODES = {100: "cudaErrorNoDevice", 101: "cudaErrorInvalidDevice"}
_INSTALL_HINT = "pip install 'gpugrad[cuda13]' (or 'gpugrad[cuda12]' for a CUDA 12 driver)"

_probe_cache: dict[str, object] = {}


def _probe():
    """``(cupy_module, device_count, reason)``; reason is None when a GPU is usable. Cached."""
    if "result" in _probe_cache:
        return _probe_cache["result"]
    try:
        import cupy
    except ImportError as exc:
        result = (None, 0, f"CuPy is not installed ({exc}); {_INSTALL_HINT}")
    except Exception as exc:  # noqa: BLE001  (a broken CuPy install is a reason, not a crash)
        result = (None, 0, f"CuPy failed to import: {type(exc).__name__}: {exc}")
    else:
        result = _count_devices(cupy)
    _probe_cache["result"] = result
    return result


def _count_devices(cupy):
    try:
        count = int(cupy.cuda.runtime.getDeviceCount())
    except Exception as exc:  # noqa: BLE001  (CUDARuntimeError, or a missing libcudart)
        status = getattr(exc, "status", None)
        if status in _NO_DRIVER_CODES:
            return (cupy, 0, f"no usable NVIDIA driver: the CUDA runtime reports {exc} "
                             f"(install or update the NVIDIA driver; CuPy {cupy.__version__} "
                             f"needs one that supports its CUDA version)")
        if status in _NO_DEVICE_CODES:
            return (cupy, 0, f"no NVIDIA GPU found: the CUDA runtime reports {exc}")
        return (cupy, 0, f"CUDA could not be initialized: {type(exc).__name__}: {exc}")
    if count == 0:
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        hint = f" (CUDA_VISIBLE_DEVICES={visible!r})" if visible is not None else ""
        return (cupy, 0, f"no NVIDIA GPU found: the driver reports 0 devices{hint}")
    return (cupy, count, None)


def is_available():
    """True when CuPy is installed and a driver and at least one NVIDIA GPU are usable."""
    return _probe()[2] is None


def unavailable_reason():
    """Why cuda cannot be used here (a sentence), or None when it can."""
    return _probe()[2]


def device_count():
    """The number of usable NVIDIA GPUs (0 when cuda is unavailable)."""
    return _probe()[1]


def require(index=0):
    """The CuPy module, after checking that ``cuda:index`` exists; else DeviceUnavailableError."""
    cupy, count, reason = _probe()
    if reason is not None:
        raise DeviceUnavailableError(f"cuda:{index} is unavailable: {reason}")
    if index >= count:
        listed = ", ".join(f"cuda:{i}" for i in range(count))
        raise DeviceUnavailableError(
            f"cuda:{index} does not exist: this machine has {count} CUDA device"
            f"{'s' if count != 1 else ''} ({listed})"
        )
    return cupy


def synchronize(device=None):
    """Wait for all work queued on ``device`` (default: every loaded cuda device)."""
    if device is not None:
        device = Device(device)
        if device.type != "cuda":
            raise ValueError(f"gg.cuda.synchronize expects a cuda device, got {device}")
        require(device.index).cuda.Device(device.index).synchronize()
        return
    for dev, backend in loaded_backends().items():
        if dev.type == "cuda":
            backend.synchronize()


def describe():
    """One line per usable GPU, for ``gg.devices()``."""
    cupy = require(0)
    lines = []
    for i in range(device_count()):
        props = cupy.cuda.runtime.getDeviceProperties(i)
        name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
        gib = props["totalGlobalMem"] / 2**30
        lines.append(f"cuda:{i} {name}, {gib:.0f} GiB, compute capability "
                     f"{props['major']}.{props['minor']}")
    return f"CuPy {cupy.__version__}: " + "; ".join(lines)


def device_rows():
    """``gg.devices()``'s row (the device protocol): the GPUs, or why there are none."""
    reason = unavailable_reason()
    return [("cuda", reason is None, describe() if reason is None else reason)]


def kernel_dir():
    """The folder holding the CUDA sources (``*.cu``) that the cuda backend compiles.

    An installed wheel carries them in ``gpugrad/kernels/`` (copied there by setup.py); a
    source checkout or an editable install reads the repository's top-level ``kernels/``.
    """
    package = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    candidates = (os.path.join(package, "kernels"), os.path.join(os.path.dirname(package), "kernels"))
    for candidate in candidates:
        if os.path.isfile(os.path.join(candidate, "bias_act.cu")):
            return candidate
    raise FileNotFoundError(
        f"gpugrad's CUDA kernel sources were not found in {candidates[0]} or {candidates[1]}; "
        f"reinstall gpugrad (pip install .) from a complete source tree"
    )


def _reset_probe():
    """Forget the cached probe (tests that fake a missing CuPy or driver use this)."""
    _probe_cache.clear()
