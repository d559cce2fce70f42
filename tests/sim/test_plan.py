"""``gg.sim.plan`` and ``gpugrad plan``: data-parallel training predicted on simulated GPUs."""
import json
import math

import pytest

import gpugrad as gg
from gpugrad.cli import main
from gpugrad.nn.parallel.reducer import FIRST_BUCKET_BYTES, Reducer, assign_buckets
from gpugrad.sim import plan_models
from gpugrad.sim.planner import gpu_counts, plan
from gpugrad.sim.plan_models import MLPSpec, mlp_for_parameters, parse_model


# ---- model specs -------------------------------------------------------------------------------
def test_mlp_spec_strings_and_dicts():
    spec = parse_model("mlp:4096x8")
    assert spec == MLPSpec(4096, 4096, 8, 4096)
    assert spec.sizes == [4096] * 9
    assert spec.parameters == 8 * (4096 * 4096 + 4096)
    assert parse_model({"input": 784, "hidden": 256, "layers": 3, "classes": 10}).sizes == \
        [784, 256, 256, 10]
    seven = parse_model("mlp:7B")
    assert seven == mlp_for_parameters(7e9) == MLPSpec(8192, 8192, 104, 8192)
    assert abs(seven.parameters - 7e9) < 8192 * 8192  # the closest layer count
    assert parse_model("mlp:350M@2048").hidden == 2048
    assert parse_model({"params": 1e9, "width": 4096}) == mlp_for_parameters(1e9, 4096)
    assert "6.98B parameters" in seven.describe()


@pytest.mark.parametrize("bad", ["mlp:4096", "resnet50", "mlp:0x3", {"input": 3},
                                 {"params": 1e6, "depth": 3}, 42])
def test_bad_model_specs_say_what_is_expected(bad):
    with pytest.raises(ValueError, match="model"):
        parse_model(bad)


def test_gpu_counts():
    assert gpu_counts(None, 64) == [1, 2, 4, 8, 16, 32, 64]
    assert gpu_counts(None, 12) == [1, 2, 4, 8, 12]
    assert gpu_counts([8, 4], 8) == [1, 4, 8]  # 1 is the efficiency baseline
    with pytest.raises(ValueError, match="exceed"):
        gpu_counts([16], 8)
    with pytest.raises(ValueError, match="positive"):
        gpu_counts([0], 8)


# ---- plans -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_plan(tmp_path_factory):
    trace = tmp_path_factory.mktemp("plan") / "trace.json"
    return plan("mlp:512x6", batch=8, gpus_per_node=4, nodes=2, trace=str(trace),
                device="sim:5")


def test_plan_rows_are_consistent(small_plan):
    rows = small_plan.rows
    assert [r.gpus for r in rows] == [1, 2, 4, 8]
    assert [r.nodes for r in rows] == [1, 1, 1, 2]
    base = rows[0]
    assert base.comm_us == base.exposed_comm_us == 0 and base.efficiency == 1
    assert base.buckets == 0
    ddp = rows[1:]
    # weak scaling: every GPU count computes the same step (the DDP rows add the reducer's
    # flatten and copy-back kernels to the 1-GPU step)
    assert len({r.compute_us for r in ddp}) == 1 and ddp[0].compute_us > base.compute_us
    assert len({r.peak_bytes for r in ddp}) == 1 and ddp[0].peak_bytes > base.peak_bytes
    for r in ddp:
        assert r.buckets == len(assign_buckets(
            [gg.zeros(n, dtype=gg.bfloat16) for n in (512 * 512, 512) * 6], 25 * 2**20,
            FIRST_BUCKET_BYTES))
        assert 0 < r.comm_us and 0 <= r.exposed_comm_us <= r.comm_us + 1e-9
        assert r.efficiency <= 1 and r.step_us >= base.step_us
        assert math.isclose(r.samples_per_s, r.gpus * 8 * 1e6 / r.step_us)
        assert not r.oom
    # more GPUs, more communication (across nodes more than within one)
    assert ddp[-1].nodes == 2 and ddp[-1].comm_us > max(r.comm_us for r in ddp[:-1])
    assert ddp[1].comm_us > ddp[0].comm_us


def test_plan_table_and_dict(small_plan):
    table = small_plan.table()
    assert "MLP 512x6" in table and "efficiency" in table and "peak mem/GPU" in table
    assert len([line for line in table.splitlines() if line.split()[:1] == ["8"]]) == 1
    data = json.loads(json.dumps(small_plan.as_dict()))
    assert data["rows"][-1]["gpus"] == 8 and data["optimizer"] == "adam"


def test_plan_trace_has_compute_and_comm_tracks(small_plan):
    with open(small_plan.trace) as f:
        trace = json.load(f)
    tracks = {e["args"]["name"] for e in trace["traceEvents"]
              if e["ph"] == "M" and e["name"] == "thread_name"}
    assert {"host", "stream"} <= tracks
    comm_tracks = tracks - set(gg.backends.events.TRACKS)
    assert comm_tracks, f"no communication track in {sorted(tracks)}"
    spans = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    assert any(e["name"] in ("matmul", "adam_step") for e in spans)


def test_a_model_that_does_not_fit_reports_oom():
    result = plan("mlp:1024x4", batch=4, gpus_per_node=2, memory_bytes=8 * 2**20,
                  device="sim:5")
    assert all(r.oom for r in result.rows)
    row = result.rows[-1]
    assert row.capacity_bytes == 8 * 2**20
    # parameters, gradients and two Adam states in bfloat16, at least
    assert row.peak_bytes >= 4 * 2 * parse_model("mlp:1024x4").parameters > row.capacity_bytes
    assert math.isnan(row.step_us) and result.as_dict()["rows"][0]["step_us"] is None
    assert "OOM: a GPU needs" in result.table()


def test_plan_gives_the_device_back():
    gg.sim.configure("sim:5", profile="a100", memory_bytes=2**30)
    plan("mlp:64x2", batch=2, gpus_per_node=2, profile="l4", device="sim:5")
    assert gg.sim.stats("sim:5").profile == "a100"
    assert gg.sim.stats("sim:5").capacity_bytes == 2**30
    assert gg.ones(2, device="sim:5").sum().item() == 2  # computing values again
    gg.sim.configure("sim:5")
    held = gg.zeros(10, device="sim:5")
    with pytest.raises(ValueError, match="holds no tensors"):
        plan("mlp:64x2", device="sim:5")
    del held


def test_plan_rejects_bad_arguments():
    with pytest.raises(ValueError, match="optimizer"):
        plan("mlp:64x2", optimizer="lamb", device="sim:5")
    with pytest.raises(ValueError, match="batch"):
        plan("mlp:64x2", batch=0, device="sim:5")
    with pytest.raises(ValueError, match="sim device"):
        plan("mlp:64x2", device="cpu")


def test_a_callable_model():
    def build(device):
        model = gg.nn.Sequential(gg.nn.Linear(32, 64, device=device, dtype=gg.float32),
                                 gg.nn.ReLU(), gg.nn.Linear(64, 4, device=device))
        return model, gg.zeros(16, 32, device=device), gg.zeros(16, 4, device=device)

    result = plan(build, gpus_per_node=2, dtype="float32", loss=gg.nn.functional.mse_loss,
                  device="sim:5")
    assert result.model == "build" and result.rows[1].buckets == 1
    assert math.isclose(result.rows[0].samples_per_s, 16 * 1e6 / result.rows[0].step_us)


def test_a_large_model_across_nodes_in_bounded_time():
    # 7B parameters in bfloat16 with Adam on 64 H100s (8 per node): shape-only, nothing computed
    result = plan("mlp:7B", batch=8, nodes=8, gpus=[8, 64], device="sim:5")
    assert [r.gpus for r in result.rows] == [1, 8, 64]
    assert all(not r.oom for r in result.rows)
    assert result.rows[2].comm_us > result.rows[1].comm_us > 0
    too_big = plan("mlp:20B", batch=8, gpus=[2], device="sim:5")
    assert too_big.rows[1].oom and too_big.rows[1].peak_bytes > 80 * 2**30


# ---- the command -------------------------------------------------------------------------------
def test_cli_plan_prints_the_table(capsys, tmp_path):
    out = tmp_path / "plan.json"
    assert main(["plan", "--model", "mlp:256x3", "--batch", "4", "--gpus-per-node", "2",
                 "--nodes", "2", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "MLP 256x3" in printed and "samples/s" in printed
    assert [r["gpus"] for r in json.loads(out.read_text())["rows"]] == [1, 2, 4]


def test_cli_plan_runs_a_user_script(capsys, tmp_path):
    script = tmp_path / "user.py"
    script.write_text(
        "import gpugrad as gg\n"
        "def build(device):\n"
        "    return gg.nn.MLP([20, 30, 5], device=device, dtype=gg.bfloat16)\n")
    assert main(["plan", "--script", str(script), "--input-shape", "20", "--batch", "4",
                 "--gpus-per-node", "2"]) == 0
    assert "build" in capsys.readouterr().out
    assert main(["plan", "--script", str(tmp_path / "missing.py")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["plan", "--model", "mlp:big"]) == 2


def test_an_unused_parameter_fails_as_in_ddp():
    class HalfUsed(gg.nn.Module):
        def __init__(self, device):
            super().__init__()
            self.used = gg.nn.Linear(8, 4, device=device)
            self.unused = gg.nn.Linear(8, 4, device=device)

        def forward(self, x):
            return self.used(x)

    def build(device):
        return (HalfUsed(device), gg.zeros(2, 8, device=device),
                gg.zeros(2, dtype=gg.int64, device=device))

    with pytest.raises(RuntimeError, match="did not receive grad for rank 0: unused.weight, "
                                           "unused.bias"):
        plan(build, gpus_per_node=2, dtype="float32", device="sim:5")
    assert not gg.distributed.is_initialized()  # the plan's process group is gone


def test_the_plan_runs_the_real_ddp_on_a_sim_process_group(monkeypatch):
    seen = []
    real_start = Reducer._start

    def start(reducer, bucket):
        seen.append((gg.distributed.get_backend(), gg.distributed.get_world_size(), bucket))
        return real_start(reducer, bucket)

    monkeypatch.setattr(Reducer, "_start", start)
    result = plan("mlp:256x2", batch=4, gpus=[4], gpus_per_node=4, bucket_cap_mb=0.125,
                  device="sim:5")
    # two steps (the warm-up and the measured one) of DDP's buckets: the last layer's bias
    # and weight (128 KiB: closed), then the first layer's
    assert seen == [("sim", 4, 0), ("sim", 4, 1)] * 2
    assert result.rows[1].buckets == 2 and not gg.distributed.is_initialized()
    gg.distributed.init_process_group("sim", world_size=2)
    try:
        with pytest.raises(ValueError, match="process group is initialized"):
            plan("mlp:64x2", device="sim:5")
    finally:
        gg.distributed.destroy_process_group()


def test_bare_module_needs_an_input_shape():
    with pytest.raises(ValueError, match="input_shape"):
        plan_models.build_workload(lambda device: gg.nn.Linear(2, 2), "sim:5", 4, gg.float32)
