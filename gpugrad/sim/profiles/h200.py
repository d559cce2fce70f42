"""NVIDIA H200 SXM (141 GB HBM3e): the profile fitted to real measurements.

Public spec numbers (NVIDIA H200 Tensor Core GPU datasheet, SXM column): HBM3e 141 GB at
4.8 TB/s; FP64 34 TFLOPS, FP64 Tensor Core 67 TFLOPS, FP32 67 TFLOPS, TF32 Tensor Core 989 TFLOPS
with sparsity (494.7 dense), BF16 1,979 TFLOPS with sparsity (989.5 dense); NVLink 900 GB/s
(450 per direction); PCIe Gen5 x16 (128 GB/s both directions). From the CUDA device query of the
measured card (../shared/gpu-measurements/README.md): 132 SMs, 1.98 GHz boost clock, 60 MiB L2,
150,109,880,320 bytes of device memory.

``FITTED`` holds the model parameters (what each one means: profile.py and docs/sim-model.md).
They come from ``python -m gpugrad.sim.calibrate`` fitted on the H200 measurement files; do not
edit them by hand, rerun the calibration. The other profiles reuse them as fractions of their own
spec numbers (efficiencies, per-SM rates) or as host-side costs (the Python/CuPy host is the same).
"""
from .profile import Profile

# --- fitted by gpugrad/sim/calibrate.py (BEGIN FITTED) ---
FITTED = {
    "launch_latency_us": 2.0,
    "event_us": 1.5,
    "sync_us": 2.0,
    "launch_point": 1.0,
    "min_kernel_us": 1.5,
    "hbm_eff": 0.85,
    "l2_fit": 0.75,
    "l2_bytes_per_sm_clk": 40.0,
    "kernel_fixed_us": 1.5,
    "elem_rate.elementwise": 0.8,
    "bw.transpose": 0.6,
    "bw.reduce_outer": 0.4,
    "host.elementwise": 7.0,
    "host.reduce_all": 14.0,
    "host.reduce_inner": 10.0,
    "host.reduce_outer": 14.0,
    "host.matmul": 15.0,
    "host.copy": 9.0,
    "host.transpose": 9.0,
    "host.gather": 38.0,
    "host.scatter": 40.0,
    "host_per_array_us": 1.0,
    "host_per_scalar_us": 2.5,
    "mm_tile": 128,
    "mm_tile_min": 16,
    "mm_split_k": 256,
    "mm_small_tile_exp": 0.5,
    "mm_fixed_us": 3.0,
    "mm_eff.float32": 0.76,
    "mm_eff.float64": 0.93,
    "pcie_eff": 0.87,
    "link_eff": 0.8,
    "xfer_latency_us": 6.0,
    "xfer_host_us": 2.0,
    "pageable_extra_us": 5.0,
    "host_cache_bytes": 32 << 20,
    "stage_gbps.h2d": 20.0,
    "stage_slow_gbps.h2d": 9.0,
    "stage_gbps.d2h": 20.0,
    "stage_slow_gbps.d2h": 4.0,
    "malloc_base_us": 5.0,
    "malloc_gbps": 5400.0,
    "pool_alloc_us": 2.0,
}
# --- fitted by gpugrad/sim/calibrate.py (END FITTED) ---

SPEC = dict(
    memory_bytes=150_109_880_320,
    l2_bytes=60 << 20,
    sm_count=132,
    clock_ghz=1.98,
    hbm_gbps=4800.0,
    memory_kind="HBM3e",
    fp32_tflops=67.0,
    fp64_tflops=34.0,
    fp64_tensor_tflops=67.0,
    tf32_tflops=494.7,
    bf16_tflops=989.5,
    pcie_gen=5,
    nvlink_gbps=450.0,
)


def make_profile(params=None):
    """The H200 profile; ``params`` overrides fitted values (calibrate.py uses this)."""
    merged = dict(FITTED)
    merged.update(params or {})
    return Profile("h200", "NVIDIA H200 SXM 141GB", params=merged, **SPEC)
