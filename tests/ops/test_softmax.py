"""softmax and log_softmax: values, gradients, and stability for logits of +-1e4."""
import numpy as np
import pytest

import gpugrad as gg
from gradtools import OpCase, assert_close, op_tests

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
]


test_gradcheck, test_matches_torch = op_tests(CASES)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("method", ["softmax", "log_softmax"])
def test_stable_for_huge_logits(method, dtype, device, torch):
    logits = [[1e4, -1e4, 0.0, 1e4 - 1.0], [-1e4, -1e4 + 2.0, -1e4, -1e4]]
    x = gg.tensor(logits, dtype=getattr(gg, dtype), device=device, requires_grad=True)
    out = getattr(x, method)(dim=1)
    assert np.isfinite(out.numpy()).all()
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
