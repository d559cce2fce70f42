"""The sim backend implements the whole contract: cpu's values, one modeled kernel per GPU kernel,
views that launch nothing, modeled transfers, and independent devices."""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad.device_registry import get_backend
from gpugrad.backends.sim.memory import SimArray

DEV = "sim:2"  # a device of its own, so counts are not disturbed by other tests


@pytest.fixture
def sim():
    gg.sim.configure(DEV)
    return get_backend(DEV)


@pytest.fixture
def cpu():
    return get_backend("cpu")


def kernels(device=DEV):
    return gg.sim.stats(device).kernels


def up(backend, array):
    return backend.from_host(np.asarray(array))


A = np.linspace(-2, 2, 12, dtype=np.float32).reshape(3, 4)
B = np.linspace(0.5, 3, 4, dtype=np.float32)
POS = np.abs(A) + 0.1
IDX = np.array([2, 0, 2], dtype=np.int64)
MASK = A > 0

# (name, function of (backend, put) -> backend array(s), modeled kernels it launches)
CASES = [
    *[(f"unary:{op}", (lambda op: lambda b, p: b.unary(op, p(POS)))(op), 1)
      for op in ("neg", "exp", "log", "sqrt", "abs", "tanh", "relu", "sigmoid", "sign")],
    *[(f"binary:{op}", (lambda op: lambda b, p: b.binary(op, p(POS), p(B)))(op), 1)
      for op in ("add", "sub", "mul", "div", "pow", "maximum", "minimum", "eq", "ne", "lt",
                 "le", "gt", "ge")],
    ("binary:logical_and", lambda b, p: b.binary("logical_and", p(MASK), p(~MASK)), 1),
    ("binary number first", lambda b, p: b.binary("sub", 2.0, p(A)), 1),
    ("binary number second", lambda b, p: b.binary("mul", p(A), 3), 1),
    ("where", lambda b, p: b.where(p(MASK), p(A), 0.0), 1),
    ("cast", lambda b, p: b.cast(p(A), gg.float64), 1),
    *[(f"reduce:{op}", (lambda op: lambda b, p: b.reduce(op, p(A), 1, False))(op), 1)
      for op in ("sum", "max", "min", "argmax", "argmin")],
    ("reduce all keepdims", lambda b, p: b.reduce("sum", p(A), None, True), 1),
    ("matmul", lambda b, p: b.matmul(p(A), p(A.T.copy())), 1),
    ("batched matmul", lambda b, p: b.matmul(p(np.stack([A, A])), p(B)), 1),
    ("full", lambda b, p: b.full((2, 3), 7.5, gg.float32), 1),
    ("arange", lambda b, p: b.arange(0, 10, 3, gg.int64), 1),
    ("random", lambda b, p: b.random("normal", (3, 2), gg.float32, 1234), 1),
    ("randint", lambda b, p: b.randint(0, 5, (7,), 99), 1),
    ("contiguous", lambda b, p: b.contiguous(b.permute(p(A), (1, 0))), 1),
    ("concatenate", lambda b, p: b.concatenate([p(A), p(A)], 0), 1),
    ("reshape of a strided view", lambda b, p: b.reshape(b.permute(p(A), (1, 0)), (12,)), 1),
    ("advanced getitem", lambda b, p: b.getitem(p(A), (p(IDX), slice(1, 3))), 1),
    ("bool mask getitem", lambda b, p: b.getitem(p(A), (p(MASK),)), 1),
    ("index_add", lambda b, p: b.index_add((3, 4), (p(IDX),), p(np.ones((3, 4), np.float32)),
                                           gg.float32), 2),
    ("index_add basic", lambda b, p: b.index_add((3, 4), (slice(1, 3),), p(A[:2]),
                                                 gg.float32), 2),
    ("bias_act relu", lambda b, p: b.bias_act(p(A), p(B), "relu"), 1),
    ("bias_act_backward tanh", lambda b, p: b.bias_act_backward(p(A), p(np.tanh(A)), "tanh"), 1),
    ("softmax_cross_entropy", lambda b, p: b.softmax_cross_entropy(p(A), p(IDX)), 1),
    ("softmax_cross_entropy_backward",
     lambda b, p: b.softmax_cross_entropy_backward(p(A), p(IDX), p(np.ones(3, np.float32)),
                                                   p(np.full(3, 0.5, np.float32))), 1),
]


def _host(backend, out):
    if isinstance(out, tuple):
        return [backend.to_host(o) for o in out]
    return [backend.to_host(out)]


@pytest.mark.parametrize("name,fn,launches", CASES, ids=[c[0] for c in CASES])
def test_primitive_matches_cpu_and_is_modeled(sim, cpu, name, fn, launches):
    expected = _host(cpu, fn(cpu, lambda a: up(cpu, a)))
    before = kernels()
    out = fn(sim, lambda a: up(sim, a))  # uploads are transfers, not kernels
    launched = kernels() - before
    assert launched == launches, f"{name}: {launched} modeled kernels, expected {launches}"
    got = _host(sim, out)
    for g, e in zip(got, expected):
        assert g.dtype == e.dtype and g.shape == e.shape
        np.testing.assert_allclose(g, e, rtol=1e-6, atol=1e-6)
    for o in (out if isinstance(out, tuple) else (out,)):
        assert isinstance(o, SimArray) and (o.alloc is not None or o.nbytes == 0)
        assert o.alloc is None or o.alloc.size == -(-o.nbytes // 512) * 512
    assert sim.shape_misses == 0  # the memory reserved before computing was the right size


@pytest.mark.parametrize("view", [
    lambda b, x: b.reshape(x, (4, 3)),
    lambda b, x: b.permute(x, (1, 0)),
    lambda b, x: b.broadcast_to(b.reshape(x, (1, 3, 4)), (2, 3, 4)),
    lambda b, x: b.getitem(x, (slice(0, 2), None, Ellipsis)),
    lambda b, x: b.getitem(x, (1, 2)),
], ids=["reshape", "permute", "broadcast_to", "basic slice", "int index"])
def test_views_launch_nothing_and_share_memory(sim, view):
    x = up(sim, A)
    before, in_use = kernels(), gg.sim.stats(DEV).in_use_bytes
    v = view(sim, x)
    assert kernels() == before
    assert v.alloc is x.alloc
    assert gg.sim.stats(DEV).in_use_bytes == in_use


def test_optimizer_steps_match_cpu_in_one_kernel_each(sim, cpu):
    rng = np.random.default_rng(0)
    shapes = [(4, 3), (3,), (3, 2)]
    params = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    grads = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    results = {}
    for name, b in (("cpu", cpu), ("sim", sim)):
        ps, gs = [up(b, p) for p in params], [up(b, g) for g in grads]
        start = kernels()
        bufs = b.sgd_step(ps, gs, [None] * 3, 0.1, 0.9, 0.0, 0.01, True)
        bufs = b.sgd_step(ps, gs, bufs, 0.1, 0.9, 0.0, 0.01, True)
        ms, vs = [up(b, np.zeros(s, np.float32)) for s in shapes], \
            [up(b, np.zeros(s, np.float32)) for s in shapes]
        mid = kernels()
        b.adam_step(ps, gs, ms, vs, 1, 1e-3, 0.9, 0.999, 1e-8, 0.01, True)
        if b is sim:
            assert mid - start == 2 and kernels() - mid == 1
            assert all(isinstance(buf, SimArray) for buf in bufs)
        results[name] = [b.to_host(a) for a in ps + list(bufs) + ms + vs]
    for s, c in zip(results["sim"], results["cpu"]):
        np.testing.assert_allclose(s, c, rtol=1e-6, atol=1e-7)


def test_copy_in_place_is_one_kernel(sim):
    x = up(sim, A)
    before = kernels()
    sim.copy_(x, up(sim, B))
    assert kernels() == before + 1
    np.testing.assert_array_equal(sim.to_host(x), np.broadcast_to(B, A.shape))


def test_tensor_program_matches_cpu(device):
    if not device.startswith("sim"):
        pytest.skip("compares sim against cpu")
    gg.manual_seed(0)
    rng = np.random.default_rng(1)
    x_np = rng.standard_normal((16, 8)).astype(np.float32)
    w_np = rng.standard_normal((8, 5)).astype(np.float32)
    target = rng.integers(0, 5, 16)
    grads = {}
    for dev in ("cpu", device):
        x = gg.tensor(x_np, device=dev)
        w = gg.tensor(w_np, device=dev, requires_grad=True)
        h = (x @ w).tanh()
        logp = h.log_softmax(dim=1)
        loss = -logp[gg.arange(16, device=dev), gg.tensor(target, device=dev)].mean()
        loss = loss + (h * h).sum() * 0.01 + h.amax(dim=0).sum()
        loss.backward()
        grads[dev] = (loss.item(), w.grad.numpy())
    assert grads[device][0] == pytest.approx(grads["cpu"][0], rel=1e-6)
    np.testing.assert_allclose(grads[device][1], grads["cpu"][1], rtol=1e-5, atol=1e-6)


def test_transfers_are_counted(sim):
    stats0 = gg.sim.stats(DEV)
    x = gg.tensor(A).to(DEV)
    y = x.to("cpu")
    stats1 = gg.sim.stats(DEV)
    assert stats1.h2d_bytes - stats0.h2d_bytes == A.nbytes
    assert stats1.d2h_bytes - stats0.d2h_bytes == A.nbytes
    assert stats1.kernels == stats0.kernels
    np.testing.assert_array_equal(y.numpy(), A)


def test_peer_copy_between_sim_devices(sim):
    gg.sim.configure("sim:3")
    x = gg.tensor(A, device=DEV, requires_grad=True)
    y = x.to("sim:3")
    assert y.device == "sim:3"
    assert gg.sim.stats("sim:3").p2p_bytes == A.nbytes
    assert gg.sim.stats("sim:3").h2d_bytes == 0
    (y * 2).sum().backward()  # the gradient comes back as a peer copy too
    assert gg.sim.stats(DEV).p2p_bytes == A.nbytes
    np.testing.assert_array_equal(x.grad.numpy(), np.full_like(A, 2))


def test_devices_are_independent(sim):
    gg.sim.configure("sim:3", profile="l4", memory_bytes=1 << 20)
    before = gg.sim.stats(DEV)
    z = gg.zeros(100, device="sim:3") + 1
    after = gg.sim.stats(DEV)
    assert after == before
    assert gg.sim.stats("sim:3").kernels == 2 and gg.sim.stats("sim:3").profile == "l4"
    assert gg.sim.stats(DEV).profile == "h100"
    del z


def test_implicit_numpy_conversion_is_refused(sim):
    x = up(sim, A)
    with pytest.raises(TypeError, match="tensor.numpy"):
        np.asarray(x)


def test_debug_prints_one_line_per_kernel(sim, monkeypatch, capsys):
    monkeypatch.setenv("GPUGRAD_DEBUG", "2")
    gg.sim.configure(DEV)
    x = gg.ones(64, 32, device=DEV)
    y = (x @ x.T).relu()
    del y
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 3, lines
    assert "matmul" in lines[1] and "(64, 32) (32, 64) -> (64, 64)" in lines[1]
    assert all("µs" in ln and "GB/s" in ln and "GFLOP/s" in ln for ln in lines)
    monkeypatch.delenv("GPUGRAD_DEBUG")
    gg.sim.configure(DEV)
    (x + 1).sum()
    assert capsys.readouterr().err == ""


def test_profile_from_configure_and_environment(monkeypatch):
    monkeypatch.setenv("GPUGRAD_SIM_PROFILE", "a100")
    gg.sim.configure("sim:4")
    assert gg.sim.stats("sim:4").profile == "a100"
    gg.sim.configure("sim:4", profile="h200")
    assert gg.sim.stats("sim:4").profile == "h200"
    monkeypatch.setenv("GPUGRAD_SIM_PROFILE", "nope")
    with pytest.raises(ValueError, match="h100, h200, a100, l4"):
        gg.sim.configure("sim:4")
    monkeypatch.delenv("GPUGRAD_SIM_PROFILE")
    gg.sim.configure("sim:4")
    assert gg.sim.stats("sim:4").profile == "h100"
    assert set(gg.sim.profiles()) == {"h100", "h200", "a100", "l4"}
    with pytest.raises(ValueError, match="sim device"):
        gg.sim.stats("cpu")


def test_stats_are_plain_data_with_a_readable_summary(sim):
    import json

    x = gg.ones(8, 8, device=DEV)
    (x @ x).sum().item()
    stats = gg.sim.stats(DEV)
    data = json.loads(json.dumps(stats.as_dict()))
    assert data["kernels"] == stats.kernels == 3
    assert data["by_op"]["matmul"]["count"] == 1 and data["by_op"]["matmul"]["flops"] == 2 * 8 ** 3
    assert sum(stats.by_class.values()) == pytest.approx(stats.device_us)
    text = repr(stats)
    for word in ("kernels", "h2d", "d2h", "in use", "peak", "host", "device busy"):
        assert word in text
    assert "matmul" in stats.table() and "2 more ops" in stats.table(top=1)


def test_counts_survive_folding_of_many_kernel_signatures(sim, monkeypatch):
    from gpugrad.backends.sim import device_model as sim_backend

    xs = [gg.ones(n, device=DEV) for n in range(1, 12)]
    gg.sim.reset(DEV)
    for x in xs:
        x + 1
    expected = gg.sim.stats(DEV)
    monkeypatch.setattr(sim_backend, "ROW_LIMIT", 3)  # fold the rows every few signatures
    gg.sim.reset(DEV)
    for x in xs:
        x + 1
    folded = gg.sim.stats(DEV)
    assert folded.kernels == expected.kernels == 11
    assert folded.by_op["binary:add"]["flops"] == expected.by_op["binary:add"]["flops"]
    assert folded.device_us == pytest.approx(expected.device_us)
    assert sum(folded.by_class.values()) == pytest.approx(folded.device_us)
