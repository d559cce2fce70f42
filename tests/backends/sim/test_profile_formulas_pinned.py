"""Every formula of a sim profile pinned to values worked out by hand.

The profile here is the H200's spec sheet (132 SMs at 1.98 GHz, 60 MiB L2, 4.8 TB/s HBM, FP32
67 / FP64 34 TFLOPS, PCIe Gen5 = 63 GB/s, NVLink 450 GB/s per direction) with round model
parameters (``ROUND``), so each expected value below is short arithmetic on the documented
formulas of profiles/profile.py and timeline.py, never a call of the code under test. The
shipped profiles' own figures are pinned at the end.
"""
import collections

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.backends.sim import costmodel
from gpugrad.backends.sim.costmodel import KernelSpec
from gpugrad.backends.sim.profiles import get_profile, h200, l4
from gpugrad.backends.sim.timeline import MIX_WINDOW, Timeline
from support.round_profile import HBM, L2, L2_FIT, ROUND

P = h200.make_profile(ROUND)
ELEM = 132 * 1.98e3 * 1.0           # elements/µs: SMs x clock x elem_rate.elementwise
FP32, FP64 = 67e6, 34e6             # flops/µs


def kernel(op_class, nbytes=0, elements=0, flops=0, dtype="float32", written=0):
    return KernelSpec("k", op_class, dtype, nbytes - written, written, flops, ((1,),),
                      elements)


# ---- kernel time: max(min_kernel, fixed + max(bytes/bw, elements/rate, flops/rate)) ------------
@pytest.mark.parametrize("spec, expected_us", [
    (kernel("elementwise", 72e6, 6e6, 6e6), 72e6 / HBM + 1.0),               # HBM-bound
    (kernel("elementwise", 13_068_000), 13_068_000 / L2 + 1.0),              # fits L2
    (kernel("elementwise", 5_227_200, 2_613_600, dtype="int8"), 2_613_600 / ELEM + 1.0),
    (kernel("elementwise", 800, 100, 340e6, "float64"), 340e6 / FP64 + 1.0),  # flop-bound
    (kernel("elementwise", 800, 100, 340e6, "float32"), 340e6 / FP32 + 1.0),
    (kernel("elementwise", 800, 100, 340e6, "float16"), 340e6 / FP32 + 1.0),
    (kernel("elementwise", 64, 16, 16), 2.0),                                # the floor
    (kernel("copy", 72e6, 1e6), 72e6 / HBM + 1.5),                            # fixed.copy
    (kernel("transpose", 72e6, 1e6), 72e6 / (HBM * 0.5) + 2.0),               # bw.transpose
    (kernel("transpose", 1e6, 9e6), 9e6 / (ELEM * 0.5) + 2.0),                # its elem rate
    (kernel("random", 72e6, 1e6), 72e6 / HBM + 1.0),                          # defaults
], ids=["hbm", "l2", "elements", "fp64", "fp32", "fp16", "floor", "copy", "transpose-bw",
        "transpose-elements", "random"])
def test_kernel_time_is_the_roofline(spec, expected_us):
    assert P.kernel_us(spec) == pytest.approx(expected_us, rel=1e-12)


def test_column_reduction_is_bound_by_dependent_row_loads():
    # sum over 10000 rows of 1024 float32 columns: 40.96 MB read (beyond L2), 4 KiB written
    spec = kernel("reduce_outer", 10000 * 1024 * 4 + 4096, 10000 * 1024, 10000 * 1024,
                  written=4096)
    bandwidth_us = spec.nbytes / (HBM * 0.4)
    rows_us = 10000 * 20.0e-3   # one wave of 1024 columns, 20 ns per row from HBM
    assert rows_us > bandwidth_us
    assert P.kernel_us(spec) == pytest.approx(rows_us, rel=1e-12)
    # 1000 rows whose 4 MB fit in L2: 10 ns per row
    small = kernel("reduce_outer", 1000 * 1024 * 4 + 4096, 1000 * 1024, 1000 * 1024,
                   written=4096)
    assert 1000 * 10e-3 > max(small.nbytes / (L2 * 0.4), 1000 * 1024 / ELEM)
    assert P.kernel_us(small) == pytest.approx(1000 * 10e-3, rel=1e-12)


# ---- matmul: tiles of up to mm_tile^2, split-K, waves over the SMs ------------------------------
def mm(m, k, n, dtype=np.float32, batch=None):
    lead = (batch,) if batch else ()
    return costmodel.spec("matmul", [np.zeros(lead + (m, k), dtype), np.zeros((k, n), dtype)],
                          np.zeros(lead + (m, n), dtype))


PER_SM_FP32 = 67e6 * 0.75 / 132   # flops/µs of one SM in a full GEMM wave


def test_a_full_gemm_runs_in_waves_of_full_tiles():
    # 512 x 2 tiles of 128 x 128 = 1024 tiles: ceil(1024 / 132) = 8 waves of 2*128*128*64 flops
    compute_us = 8 * 2 * 128 * 128 * 64 / PER_SM_FP32
    memory_us = (65536 * 64 + 64 * 256 + 65536 * 256) * 4 / HBM
    assert compute_us > memory_us
    assert P.kernel_us(mm(65536, 64, 256)) == pytest.approx(compute_us + 1.0, rel=1e-12)


def test_few_tiles_split_k_over_the_idle_sms():
    # one 128x128 tile; k = 4096 split min(132 // 1, 4096 // 32) = 128 ways, one wave
    expected = 2 * 128 * 128 * (4096 / 128) / PER_SM_FP32 + 1.0
    assert P.kernel_us(mm(128, 4096, 128)) == pytest.approx(expected, rel=1e-12)


def test_thin_operands_take_small_tiles_at_lower_efficiency():
    # m = 8: 8 x 128 tiles, 8 of them, k split min(132 // 8, 1024 // 32) = 16 ways
    efficiency = (8 * 128 / 128**2) ** 0.5
    expected = 2 * 8 * 128 * (1024 / 16) / (PER_SM_FP32 * efficiency) + 1.0
    assert P.kernel_us(mm(8, 1024, 1024)) == pytest.approx(expected, rel=1e-12)


def test_memory_bound_gemm_and_empty_gemm():
    # (1, 4096) @ (4096, 4096): tiles of 8 x 128, 32 of them, split 4: compute is tiny and the
    # 64 MiB weight streams from HBM
    spec = mm(1, 4096, 4096)
    assert P.kernel_us(spec) == pytest.approx((4096 + 4096 * 4096 + 4096) * 4 / HBM + 1.0,
                                              rel=1e-12)
    assert P.kernel_us(mm(0, 64, 64)) == 2.0


@pytest.mark.parametrize("dtype, per_sm", [(np.float64, 67e6 * 0.9 / 132),
                                           (np.float16, 989.5e6 * 0.75 / 132)])
def test_gemm_rates_by_dtype(dtype, per_sm):
    assert P.kernel_us(mm(65536, 64, 256, dtype)) == pytest.approx(
        max(8 * 2 * 128 * 128 * 64 / per_sm,
            (65536 * 64 + 64 * 256 + 65536 * 256) * np.dtype(dtype).itemsize / HBM) + 1.0,
        rel=1e-12)


def test_tf32_gemm_rate():
    previous = gg.get_float32_matmul_precision()
    gg.set_float32_matmul_precision("high")
    try:
        t = P.kernel_us(mm(4096, 4096, 4096))
    finally:
        gg.set_float32_matmul_precision(previous)
    # 32 x 32 = 1024 tiles, 8 waves of 2*128*128*4096 flops at TF32's share of 494.7 TFLOPS
    compute_us = 8 * 2 * 128 * 128 * 4096 / (494.7e6 * 0.75 / 132)
    assert t == pytest.approx(max(compute_us, 3 * 4096 * 4096 * 4 / HBM) + 1.0, rel=1e-12)


# ---- host dispatch, transfers, allocation -------------------------------------------------------
def test_host_dispatch_is_class_cost_plus_operands():
    a = np.zeros(10, np.float32)
    assert P.host_dispatch_us(costmodel.spec("binary:add", [a, a], a)) == 7.0 + 2 * 1.5
    assert P.host_dispatch_us(costmodel.spec("binary:mul", [a, 2.0], a)) == 7.0 + 1.5 + 2.5
    assert P.host_dispatch_us(mm(4, 4, 4)) == 18.0 + 2 * 1.5
    assert P.host_dispatch_us(costmodel.spec("random", [], a)) == 7.0   # no host.random: default
    idx = np.zeros(3, np.int64)
    assert P.host_dispatch_us(costmodel.spec("index_add", [a[:3], idx], a)) == 40.0 + 2 * 1.5


@pytest.mark.parametrize("kind, nbytes, pinned, expected_us", [
    ("h2d", 8e6, True, 6.0 + 8e6 / (63e3 * 0.8)),
    ("d2h", 8e6, True, 6.0 + 8e6 / (63e3 * 0.8)),
    ("h2d", 3 << 20, False, 6.0 + (3 << 20) / (63e3 * 0.8) + 2.0 + (1 << 20) / 20e3
     + (2 << 20) / 8e3),
    ("d2h", 3 << 20, False, 6.0 + (3 << 20) / (63e3 * 0.8) + 2.0 + (1 << 20) / 16e3
     + (2 << 20) / 4e3),
    ("h2d", 1000, False, 6.0 + 1000 / (63e3 * 0.8) + 2.0 + 1000 / 20e3),
    ("p2p", 8e6, False, 6.0 + 8e6 / (450e3 * 0.8)),
    ("d2d", 8e6, False, 2.0 + 2 * 8e6 / HBM),
])
def test_transfer_time(kind, nbytes, pinned, expected_us):
    assert P.transfer_us(kind, nbytes, pinned) == pytest.approx(expected_us, rel=1e-12)


def test_peer_copies_without_nvlink_go_over_pcie_and_bad_kinds_are_named():
    assert l4.make_profile(ROUND).transfer_us("p2p", 8e6) == pytest.approx(
        6.0 + 8e6 / (31.5e3 * 0.8), rel=1e-12)   # L4: PCIe Gen4, no NVLink
    with pytest.raises(ValueError, match="transfer kind must be one of"):
        P.transfer_us("h2h", 10)


def test_allocation_and_issue_costs():
    assert P.malloc_us(10**6) == pytest.approx(5.0 + 10**6 / 5e6, rel=1e-12)
    assert P.pool_alloc_us == 2.0 and P.transfer_host_us("h2d") == 1.5


# ---- the timeline: host dispatch, launch point, latency, host mix, events, sync -----------------
def timeline(framework=False):
    return Timeline(P, record_events=False, framework=framework, defer=False)


def named(name):
    return KernelSpec(name, "elementwise", "float32", 4, 4, 1, ((1,),), 1)


def test_a_kernel_starts_launch_latency_after_its_launch_point():
    t = timeline()
    assert t.kernel(named("a"), dispatch_us=10.0, duration_us=5.0) == (0.5 * 10 + 4, 14.0)
    assert t.host_us == 10.0 and t.device_busy_us == 5.0
    # a long kernel keeps the stream busy: the next one queues behind it
    t.kernel(named("a"), dispatch_us=10.0, duration_us=100.0)      # starts at 10 + 5 + 4 = 19
    assert t.kernel(named("a"), dispatch_us=10.0, duration_us=5.0) == (119.0, 124.0)
    assert t.host_us == 30.0


def test_framework_time_comes_before_each_call():
    t = timeline(framework=True)
    assert t.kernel(named("a"), dispatch_us=10.0, duration_us=5.0) == (30 + 5 + 4, 44.0)
    assert t.host_us == 40.0


def test_host_mix_charges_each_other_distinct_kernel_in_the_window():
    names = list("abac") + ["d"] * MIX_WINDOW + list("ae")
    t = timeline()
    window = collections.deque(maxlen=32)   # the last 32 kernels, this one included
    host = 0.0
    for name in names:
        window.append(name)
        host += 10.0 + 0.25 * (len(set(window)) - 1)
        t.kernel(named(name), dispatch_us=10.0, duration_us=1.0)
        assert t.host_us == pytest.approx(host, rel=1e-12), name
    # a b a c: 0, 1, 1, 2 others; 29 d's see 3, then a, b, c leave (2, 1, 0); a, e: 1, 2
    assert host == pytest.approx(10.0 * len(names) + 0.25 * (0 + 1 + 1 + 2 + 3 * 29 + 2 + 1
                                                             + 0 + 1 + 2), rel=1e-12)
    assert MIX_WINDOW == 32


def test_events_and_synchronize():
    t = timeline()
    assert t.record_event() == 4.0 and t.host_us == 0.5   # idle stream: launch latency
    t.kernel(named("a"), dispatch_us=10.0, duration_us=100.0)   # on the stream 9.5 .. 109.5
    assert t.record_event() == 0.5 + 5 + 4 + 100 and t.host_us == 11.0
    assert t.synchronize() == 109.5 + 3.0   # waits for the stream, then pays sync_us


def test_transfers_on_the_copy_engine():
    t = timeline()
    start, end = t.transfer("h2d", 8e6, pinned=True)
    assert start == 1.5 and end == pytest.approx(1.5 + 6.0 + 8e6 / (63e3 * 0.8), rel=1e-12)
    assert t.host_us == end   # synchronous for the host
    t.kernel(named("a"), dispatch_us=10.0, duration_us=1000.0)
    kernel_end = end + 5 + 4 + 1000
    start, _ = t.transfer("d2h", 100, pinned=True)   # waits for the kernels it reads
    assert start == pytest.approx(kernel_end, rel=1e-12)
    host = t.host_us
    start, end = t.transfer("d2d", 8e6)               # asynchronous: stream-ordered
    assert t.host_us == host + 1.5 and t.stream_us == end
    assert end - start == pytest.approx(2.0 + 2 * 8e6 / HBM, rel=1e-12)


def test_a_cold_malloc_waits_for_the_device():
    t = timeline()
    t.kernel(named("a"), dispatch_us=10.0, duration_us=100.0)   # ends at 109
    assert t.malloc(10**6) == pytest.approx(109.0 + 5.0 + 0.2, rel=1e-12)


# ---- the shipped profiles' figures --------------------------------------------------------------
@pytest.mark.parametrize("name, us", [("l4", 283.581), ("h200", 45.700), ("h100", 45.700),
                                      ("a100", 157.856)])
def test_shipped_profiles_matmul_figure(name, us):
    """A (65536, 64) @ (64, 256) float32 matmul, as docs and issues quote it."""
    assert get_profile(name).kernel_us(mm(65536, 64, 256)) == pytest.approx(us, abs=5e-4)
