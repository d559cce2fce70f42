"""NVIDIA H200 SXM (141 GB HBM3e): the profile fitted to real measurements.

Public spec numbers (NVIDIA H200 Tensor Core GPU datasheet, SXM column): HBM3e 141 GB at
4.8 TB/s; FP64 34 TFLOPS, FP64 Tensor Core 67 TFLOPS, FP32 67 TFLOPS, TF32 Tensor Core 989 TFLOPS
with sparsity (494.7 dense), BF16 1,979 TFLOPS with sparsity (989.5 dense); NVLink 900 GB/s
(450 per direction); PCIe Gen5 x16 (128 GB/s both directions). From the CUDA device query of the
measured card (bench/results/measurements/README.md): 132 SMs, 1.98 GHz boost clock, 60 MiB L2,
150,109,880,320 bytes of device memory.

``FITTED`` holds the model parameters (what each one means: profile.py and docs/sim-model.md)
that ``gpugrad sim calibrate bench/results/measurements/h200-run1.json
bench/results/measurements/h200-run2.json --write`` fitted on the H200 measurement files; do not
edit them by hand, rerun the calibration (it rewrites the block between the markers below).
``ASSUMED`` holds the few the data cannot pin down. The other profiles reuse both as fractions
of their own spec numbers (efficiencies, per-SM rates) or as host-side costs (the Python/CuPy
host is the same).

``FRAMEWORK`` holds ``framework_us``, gpugrad's own Python host time per kernel it dispatches,
fitted by ``gpugrad sim calibrate --fit-framework`` on gpugrad's measured training steps
(bench/results/h200-run1/mlp_cuda.json). It belongs to the host CPU of the machine that H200 sat in
(and to gpugrad's code at the time), not to the GPU: two points, one parameter, a fit.

The host-side entries of these parameters (host.py lists them) are the measured host,
``measured_host()``: the host profile every GPU profile uses unless given another.
"""
from .host import HostProfile, is_host_param
from .profile import Profile

# Set by hand, not fitted: the measurements cannot tell these apart (docs/sim-model.md says why).
ASSUMED = {
    "launch_latency_us": 4.0,     # submit-to-start of a kernel; CUDA's usual few microseconds
    "l2_fit": 0.75,               # a working set up to 3/4 of L2 is served from L2
    "l2_bytes_per_sm_clk": 24.0,  # L2 bandwidth per SM per clock (about 6.3 TB/s on H200)
    "mm_tile": 128,               # cuBLAS's largest FP32 output tile edge
    "link_eff": 0.8,              # achieved fraction of NVLink/PCIe peer bandwidth
    "host.scatter": 50.0,         # advanced-index write: a gather's cost plus the scatter kernel
}

# --- fitted by gpugrad/sim/calibrate.py (BEGIN FITTED) ---
FITTED = {
    "event_us": 0.4231,
    "host_mix_us": 0.4604,
    "sync_us": 2.608,
    "launch_point": 0.9727,
    "min_kernel_us": 2.287,
    "kernel_fixed_us": 1.726,
    "hbm_eff": 0.9906,
    "elem_rate.elementwise": 0.8,
    "elem_rate.reduce_all": 10.87,
    "elem_rate.reduce_inner": 4.258,
    "elem_rate.reduce_outer": 1.558,
    "elem_rate.copy": 0.8,
    "elem_rate.transpose": 0.5413,
    "bw.transpose": 0.6,
    "bw.reduce_outer": 0.4,
    "bw.reduce_all": 0.9121,
    "bw.reduce_inner": 0.9367,
    "row_latency_ns.l2": 13.88,
    "row_latency_ns.hbm": 24.5,
    "fixed.reduce_all": 0.0009394,
    "fixed.reduce_outer": 0.1567,
    "fixed.transpose": 1.047,
    "fixed.copy": 1.303,
    "host.elementwise": 7.11,
    "host.reduce_all": 14.67,
    "host.reduce_inner": 11.69,
    "host.reduce_outer": 15.62,
    "host.matmul": 18.38,
    "host.copy": 9.432,
    "host.transpose": 10.2,
    "host.gather": 38.6,
    "host_per_array_us": 1.455,
    "host_per_scalar_us": 2.62,
    "mm_tile_min": 6.266,
    "mm_split_k": 32.0,
    "mm_small_tile_exp": 0.3887,
    "mm_fixed_us": 1.087,
    "mm_eff.float32": 0.7409,
    "mm_eff.float64": 0.9491,
    "pcie_eff": 0.868,
    "xfer_latency_us": 6.0,
    "xfer_host_us": 1.658,
    "pageable_extra_us": 2.254,
    "host_cache_bytes": 52788531,
    "stage_gbps.h2d": 21.29,
    "stage_slow_gbps.h2d": 8.195,
    "stage_gbps.d2h": 17.38,
    "stage_slow_gbps.d2h": 3.115,
    "malloc_base_us": 5.0,
    "malloc_gbps": 5571.0,
    "pool_alloc_us": 2.031,
}
# --- fitted by gpugrad/sim/calibrate.py (END FITTED) ---

# gpugrad's own host overhead per kernel it dispatches (Tensor/Function.apply, the autograd
# engine, nn modules, optimizer). Fitted on gpugrad's MLP steps measured on the H200 machine's
# CPU (Python 3.12); a faster or slower host CPU, or a change to gpugrad's Python, changes it.
# --- fitted by gpugrad/sim/calibrate.py --fit-framework (BEGIN FRAMEWORK) ---
FRAMEWORK = {
    "framework_us": 30.8,
}
# --- fitted by gpugrad/sim/calibrate.py --fit-framework (END FRAMEWORK) ---

#: every model parameter; the other profiles reuse these
MODEL_PARAMS = {**ASSUMED, **FITTED, **FRAMEWORK}

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


#: the name of the host the H200 measurements ran on (the default host profile)
MEASURED_HOST = "h200-host"


def measured_host(params=None):
    """The host CPU of the H200 measurements as a ``HostProfile`` (speed 1): the host-side
    entries of the fit, overridden by those of ``params``."""
    merged = {**MODEL_PARAMS, **(params or {})}
    return HostProfile(MEASURED_HOST, "host CPU of the H200 measurements (Python 3.12.3, "
                       "CuPy 14.2.0)", {k: v for k, v in merged.items() if is_host_param(k)},
                       source="fitted by gpugrad/sim/calibrate.py on bench/results/measurements/"
                              "h200-run1.json, h200-run2.json and bench/results/h200-run1/"
                              "mlp_cuda.json (framework_us)")


def profile_with_fit(name, title, spec, params=None, host=None):
    """A ``Profile`` of ``spec`` numbers with these model parameters, overridden by ``params``,
    in ``host`` (a ``HostProfile``; default: the measured host with ``params``' host values)."""
    return Profile(name, title, params={**MODEL_PARAMS, **(params or {})},
                   host=host or measured_host(params), **spec)


def make_profile(params=None, host=None):
    """The H200 profile; ``params`` overrides fitted values (calibrate.py uses this)."""
    return profile_with_fit("h200", "NVIDIA H200 SXM 141GB", SPEC, params, host)
