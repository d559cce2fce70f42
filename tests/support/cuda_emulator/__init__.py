"""Run gpugrad's CUDA kernels (kernels/*.cu) and the cuda backend's host code on the CPU.

- ``cuda_shim.h``: the CUDA device API the kernels use, for the host C++ compiler, with the
  launch emulated (blocks in turn, a block's threads as fibers; barriers, warp shuffles). It
  says what is modeled and what is not (no memory model, races, warp lockstep or timing).
- ``emulator_launch.h``: launching a kernel by name with checked limits; an exception, UBSan
  report (misaligned float4/double2 access) or fault in a kernel becomes an error message.
- ``loader.py``: compiles a kernel source with it into a cached shared library and launches its
  kernels by name with CuPy's argument conventions (``EmulatedModule`` ~ ``cupy.RawModule``).
- ``fake_cupy.py``: the NumPy-backed slice of CuPy that CupyBackend's fused primitives need.
- ``emulated_backend()``: a real ``gpugrad.backends.cuda.CupyBackend`` running on the fake.
"""
import contextlib

from .loader import EmulatedKernel, EmulatedModule, EmulatorError, find_compiler, unavailable_reason

__all__ = ["EmulatedKernel", "EmulatedModule", "EmulatorError", "emulated_backend",
           "find_compiler", "unavailable_reason"]


@contextlib.contextmanager
def emulated_backend():
    """A ``CupyBackend`` for ``cuda:0`` whose CuPy is fake_cupy, while the block runs.

    It is built by the backend module's own ``create_backend`` with the availability check
    replaced, and with the process-wide kernel-module cache and profiler source list swapped
    for fresh ones; all three, and ``cupy``, are restored on exit (a real GPU run in the same
    process uses that module).
    """
    import pytest

    import gpugrad as gg
    from gpugrad.backends import events
    from gpugrad.backends.cuda import backend as cuda_backend
    from gpugrad.backends.cuda import runtime as cuda_runtime

    from . import fake_cupy

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cuda_runtime, "cupy", fake_cupy)
        patch.setattr(cuda_backend, "_MODULES", {})
        patch.setattr(events, "_SOURCES", list(events._SOURCES))
        patch.setattr(cuda_backend._cuda, "require", lambda index=0: fake_cupy)
        yield cuda_backend.create_backend(gg.Device("cuda:0"))
