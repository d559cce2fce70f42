"""NVIDIA H100 SXM5 80GB: the default sim profile.

Public spec numbers (NVIDIA H100 Tensor Core GPU datasheet, SXM column, and the H100 architecture
whitepaper): HBM3 80 GB at 3.35 TB/s; FP64 34 TFLOPS, FP64 Tensor Core 67 TFLOPS, FP32 67 TFLOPS,
TF32 Tensor Core 989 TFLOPS with sparsity (494.7 dense), BF16 1,979 with sparsity (989.4 dense);
132 SMs at up to 1.98 GHz; 50 MB L2; NVLink 900 GB/s (450 per direction); PCIe Gen5 x16.

Model parameters: the H200 fit, carried over unchanged (``profiles/__init__.py`` says how).
"""
from .h200 import profile_with_fit

SPEC = dict(
    memory_bytes=80 * 2**30,
    l2_bytes=50 << 20,
    sm_count=132,
    clock_ghz=1.98,
    hbm_gbps=3350.0,
    memory_kind="HBM3",
    fp32_tflops=67.0,
    fp64_tflops=34.0,
    fp64_tensor_tflops=67.0,
    tf32_tflops=494.7,
    bf16_tflops=989.4,
    pcie_gen=5,
    nvlink_gbps=450.0,
)


def make_profile(params=None, host=None):
    """The H100 profile; ``params`` overrides model parameters, ``host`` (a
    ``HostProfile``) replaces the measured host."""
    return profile_with_fit("h100", "NVIDIA H100 SXM5 80GB", SPEC, params, host)
