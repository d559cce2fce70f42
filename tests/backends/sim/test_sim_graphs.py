"""Whole-step CUDA graphs on the sim device (gpugrad/backends/sim/graphs.py, the API in
gpugrad/backends/cuda/graphs.py): a graphed MLP training step gives the eager step's values bit
for bit, a replay costs the host one graph launch while the device work is unchanged, the trace
shows the launch, and what a graph cannot hold raises."""
import json

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.backends.cuda.graphs import GraphCaptureError
from gpugrad.backends.sim import graphs as sim_graphs

DEV = "sim:6"


@pytest.fixture(autouse=True)
def h200():
    gg.sim.configure(DEV, profile="h200")


def _mlp_step(seed=0, optimizer="sgd", device=DEV):
    """The issue's small MLP (64-128-128-10) and its training step, built from ``seed``."""
    gg.manual_seed(seed)
    model = gg.nn.Sequential(gg.nn.Linear(64, 128), gg.nn.ReLU(), gg.nn.Linear(128, 128),
                             gg.nn.ReLU(), gg.nn.Linear(128, 10)).to(device)
    if optimizer == "sgd":
        opt = gg.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    else:
        opt = gg.optim.Adam(model.parameters(), lr=1e-3)

    def step(x, y):
        opt.zero_grad(set_to_none=False)
        loss = gg.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return model, step


def _batches(n, device=DEV, batch=64):
    rng = np.random.default_rng(1)
    return [(gg.tensor(rng.standard_normal((batch, 64)).astype(np.float32), device=device),
             gg.tensor(rng.integers(0, 10, batch), device=device)) for _ in range(n)]


def _params(model):
    return [p.detach().numpy() for p in model.parameters()]


def test_graphed_step_equals_eager_bit_for_bit():
    batches = _batches(5)
    eager_model, eager_step = _mlp_step()
    for _ in range(3):  # make_graphed_step's warm-up: three real steps on the sample batch
        eager_step(*batches[0])
    eager = [eager_step(x, y).item() for x, y in batches]

    graphed_model, step = _mlp_step()
    graphed_step = gg.cuda.graphs.make_graphed_step(step, batches[0], warmup_iters=3)
    outputs = [graphed_step(x, y) for x, y in batches[:1]]
    graphed = [outputs[0].item()] + [graphed_step(x, y).item() for x, y in batches[1:]]

    assert graphed == eager
    for got, want in zip(_params(graphed_model), _params(eager_model)):
        np.testing.assert_array_equal(got, want)
    assert graphed_step(*batches[0]) is outputs[0]  # the static output, every time


def test_capture_runs_nothing_and_replay_runs_the_step():
    model, step = _mlp_step()
    x, y = _batches(1)[0]
    step(x, y)  # warm-up: momentum buffers exist
    before = _params(model)
    g = gg.cuda.CUDAGraph(DEV)
    with gg.cuda.graph(g):
        step(x, y)
    for got, want in zip(_params(model), before):  # a capture records, it does not run
        np.testing.assert_array_equal(got, want)
    g.replay()
    assert any(not np.array_equal(a, b) for a, b in zip(_params(model), before))
    assert g.num_nodes > 10


def test_replay_costs_one_launch_and_the_same_device_work():
    model, step = _mlp_step()
    x, y = _batches(1)[0]
    for _ in range(3):
        step(x, y)
    g = gg.cuda.CUDAGraph(DEV)
    with gg.cuda.graph(g):
        step(x, y)

    def cost(run):
        gg.sim.synchronize(DEV)
        before = gg.sim.stats(DEV)
        run()
        after = gg.sim.stats(DEV)
        return (after.host_us - before.host_us, after.device_us - before.device_us,
                after.kernels - before.kernels)

    eager_host, eager_busy, eager_kernels = cost(lambda: step(x, y))
    graph_host, graph_busy, graph_kernels = cost(g.replay)
    assert graph_kernels == eager_kernels == g.num_nodes
    assert graph_busy == pytest.approx(eager_busy, rel=1e-9)
    assert graph_host == pytest.approx(sim_graphs.GRAPH_LAUNCH_US
                                       + sim_graphs.GRAPH_NODE_US * g.num_nodes)
    assert graph_host < eager_host / 50  # the host no longer pays per kernel


def test_trace_shows_the_graph_launch_and_its_kernels(tmp_path):
    model, step = _mlp_step()
    x, y = _batches(1)[0]
    step(x, y)
    g = gg.cuda.CUDAGraph(DEV)
    with gg.cuda.graph(g):
        step(x, y)
    with gg.profiler.profile() as prof:
        g.replay()
    with open(prof.export_chrome_trace(str(tmp_path / "trace.json"))) as f:
        events = [e for e in json.load(f)["traceEvents"] if e["ph"] == "X"]
    launches = [e for e in events if e["name"] == "graph launch"]
    assert len(launches) == 1 and launches[0]["args"]["kernels"] == g.num_nodes
    kernels = [e for e in events if e["cat"] == "stream"]
    assert len(kernels) == g.num_nodes
    assert all(e["args"]["graph"] == launches[0]["args"]["graph"] for e in kernels)
    starts = [e["ts"] for e in kernels]  # back to back on the stream, after the launch
    assert starts == sorted(starts) and starts[0] >= launches[0]["ts"] + launches[0]["dur"]


def test_capture_memory_stays_reserved_until_reset():
    model, step = _mlp_step()
    x, y = _batches(1)[0]
    step(x, y)
    before = gg.sim.memory_allocated(DEV)
    g = gg.cuda.CUDAGraph(DEV)
    with gg.cuda.graph(g):
        step(x, y)
    held = gg.sim.memory_allocated(DEV)
    assert held > before  # the step's temporaries are the graph's memory
    g.reset()
    import gc

    gc.collect()
    assert gg.sim.memory_allocated(DEV) < held
    with pytest.raises(GraphCaptureError, match="holds no capture"):
        g.replay()


@pytest.mark.parametrize("read_back, match", [
    (lambda loss: loss.item(), "reading a value back"),
    (lambda loss: loss.tolist(), "reading a value back"),
    (lambda loss: loss.cpu(), "reading a value back"),
    (lambda loss: loss.detach().numpy(), "reading a value back"),
    (lambda loss: gg.sim.synchronize(DEV), "waiting for the device"),
    (lambda loss: bool(loss > 0), "reading a value back"),
])
def test_host_syncs_during_capture_raise(read_back, match):
    model, step = _mlp_step()
    x, y = _batches(1)[0]
    step(x, y)
    g = gg.cuda.CUDAGraph(DEV)
    with pytest.raises(GraphCaptureError, match=f"operation not permitted when stream is "
                                                f"capturing: {match}"):
        with gg.cuda.graph(g):
            read_back(step(x, y))
    assert not gg.cuda.graphs.is_current_stream_capturing(DEV)
    step(x, y).item()  # the device works eagerly again


def test_host_randomness_host_copies_and_adam_raise():
    x, y = _batches(1)[0]
    cases = [(lambda: gg.randn(4, device=DEV), "random numbers from a host-side seed"),
             (lambda: gg.tensor(np.ones(3, np.float32), device=DEV), "copying host data"),
             (lambda: gg.ones(3).to(DEV), "copying a tensor from another device|copying host")]
    for make, match in cases:
        with pytest.raises(GraphCaptureError, match=match):
            with gg.cuda.graph(gg.cuda.CUDAGraph(DEV)):
                make()
    model, step = _mlp_step(optimizer="adam")
    step(x, y)
    with pytest.raises(GraphCaptureError, match="fused Adam step"):
        gg.cuda.graphs.make_graphed_step(step, (x, y), warmup_iters=0)


def test_replay_with_other_shapes_dtypes_or_devices_raises():
    model, step = _mlp_step()
    x, y = _batches(1)[0]
    graphed = gg.cuda.graphs.make_graphed_step(step, (x, y), warmup_iters=1)
    with pytest.raises(ValueError, match="captured for shape"):
        graphed(x[:32], y[:32])
    with pytest.raises(ValueError, match="captured for shape .* dtype"):
        graphed(x.double(), y)
    with pytest.raises(ValueError, match="move it with .to"):
        graphed(x.cpu(), y)
    with pytest.raises(TypeError, match="takes 2 inputs"):
        graphed(x)


def test_graph_misuse_raises():
    g = gg.cuda.CUDAGraph(DEV)
    with pytest.raises(GraphCaptureError, match="holds no capture"):
        g.replay()
    with pytest.raises(GraphCaptureError, match="without capture_begin"):
        g.capture_end()
    g.capture_begin()
    try:
        with pytest.raises(GraphCaptureError, match="during capture"):
            g.replay()
        with pytest.raises(GraphCaptureError, match="already capturing"):
            g.capture_begin()
        assert gg.cuda.graphs.is_current_stream_capturing(DEV)
        out = gg.ones(3, device=DEV) * 2
    finally:
        g.capture_end()
    g.replay()
    assert out.tolist() == [2.0, 2.0, 2.0]
    shared = gg.cuda.CUDAGraph(DEV)
    with gg.cuda.graph(shared, pool=g.pool()):  # PyTorch's pool sharing is accepted
        twice = out * 2
    shared.replay()
    assert twice.tolist() == [4.0, 4.0, 4.0] and shared.pool() == g.pool()
    with pytest.raises(GraphCaptureError, match="call reset"):
        g.capture_begin()


def test_cpu_has_no_graphs():
    with pytest.raises(GraphCaptureError, match="CUDA graphs need a cuda or sim device"):
        gg.cuda.CUDAGraph("cpu").capture_begin()
    model, step = _mlp_step(device="cpu")
    x, y = _batches(1, device="cpu")[0]
    with pytest.raises(GraphCaptureError, match="CUDA graphs need a cuda or sim device"):
        gg.cuda.graphs.make_graphed_step(step, (x, y))


def test_bench_models_the_graphed_small_step(tmp_path, capsys):
    """bench/graphs.py's simulator mode: the graphed step is device-bound, under the target."""
    import os
    import sys

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))))
    sys.path.insert(0, os.path.join(root, "bench"))
    import graphs as bench_graphs

    path = tmp_path / "graphs.json"
    bench_graphs.main(["--device", "sim", "--profile", "h200", "--json", str(path)])
    assert "meets the 0.3x target" in capsys.readouterr().out
    result = json.loads(path.read_text())
    eager, graphed = (result["modeled_ms"][k] for k in ("gpugrad eager", "gpugrad graphed"))
    device = result["modeled_device_ms"]
    assert device["gpugrad graphed"] == pytest.approx(device["gpugrad eager"])
    assert graphed < 0.3 * eager
    assert graphed == pytest.approx(device["gpugrad graphed"], rel=0.2)  # the GPU is the bound
