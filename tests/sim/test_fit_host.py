"""``gpugrad sim fidelity FILE --fit-host``: the host speed fitted on the smallest elementwise
records of the shipped H200 measurements, and on the same records with the host made slower."""
import argparse
import io
import json
import re
from pathlib import Path

import pytest

from gpugrad.backends.sim.profiles import get_host, get_profile
from gpugrad.sim import fidelity, fit_host
from gpugrad.sim.measurements import MeasurementError

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
FILES = [RESULTS / "measurements" / f"h200-run{i}.json" for i in (1, 2)]


def compiled(files):
    return fidelity.compile_records(fidelity.load_records(files))


def test_probe_is_the_smallest_elementwise_records():
    probe, others = fit_host.split_probe(compiled(FILES[:1]))
    assert len(probe) == 12 and len(probe) + len(others) == 219
    assert {c[0]["op"] for c in probe} == {"add", "mul_scalar", "exp", "tanh", "relu",
                                           "relu_backward"}


@pytest.mark.parametrize("path", FILES)
def test_fit_on_the_h200_files_finds_the_measured_host(path):
    """The profile was fitted on these files: its own host should come back, within noise."""
    probe, _ = fit_host.split_probe(compiled([path]))
    factor, _ = fit_host.fit_speed(probe, get_profile("h200"))
    print(f"{path.name}: fitted host speed {factor:.3f}")
    assert 0.85 < factor < 1.15


def test_fit_finds_a_host_twice_as_slow(tmp_path):
    """Every host time of the probe records doubled (gpu_us and cpu_us of host-bound calls):
    the fit finds a host about half as fast."""
    data = json.loads(FILES[0].read_text())
    for rec in data["records"]:
        if "gpu_us" in rec:
            rec["gpu_us"] *= 2
            rec["cpu_us"] *= 2
    slow = tmp_path / "slow.json"
    slow.write_text(json.dumps(data))
    probe, _ = fit_host.split_probe(compiled([slow]))
    factor, _ = fit_host.fit_speed(probe, get_profile("h200"))
    print(f"doubled host times: fitted host speed {factor:.3f}")
    assert 0.4 < factor < 0.6


def test_fit_starts_from_the_given_host():
    probe, _ = fit_host.split_probe(compiled(FILES[:1]))
    start = get_profile("h200", host=get_host().scaled(3.0))
    factor, _ = fit_host.fit_speed(probe, start)
    assert 0.85 < 3.0 * factor < 1.15   # the same host speed, reached from a wrong start


def test_host_and_device_bound_records_by_the_model():
    probe, others = fit_host.split_probe(compiled(FILES[:1]))
    h = get_profile("h200")
    shares = {(c[0]["op"], str(c[0].get("shapes") or c[0].get("bytes"))):
              fit_host.host_share(c[3], h) for c in probe + others}
    assert all(fit_host.host_share(c[3], h) > 0.75 for c in probe)   # the kernel tail: 0.2
    assert shares[("matmul", "[[8192, 8192], [8192, 8192]]")] < 0.05
    rows = fit_host.errors_by_bound(others, h, h.with_host(h.host.scaled(2.0)))
    assert len(rows["host-bound"]) > 50 and len(rows["device-bound"]) > 50
    moved = sorted(abs(after - before) for before, after in rows["device-bound"])
    assert moved[len(moved) // 2] < 0.1
    big = next(c for c in others if c[0]["op"] == "matmul" and c[0]["shapes"][0] == [8192, 8192])
    t1, _ = fidelity.run_program(big[3], h)
    t2, _ = fidelity.run_program(big[3], h.with_host(h.host.scaled(2.0)))
    assert t2 == pytest.approx(t1, rel=0.01)


def report(*argv):
    args = fidelity.add_arguments(argparse.ArgumentParser()).parse_args(argv)
    out = io.StringIO()
    assert fidelity.run(args, out) == 0
    return out.getvalue()


def test_cli_report():
    text = report(str(FILES[0]), "--profile", "h200", "--fit-host")
    assert "12 probe records (1024 elements" in text
    assert "fitted host speed 0.98" in text
    for label in ("probe (fit)", "host-bound", "device-bound"):
        assert label in text


def test_fit_host_refuses_files_without_a_probe():
    with pytest.raises(MeasurementError, match="--fit-host needs CuPy per-op measurements"):
        report(str(RESULTS / "h200-run1" / "mlp_cuda.json"), "--fit-host")


def test_fidelity_in_another_host(tmp_path):
    """--host: the same replay, with the host's costs scaled."""
    from gpugrad.backends.sim.profiles import save_host
    path = save_host(get_host().scaled(2.0, name="fast"), tmp_path / "fast.json")
    fast = report(str(FILES[0]), "--host", str(path), "--via", "direct")
    assert "in host fast:" in fast
    assert fast.splitlines()[-1] != report(str(FILES[0]), "--via", "direct").splitlines()[-1]


def test_the_docs_fit_host_outputs_are_what_the_tool_prints():
    """docs/sim-model.md's --fit-host examples, figure for figure."""
    doc = (ROOT / "docs" / "sim-model.md").read_text()
    pattern = r"\n    \$ python -m gpugrad\.sim\.fidelity (.+--fit-host)\n((?:    .+\n)+)"
    blocks = re.findall(pattern, doc)
    assert len(blocks) == 2
    for argv, printed in blocks:
        assert report(*argv.split()).splitlines() == [line[4:] for line in printed.splitlines()]
