"""gg.autocast: the dtype each op runs in (against torch.autocast on cpu, and PyTorch's CUDA
lists on sim), gradients into float32 master weights, the cast cache, nesting, the decorator,
thread-locality and bad arguments."""
import threading

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn.functional as F

X = np.random.default_rng(0).standard_normal((4, 8)).astype(np.float32)
W = np.random.default_rng(1).standard_normal((3, 8)).astype(np.float32)
T = np.array([0, 2, 1, 2])
P = np.random.default_rng(2).uniform(0.1, 0.9, (4, 3)).astype(np.float32)


def _ops(lib, fn, x, w, t, p, xl):
    """(name, thunk) for each op compared; ``xl`` is ``x`` already in the low precision."""
    return [
        ("matmul", lambda: x @ x.T),
        ("mm", lambda: lib.mm(x, x.T)),
        ("linear", lambda: fn.linear(x, w)),
        ("linear+bias", lambda: fn.linear(x, w, w[:, 0])),
        ("bmm", lambda: lib.bmm(x.unsqueeze(0), x.T.unsqueeze(0))),
        ("einsum", lambda: lib.einsum("ij,kj->ik", x, x)),
        ("softmax", lambda: xl.softmax(1)),
        ("log_softmax", lambda: xl.log_softmax(1)),
        ("exp", lambda: xl.exp()),
        ("log", lambda: xl.abs().log()),
        ("sum", lambda: xl.sum()),
        ("mean", lambda: xl.mean()),
        ("prod", lambda: xl.prod()),
        ("cumsum", lambda: xl.cumsum(0)),
        ("pow", lambda: xl.pow(2)),
        ("norm", lambda: xl.norm()),
        ("rsqrt", lambda: xl.abs().rsqrt()),
        ("relu", lambda: xl.relu()),
        ("add mixed", lambda: xl + x),
        ("cross_entropy", lambda: fn.cross_entropy(fn.linear(x, w), t)),
        ("mse_loss", lambda: fn.mse_loss(xl, x)),
        ("bce_with_logits", lambda: fn.binary_cross_entropy_with_logits(xl, xl.sigmoid())),
        ("binary_cross_entropy", lambda: fn.binary_cross_entropy(p, p)),
        ("softplus", lambda: fn.softplus(xl)),
        ("cat", lambda: lib.cat([xl, x])),
        ("float64 matmul", lambda: x.double() @ x.double().T),
    ]


@pytest.mark.parametrize("low", ["bfloat16", "float16"])
def test_cpu_autocast_dtypes_match_torch_op_by_op(low):
    torch = pytest.importorskip("torch")
    tx, tw, tt, tp = (torch.from_numpy(a) for a in (X, W, T, P))
    gx, gw, gt, gp = gg.tensor(X), gg.tensor(W), gg.tensor(T), gg.tensor(P)
    gl, tl = gx.to(getattr(gg, low)), tx.to(getattr(torch, low))
    ours = _ops(gg, F, gx, gw, gt, gp, gl)
    theirs = dict(_ops(torch, torch.nn.functional, tx, tw, tt, tp, tl))
    mismatches = []
    with gg.autocast("cpu", dtype=getattr(gg, low)), \
            torch.autocast("cpu", dtype=getattr(torch, low)):
        for name, op in ours:
            mine, expected = op().dtype.name, str(theirs[name]().dtype).replace("torch.", "")
            if mine != expected:
                mismatches.append((name, mine, expected))
    assert not mismatches


# PyTorch's CUDA lists: matmuls in the low precision; softmax, exp, log, sum, cumsum, pow,
# norm, rsqrt, softplus and the losses in float32; others keep their input dtype
GPU_EXPECTED = {
    "matmul": "float16", "mm": "float16", "linear": "float16", "linear+bias": "float16",
    "bmm": "float16", "einsum": "float16", "softmax": "float32", "log_softmax": "float32",
    "exp": "float32", "log": "float32", "sum": "float32", "mean": "float16", "prod": "float32",
    "cumsum": "float32", "pow": "float32", "norm": "float32", "rsqrt": "float32",
    "relu": "float16", "add mixed": "float32", "cross_entropy": "float32",
    "mse_loss": "float32", "bce_with_logits": "float32", "softplus": "float32",
    "cat": "float32", "float64 matmul": "float64",
}


@pytest.mark.parametrize("device_type", ["cuda", "sim"])
def test_gpu_autocast_follows_pytorchs_cuda_lists_on_sim(device_type):
    gx, gw, gt, gp = (gg.tensor(a, device="sim") for a in (X, W, T, P))
    with gg.autocast(device_type):
        assert gg.is_autocast_enabled("sim") and gg.get_autocast_dtype("sim") is gg.float16
        for name, op in _ops(gg, F, gx, gw, gt, gp, gx.half()):
            if name == "binary_cross_entropy":  # unsafe to autocast, as PyTorch says
                with pytest.raises(RuntimeError, match="unsafe to autocast"):
                    op()
                continue
            assert op().dtype.name == GPU_EXPECTED[name], name
        cpu = gg.tensor(X)
        assert (cpu @ cpu.T).dtype is gg.float32  # autocast("cuda") leaves cpu tensors alone


def test_gradients_reach_float32_master_weights_in_float32():
    torch = pytest.importorskip("torch")
    model = gg.nn.Sequential(gg.nn.Linear(8, 16, activation="relu"), gg.nn.Linear(16, 3))
    ref = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    with torch.no_grad():
        for mine, theirs in zip(model.parameters(), ref.parameters()):
            theirs.copy_(torch.from_numpy(mine.detach().numpy()))
    with gg.autocast("cpu"):
        loss = F.cross_entropy(model(gg.tensor(X)), gg.tensor(T))
    with torch.autocast("cpu"):
        tloss = torch.nn.functional.cross_entropy(ref(torch.from_numpy(X)), torch.from_numpy(T))
    loss.backward()
    tloss.backward()
    assert loss.dtype is gg.float32
    for mine, theirs in zip(model.parameters(), ref.parameters()):
        assert mine.dtype is gg.float32 and mine.grad.dtype is gg.float32
        np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), rtol=0.05, atol=2e-3)


def test_a_weights_cast_is_cached_within_the_region_and_dropped_after():
    w = gg.nn.Parameter(gg.randn(3, 8))
    x = gg.randn(4, 8)
    with gg.autocast("cpu"):
        a, b = F.linear(x, w), F.linear(x, w)
        # one cast node shared by both uses (the weight is cast once)
        assert a.grad_fn.next_functions[1][0] is b.grad_fn.next_functions[1][0]
        with gg.no_grad():
            w.mul_(2)  # an in-place write makes a stale cast: it is cast again
        c = F.linear(x, w)
        assert c.grad_fn.next_functions[1][0] is not a.grad_fn.next_functions[1][0]
    with gg.autocast("cpu", cache_enabled=False):
        d, e = F.linear(x, w), F.linear(x, w)
        assert d.grad_fn.next_functions[1][0] is not e.grad_fn.next_functions[1][0]
    with gg.autocast("cpu"):
        f = F.linear(x, w)
    assert f.grad_fn.next_functions[1][0] is not c.grad_fn.next_functions[1][0]
    (a.float().sum() + b.float().sum()).backward()
    np.testing.assert_allclose(w.grad.numpy(), 2 * x.sum(0, keepdim=True).expand(3, 8).numpy(),
                               rtol=0.02, atol=0.05)


def test_nesting_enabled_false_and_explicit_dtype():
    x = gg.randn(4, 4)
    assert not gg.is_autocast_enabled("cpu")
    with gg.autocast("cpu"):
        assert (x @ x).dtype is gg.bfloat16
        with gg.autocast("cpu", enabled=False):
            assert not gg.is_autocast_enabled("cpu")
            assert (x @ x).dtype is gg.float32
        with gg.autocast("cpu", dtype=gg.float16):
            assert gg.get_autocast_dtype("cpu") is gg.float16 and (x @ x).dtype is gg.float16
        assert gg.get_autocast_dtype("cpu") is gg.bfloat16 and (x @ x).dtype is gg.bfloat16
        assert x.half().prod(dtype=gg.float64).dtype is gg.float64  # explicit dtype wins
    assert not gg.is_autocast_enabled("cpu") and (x @ x).dtype is gg.float32


def test_decorator_and_thread_locality():
    x = gg.randn(4, 4)

    @gg.autocast("cpu")
    def product():
        return x @ x

    assert product().dtype is gg.bfloat16 and not gg.is_autocast_enabled("cpu")
    seen = {}
    inside = threading.Event()
    done = threading.Event()

    def other_thread():
        inside.wait(timeout=10)
        seen["enabled"] = gg.is_autocast_enabled("cpu")
        seen["dtype"] = (x @ x).dtype
        done.set()

    thread = threading.Thread(target=other_thread)
    thread.start()
    with gg.autocast("cpu"):
        inside.set()
        assert done.wait(timeout=10)
    thread.join(timeout=10)
    assert seen == {"enabled": False, "dtype": gg.float32}


def test_aliases_and_bad_arguments():
    assert gg.amp.autocast is gg.autocast
    assert gg.is_autocast_cache_enabled()
    with pytest.raises(ValueError, match="`device_type` of type `str`"):
        gg.autocast(3)
    with pytest.raises(RuntimeError, match="unsupported autocast device_type 'tpu'"):
        gg.autocast("tpu")
    with pytest.raises(RuntimeError, match="unsupported autocast device_type"):
        gg.get_autocast_dtype("tpu")
    with pytest.warns(UserWarning, match="target dtype is not supported"):
        region = gg.autocast("cpu", dtype=gg.float32)
    with region:
        assert not gg.is_autocast_enabled("cpu")


@pytest.mark.parametrize("create_graph", [False, True])
def test_backward_inside_a_region_runs_each_op_in_its_forwards_dtypes(create_graph):
    """A float32 graph's backward called inside a region is not cast (its matmuls would
    otherwise run in bfloat16 and give rounded float32 gradients)."""
    def grads(region):
        gg.manual_seed(0)
        a = gg.randn(16, 32, requires_grad=True)
        b = gg.randn(32, 8, requires_grad=True)
        loss = (a @ b).tanh().sum()
        with gg.autocast("cpu", enabled=region):
            loss.backward(create_graph=create_graph)
        return [t.grad.detach().numpy() for t in (a, b)]

    for inside, outside in zip(grads(True), grads(False)):
        assert inside.dtype == np.float32
        np.testing.assert_array_equal(inside, outside)
