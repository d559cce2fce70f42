"""``Tensor.norm``: PyTorch's vector norms (p = 'fro'/2, 1, inf, -inf, 0 and other floats) over all
dims, an int or a tuple; gradcheck/gradgradcheck at smooth points, values and gradients against
PyTorch there and at the boundaries (a zero norm, ties of the inf-norm, NaN, 1e300, size-1
dims), and PyTorch's errors."""
import math

import numpy as np
import pytest

import gpugrad as gg
from support.gradtools import OpCase, op_tests

INF, NAN = math.inf, math.nan
R = np.random.default_rng(3)
X = R.standard_normal((2, 3, 4))
X += np.sign(X) * 0.2  # away from 0, where |x| ** (p - 1) is not smooth for p < 2


def _case(name, *args, second_order=True, **kwargs):
    fn = lambda a: a.norm(*args, **kwargs)  # noqa: E731 (the same call on both libraries)
    return OpCase(name, fn, fn, [X], second_order=second_order)


CASES = [
    _case("default"),
    _case("fro_dim_pair", "fro", (0, 2)),
    _case("p2_dim", 2, 1),
    _case("p2_keepdim", 2, -1, True),
    _case("p1_all", 1, second_order=False),  # |x| is piecewise linear: no second derivative
    _case("p1_tuple", 1, (1, 2), second_order=False),
    _case("inf_dim", INF, 2, second_order=False),
    _case("neg_inf_tuple", -INF, (0, 1), second_order=False),
    _case("p3", 3),
    _case("p1_5_dim", 1.5, 0),
    _case("p0_5_keepdim", 0.5, 2, True),
    _case("p_neg1", -1, 1),
]

test_gradcheck, test_matches_torch = op_tests(CASES)


def _compare(torch, device, values, *args, dtype="float64", upstream=1.0, rtol=1e-7,
             atol=1e-12):
    """norm(*args) of ``values``: value and gradient as PyTorch's (NaN == NaN; no gradient
    equals zeros)."""
    x = gg.tensor(values, dtype=getattr(gg, dtype), device=device, requires_grad=True)
    t = torch.tensor(values, dtype=getattr(torch, dtype), requires_grad=True)
    out, expected = x.norm(*args), t.norm(*args)
    np.testing.assert_allclose(out.detach().cpu().numpy(), expected.detach().numpy(), rtol=rtol,
                               atol=atol, equal_nan=True)
    (out * upstream).sum().backward()
    (expected * upstream).sum().backward()
    got = np.zeros(x.shape) if x.grad is None else x.grad.cpu().numpy()
    want = np.zeros(x.shape) if t.grad is None else t.grad.numpy()
    assert (x.grad is None) == (t.grad is None)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, equal_nan=True)


P_VALUES = ["fro", 2, 1, INF, -INF, 0, 0.5, 1.5, 3, -1, -0.5]
BOUNDARIES = {
    "zero norm": [0.0, 0.0, -0.0],
    "zeros among values": [3.0, -3.0, 0.0, 1.0],
    "inf-norm ties": [[3.0, -3.0, 1.0], [2.0, 2.0, -2.0]],
    "NaN": [NAN, 1.0],
    "inf": [INF, 1.0, -2.0],
    "huge": [1e300, -1e300],
    "tiny": [1e-200, 1e-200],
    "one element": [1e300],
    "0-d": 1e300,
}


@pytest.mark.parametrize("p", P_VALUES, ids=str)
@pytest.mark.parametrize("case", BOUNDARIES)
def test_boundaries_match_torch(device, torch, case, p):
    _compare(torch, device, BOUNDARIES[case], p)


@pytest.mark.parametrize("p", ["fro", 1, INF, 0, 0.5, 3], ids=str)
@pytest.mark.parametrize("dim, keepdim", [(0, False), (1, True), ((0, 1), False), (-1, False)])
def test_dims_with_zero_rows_and_ties_match_torch(device, torch, p, dim, keepdim):
    values = [[0.0, 0.0, 0.0], [2.0, -2.0, 1.0]]
    _compare(torch, device, values, p, dim, keepdim)


@pytest.mark.parametrize("p", ["fro", 1, INF, 0.5, 3], ids=str)
def test_float32_matches_torch(device, torch, p):
    _compare(torch, device, [[0.0, 0.0], [3.0, -4.0]], p, 1, dtype="float32", rtol=1e-6,
             atol=1e-6)


def test_zero_norm_gradient_is_zero_and_p0_gives_none(device):
    x = gg.zeros(3, dtype=gg.float64, device=device, requires_grad=True)
    x.norm().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]
    y = gg.tensor([1.0, 0.0], device=device, requires_grad=True)
    count = y.norm(0)
    assert count.item() == 1.0
    count.backward()
    assert y.grad is None  # as PyTorch: the count of nonzeros has no gradient


def test_inf_norm_ties_share_the_gradient_evenly(device):
    x = gg.tensor([3.0, -3.0, 1.0], device=device, requires_grad=True)
    x.norm(float("inf")).backward()
    assert x.grad.tolist() == [0.5, -0.5, 0.0]


def test_norm_defaults_and_errors(device):
    x = gg.tensor([[3.0, 4.0]], device=device)
    assert x.norm().item() == 5.0 and x.norm(None).item() == 5.0 and x.norm(p=1).item() == 7.0
    assert x.norm(dim=1, keepdim=True).shape == (1, 1)
    with pytest.raises(RuntimeError, match="Expected a floating point"):
        gg.tensor([1, 2], device=device).norm()
    with pytest.raises(RuntimeError, match="dim must be a 2-tuple"):
        gg.ones(1, 1, 1, device=device).norm("fro", (0, 1, 2))
    with pytest.raises(RuntimeError, match="cannot compute the inf norm on an empty tensor"):
        gg.zeros(2, 0, device=device).norm(float("inf"))
    with pytest.raises(NotImplementedError, match="nuclear"):
        x.norm("nuc")
    assert gg.zeros(2, 0, device=device).norm().item() == 0.0
