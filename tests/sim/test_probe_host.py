"""``gpugrad sim probe-host``: the host speed of this machine, as a host profile file."""
import argparse
import io
import json
import sys
from pathlib import Path

import pytest

import gpugrad as gg
from gpugrad.backends.sim.profiles import get_host, load_host
from gpugrad.sim import probe_host

REFERENCE = Path(__file__).resolve().parents[2] / probe_host.NUMPY_REFERENCE_FILE


def run(*argv):
    args = probe_host.add_arguments(argparse.ArgumentParser()).parse_args(argv)
    out = io.StringIO()
    assert probe_host.run(args, out) == 0
    return out.getvalue()


def test_numpy_probe_writes_a_host_that_configure_loads(tmp_path):
    path = tmp_path / "host.json"
    text = run("--numpy", "--seconds", "0.3", "--out", str(path))
    assert "numpy probe" in text and f"wrote {path}" in text
    host = load_host(path)
    data = json.loads(path.read_text())
    assert data["probe"]["kind"] == "numpy"
    assert set(data["probe"]["measured_us"]) == set(probe_host.NUMPY_REFERENCE_US)
    # a loose bound: any machine that runs the tests is within 20x of the reference
    assert 0.05 < host.speed < 20
    assert host.base == get_host().base   # only the speed is the probe's
    try:
        gg.sim.configure("sim:4", host=str(path))
        assert gg.device_registry.get_backend("sim:4").profile.host == host
    finally:
        gg.sim.configure("sim:4")


def test_speed_is_reference_over_measured():
    assert probe_host.speed_factor({"a": 1.0, "b": 4.0}, {"a": 2.0, "b": 2.0}) == \
        pytest.approx(1.0)
    assert probe_host.speed_factor({"a": 1.0}, {"a": 2.0}) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="no reference"):
        probe_host.speed_factor({"a": 1.0}, {})


def test_reference_values_are_the_recorded_ones():
    """The constants in the code are the data file's, which says where they come from."""
    data = json.loads(REFERENCE.read_text())
    assert data["measured_us"] == probe_host.NUMPY_REFERENCE_US
    assert data["machine"]["cpu"] and data["date"] and "relation_to_h200_host" in data


def test_bad_options():
    for seconds in ("0", "-1", "1000"):
        with pytest.raises(ValueError, match="--seconds"):
            run("--seconds", seconds)


def test_cupy_probe_compares_with_the_h200_host_model(monkeypatch):
    """With a GPU, tiny CuPy calls against the measured host's modeled dispatch (run here on
    the tests' CuPy stand-in, whose calls cost what NumPy's do: only the plumbing is checked)."""
    from support.fake_cupy import FakeCupy
    monkeypatch.setitem(sys.modules, "cupy", FakeCupy())
    host, record = probe_host.probe(0.2, use_gpu=True)
    assert record["kind"] == "cupy"
    p = get_host().params
    # a 1,024-element add: host.elementwise plus two array operands; a * 2.0: one and a number
    assert record["reference_us"]["cupy_add"] == pytest.approx(
        p["host.elementwise"] + 2 * p["host_per_array_us"], abs=1e-3)
    assert record["reference_us"]["cupy_mul_scalar"] == pytest.approx(
        p["host.elementwise"] + p["host_per_array_us"] + p["host_per_scalar_us"], abs=1e-3)
    assert host.speed == pytest.approx(probe_host.speed_factor(record["measured_us"],
                                                               record["reference_us"]),
                                       rel=1e-3)
