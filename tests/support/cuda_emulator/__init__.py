"""Run gpugrad's CUDA kernels (kernels/*.cu) on the CPU: the kernel side of the tests' fake CuPy
(tests/support/fake_cupy.py, whose ``RawModule`` is ``EmulatedModule``).

- ``cuda_shim.h``: the CUDA device API the kernels use, for the host C++ compiler. It says what
  is modeled and what is not (no memory model, races, warp lockstep or timing).
- ``emulator_launch.h``: a kernel library's side of a launch: the table of its kernels, their
  parameter types and whether their threads synchronize.
- ``emulator_runtime.cpp``: the launch (blocks in turn, a block's threads as fibers where they
  synchronize; barriers, warp shuffles, checked limits); an exception, UBSan report (misaligned
  float4/double2 access) or fault in a kernel becomes an error message. Built once, shared by
  every kernel library.
- ``loader.py``: compiles a kernel source with them into a cached shared library and launches its
  kernels by name with CuPy's argument conventions (``EmulatedModule`` ~ ``cupy.RawModule``).
"""
from .loader import EmulatedKernel, EmulatedModule, EmulatorError, find_compiler, unavailable_reason

__all__ = ["EmulatedKernel", "EmulatedModule", "EmulatorError", "find_compiler",
           "unavailable_reason"]
