"""A GPU profile's derived rates pinned by hand on a small made-up card whose class scales,
efficiencies and rates are all different from 1 and from each other, so that a multiplication
turned into a division, a per-class parameter ignored or a dtype's rate taken from another
dtype each changes a time. Every profile is built inside its test (the mutation run credits
a function only to the tests that call it), and the expected times are arithmetic on the
documented formulas of profiles/profile.py, never a call of the code under test."""
import re

import pytest

import gpugrad as gg
from gpugrad.backends.sim.costmodel import KernelSpec
from gpugrad.backends.sim.profiles import get_profile
from gpugrad.backends.sim.profiles.host import HostProfile, is_host_param
from gpugrad.backends.sim.profiles.profile import Profile, check_params, describe_param
from support.round_profile import ROUND

#: a small card: 4 SMs at 1 GHz, 1 MiB L2, 1 TB/s, PCIe Gen3; no ``memory_kind`` (the default)
SPEC = dict(memory_bytes=1 << 30, l2_bytes=1 << 20, sm_count=4, clock_ghz=1.0, hbm_gbps=1000.0,
            fp32_tflops=10.0, fp64_tflops=5.0, fp64_tensor_tflops=8.0, tf32_tflops=40.0,
            bf16_tflops=80.0, pcie_gen=3, nvlink_gbps=0.0)
PARAMS = {**ROUND, "bw.elementwise": 0.5, "l2_bytes_per_sm_clk": 500.0, "min_kernel_us": 0.1}
HBM = 1000 * 1e3 * 0.5        # bytes/µs: spec bandwidth x hbm_eff
L2 = 4 * 1.0e3 * 500.0        # bytes/µs: SMs x clock (per µs) x l2_bytes_per_sm_clk (> HBM)
L2_FIT = (1 << 20) * 0.5      # bytes: L2 x l2_fit
ELEM = 4 * 1.0e3              # elements/µs per unit of elem_rate: SMs x clock


def _host():
    return HostProfile("test-host", "a test host", {k: v for k, v in PARAMS.items()
                                                    if is_host_param(k)})


def _profile(params=PARAMS, **spec):
    return Profile("card", "a small test card", params=params, host=_host(), **{**SPEC, **spec})


def _kernel(op_class, nbytes, elements=0, flops=0, dtype="float32"):
    return KernelSpec("k", op_class, dtype, nbytes, 0, flops, ((1,),), elements)


def _gemm(dtype, m, n, k, nbytes):
    return KernelSpec("mm", "matmul", dtype, nbytes - 256, 256, 2 * m * n * k,
                      ((m, k), (k, n), (m, n)), m * n, 0, (1, m, n, k))


def test_the_spec_defaults_and_pcie_rates():
    p = _profile()
    assert p.memory_kind == "HBM"
    assert " HBM " in p.describe()
    assert p.pcie_gbps == 15.75
    assert _profile(pcie_gen=4).pcie_gbps == 31.5
    assert _profile(pcie_gen=5).pcie_gbps == 63.0


def test_a_class_scale_multiplies_hbm_and_l2_bandwidth():
    p = _profile()
    # 2 MB does not fit L2 (512 KiB): HBM at bw.elementwise 0.5, plus kernel_fixed_us 1.0
    assert p.kernel_us(_kernel("elementwise", 2_000_000)) == pytest.approx(
        2e6 / (HBM * 0.5) + 1.0, rel=1e-12)
    # 400 kB fits: the faster L2, scaled the same
    assert p.kernel_us(_kernel("elementwise", 400_000)) == pytest.approx(
        4e5 / (L2 * 0.5) + 1.0, rel=1e-12)


def test_per_class_element_rate_and_fixed_cost():
    p = _profile()
    # transpose: elem_rate.transpose 0.5, fixed.transpose 2.0 (element-bound: 1 kB in L2)
    assert p.kernel_us(_kernel("transpose", 1000, 20_000)) == pytest.approx(
        20_000 / (ELEM * 0.5) + 2.0, rel=1e-12)
    # copy: bw.copy absent (1.0), fixed.copy 1.5
    assert p.kernel_us(_kernel("copy", 2_000_000)) == pytest.approx(2e6 / HBM + 1.5, rel=1e-12)


def test_per_class_host_dispatch():
    p = _profile()
    mm = _gemm("float32", 8, 8, 8, 1024)    # 3 array operands
    assert p.host_dispatch_us(mm) == pytest.approx(18.0 + 3 * 1.5, rel=1e-12)   # host.matmul


@pytest.mark.parametrize("dtype, flops_per_us", [("float64", 5e6), ("float32", 10e6)])
def test_simt_flop_rates(dtype, flops_per_us):
    p = _profile()
    spec = _kernel("elementwise", 800, 100, 5e7, dtype)
    assert p.kernel_us(spec) == pytest.approx(5e7 / flops_per_us + 1.0, rel=1e-12)


@pytest.mark.parametrize("dtype, rate", [
    ("float64", 8e6 * 0.9),      # FP64 tensor peak x mm_eff.float64
    ("float16", 80e6 * 0.75),    # BF16/FP16 tensor peak x mm_eff.float32
    ("bfloat16", 80e6 * 0.75),
    ("float32", 10e6 * 0.75),    # plain FP32 (TF32 off)
])
def test_gemm_rates_per_dtype(dtype, rate):
    p = _profile()
    # 256 x 256 output: 4 full 128-tiles on 4 SMs, one wave, no split-K; 1 kB (in L2)
    spec = _gemm(dtype, 256, 256, 1024, 1024)
    expected = 2.0 * 128 * 128 * 1024 / (rate / 4) + 1.0   # + mm_fixed_us
    before = gg.get_float32_matmul_precision()
    gg.set_float32_matmul_precision("highest")
    try:
        assert p.kernel_us(spec) == pytest.approx(expected, rel=1e-12)
    finally:
        gg.set_float32_matmul_precision(before)


def test_gemm_tf32_rate():
    p = _profile()
    spec = _gemm("float32", 256, 256, 1024, 1024)
    before = gg.get_float32_matmul_precision()
    gg.set_float32_matmul_precision("high")
    try:
        got = p.kernel_us(spec)
    finally:
        gg.set_float32_matmul_precision(before)
    assert got == pytest.approx(2.0 * 128 * 128 * 1024 / (40e6 * 0.75 / 4) + 1.0, rel=1e-12)


def test_a_gemm_filling_l2_exactly_reads_from_l2():
    p = _profile()
    # an 8 x 8 x 32 GEMM moving exactly L2 x l2_fit bytes: memory-bound, at the L2 rate
    spec = _gemm("float32", 8, 8, 32, int(L2_FIT))
    compute = 2.0 * 8 * 8 * 32 / (10e6 * 0.75 / 4 * ((8 * 8) / (128 * 128)) ** 0.5)
    assert compute < L2_FIT / L2
    assert p.kernel_us(spec) == pytest.approx(L2_FIT / L2 + 1.0, rel=1e-12)


@pytest.mark.parametrize("kind", ["h2d", "d2h"])
def test_pinned_copies_run_at_the_pcie_rate_times_its_efficiency(kind):
    p = _profile()
    # Gen3: 15.75 GB/s x pcie_eff 0.8 = 12600 bytes/µs; plus xfer_latency_us 6.0
    assert p.transfer_us(kind, 1_260_000, pinned=True) == pytest.approx(106.0, rel=1e-12)


def test_a_host_that_is_not_a_host_profile_is_refused():
    with pytest.raises(TypeError) as err:
        Profile("card", "t", params=PARAMS, host="h200-host", **SPEC)
    assert str(err.value) == "host must be a HostProfile, got str"


def test_parameter_errors_name_the_parameter():
    params = dict(PARAMS)
    del params["hbm_eff"]
    with pytest.raises(ValueError) as err:
        _profile(params)
    assert str(err.value) == "sim profile parameter 'hbm_eff' is missing"
    with pytest.raises(ValueError) as err:
        _profile({**PARAMS, "hbm_eff": -1})
    assert str(err.value) == "sim profile parameter 'hbm_eff' must be >= 0, got -1"


@pytest.mark.parametrize("point", [0, 0.5, 1])
def test_check_params_takes_a_launch_point_within_0_and_1(point):
    params = {**PARAMS, "launch_point": point}
    assert check_params(params) is params


@pytest.mark.parametrize("point", [1.5, 2.0])
def test_check_params_refuses_a_launch_point_beyond_1(point):
    with pytest.raises(ValueError, match=r"^" + re.escape("launch_point must be within [0, 1]")
                       + r"$"):
        check_params({**PARAMS, "launch_point": point})


def test_describe_param_resolves_only_known_families_and_classes():
    assert describe_param("host.matmul") == (
        "us", "host dispatch of a call of this class (else host.elementwise) [matmul]")
    for name in ("bw.nonsense", "nonsense.matmul"):
        with pytest.raises(KeyError) as err:
            describe_param(name)
        assert err.value.args == (f"unknown model parameter {name!r}",)


def test_a_shipped_profile_is_used_as_given_or_moved_to_another_host():
    p = get_profile("h100")
    assert get_profile(p) is p
    fast = p.host.scaled(2.0)
    q = get_profile(p, host=fast)
    assert q is not p and q.host is fast and q.name == "h100"
    assert q.params["framework_us"] == p.params["framework_us"] / 2
    assert get_profile(p, host=p.host) is p
