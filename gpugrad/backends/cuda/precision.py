"""The cuda backend's precision settings: whether the bound CuPy has bfloat16 arrays, and the
TF32 switch of float32 GEMMs behind ``gg.backends.cuda.matmul.allow_tf32``.

CuPy 14 and newer hold bfloat16 as ``ml_dtypes.bfloat16`` and multiply it, like float16, with
cuBLAS on tensor cores accumulating in float32; older CuPy has no bfloat16 at all, so there it is
refused with what to install or use instead. CuPy is ``runtime.cupy``; this file imports
without it.
"""
import re

import numpy as np

from ... import dtypes
from ..cpu.numpy_ops import NP_DTYPE
from . import runtime
from .fused import add_fused_dtype

_BFLOAT16_CUPY_MAJOR = 14  # the first CuPy with bfloat16 arrays (ml_dtypes.bfloat16)
# why the bound CuPy has no bfloat16 arrays, or None when it has them (set by configure_bfloat16)
bfloat16_refusal = {"reason": "cuda: no cuda backend has been created"}

# CuPy's GEMM compute types (cupy/_core/_routines_linalg.pxd): float32 GEMMs run in full float32
# (CUBLAS_COMPUTE_32F) under DEFAULT and on TF32 tensor cores (CUBLAS_COMPUTE_32F_FAST_TF32)
# under TF32; float16 and bfloat16 GEMMs always use tensor cores with float32 accumulation.
_COMPUTE_TYPE_DEFAULT = 1
_COMPUTE_TYPE_TF32 = 7
_TF32_MIN_CAPABILITY = 80  # TF32 tensor cores: Ampere (sm_80) and newer


def bfloat16_unsupported_reason(cupy):
    """None when ``cupy`` has bfloat16 arrays (CuPy 14 or newer, with the ``ml_dtypes`` package
    installed), else a message saying what is missing and what to use instead."""
    version = str(getattr(cupy, "__version__", "0"))
    match = re.match(r"\d+", version)
    instead = "; or use float16 or float32 on cuda (bfloat16 works on cpu and sim)"
    if match is None or int(match.group()) < _BFLOAT16_CUPY_MAJOR:
        return (f"cuda: bfloat16 arrays need CuPy {_BFLOAT16_CUPY_MAJOR} or newer with the "
                f"ml_dtypes package, and this is CuPy {version}: upgrade CuPy (pip install -U "
                f"cupy-cuda12x or cupy-cuda13x){instead}")
    try:
        import ml_dtypes  # noqa: F401  (CuPy takes its bfloat16 dtype from this package)
    except ImportError:
        return f"cuda: bfloat16 arrays need the ml_dtypes package: pip install ml_dtypes{instead}"
    return None


def configure_bfloat16(cupy):
    """Enable bfloat16 (arrays and the fused kernels' ``*_bf16`` variants) where ``cupy`` has it;
    else record why not, for the error a bfloat16 request raises."""
    reason = bfloat16_unsupported_reason(cupy)
    bfloat16_refusal["reason"] = reason
    if reason is None:
        add_fused_dtype(NP_DTYPE[dtypes.bfloat16], "bf16")


def apply_tf32(gpu, allow_tf32):
    """Point CuPy's float32 GEMM compute type at ``allow_tf32`` (a process-wide CuPy setting, so
    every later float32 GEMM follows it); ``gpu`` (a ``cupy.cuda.Device``) before sm_80 has no
    TF32 and stays on full float32, as PyTorch does there."""
    # cupy._core._routines_linalg: private, but the one place CuPy takes a compute type
    linalg = runtime.cupy._core._routines_linalg
    if allow_tf32 and int(gpu.compute_capability) >= _TF32_MIN_CAPABILITY:
        compute_type = getattr(linalg, "COMPUTE_TYPE_TF32", _COMPUTE_TYPE_TF32)
    else:
        compute_type = getattr(linalg, "COMPUTE_TYPE_DEFAULT", _COMPUTE_TYPE_DEFAULT)
    linalg.set_compute_type(np.float32, compute_type)
