"""NVIDIA L4 (24 GB GDDR6, PCIe).

Public spec numbers (NVIDIA L4 Tensor Core GPU datasheet and the Ada Lovelace architecture
whitepaper): GDDR6 24 GB at 300 GB/s; FP32 30.3 TFLOPS; TF32 Tensor Core 120 TFLOPS with sparsity
(60 dense); BF16 242 TFLOPS with sparsity (121 dense); 58 SMs at up to 2.04 GHz; 48 MB L2;
PCIe Gen4 x16; no NVLink (peer copies go over PCIe). The datasheet gives no FP64 figure: Ada runs
FP64 at 1/64 of the FP32 rate, 0.47 TFLOPS, with no FP64 tensor cores.

Model parameters: the H200 fit, carried over unchanged (``profiles/__init__.py`` says how).
"""
from .h200 import profile_with_fit

SPEC = dict(
    memory_bytes=24 * 2**30,
    l2_bytes=48 << 20,
    sm_count=58,
    clock_ghz=2.04,
    hbm_gbps=300.0,
    memory_kind="GDDR6",
    fp32_tflops=30.3,
    fp64_tflops=0.47,
    fp64_tensor_tflops=0.47,
    tf32_tflops=60.0,
    bf16_tflops=121.0,
    pcie_gen=4,
    nvlink_gbps=0.0,
)


def make_profile(params=None, host=None):
    """The L4 profile; ``params`` overrides model parameters, ``host`` (a
    ``HostProfile``) replaces the measured host."""
    return profile_with_fit("l4", "NVIDIA L4 24GB", SPEC, params, host)
