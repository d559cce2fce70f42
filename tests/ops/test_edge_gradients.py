"""Gradients at the edges of their domains, as PyTorch gives them: ``logit`` outside [0, 1] and
at its clamps, ``sinc`` at and near 0, ``atan2`` at the origin, ``floor_divide``'s zeros, and
``Sub`` writing in place. (The sweep over every function is tests/test_torch_gradient_differential.py.)"""
import math

import numpy as np
import pytest

import gpugrad as gg


def _grad(fn, values, dtype=gg.float64, device="cpu"):
    x = gg.tensor(values, dtype=dtype, device=device, requires_grad=True)
    fn(x).backward(gg.ones(len(values), dtype=dtype, device=device))
    return x.grad.tolist()


def test_logit_gradient_outside_and_at_the_ends_of_0_1(device):
    inf, nan = math.inf, math.nan
    got = _grad(gg.logit, [-0.5, 0.0, -0.0, 0.25, 1.0, 1.5, 2.5], device=device)
    want = [nan, inf, inf, 1 / (0.25 * 0.75), inf, nan, nan]
    assert [g if g == g else "nan" for g in got] == [w if w == w else "nan" for w in want]


@pytest.mark.parametrize("eps", [0.1, 0.25])
def test_logit_with_eps_clamps_both_ends_and_their_gradients(eps, torch):
    values = [-1.0, 0.0, eps, 0.5, 1.0 - eps, 0.95, 1.0, 2.0]
    x = gg.tensor(values, dtype=gg.float64, requires_grad=True)
    t = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    y, u = gg.logit(x, eps), torch.logit(t, eps)
    assert y.tolist() == pytest.approx(u.tolist(), rel=1e-12)
    y.sum().backward()
    u.sum().backward()
    # inside [eps, 1 - eps], ends included: 1 / (x (1 - x)); outside: 0
    assert x.grad.tolist() == pytest.approx(t.grad.tolist(), rel=1e-12)
    assert x.grad.tolist()[2] != 0 and x.grad.tolist()[4] != 0 and x.grad.tolist()[5] == 0


def test_sinc_gradient_is_zero_at_zero_and_where_pi_x_squared_underflows(torch):
    values = [0.0, -0.0, 1e-170, 1e-40, 0.5641895835477563, 0.3]
    x = gg.tensor(values, dtype=gg.float64, requires_grad=True)
    t = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    gg.sinc(x).sum().backward()
    torch.sinc(t).sum().backward()
    assert x.grad.tolist()[:4] == [0.0, 0.0, 0.0, 0.0]
    assert x.grad.tolist() == pytest.approx(t.grad.tolist(), rel=1e-12, abs=1e-300)


def test_atan2_gradient_is_zero_at_the_origin_only(torch):
    a_values, b_values = [0.0, -0.0, 1.0, 0.0, 0.6], [0.0, 0.0, 0.0, 1.0, 0.8]
    a = gg.tensor(a_values, dtype=gg.float64, requires_grad=True)
    b = gg.tensor(b_values, dtype=gg.float64, requires_grad=True)
    ta = torch.tensor(a_values, dtype=torch.float64, requires_grad=True)
    tb = torch.tensor(b_values, dtype=torch.float64, requires_grad=True)
    gg.atan2(a, b).sum().backward()
    torch.atan2(ta, tb).sum().backward()
    # on the unit circle a² + b² is exactly 1: the gradients there are b and -a, not 0
    assert a.grad.tolist() == pytest.approx(ta.grad.tolist(), rel=1e-12)
    assert b.grad.tolist() == pytest.approx(tb.grad.tolist(), rel=1e-12)
    assert a.grad.tolist()[:2] == [0.0, 0.0] and b.grad.tolist()[2] == -1.0


def test_floor_divide_gives_both_operands_zero_gradients_of_their_shapes(device):
    x = gg.tensor([[7.0, -3.5, 1.0]], device=device, requires_grad=True)
    y = gg.tensor([[2.0], [0.5]], device=device, requires_grad=True)
    (x // y).sum().backward()
    assert x.grad.tolist() == [[0.0, 0.0, 0.0]] and y.grad.tolist() == [[0.0], [0.0]]


def test_in_place_subtraction_writes_into_the_tensor_its_views_see(device):
    base = gg.zeros(4, device=device)
    view = base[1:3]
    base -= gg.ones(4, device=device)
    base.sub_(gg.full((4,), 2.0, device=device))
    assert view.tolist() == [-3.0, -3.0]
    assert np.array_equal(base.cpu().numpy(), np.full(4, -3.0, np.float32))
