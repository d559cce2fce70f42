"""The fake CuPy's GEMMs (tests/support/fake_cupy.py): ``cupy._core._routines_linalg``'s compute
types and a ``cupy.matmul`` that follows them the way CuPy 14's cuBLAS calls do:

- float32 under ``COMPUTE_TYPE_TF32`` reads its inputs as TF32 (10 mantissa bits, rounded to
  nearest even), as ``CUBLAS_COMPUTE_32F_FAST_TF32`` tensor cores do, and accumulates in float32;
  under ``COMPUTE_TYPE_DEFAULT`` it is plain float32;
- float16 and bfloat16 multiply on tensor cores with float32 accumulation: the product is
  computed in float32 and rounded once to the inputs' dtype;
- any other dtype is NumPy's matmul.

So a test sees whether the backend asked for TF32 from the numbers themselves, and ``settings``
records every ``set_compute_type`` call.
"""
import numpy as np

COMPUTE_TYPE_TBD, COMPUTE_TYPE_DEFAULT, COMPUTE_TYPE_PEDANTIC = 0, 1, 2
COMPUTE_TYPE_FP16, COMPUTE_TYPE_FP32, COMPUTE_TYPE_FP64 = 3, 4, 5
COMPUTE_TYPE_BF16, COMPUTE_TYPE_TF32 = 6, 7
_KNOWN = range(COMPUTE_TYPE_TBD, COMPUTE_TYPE_TF32 + 1)
_FLOAT32 = np.dtype(np.float32)


def tf32(a):
    """float32 ``a`` rounded to TF32's 10 mantissa bits (nearest, ties to even), as float32."""
    bits = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)
    finite = (bits & 0x7F800000) != 0x7F800000
    rounded = (bits + 0xFFF + ((bits >> 13) & 1)) & 0xFFFFE000
    return np.where(finite, rounded, bits).astype(np.uint32).view(np.float32)


class GemmSettings:
    """``cupy._core._routines_linalg``: the compute type of each GEMM dtype (CuPy's is process
    wide); ``calls`` lists the ``(dtype, compute_type)`` of every ``set_compute_type``."""

    COMPUTE_TYPE_DEFAULT = COMPUTE_TYPE_DEFAULT
    COMPUTE_TYPE_TF32 = COMPUTE_TYPE_TF32

    def __init__(self):
        self.compute_types = {}
        self.calls = []

    def set_compute_type(self, dtype, compute_type):
        if compute_type not in _KNOWN:
            raise ValueError(f"Unknown compute type: {compute_type}")
        self.calls.append((np.dtype(dtype), compute_type))
        self.compute_types[np.dtype(dtype)] = compute_type

    def get_compute_type(self, dtype):
        return self.compute_types.get(np.dtype(dtype), COMPUTE_TYPE_DEFAULT)


def gemm_matmul(settings, adopt, host):
    """``cupy.matmul`` following ``settings``; ``host`` turns the operands into NumPy views
    (refusing host arrays, as CuPy does), ``adopt`` a NumPy result into a device array."""

    def matmul(a, b, out=None):
        if out is not None:
            raise NotImplementedError("the fake cupy.matmul(out=...)")
        a, b = (np.asarray(x) for x in host((a, b)))
        dtype = np.result_type(a, b)
        if dtype == _FLOAT32 and settings.get_compute_type(dtype) == COMPUTE_TYPE_TF32:
            return adopt(np.matmul(tf32(a), tf32(b)))
        if dtype.itemsize == 2 and (dtype.kind == "f" or dtype.name == "bfloat16"):
            return adopt(np.matmul(a.astype(np.float32), b.astype(np.float32)).astype(dtype))
        return adopt(np.matmul(a, b))

    return matmul
