"""Whole-step CUDA graphs on the cuda backend (gpugrad/backends/cuda/graphs_capture.py),
against the fake CuPy with stream capture (tests/support/fake_cupy_graphs.py: work recorded,
not run, during capture, replayed by Graph.launch; CUDA's refusals during capture) and the
kernels compiled for the CPU. The same behaviour on the sim: tests/backends/sim/
test_sim_graphs.py."""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad.backends.cuda.graphs import GraphCaptureError
from support import fake_cupy, fake_cupy_graphs

pytestmark = pytest.mark.skipif(fake_cupy.kernels_unavailable_reason() is not None,
                                reason=str(fake_cupy.kernels_unavailable_reason()))


@pytest.fixture
def fake(monkeypatch):
    fake, backend = fake_cupy_graphs.install(monkeypatch)
    return fake


def _mlp_step(device="cuda", seed=0):
    gg.manual_seed(seed)
    model = gg.nn.Sequential(gg.nn.Linear(64, 128), gg.nn.ReLU(), gg.nn.Linear(128, 128),
                             gg.nn.ReLU(), gg.nn.Linear(128, 10)).to(device)
    opt = gg.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

    def step(x, y):
        opt.zero_grad(set_to_none=False)
        loss = gg.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return model, step


def _batches(n, device="cuda"):
    rng = np.random.default_rng(2)
    return [(gg.tensor(rng.standard_normal((64, 64)).astype(np.float32), device=device),
             gg.tensor(rng.integers(0, 10, 64), device=device)) for _ in range(n)]


def _params(model):
    return [p.detach().numpy() for p in model.parameters()]


def test_graphed_training_step_equals_eager(fake):
    batches = _batches(4)
    eager_model, eager_step = _mlp_step()
    for _ in range(2):
        eager_step(*batches[0])
    eager = [eager_step(x, y).item() for x, y in batches]

    model, step = _mlp_step()
    graphed = gg.cuda.graphs.make_graphed_step(step, batches[0], warmup_iters=2)
    got = [graphed(x, y).item() for x, y in batches]
    assert got == eager
    for a, b in zip(_params(model), _params(eager_model)):
        np.testing.assert_array_equal(a, b)


def test_capture_records_and_replay_runs(fake):
    model, step = _mlp_step()
    x, y = _batches(1)[0]
    step(x, y)
    before = _params(model)
    g = gg.cuda.CUDAGraph()
    with gg.cuda.graph(g):
        loss = step(x, y)
        assert gg.cuda.graphs.is_current_stream_capturing()
    assert not gg.cuda.graphs.is_current_stream_capturing()
    for a, b in zip(_params(model), before):  # CUDA runs nothing while capturing
        np.testing.assert_array_equal(a, b)
    assert np.isnan(loss.detach().numpy())  # the loss is not computed until a replay
    g.replay()
    assert np.isfinite(loss.item())
    assert any(not np.array_equal(a, b) for a, b in zip(_params(model), before))
    assert isinstance(g.pool(), gg.cuda.graphs_capture.GraphPool)


def test_capture_runs_on_a_side_stream_and_keeps_its_memory(fake):
    default = fake.current_stream()
    seen = {}
    g = gg.cuda.CUDAGraph()
    x = gg.ones(8, device="cuda")
    with gg.cuda.graph(g):
        seen["stream"] = fake.current_stream()
        y = x * 2
    assert seen["stream"] is not default and fake.current_stream() is default
    g.replay()
    assert y.tolist() == [2.0] * 8
    x.copy_(gg.full((8,), 3.0, device="cuda"))  # a new input in the static buffer
    g.replay()
    assert y.tolist() == [6.0] * 8


@pytest.mark.parametrize("inside, match", [
    (lambda t: t.sum().item(), "reading a value back"),
    (lambda t: t.cpu(), "reading a value back"),
    (lambda t: gg.cuda.synchronize(), "waiting for the device"),
    (lambda t: gg.randn(3, device="cuda"), "host-side seed"),
    (lambda t: gg.tensor(np.ones(3, np.float32), device="cuda"), "operation not permitted"),
])
def test_forbidden_work_during_capture_raises(fake, inside, match):
    t = gg.ones(3, device="cuda")
    with pytest.raises((GraphCaptureError, RuntimeError), match=match):
        with gg.cuda.graph(gg.cuda.CUDAGraph()):
            inside(t * 2)
    assert not gg.cuda.graphs.is_current_stream_capturing()
    assert (t * 2).tolist() == [2.0, 2.0, 2.0]  # eager work runs again


def test_adam_and_shape_changes_raise(fake):
    gg.manual_seed(0)
    model = gg.nn.Linear(4, 2).to("cuda")
    opt = gg.optim.Adam(model.parameters())
    x = gg.ones(3, 4, device="cuda")

    def step(x):
        opt.zero_grad()
        model(x).sum().backward()
        opt.step()
        return x

    with pytest.raises(GraphCaptureError, match="fused Adam step"):
        gg.cuda.graphs.make_graphed_step(step, (x,), warmup_iters=1)
    model, step = _mlp_step()
    xb, yb = _batches(1)[0]
    graphed = gg.cuda.graphs.make_graphed_step(step, (xb, yb), warmup_iters=1)
    with pytest.raises(ValueError, match="captured for shape"):
        graphed(xb[:8], yb[:8])


def test_fake_refuses_what_cuda_refuses_during_capture(fake):
    a = fake.asarray(np.ones(4, np.float32))
    stream = fake.cuda.Stream(non_blocking=True)
    with stream:
        stream.begin_capture(mode=fake.cuda.runtime.streamCaptureModeRelaxed)
        b = a * 2
        assert np.isnan(b.view(np.ndarray)).all()  # recorded, not run
        for refused in (a.get, fake.cuda.Device(0).synchronize,
                        lambda: fake.asarray(np.ones(2))):
            with pytest.raises(RuntimeError, match="operation not permitted when stream is "
                                                   "capturing"):
                refused()
        graph = stream.end_capture()
    a[...] = 5
    graph.launch()
    np.testing.assert_array_equal(b.get(), np.full(4, 10, np.float32))
