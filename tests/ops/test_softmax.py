"""softmax, log_softmax and logsumexp: values, gradients, stability for logits of +-1e4, and
PyTorch's values and gradients for infinite and NaN entries."""
import math

import numpy as np
import pytest

import gpugrad as gg
from support.gradtools import OpCase, assert_close, op_tests

R = np.random.default_rng(5)
X = R.standard_normal((3, 4))
CASES = [
    OpCase("softmax_last", lambda a: a.softmax(-1), lambda a: a.softmax(-1), [X]),
    OpCase("softmax_dim0", lambda a: a.softmax(dim=0), lambda a: a.softmax(dim=0), [X]),
    OpCase("softmax_3d", lambda a: a.softmax(1), lambda a: a.softmax(1),
           [R.standard_normal((2, 3, 2))]),
    OpCase("log_softmax_last", lambda a: a.log_softmax(-1), lambda a: a.log_softmax(-1), [X]),
    OpCase("log_softmax_dim0", lambda a: a.log_softmax(0), lambda a: a.log_softmax(0), [X]),
    OpCase("log_softmax_3d", lambda a: a.log_softmax(2), lambda a: a.log_softmax(2),
           [R.standard_normal((2, 2, 3))]),
    OpCase("logsumexp_last", lambda a: a.logsumexp(-1), lambda a: a.logsumexp(-1), [X]),
    OpCase("logsumexp_keepdim", lambda a: a.logsumexp(0, keepdim=True),
           lambda a: a.logsumexp(0, keepdim=True), [X]),
    OpCase("logsumexp_tuple", lambda a: a.logsumexp((0, 2)), lambda a: a.logsumexp((0, 2)),
           [R.standard_normal((2, 3, 2))]),
    OpCase("logsumexp_huge", lambda a: a.logsumexp(1), lambda a: a.logsumexp(1),
           [X * 1e4]),
]


test_gradcheck, test_matches_torch = op_tests(CASES)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("method", ["softmax", "log_softmax"])
def test_stable_for_huge_logits(method, dtype, device, torch):
    logits = [[1e4, -1e4, 0.0, 1e4 - 1.0], [-1e4, -1e4 + 2.0, -1e4, -1e4]]
    x = gg.tensor(logits, dtype=getattr(gg, dtype), device=device, requires_grad=True)
    out = getattr(x, method)(dim=1)
    assert np.isfinite(out.detach().numpy()).all()
    t = torch.tensor(logits, dtype=getattr(torch, dtype), requires_grad=True)
    expected = getattr(t, method)(dim=1)
    assert_close(out, expected, atol=1e-5, rtol=1e-5)
    weights = [[1.0, 2.0, 3.0, 4.0], [-1.0, 0.5, 0.0, 2.0]]
    (out * gg.tensor(weights, dtype=x.dtype, device=device)).sum().backward()
    (expected * torch.tensor(weights, dtype=t.dtype)).sum().backward()
    assert np.isfinite(x.grad.numpy()).all()
    assert_close(x.grad, t.grad, atol=1e-5, rtol=1e-5)


def test_softmax_rows_sum_to_one(device):
    out = gg.tensor(X, device=device).softmax(dim=1)
    assert_close(out.sum(dim=1), np.ones(3), atol=1e-6)


def test_softmax_dim_out_of_range(device):
    with pytest.raises(IndexError, match="softmax"):
        gg.ones(2, 3, device=device).softmax(dim=2)


def test_softmax_of_a_zero_dim_tensor(device, torch):
    x = gg.tensor(2.0, device=device, requires_grad=True)
    assert x.softmax(0).item() == torch.tensor(2.0).softmax(0).item() == 1.0
    assert x.log_softmax(-1).item() == 0.0
    x.softmax(0).backward()
    assert x.grad.item() == 0.0


INF, NAN = math.inf, math.nan
ROWS_WITH_INFINITIES = [[-INF, -INF, -INF], [INF, 1.0, 0.0], [INF, INF, 2.0], [-INF, 1.0, 2.0],
                        [NAN, 1.0, 2.0], [-INF, 1e4, -1e4], [0.0, 0.0, 0.0]]


def _matches(torch, device, fn, values, upstream, dtype="float64", rtol=1e-7, atol=1e-12):
    x = gg.tensor(values, dtype=getattr(gg, dtype), device=device, requires_grad=True)
    t = torch.tensor(values, dtype=getattr(torch, dtype), requires_grad=True)
    out, expected = fn(x), fn(t)
    np.testing.assert_allclose(out.detach().cpu().numpy(), expected.detach().numpy(), rtol=rtol,
                               atol=atol, equal_nan=True, err_msg="values")
    seed = np.broadcast_to(np.asarray(upstream, dtype=np.float64), tuple(expected.shape))
    out.backward(gg.tensor(seed, dtype=x.dtype, device=device))
    expected.backward(torch.tensor(seed, dtype=t.dtype))
    np.testing.assert_allclose(x.grad.cpu().numpy(), t.grad.numpy(), rtol=rtol, atol=atol,
                               equal_nan=True, err_msg="gradient")


INFINITE_CASES = {
    # shifted only where the max is finite: all -inf gives -inf, a +inf entry inf
    "logsumexp": lambda a: a.logsumexp(1),
    "logsumexp_keepdim": lambda a: a.logsumexp(-1, keepdim=True),
    # shifted by the max: NaN for a slice whose max is infinite, as in PyTorch
    "softmax": lambda a: a.softmax(1),
    "log_softmax": lambda a: a.log_softmax(1),
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", INFINITE_CASES)
def test_infinite_entries_match_torch(device, torch, name, dtype):
    upstream = [1.0, 2.0, -1.0] if name in ("softmax", "log_softmax") else 1.0
    rtol, atol = (1e-7, 1e-12) if dtype == "float64" else (1e-5, 1e-6)
    _matches(torch, device, INFINITE_CASES[name], ROWS_WITH_INFINITIES, upstream, dtype, rtol,
             atol)


def test_logsumexp_of_infinities_is_infinite(device):
    x = gg.tensor([[-INF, -INF], [INF, 1.0], [-INF, 0.0]], device=device)
    assert x.logsumexp(1).tolist() == [-INF, INF, 0.0]


def test_logsumexp_edge_shapes_like_torch(device, torch):
    assert gg.tensor(2.0, device=device).logsumexp(0).item() == 2.0
    assert gg.zeros(2, 0, device=device).logsumexp(1).tolist() == [-INF, -INF]
    ints = gg.tensor([1, 2], device=device).logsumexp(0)
    assert ints.dtype == gg.float32
    np.testing.assert_allclose(ints.item(), torch.tensor([1, 2]).logsumexp(0).item(), rtol=1e-6)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_low_precision_computes_in_float32_and_rounds_once(device, torch, name, dtype):
    """As PyTorch's kernels accumulate: float32 inside, one rounding; on the simulated GPU the
    two casts are kernels of their own."""
    values = [[1.5, -2.0, 0.5, 0.0], [3.0, 3.0, -1.0, 2.5], [0.25, -0.0, 7.0, -3.5]]
    x = gg.tensor(values, dtype=getattr(gg, dtype), device=device)
    ours = getattr(x, name)(0)
    theirs = getattr(torch.tensor(values, dtype=getattr(torch, dtype)), name)(0)
    assert ours.dtype is getattr(gg, dtype)
    ulp = 2.0 ** -10 if dtype == "float16" else 2.0 ** -7  # (PyTorch's kernels differ by 1)
    np.testing.assert_allclose(ours.float().tolist(), theirs.float().tolist(), rtol=ulp)
    # correctly rounded: the float32 result, rounded once (per-step rounding is 3 units off)
    assert ours.tolist() == getattr(x.float(), name)(0).to(x.dtype).tolist()
    if device == "sim":
        gg.sim.reset("sim:0")
        getattr(x, name)(0)
        by_op, _ = gg.device_registry.get_backend("sim:0").kernel_totals()
        assert by_op["cast"][0] == 2
