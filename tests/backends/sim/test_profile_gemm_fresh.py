"""Profile formulas on fresh profiles (a shared profile caches GEMM times, which would hide a
change in the tiling): tile sizes, split-K, empty GEMMs, column reductions, with_params,
with_host, transfer defaults and describe(). Expected values are arithmetic on the parameters
of test_profile_formulas_pinned.py's ROUND profile (the H200's spec sheet: 132 SMs)."""
import numpy as np
import pytest

from gpugrad.backends.sim import costmodel
from gpugrad.backends.sim.costmodel import KernelSpec
from gpugrad.backends.sim.profiles import h200

from support.round_profile import HBM, L2, L2_FIT, ROUND

PER_SM = 67e6 * 0.75 / 132          # FP32 flops/µs of one SM at mm_eff.float32


def fresh(**changes):
    return h200.make_profile({**ROUND, **changes})


def mm(m, k, n, dtype=np.float32):
    return costmodel.spec("matmul", [np.zeros((m, k), dtype), np.zeros((k, n), dtype)],
                          np.zeros((m, n), dtype))


def gemm(tm, tn, tiles, k, split, nbytes, tile=128, floor=2.0):
    """The documented GEMM time: one wave (tiles * split <= 132 here) of tm x tn tiles."""
    eff = (tm * tn / tile**2) ** 0.5
    waves = -(-(tiles * split) // 132)
    compute = waves * 2.0 * tm * tn * (k / split) / (PER_SM * eff)
    memory = nbytes / (L2 if nbytes <= L2_FIT else HBM)
    return max(max(compute, memory) + 1.0, floor)


def nbytes(m, k, n, itemsize=4):
    return (m * k + k * n + m * n) * itemsize


@pytest.mark.parametrize("m, k, n, tm, tn, tiles, split", [
    (20, 4096, 20, 32, 32, 1, 128),      # tiles round up to powers of two: 32 x 32
    (20, 4096, 16, 32, 16, 1, 128),      # 32 x 16
    (17, 4096, 16, 32, 16, 1, 128),
    (16, 4096, 16, 16, 16, 1, 128),      # exactly 16
    (17, 4096, 17, 32, 32, 1, 128),      # 17 needs 32
    (20, 4096, 600, 32, 128, 5, 26),     # ceil(600 / 128) = 5 tiles; split 132 // 5 = 26
    (16, 32, 16, 16, 16, 1, 1),          # k = 32: no split
    (300, 8192, 300, 128, 128, 9, 14),   # 3 x 3 tiles; split 132 // 9 = 14
])
def test_gemm_tiles_split_and_waves(m, k, n, tm, tn, tiles, split):
    # no floor, so that small GEMMs show their tiling
    assert fresh(min_kernel_us=0.0).kernel_us(mm(m, k, n)) == pytest.approx(
        gemm(tm, tn, tiles, k, split, nbytes(m, k, n), floor=0.0), rel=1e-12)
    assert fresh(min_kernel_us=0.0).kernel_us(mm(n, k, m)) == pytest.approx(
        gemm(tn, tm, tiles, k, split, nbytes(n, k, m), floor=0.0), rel=1e-12)


def test_a_one_row_gemm_takes_one_row_tiles_when_allowed():
    p = fresh(mm_tile_min=1.0)
    assert p.params["mm_tile_min"] == 1.0
    expected = gemm(1, 128, 4, 4096, 33, nbytes(1, 4096, 512))
    assert p.kernel_us(mm(1, 4096, 512)) == pytest.approx(expected, rel=1e-12)
    column = gemm(128, 1, 4, 4096, 33, nbytes(512, 4096, 1))
    assert p.kernel_us(mm(512, 4096, 1)) == pytest.approx(column, rel=1e-12)


@pytest.mark.parametrize("m, k, n", [(0, 64, 64), (4, 0, 4), (4, 4, 0), (0, 0, 0)])
def test_an_empty_gemm_costs_the_floor(m, k, n):
    assert fresh().kernel_us(mm(m, k, n)) == 2.0


def test_an_integer_gemm_runs_at_the_float32_rate():
    expected = gemm(32, 32, 1, 4096, 128, nbytes(20, 4096, 20))
    assert fresh().kernel_us(mm(20, 4096, 20, np.int32)) == pytest.approx(expected, rel=1e-12)


def test_a_gemm_whose_operands_fit_in_l2_reads_them_at_l2_bandwidth():
    # (1, 2048) @ (2048, 2048): 16 MiB of weights fit in L2 (30 MiB); 16 tiles of 8 x 128,
    # split 132 // 16 = 8; at HBM bandwidth the memory time (7 µs) would exceed the compute
    spec = mm(1, 2048, 2048)
    assert spec.nbytes <= L2_FIT and nbytes(1, 2048, 2048) / HBM > 6.0
    assert fresh().kernel_us(spec) == pytest.approx(
        gemm(8, 128, 16, 2048, 8, nbytes(1, 2048, 2048)), rel=1e-12)


def test_the_l2_boundary_is_inclusive_and_counts_written_bytes():
    p = fresh()
    at = KernelSpec("k", "elementwise", "float32", L2_FIT - 4096, 4096, 0, ((1,),), 1)
    assert p.kernel_us(at) == pytest.approx(L2_FIT / L2 + 1.0, rel=1e-12)
    big = KernelSpec("k", "elementwise", "float32", 40e6, 32e6, 0, ((1,),), 1)
    assert p.kernel_us(big) == pytest.approx(72e6 / HBM + 1.0, rel=1e-12)


@pytest.mark.parametrize("dtype, outputs, in_l2, per_row", [
    ("float64", 405504, True, 10e-3),      # 1.5 waves of 270336 resident threads
    ("float32", 1000, False, 20e-3),       # one wave
    ("int8", 540672, True, 10e-3),         # 2 waves
])
def test_column_reduction_rows_times_waves(dtype, outputs, in_l2, per_row):
    itemsize = {"float64": 8, "float32": 4, "int8": 1}[dtype]
    spec = KernelSpec("k", "reduce_outer", dtype, 0, outputs * itemsize, 0, ((1,),),
                      outputs * 64)
    waves = max(outputs / (132 * 2048), 1.0)
    assert fresh()._column_reduce_us(spec, in_l2) == pytest.approx(64 * per_row * waves,
                                                                    rel=1e-12)


def test_with_params_splits_gpu_and_host_values():
    p = fresh()
    q = p.with_params(mm_tile_min=1.0, sync_us=9.0)
    assert q.params["mm_tile_min"] == 1.0 and q.host.base["sync_us"] == 9.0
    assert q.params["sync_us"] == 9.0 / q.host.speed
    assert p.params["mm_tile_min"] == 8.0 and p.host.base["sync_us"] == 3.0
    gpu_only = p.with_params(hbm_eff=0.25)
    assert gpu_only.host is p.host and gpu_only.params["hbm_eff"] == 0.25
    assert p.with_host(p.host) is p
    other = p.host.scaled(2.0)
    assert p.with_host(other).host is other


def test_transfers_are_pageable_by_default():
    p = fresh()
    assert p.transfer_us("h2d", 1 << 20) == p.transfer_us("h2d", 1 << 20, False)
    assert p.transfer_us("h2d", 1 << 20) != p.transfer_us("h2d", 1 << 20, True)


def test_describe_rounds_the_bandwidth_to_tens_of_gb_per_s():
    p = h200.profile_with_fit("x", "X", {**h200.SPEC, "hbm_gbps": 4806.0})
    assert "4.81 TB/s" in p.describe()


def test_describe_the_h200():
    # 150109880320 bytes = 139.8 GiB; 4800 GB/s; 62914560 bytes = 60 MiB of L2
    assert h200.make_profile().describe() == (
        "h200: NVIDIA H200 SXM 141GB, 140 GiB HBM3e 4.80 TB/s, 132 SMs, L2 60 MiB, "
        "FP32 67 TFLOPS, FP64 34 TFLOPS, PCIe Gen5")


def test_split_k_floors_the_quotient():
    # k = 3 over mm_split_k = 0.1: 3 // 0.1 is 29.0 (the exact quotient is just below 30),
    # so one 16 x 16 tile splits k 29 ways
    p = fresh(min_kernel_us=0.0, mm_split_k=0.1)
    assert p.kernel_us(mm(16, 3, 16)) == pytest.approx(
        gemm(16, 16, 1, 3, 29, nbytes(16, 3, 16), floor=0.0), rel=1e-12)
