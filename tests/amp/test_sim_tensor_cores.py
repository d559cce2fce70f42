"""The simulator's tensor-core model: bf16 GEMMs at the BF16 tensor-core peak, float32 GEMMs at
the TF32 peak once ``allow_tf32`` is set (and at the plain FP32 rate otherwise), half the memory
traffic for 2-byte dtypes; and the TF32 switches themselves (``gg.backends.cuda.matmul``,
``gg.set_float32_matmul_precision``)."""
import ml_dtypes
import numpy as np
import pytest

import gpugrad as gg
from gpugrad.backends.sim import costmodel
from gpugrad.backends.sim.profiles import get_profile

N = 4096  # a square GEMM large enough to be compute-bound on an H100


@pytest.fixture
def restore_precision():
    yield
    gg.set_float32_matmul_precision("highest")


def _gemm_spec(dtype):
    a = np.empty((N, N), dtype)
    return costmodel.spec("matmul", [a, a], np.empty((N, N), dtype))


def _expected_us(tflops):
    """By hand, for H100 (132 SMs): 128x128 output tiles, (4096/128)^2 = 1024 of them, in
    ceil(1024/132) = 8 waves; each tile does 2*128*128*4096 flops at the peak times the fitted
    GEMM efficiency (0.7409) shared over the SMs; plus the fixed 1.087 us. The operands
    (>= 100 MB) stream from HBM in far less time (about 30 us for bf16), so compute decides."""
    per_sm_flops_per_us = tflops * 1e6 * 0.7409 / 132
    return 8 * 2 * 128 * 128 * N / per_sm_flops_per_us + 1.087


def test_bf16_and_tf32_gemms_at_hand_computed_times_on_h100(restore_precision):
    h100 = get_profile("h100")
    assert (h100.params["mm_tile"], h100.params["mm_eff.float32"], h100.params["mm_fixed_us"],
            h100.sm_count) == (128, 0.7409, 1.087, 132)  # what the hand computation assumes
    bf16, fp32 = _gemm_spec(ml_dtypes.bfloat16), _gemm_spec(np.float32)
    assert h100.kernel_us(bf16) == pytest.approx(_expected_us(989.4), rel=1e-9)  # ~194 us
    assert h100.kernel_us(_gemm_spec(np.float16)) == pytest.approx(_expected_us(989.4))
    assert h100.kernel_us(fp32) == pytest.approx(_expected_us(67.0), rel=1e-9)   # plain FP32
    gg.backends.cuda.matmul.allow_tf32 = True
    assert h100.kernel_us(fp32) == pytest.approx(_expected_us(494.7), rel=1e-9)  # ~388 us
    assert h100.kernel_us(bf16) == pytest.approx(_expected_us(989.4), rel=1e-9)  # unchanged
    gg.backends.cuda.matmul.allow_tf32 = False
    assert h100.kernel_us(fp32) == pytest.approx(_expected_us(67.0), rel=1e-9)   # not stale


def test_two_byte_dtypes_move_half_the_bytes():
    x32, x16 = np.ones((1024, 1024), np.float32), np.ones((1024, 1024), ml_dtypes.bfloat16)
    add32 = costmodel.spec("binary:add", [x32, x32], x32)
    add16 = costmodel.spec("binary:add", [x16, x16], x16)
    assert add16.nbytes * 2 == add32.nbytes
    total32 = costmodel.spec("reduce:sum", [x32], np.ones((), np.float32))
    total16 = costmodel.spec("reduce:sum", [x16], np.ones((), ml_dtypes.bfloat16))
    assert total16.bytes_read * 2 == total32.bytes_read
    # one thread per element: CuPy's elementwise kernels are bound by issuing the elements as
    # much as by their bytes, so halving the bytes never costs time (and here saves none)
    h100 = get_profile("h100")
    assert h100.kernel_us(add16) <= h100.kernel_us(add32)


def test_tf32_switches_are_tied_as_in_pytorch(restore_precision):
    flags = gg.backends.cuda.matmul
    assert flags.allow_tf32 is False and gg.get_float32_matmul_precision() == "highest"
    gg.set_float32_matmul_precision("medium")
    assert flags.allow_tf32 is True
    flags.allow_tf32 = False
    assert gg.get_float32_matmul_precision() == "highest"
    flags.allow_tf32 = True
    assert gg.get_float32_matmul_precision() == "high"
    with pytest.raises(ValueError, match="'low' is not one of 'highest', 'high', or 'medium'"):
        gg.set_float32_matmul_precision("low")
    with pytest.raises(TypeError, match="allow_tf32 must be a bool"):
        flags.allow_tf32 = 1
    with pytest.raises(AttributeError):
        flags.allow_fp32_everywhere = True  # a misspelt flag is an error, not a silent no-op
