"""``gpugrad sim fidelity`` / ``gpugrad sim calibrate`` on the measurement files that ship in
bench/results/, their printed figures recomputed here from the cost model."""
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from gpugrad import cli
from gpugrad.backends.sim.costmodel import KernelSpec
from gpugrad.backends.sim.profiles import get_profile, h200
from gpugrad.backends.sim.timeline import Timeline
from gpugrad.sim import calibrate, fidelity
from gpugrad.sim.measurements import FAMILIES
from support.cli_tools import run_cli

ROOT = Path(__file__).resolve().parents[1]
MEASUREMENTS = ROOT / "bench" / "results" / "measurements"
RUN1 = MEASUREMENTS / "h200-run1.json"
BENCH1 = ROOT / "bench" / "results" / "h200-run1" / "mlp_cuda.json"


def kernel(data):
    """A KernelSpec from one entry of a file's gpugrad_kernels (read here, not by the tool)."""
    return KernelSpec(data["name"], data["op_class"], data["dtype"], data["bytes_read"],
                      data["bytes_written"], data["flops"], tuple(map(tuple, data["shapes"])),
                      data["elements"], data["scalars"],
                      tuple(data["gemm"]) if "gemm" in data else None)


def cupy_step_kernels(sizes, batch):
    """The hand-written CuPy step's kernels (bench/mlp.py's and measure.py's peer)."""
    b = fidelity._Builder()
    fidelity.mlp_step_program(b, sizes, batch)
    return [act[1] for act in b.actions]


def per_step_us(kernels, profile, framework, steps):
    """Host µs per step of ``steps`` steps timed between two syncs, after two warm-up steps
    and a sync: how bench/mlp.py timed its steps, on a fresh Timeline."""
    tl = Timeline(profile, record_events=False, framework=framework)

    def step():
        for k in kernels:
            tl.kernel(k)

    step()
    step()
    tl.synchronize()
    mark = tl.host_us
    for _ in range(steps):
        step()
    tl.synchronize()
    return (tl.host_us - mark) / steps


def expected_bench_rows(path, profile):
    """[(family, config, timing, measured µs, modeled µs)] of a bench/mlp.py file, in the
    tool's order (per config: gpugrad ms, ms_synced, then cupy), computed here."""
    data = json.loads(Path(path).read_text())
    rows = []
    for name, row in data["configs"].items():
        peers = {"gpugrad": ([kernel(k) for k in row["gpugrad_kernels"]], True),
                 "cupy": (cupy_step_kernels(row["sizes"], row["batch"]), False)}
        for peer, (kernels, framework) in peers.items():
            family = "gpugrad step" if peer == "gpugrad" else "cupy step (bench)"
            for timing, steps in (("ms", row["steps"]), ("ms_synced", 1)):
                rows.append((family, name, timing, row[timing][peer] * 1e3,
                             per_step_us(kernels, profile, framework, steps)))
    return rows


def table_lines(errors_by_family):
    """The error table as the tool prints it, from |modeled/measured - 1| per family."""
    lines = []
    for family, errs in errors_by_family.items():
        e = np.asarray(errs) * 100
        lines.append(f"{family:<18}{len(e):>5}{np.median(e):>9.1f}%"
                     f"{np.percentile(e, 90):>9.1f}%{e.max():>9.1f}%")
    e = np.concatenate([np.asarray(v) for v in errors_by_family.values()]) * 100
    lines.append(f"overall: median {np.median(e):.1f}% p90 {np.percentile(e, 90):.1f}% "
                 f"(n={len(e)})")
    return lines


BENCH_ROW = re.compile(r"  (.+?) +(small|large) +(ms|ms_synced) +measured +([\d.]+) us +"
                       r"modeled +([\d.]+) us +([-+][\d.]+)%  \((.+)\)")


def test_sim_fidelity_on_a_bench_file_prints_the_replayed_kernel_lists(capsys):
    """Every printed row: the measured time, and the time modeled here from the file's own
    kernel list (gpugrad, framework_us charged) or the hand-written step (CuPy), bench/mlp.py's
    timing replayed on a Timeline; then the error table of those rows."""
    status, out, err = run_cli(capsys, "sim", "fidelity", BENCH1, "--profile", "h200")
    assert status == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == f"profile h200: 8 records from {BENCH1}"
    profile = get_profile("h200")
    expected = expected_bench_rows(BENCH1, profile)
    printed = [BENCH_ROW.fullmatch(line) for line in lines[1:9]]
    assert all(printed), lines[1:9]
    for m, (family, config, timing, measured, modeled) in zip(printed, expected):
        assert (m[1].strip(), m[2], m[3]) == (family, config, timing)
        assert float(m[4]) == pytest.approx(measured, abs=0.05)
        assert float(m[5]) == pytest.approx(modeled, abs=0.05)
        assert float(m[6]) == pytest.approx(100 * (modeled / measured - 1), abs=0.05)
        n_kernels = 30 if config == "small" else 38   # run 1's commit: 6 or 8 gradient copies
        assert m[7] == (f"gpugrad commit b3d5b18: {n_kernels} kernels, framework_us 30.8"
                        if family == "gpugrad step" else "raw CuPy calls")
    errors = {}
    for family, _, _, measured, modeled in expected:
        errors.setdefault(family, []).append(abs(modeled / measured - 1))
    assert lines[9].split() == ["family", "n", "median", "p90", "max"]
    assert lines[10:] == table_lines(errors)
    assert lines[-1] == "overall: median 4.2% p90 10.9% (n=8)"   # docs/sim-model.md's figure


def replay_cupy_record(rec, profile):
    """(modeled, measured) of one CuPy record, replayed here as measure.py timed it."""
    op, tl = rec["op"], Timeline(profile, record_events=False)
    if "gpu_us" in rec:   # 3 warm-up calls, a sync, then the call between two CUDA events
        b = fidelity._Builder()
        fidelity._per_op_record(b, op, rec["shapes"], rec.get("dtype", "float32"))
        kernels = [act[1] for act in b.actions]
        for k in kernels * 3:
            tl.kernel(k)
        tl.synchronize()
        start = tl.record_event()
        for k in kernels:
            tl.kernel(k)
        return tl.record_event() - start, rec["gpu_us"]
    if op[:3] in ("h2d", "d2h"):
        tl.transfer(op[:3], rec["bytes"], op.endswith("pinned"))
        tl.synchronize()
        return tl.host_us, rec["wall_us"]
    if op == "alloc_cold":
        tl.malloc(rec["bytes"])
        tl.synchronize()
        return tl.host_us, rec["wall_us"]
    if op == "alloc_pooled":
        return profile.pool_alloc_us, rec["wall_us"]
    kernels = cupy_step_kernels(rec["sizes"], rec["batch"])   # mlp_step_handwritten
    for k in kernels:
        tl.kernel(k)
    tl.synchronize()
    mark = tl.host_us
    for k in kernels:
        tl.kernel(k)
    tl.synchronize()
    return tl.host_us - mark, rec["wall_us_synced"]


def cupy_table(records, profile):
    errors = {}
    for rec in records:
        modeled, measured = replay_cupy_record(rec, profile)
        errors.setdefault(FAMILIES[rec["op"]], []).append(abs(modeled / measured - 1))
    return table_lines(errors)


def test_sim_fidelity_on_the_shipped_cupy_measurements(capsys):
    """The table of the H200 file the README names, against the errors computed here."""
    status, out, err = run_cli(capsys, "sim", "fidelity", RUN1, "--profile", "h200",
                               "--via", "direct")
    assert status == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == f"profile h200: 219 records from {RUN1}"
    records = json.loads(RUN1.read_text())["records"]
    assert lines[3:] == cupy_table(records, get_profile("h200"))
    assert lines[-1] == "overall: median 2.9% p90 12.5% (n=219)"   # docs/sim-model.md's figure


def test_sim_fidelity_worst_lists_the_largest_errors_first(capsys):
    status, out, _ = run_cli(capsys, "sim", "fidelity", RUN1, "--via", "direct", "--worst", "3")
    assert status == 0
    worst = out.splitlines()[:3]
    ratios = [float(line.rsplit(None, 1)[1].rstrip("%")) for line in worst]
    assert ratios == sorted(ratios, key=abs, reverse=True) and abs(ratios[0]) >= 40
    records = json.loads(RUN1.read_text())["records"]
    errors = sorted((abs(m / x - 1) for m, x in (replay_cupy_record(r, get_profile("h200"))
                                                   for r in records)), reverse=True)
    assert [abs(r) for r in ratios] == [round(100 * e) for e in errors[:3]]


def subset_file(tmp_path, name="subset.json", ops=("add", "exp", "matmul"), every=2):
    """A small CuPy measurement file: some records of run 1 (a fit on it takes a second)."""
    data = json.loads(RUN1.read_text())
    data["records"] = [r for r in data["records"] if r["op"] in ops
                       and np.prod(r["shapes"][0]) <= 1 << 20][::every]
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path, data["records"]


def printed_block(out, name):
    namespace = {}
    exec(re.search(rf"^{name} = {{.*?^}}", out, re.S | re.M).group(0), namespace)
    return namespace[name]


def test_sim_calibrate_fits_and_reports_what_the_fitted_model_gives(tmp_path, capsys):
    fit_path, fit_records = subset_file(tmp_path, "fit.json", every=2)
    check_path, check_records = subset_file(tmp_path, "check.json", ops=("tanh", "copy"), every=3)
    status, out, err = run_cli(capsys, "sim", "calibrate", "--fit", fit_path, "--check",
                               check_path, "--rounds", "2", "--quiet")
    assert status == 0 and err == ""
    fitted = printed_block(out, "FITTED")
    assert list(fitted) == list(calibrate.INITIAL) and set(fitted) == set(calibrate.FREE)
    assert fitted != calibrate._rounded(calibrate.INITIAL)   # two sweeps moved something
    profile = h200.make_profile(fitted)
    sections = out.split("-- ")[1:]
    assert sections[0].startswith(f"fit on {fit_path} (loss ")
    assert sections[0].splitlines()[2:] == cupy_table(fit_records, profile)
    assert sections[1].startswith(f"held out: {check_path}\n")
    assert sections[1].splitlines()[2:] == cupy_table(check_records, profile)


def bench_loss(path, framework_us):
    """calibrate.py's robust loss (soft-L1, scale SOFT) over a file's gpugrad steps."""
    profile = h200.make_profile({"framework_us": framework_us})
    rows = [r for r in expected_bench_rows(path, profile) if r[0] == "gpugrad step"]
    z = [math.log(modeled / measured) / calibrate.SOFT for *_, measured, modeled in rows]
    return sum(math.sqrt(1 + v * v) - 1 for v in z)


def test_sim_calibrate_fit_framework_finds_the_minimum_and_writes_it(tmp_path, capsys,
                                                                     monkeypatch):
    profile_file = tmp_path / "h200.py"
    original = Path(h200.__file__).read_text()
    profile_file.write_text(original)
    monkeypatch.setattr(calibrate, "H200_PATH", profile_file)
    status, out, err = run_cli(capsys, "sim", "calibrate", "--fit-framework", BENCH1, "--write",
                               "--quiet")
    assert status == 0 and err == f"wrote {profile_file}\n"
    value = printed_block(out, "FRAMEWORK")["framework_us"]
    # the printed value is the minimum of the loss computed here, to its 4 printed digits
    assert bench_loss(BENCH1, value) <= min(bench_loss(BENCH1, value * 0.995),
                                            bench_loss(BENCH1, value * 1.005))
    assert value == pytest.approx(31.22, abs=0.01)   # run 1's recorded kernel lists
    rows = [r for r in expected_bench_rows(BENCH1, h200.make_profile({"framework_us": value}))
            if r[0] == "gpugrad step"]
    assert out.splitlines()[-2:] == table_lines(
        {"gpugrad step": [abs(m / x - 1) for *_, x, m in rows]})[-2:]
    written = profile_file.read_text()
    assert f'"framework_us": {value!r},' in written and written != original
    assert written.replace(f'"framework_us": {value!r},', '"framework_us": 30.8,') == original
    assert Path(h200.__file__).read_text() == original   # the package's file is untouched


@pytest.mark.parametrize("tool", ["fidelity", "calibrate"])
def test_sim_commands_name_a_missing_or_corrupt_file(tool, tmp_path, capsys):
    missing = tmp_path / "missing.json"
    assert run_cli(capsys, "sim", tool, missing) == (2, "", f"gpugrad sim {tool}: {missing}: "
                                                          f"no such file\n")
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text('{"records": [{"op": "add",')
    status, out, err = run_cli(capsys, "sim", tool, corrupt)
    assert (status, out) == (2, "")
    assert err.startswith(f"gpugrad sim {tool}: {corrupt}: not valid JSON (Expecting ")
    corrupt.write_bytes(b"\xff\xfe{}")
    status, _, err = run_cli(capsys, "sim", tool, corrupt)
    assert status == 2 and err.startswith(f"gpugrad sim {tool}: {corrupt}: cannot be read (")
    # a good file first: the bad one is still named, and nothing is printed or fitted
    assert run_cli(capsys, "sim", tool, RUN1, missing)[::2] == (
        2, f"gpugrad sim {tool}: {missing}: no such file\n")


@pytest.mark.parametrize("content, message", [
    ({"records": [{"op": "add", "shapes": [[4], [4]], "dtype": "float32"}]},
     "records[0] (add): 'gpu_us' is missing"),
    ({"records": [{"op": "add", "shapes": [[4], [4]], "gpu_us": -1.0}]},
     "records[0] (add): 'gpu_us' should be a positive number of microseconds, got -1.0"),
    ({"records": [{"op": "conv2d", "shapes": [[4]], "gpu_us": 3.0}]},
     "records[0]: unknown op 'conv2d'; known: add, mul_scalar"),
    ({"records": [{"op": "matmul", "shapes": [[4, 4]], "gpu_us": 3.0}]},
     "records[0] (matmul): 'shapes' should hold two operands' shapes"),
    ({"configs": {"small": {"sizes": [4, 2], "batch": 8, "steps": 20,
                            "ms": {"gpugrad": 1.0}}}, "gpugrad_version": "0.1.0"},
     "configs.small: 'gpugrad_kernels' is missing"),
    ({"configs": {"small": {"sizes": [4, 2], "batch": 8, "modeled_ms": 1.0}}, "profile": "h200"},
     "configs.small: neither 'ms' nor 'ms_synced' is there (a bench/mlp.py --device sim file "
     "holds modeled times, not measurements)"),
    ([1, 2], "neither a CuPy measurement (an object with a 'records' list) nor bench/mlp.py "
             "results"),
])
def test_sim_fidelity_says_what_is_wrong_in_a_file(content, message, tmp_path, capsys):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(content))
    status, out, err = run_cli(capsys, "sim", "fidelity", path)
    assert (status, out) == (2, "")
    assert err.startswith(f"gpugrad sim fidelity: {path}: {message}"), err


def test_sim_command_options_are_checked(capsys):
    status, _, err = run_cli(capsys, "sim", "fidelity", BENCH1, "--profile", "v100")
    assert status == 2 and err == ("gpugrad sim fidelity: unknown sim profile 'v100'; choose one "
                                   "of h100, h200, a100, l4\n")
    status, _, err = run_cli(capsys, "sim", "calibrate")
    assert status == 2 and "give measurement files to fit on" in err
    status, _, err = run_cli(capsys, "sim", "calibrate", RUN1, "--rounds", "0")
    assert status == 2 and err == "gpugrad sim calibrate: --rounds must be at least 1, got 0\n"
    status, _, err = run_cli(capsys, "sim", "fidelity", RUN1, "--device", "cpu")
    assert status == 2 and err == ("gpugrad sim fidelity: --device must be a sim device such as "
                                   "sim:0, got 'cpu'\n")
    status, _, err = run_cli(capsys, "sim", "fidelity", RUN1, "--worst", "-1")
    assert status == 2 and err == "gpugrad sim fidelity: --worst must be 0 or more, got -1\n"
    status, _, err = run_cli(capsys, "sim")
    assert status == 2 and "{fidelity,calibrate,probe-host}" in err


def test_python_dash_m_sim_tools_take_the_same_arguments(capsys):
    assert fidelity.main([str(BENCH1), "--profile", "h200"]) == 0
    via_module = capsys.readouterr().out
    assert run_cli(capsys, "sim", "fidelity", BENCH1, "--profile", "h200") == (0, via_module, "")
    with pytest.raises(SystemExit) as exc:
        calibrate.main([str(ROOT / "no-such.json")])
    assert exc.value.code == 2
    assert capsys.readouterr().err.endswith(f"error: {ROOT / 'no-such.json'}: no such file\n")


def test_readme_and_docs_sim_commands_name_shipped_files_and_parse():
    """Every ``gpugrad sim ...`` command in the README, the model's doc and bench/results runs
    from a fresh clone: its files are in the repository and its options parse."""
    commands = []
    for doc in ("README.md", "docs/cli.md", "docs/sim-model.md", "bench/results/README.md",
                "bench/results/measurements/README.md"):
        text = (ROOT / doc).read_text().replace("\\\n", " ")
        commands += re.findall(r"gpugrad sim (?:fidelity|calibrate) [^`\n]+", text)
    assert len(commands) >= 8
    parser = cli.build_parser()
    for command in commands:
        args = parser.parse_args(command.split()[1:])
        for path in args.files + (getattr(args, "fit", None) or []) + list(
                getattr(args, "check", ())):
            assert (ROOT / path).is_file(), (command, path)
