"""NVIDIA A100 SXM4 80GB.

Public spec numbers (NVIDIA A100 Tensor Core GPU datasheet, 80GB SXM column, and the Ampere
architecture whitepaper): HBM2e 80 GB at 2,039 GB/s; FP64 9.7 TFLOPS, FP64 Tensor Core 19.5
TFLOPS, FP32 19.5 TFLOPS, TF32 Tensor Core 156 TFLOPS (312 with sparsity), BF16 312 TFLOPS (624
with sparsity); 108 SMs at up to 1.41 GHz; 40 MB L2; NVLink 600 GB/s (300 per direction);
PCIe Gen4 x16.

Model parameters: the H200 fit, carried over unchanged (``profiles/__init__.py`` says how).
"""
from .h200 import profile_with_fit

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


def make_profile(params=None, host=None):
    """The A100 profile; ``params`` overrides model parameters, ``host`` (a
    ``HostProfile``) replaces the measured host."""
    return profile_with_fit("a100", "NVIDIA A100 SXM4 80GB", SPEC, params, host)
