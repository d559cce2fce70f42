"""The ``cuda`` device: NVIDIA GPUs through CuPy, with gpugrad's own kernels from ``kernels/``.

``availability`` says whether a GPU is usable here (and why not); ``backend`` implements the
contract on CuPy arrays, with ``fused`` and ``optimizers`` launching the custom kernels and
``recorder`` timing them for ``gg.profiler``. Importing this package never imports CuPy.
``gg.cuda`` is this package, with ``torch.cuda``'s queries: ``is_available()``, ``device_count()``,
``synchronize()``, ``current_device()``, ``get_device_name()`` and the memory counters of
``memory`` (``memory_allocated()``, ``max_memory_allocated()``, ``reset_peak_memory_stats()``);
without a usable GPU all but the first two raise ``gg.DeviceUnavailableError`` with the reason.
``graphs`` holds whole-step CUDA graphs (``CUDAGraph``, ``graph``, ``make_graphed_step``), which
also run on the ``sim`` device. ``matmul`` is ``torch.backends.cuda.matmul`` (``allow_tf32``),
which ``gg.backends.cuda.matmul`` reaches.

The device protocol (``gpugrad/device_registry.py``): devices ``cuda:N``, which need a GPU
(``NEEDS_GPU``); ``unavailable_reason()`` and ``device_rows()`` come from ``availability``.
"""
from . import graphs, runtime
from .availability import (describe, device_count, device_rows, is_available, kernel_dir,
                           require, synchronize, unavailable_reason)
from .backend import CupyBackend
from .backend import create_backend as _create_backend
from .graphs import CUDAGraph, graph
from .memory import (current_device, get_device_name, max_memory_allocated, memory_allocated,
                     reset_peak_memory_stats, track_peaks)
from .matmul_flags import matmul

NEEDS_GPU = True  # the tests mark cuda runs ``cuda``


def create_backend(device):
    """The backend for ``cuda:N`` (the device protocol), with the peak-memory record of
    ``max_memory_allocated`` installed; gg.DeviceUnavailableError when no GPU is usable."""
    backend = _create_backend(device)
    track_peaks(runtime.cupy)
    return backend


__all__ = ["describe", "device_count", "device_rows", "is_available", "kernel_dir", "require",
           "synchronize", "unavailable_reason", "CupyBackend", "create_backend", "NEEDS_GPU",
           "current_device", "get_device_name", "memory_allocated", "max_memory_allocated",
           "reset_peak_memory_stats", "matmul"]
