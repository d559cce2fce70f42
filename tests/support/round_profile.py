"""An H200 profile's parameters in round figures, so that pinned tests can write each
expected time as arithmetic from them; and the rates they give."""
ROUND = {
    "launch_latency_us": 4.0, "launch_point": 0.5, "event_us": 0.5, "sync_us": 3.0,
    "host_mix_us": 0.25, "min_kernel_us": 2.0, "kernel_fixed_us": 1.0, "hbm_eff": 0.5,
    "l2_fit": 0.5, "l2_bytes_per_sm_clk": 25.0, "elem_rate.elementwise": 1.0,
    "elem_rate.copy": 1.0, "elem_rate.transpose": 0.5, "elem_rate.reduce_outer": 1.0,
    "bw.transpose": 0.5, "bw.reduce_outer": 0.4, "fixed.copy": 1.5, "fixed.transpose": 2.0,
    "fixed.reduce_outer": 0.0, "row_latency_ns.l2": 10.0, "row_latency_ns.hbm": 20.0,
    "host.elementwise": 7.0, "host.matmul": 18.0, "host.scatter": 40.0,
    "host_per_array_us": 1.5, "host_per_scalar_us": 2.5, "mm_tile": 128, "mm_tile_min": 8.0,
    "mm_split_k": 32.0, "mm_small_tile_exp": 0.5, "mm_fixed_us": 1.0, "mm_eff.float32": 0.75,
    "mm_eff.float64": 0.9, "pcie_eff": 0.8, "link_eff": 0.8, "xfer_latency_us": 6.0,
    "xfer_host_us": 1.5, "pageable_extra_us": 2.0, "host_cache_bytes": 1 << 20,
    "stage_gbps.h2d": 20.0, "stage_slow_gbps.h2d": 8.0, "stage_gbps.d2h": 16.0,
    "stage_slow_gbps.d2h": 4.0, "malloc_base_us": 5.0, "malloc_gbps": 5000.0,
    "pool_alloc_us": 2.0, "framework_us": 30.0,
}
# what the H200 profile makes of them
HBM = 4800 * 1e3 * 0.5              # bytes/µs: spec bandwidth x hbm_eff
L2_FIT = 60 * 2**20 * 0.5           # bytes: L2 x l2_fit
L2 = 132 * 1.98e3 * 25.0            # bytes/µs: SMs x clock (per µs) x l2_bytes_per_sm_clk
