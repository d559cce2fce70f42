"""NVIDIA L4 (24 GB GDDR6, PCIe).

Public spec numbers (NVIDIA L4 Tensor Core GPU datasheet and the Ada Lovelace architecture
whitepaper): GDDR6 24 GB at 300 GB/s; FP32 30.3 TFLOPS; TF32 Tensor Core 120 TFLOPS with sparsity
(60 dense); BF16 242 TFLOPS with sparsity (121 dense); 58 SMs at up to 2.04 GHz; 48 MB L2;
PCIe Gen4 x16; no NVLink (peer copies go over PCIe). The datasheet gives no FP64 figure: Ada runs
FP64 at 1/64 of the FP32 rate, 0.47 TFLOPS, with no FP64 tensor cores.

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


def make_profile(params=None):
    merged = dict(MODEL_PARAMS)
    merged.update(params or {})
    return Profile("l4", "NVIDIA L4 24GB", params=merged, **SPEC)
