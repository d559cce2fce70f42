"""gg.autograd.functional against torch.autograd.functional: jacobian, hessian, vjp, jvp, hvp,
vhp on small functions, with one and several inputs and outputs, on every device."""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad.autograd import functional as F
from support.gradtools import assert_close

RNG = np.random.default_rng(1)
X, Y = RNG.standard_normal(3), RNG.standard_normal((2, 3))
V_OUT = RNG.standard_normal((2, 3))


def _one(t):
    return t.tanh() * t  # one input, one output


def _two(a, b):
    return (a * b).sum(dim=-1), (a + 1) * b.exp()  # two inputs (broadcast), two outputs


def _scalar(a, b):
    return (a * a * b).sum() + (b * b).sum() * a.sum()


def _pairs(device, torch, *arrays):
    gs = tuple(gg.tensor(a, dtype=gg.float64, device=device) for a in arrays)
    ts = tuple(torch.tensor(a, dtype=torch.float64) for a in arrays)
    return gs, ts


def _same(got, want, what):
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want), what
        for g, w in zip(got, want):
            _same(g, w, what)
    else:
        assert isinstance(got, gg.Tensor), what
        assert_close(got, want, what=what)


def test_jacobian_single_and_tuple(device, torch):
    (x,), (tx,) = _pairs(device, torch, X)
    _same(F.jacobian(_one, x), torch.autograd.functional.jacobian(_one, tx), "jacobian")
    gs, ts = _pairs(device, torch, X, Y)
    _same(F.jacobian(_two, gs), torch.autograd.functional.jacobian(_two, ts), "jacobian tuple")


def test_hessian_single_and_tuple(device, torch):
    gs, ts = _pairs(device, torch, X, Y)
    _same(F.hessian(_scalar, gs), torch.autograd.functional.hessian(_scalar, ts), "hessian")
    (x,), (tx,) = _pairs(device, torch, X)

    def f(t):
        return (t ** 3).sum()

    _same(F.hessian(f, x), torch.autograd.functional.hessian(f, tx), "hessian single")


@pytest.mark.parametrize("name", ["vjp", "jvp"])
def test_vjp_and_jvp(device, torch, name):
    gs, ts = _pairs(device, torch, X, Y)
    if name == "vjp":
        vs, tvs = _pairs(device, torch, V_OUT[:, 0].copy(), V_OUT)
    else:
        vs, tvs = _pairs(device, torch, X[::-1].copy(), V_OUT)
    got = getattr(F, name)(_two, gs, vs)
    want = getattr(torch.autograd.functional, name)(_two, ts, tvs)
    _same(got, want, name)


@pytest.mark.parametrize("name", ["hvp", "vhp"])
def test_hvp_and_vhp(device, torch, name):
    gs, ts = _pairs(device, torch, X, Y)
    vs, tvs = _pairs(device, torch, X[::-1].copy(), V_OUT)
    got = getattr(F, name)(_scalar, gs, vs)
    want = getattr(torch.autograd.functional, name)(_scalar, ts, tvs)
    _same(got, want, name)


def test_create_graph_keeps_results_differentiable(torch):
    x = gg.tensor(X, dtype=gg.float64, requires_grad=True)
    tx = torch.tensor(X, dtype=torch.float64, requires_grad=True)
    jac = F.jacobian(_one, x, create_graph=True)
    tjac = torch.autograd.functional.jacobian(_one, tx, create_graph=True)
    assert jac.requires_grad
    (g,) = gg.grad(jac.sum(), [x])
    (tg,) = torch.autograd.grad(tjac.sum(), [tx])
    assert_close(g, tg, what="gradient of the jacobian")
    assert not F.jacobian(_one, x).requires_grad


def test_independent_input_is_zero_or_strict_error():
    x, y = gg.ones(2, dtype=gg.float64), gg.ones(3, dtype=gg.float64)
    jac = F.jacobian(lambda a, b: a * 2, (x, y))
    assert jac[1].shape == (2, 3) and not jac[1].abs().sum().item()
    with pytest.raises(RuntimeError, match="independent of input 1"):
        F.jacobian(lambda a, b: a * 2, (x, y), strict=True)


def test_v_required_for_non_scalar_and_hessian_needs_a_scalar():
    x = gg.ones(3, dtype=gg.float64)
    with pytest.raises(RuntimeError, match="can only be None"):
        F.vjp(lambda t: t * 2, x)
    with pytest.raises(RuntimeError, match="single element"):
        F.hessian(lambda t: t * 2, x)
    with pytest.raises(TypeError, match="must be either a Tensor or a tuple of Tensors"):
        F.jacobian(lambda t: t, 3.0)
