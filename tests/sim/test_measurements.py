"""Measurement files (gpugrad/sim/measurements.py): kernel lists as data, how bench/mlp.py
records them (on sim; checked against the cuda profiler's names), and the shipped files' form."""
import json
import os
import sys
from pathlib import Path

import pytest

import gpugrad as gg
from gpugrad.backends.sim.timeline import Timeline
from gpugrad.device_registry import get_backend
from gpugrad.sim import fidelity, measurements

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT / "bench"))
import mlp  # noqa: E402

DEVICE = "sim:3"
SMALL = mlp.CONFIGS["small"]


@pytest.fixture
def sim3():
    gg.sim.configure(DEVICE, profile="h200")
    yield DEVICE
    gg.sim.configure(DEVICE)


def test_recording_lists_what_the_device_counted_and_leaves_no_trace(sim3):
    step, _ = mlp.gpugrad_step(mlp.make_problem(SMALL["sizes"], SMALL["batch"]), sim3)
    step()
    gg.sim.reset(sim3)
    with measurements.recording_kernels(sim3) as kernels:
        step()
    stats = gg.sim.stats(sim3)
    # 23: the small step of tests/test_bench_mlp.py (cross-entropy's mean is a sum of the losses
    # and counted rows, then their division: it honours ignore_index without a host sync)
    assert len(kernels) == stats.kernels == 23
    names = [k.name for k in kernels]
    assert {name: names.count(name) for name in names} == {n: r["count"]
                                                           for n, r in stats.by_op.items()}
    assert sum(k.flops for k in kernels) == stats.flops
    assert sum(k.nbytes for k in kernels) == stats.bytes
    assert "kernel" not in vars(get_backend(sim3).timeline)   # the method is back
    for spec in kernels:   # each kernel survives the JSON round trip exactly
        data = json.loads(json.dumps(measurements.kernel_to_dict(spec)))
        assert measurements.kernel_from_dict(data) == spec
        assert ("gemm" in data) == (spec.op_class == "matmul")


def test_a_replayed_list_costs_what_the_device_modeled(sim3):
    """The list is all the cost model needs: replayed on a fresh Timeline, a warm step costs
    what the sim device modeled for it."""
    step, _ = mlp.gpugrad_step(mlp.make_problem(SMALL["sizes"], SMALL["batch"]), sim3)
    kernels = measurements.step_kernels(step, sim3)
    backend = get_backend(sim3)
    backend.synchronize()
    gg.sim.reset(sim3)
    step()
    backend.synchronize()
    modeled = gg.sim.stats(sim3)
    tl = Timeline(backend.profile, record_events=False, framework=True)
    for spec in kernels:
        tl.kernel(spec)
    tl.synchronize()
    assert (tl.host_us, tl.device_busy_us) == pytest.approx(
        (modeled.host_us, modeled.device_us), rel=1e-12)


def test_bench_mlp_records_its_version_and_kernel_list(tmp_path, capsys):
    path = tmp_path / "mlp_sim.json"
    mlp.main(["--device", "sim", "--profile", "h200", "--config", "small", "--json", str(path)])
    capsys.readouterr()
    text = path.read_text()
    data = json.loads(text)
    assert data["gpugrad_version"] == gg.__version__
    commit = data["gpugrad_commit"]
    assert commit is None or (len(commit) == 12 and int(commit, 16) >= 0)
    row = data["configs"]["small"]
    assert len(row["gpugrad_kernels"]) == row["kernels_per_step"] == 23  # as above
    assert text == measurements.dumps(data)   # one kernel per line
    assert sum(line.lstrip().startswith('{"name": ') for line in text.splitlines()) == 23
    # the list is this checkout's step, as measurements.step_kernels takes it
    step, _ = mlp.gpugrad_step(mlp.make_problem(SMALL["sizes"], SMALL["batch"]), DEVICE)
    assert row["gpugrad_kernels"] == [measurements.kernel_to_dict(k)
                                      for k in measurements.step_kernels(step, DEVICE)]
    with pytest.raises(measurements.MeasurementError, match="holds modeled times"):
        measurements.load([path])   # a prediction, not a measurement


def test_the_cuda_profiler_names_what_one_step_launched(fake_cuda):
    """bench/mlp.py keeps, beside the sim list, the primitives the cuda profiler saw in a step
    (here on the NumPy stand-in for CuPy): one name per primitive call, in order."""
    problem = mlp.make_problem(SMALL["sizes"], SMALL["batch"])
    step, _ = mlp.gpugrad_step(problem, "cuda")
    for _ in range(2):
        step()
    with gg.profiler.profile() as prof:
        on_cuda = mlp.cuda_kernel_names(step)
    assert on_cuda == [e[2] for e in prof.events if e[1] == "stream"]
    assert on_cuda[:7] == ["matmul", "bias_act"] * 3 + ["softmax_cross_entropy"]
    assert on_cuda[-1] == "sgd_step" and on_cuda.count("matmul") == 3 + 5
    listed = [k["name"] for k in mlp.step_kernels(problem, DEVICE)]
    assert listed[:7] == on_cuda[:7] and listed[-1] == "sgd_step"


def test_source_commit_reads_the_checkout(tmp_path):
    git = tmp_path / ".git"
    assert mlp.source_commit(tmp_path) is None   # not a checkout
    (git / "refs" / "heads").mkdir(parents=True)
    (git / "HEAD").write_text("ref: refs/heads/main\n")
    (git / "packed-refs").write_text("# pack-refs\n" + "a" * 40 + " refs/heads/main\n")
    assert mlp.source_commit(tmp_path) == "a" * 12
    (git / "refs" / "heads" / "main").write_text("b" * 40 + "\n")
    assert mlp.source_commit(tmp_path) == "b" * 12
    (git / "HEAD").write_text("c" * 40 + "\n")   # detached
    assert mlp.source_commit(tmp_path) == "c" * 12


def test_shipped_bench_files_are_data_in_the_writers_form():
    """Every bench/results run's mlp_cuda.json records its commit, its steps and its kernel
    lists, written as bench/mlp.py writes them (measurements.dumps)."""
    files = sorted(RESULTS.glob("h200-run*/mlp_cuda.json"))
    assert len(files) == 5
    for path in files:
        text = path.read_text()
        data = json.loads(text)
        assert text == measurements.dumps(data), path
        assert data["gpugrad_kernels_from"].endswith("see bench/results/README.md")
        assert data["gpugrad_commit"] in (RESULTS / "README.md").read_text()
        records = measurements.load([path])
        assert len(records) == 8 and all(r["steps"] in (1, 10, 20) for r in records)


def test_the_shipped_measurements_are_the_documented_runs():
    folder = RESULTS / "measurements"
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "h200-run1.json",
                                                        "h200-run2.json", "measure.py"]
    for name in ("h200-run1.json", "h200-run2.json"):
        data = json.loads((folder / name).read_text())
        assert data["device"]["name"] == "NVIDIA H200" and data["device"]["cupy"] == "14.2.0"
        records = measurements.load([folder / name])
        assert len(records) == 219
        assert {r["op"] for r in records} == set(measurements.FAMILIES)
    readme = (folder / "README.md").read_text()
    assert "2026-11-26" in readme and "measure.py" in readme and "580.159.04" in readme


def test_kernel_entries_are_checked(tmp_path):
    good = measurements.kernel_to_dict(
        fidelity.compile_record({"op": "matmul", "shapes": [[4, 8], [8, 2]],
                                 "gpu_us": 1.0})[2][0][1])
    assert measurements.kernel_from_dict(good).gemm == (1, 4, 2, 8)
    for change, message in ((dict(op_class="conv"), "op_class 'conv' is not one of"),
                            (dict(gemm=None), "a matmul needs 'gemm': [batch, m, n, k]"),
                            (dict(flops=-1), "'flops' should be a whole number >= 0"),
                            (dict(shapes=[4]), "'shapes' should be a list of shapes")):
        with pytest.raises(measurements.MeasurementError, match=message.replace("[", r"\[")):
            measurements.kernel_from_dict({**good, **change}, "k")
    bad = dict(good)
    del bad["bytes_read"]
    with pytest.raises(measurements.MeasurementError, match="k: 'bytes_read' is missing"):
        measurements.kernel_from_dict(bad, "k")


def test_a_folder_is_not_a_file(tmp_path):
    with pytest.raises(measurements.MeasurementError, match="is a folder"):
        measurements.load([tmp_path])
    assert os.path.isdir(tmp_path)
