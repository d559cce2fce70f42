"""The ``cuda`` device: NVIDIA GPUs through CuPy, with gpugrad's own kernels from ``kernels/``.

``availability`` says whether a GPU is usable here (and why not); ``backend`` implements the
contract on CuPy arrays, with ``fused`` and ``optimizers`` launching the custom kernels and
``recorder`` timing them for ``gg.profiler``. Importing this package never imports CuPy.
``gg.cuda`` is this package: ``gg.cuda.is_available()``, ``device_count()``, ``synchronize()``.

The device protocol (``gpugrad/device_registry.py``): devices ``cuda:N``, which need a GPU
(``NEEDS_GPU``); ``unavailable_reason()`` and ``device_rows()`` come from ``availability``.
"""
from .availability import (describe, device_count, device_rows, is_available, kernel_dir,
                           require, synchronize, unavailable_reason)
from .backend import CupyBackend, create_backend

NEEDS_GPU = True  # the tests mark cuda runs ``cuda``

__all__ = ["describe", "device_count", "device_rows", "is_available", "kernel_dir", "require",
           "synchronize", "unavailable_reason", "CupyBackend", "create_backend", "NEEDS_GPU"]
