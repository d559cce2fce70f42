"""NVIDIA A100 SXM4 80GB.

Public spec numbers (NVIDIA A100 Tensor Core GPU datasheet, 80GB SXM column, and the Ampere
architecture whitepaper): HBM2e 80 GB at 2,039 GB/s; FP64 9.7 TFLOPS, FP64 Tensor Core 19.5
TFLOPS, FP32 19.5 TFLOPS, TF32 Tensor Core 156 TFLOPS (312 with sparsity), BF16 312 TFLOPS (624
with sparsity); 108 SMs at up to 1.41 GHz; 40 MB L2; NVLink 600 GB/s (300 per direction);
PCIe Gen4 x16.

Model parameters are the H200 fit (h200.MODEL_PARAMS) carried over unchanged: efficiencies are fractions
of this card's own spec numbers and per-SM rates scale with its SM count and clock; host costs are
the same Python/CuPy host. Nothing here is tuned to the H200 data.
The host costs include ``framework_us`` (gpugrad's own Python
time per kernel), fitted on the H200 machine's host CPU: it belongs to that CPU, not to any GPU,
and holds for a card in another machine only as far as its CPU runs Python as fast.
"""
from .h200 import MODEL_PARAMS
from .profile import Profile

SPEC = dict(
    memory_bytes=80 * 2**30,
    l2_bytes=40 << 20,
    sm_count=108,
    clock_ghz=1.41,
    hbm_gbps=2039.0,
    memory_kind="HBM2e",
    fp32_tflops=19.5,
    fp64_tflops=9.7,
    fp64_tensor_tflops=19.5,
    tf32_tflops=156.0,
    bf16_tflops=312.0,
    pcie_gen=4,
    nvlink_gbps=300.0,
)


def make_profile(params=None):
    merged = dict(MODEL_PARAMS)
    merged.update(params or {})
    return Profile("a100", "NVIDIA A100 SXM4 80GB", params=merged, **SPEC)
