"""Host profiles: the CPU side of a simulated machine, apart from the GPU profile."""
import json

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.backends.sim import costmodel
from gpugrad.backends.sim.profiles import (PROFILE_NAMES, HostProfile, HostProfileError,
                                           get_host, get_profile, h200, load_host, save_host)
from gpugrad.backends.sim.profiles.host import REQUIRED, SCALED, UNSCALED, is_host_param
from gpugrad.backends.sim.timeline import Timeline


def test_default_host_is_the_measured_one_and_changes_nothing():
    """Every profile's parameters are exactly the fit's: the split moved no number."""
    host = get_host()
    assert host.name == "h200-host" and host.speed == 1.0
    assert host.params == {k: v for k, v in h200.MODEL_PARAMS.items() if is_host_param(k)}
    for name in PROFILE_NAMES:
        p = get_profile(name)
        assert p.params == h200.MODEL_PARAMS
        assert p.host == host
        assert not any(is_host_param(k) for k in p.gpu_params)


def test_which_parameters_are_the_hosts():
    host_side = {k for k in h200.MODEL_PARAMS if is_host_param(k)}
    assert {"framework_us", "host.elementwise", "host.matmul", "event_us", "sync_us",
            "xfer_host_us", "pool_alloc_us", "launch_point", "host_cache_bytes"} <= host_side
    for gpu_side in ("launch_latency_us", "xfer_latency_us", "malloc_base_us", "malloc_gbps",
                     "min_kernel_us", "hbm_eff", "pcie_eff"):
        assert not is_host_param(gpu_side)


def test_speed_scales_cpu_time_only():
    slow = get_host().scaled(0.5)
    base = get_host()
    for name in SCALED + ("host.elementwise", "host.gather"):
        assert slow.params[name] == pytest.approx(2 * base.params[name])
    for name in UNSCALED:
        assert slow.params[name] == base.params[name]
    assert slow.speed == 0.5 and slow.scaled(4.0).speed == 2.0


def _program(tl, spec, big):
    for _ in range(50):
        tl.kernel(spec)
    tl.synchronize()
    tl.kernel(big)
    return tl.synchronize()


@pytest.mark.parametrize("name", ["h100", "l4"])
def test_same_gpu_on_another_host(name):
    """Host-bound programs follow the host's speed; kernel times do not move at all."""
    tiny = costmodel.spec("binary:add", [np.empty(16, np.float32)] * 2, np.empty(16, np.float32))
    a = np.empty((4096, 4096), np.float32)
    big = costmodel.spec("matmul", [a, a], a)
    fast = get_profile(name, host=get_host().scaled(2.0))
    slow = get_profile(name, host=get_host().scaled(0.5))
    ref = get_profile(name)
    for spec in (tiny, big):
        assert fast.kernel_us(spec) == slow.kernel_us(spec) == ref.kernel_us(spec)
    assert fast.host_dispatch_us(tiny) == pytest.approx(ref.host_dispatch_us(tiny) / 2)
    loops = {}
    for label, p in (("fast", fast), ("ref", ref), ("slow", slow)):
        tl = Timeline(p, record_events=False, framework=True)
        for _ in range(100):
            tl.kernel(tiny)
        loops[label] = tl.synchronize()
    assert loops["fast"] < 0.6 * loops["ref"] and loops["slow"] > 1.7 * loops["ref"]


def test_configure_takes_a_host_by_name_file_object_or_environment(tmp_path, monkeypatch):
    path = tmp_path / "host.json"
    save_host(get_host().scaled(3.0, name="mine"), path)
    try:
        gg.sim.configure("sim:5", profile="h100", host=str(path))
        b = gg.device_registry.get_backend("sim:5")
        assert b.profile.host.name == "mine" and b.profile.host.speed == 3.0
        assert b.profile.framework_us == pytest.approx(30.8 / 3)
        gg.sim.configure("sim:5", profile="a100", host=get_host().scaled(0.5))
        assert b.profile.name == "a100" and b.profile.host.speed == 0.5
        gg.sim.configure("sim:5", host="h200-host")
        assert b.profile.host == get_host()
        monkeypatch.setenv("GPUGRAD_SIM_HOST", str(path))
        gg.sim.configure("sim:5")
        assert b.profile.host.name == "mine"
        monkeypatch.setenv("GPUGRAD_SIM_HOST", "nope")
        with pytest.raises(ValueError, match="GPUGRAD_SIM_HOST"):
            gg.sim.configure("sim:5")
        monkeypatch.delenv("GPUGRAD_SIM_HOST")
        with pytest.raises(ValueError, match="unknown sim host 'fast-box'"):
            gg.sim.configure("sim:5", host="fast-box")
    finally:
        gg.sim.configure("sim:5")


def test_host_bound_program_on_configured_hosts():
    """gpugrad's small ops on sim: modeled time halves on a twice-as-fast host."""
    def step(host):
        gg.sim.configure("sim:6", profile="h100", host=host)
        x = gg.ones(8, 8, device="sim:6")
        for _ in range(20):
            x = x * 1.0001
        return gg.sim.synchronize("sim:6")
    try:
        t1 = step(None)
        t2 = step(get_host().scaled(2.0))
    finally:
        gg.sim.configure("sim:6")
    assert 0.45 < t2 / t1 < 0.6


def test_round_trip_and_corrupt_files(tmp_path):
    host = get_host().scaled(1.7, name="probed", title="a box")
    path = save_host(host, tmp_path / "h.json", {"probe": {"kind": "numpy"}})
    assert load_host(path) == host
    data = json.loads(path.read_text())
    bad = {
        "truncated": path.read_text()[:40],
        "not-a-host": json.dumps({"format": "something", "version": 1}),
        "no-speed": json.dumps({k: v for k, v in data.items() if k != "speed"}),
        "zero-speed": json.dumps({**data, "speed": 0}),
        "missing-param": json.dumps({**data, "base": {k: v for k, v in data["base"].items()
                                                      if k != "framework_us"}}),
        "negative": json.dumps({**data, "base": {**data["base"], "sync_us": -1}}),
        "gpu-param": json.dumps({**data, "base": {**data["base"], "hbm_eff": 0.9}}),
        "string": json.dumps({**data, "base": {**data["base"], "event_us": "0.4"}}),
    }
    messages = {"truncated": "not valid JSON", "not-a-host": "not a host profile",
                "no-speed": "'speed' is missing", "zero-speed": "speed must be",
                "missing-param": "'framework_us' is missing", "negative": "'sync_us'",
                "gpu-param": "'hbm_eff' is not a host parameter", "string": "'event_us'"}
    for key, text in bad.items():
        p = tmp_path / f"{key}.json"
        p.write_text(text)
        with pytest.raises(HostProfileError, match=messages[key]):
            load_host(p)
        with pytest.raises(ValueError):
            gg.sim.configure("sim:7", host=str(p))
    with pytest.raises(HostProfileError, match="cannot read"):
        load_host(tmp_path / "absent.json")
    assert gg.device_registry.get_backend("sim:7").profile.host == get_host()   # untouched
    gg.sim.configure("sim:7")


def test_required_parameters_are_checked():
    base = dict(get_host().base)
    for name in REQUIRED:
        with pytest.raises(HostProfileError, match=name):
            HostProfile("x", "x", {k: v for k, v in base.items() if k != name})
    with pytest.raises(HostProfileError, match="launch_point"):
        HostProfile("x", "x", {**base, "launch_point": 1.5})
