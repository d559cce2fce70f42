"""First derivatives taken with ``create_graph=True`` and the second derivatives through them.

With ``create_graph=True`` the engine runs each op's differentiable ``backward`` (the unary ops'
``derivative``, softmax's and mean's tensor formulas, the activations' ``BiasActGrad``) instead
of the array kernels of a plain ``backward()``. gradgradcheck alone cannot catch a wrong formula
there: it differentiates whatever that path computes, consistently. So the path's values are
held to the plain gradient and, with PyTorch, to ``torch.autograd.grad`` at both orders.
"""
import numpy as np
import pytest

import gpugrad as gg
from support.gradtools import assert_close

R = np.random.default_rng(5)
ANY = R.uniform(-1.2, 1.2, (3, 4))        # away from poles and kinks of the ops below
POSITIVE = R.uniform(0.3, 2.5, (3, 4))    # logs and reciprocal
NONZERO = ANY + np.sign(ANY) * 0.3        # relu's kink at 0 is avoided


def _softmax(lib, x, dim):
    if lib is gg:
        return x.softmax(dim=dim)
    # PyTorch's own softmax starts its OpenMP pool even on 12 elements, and a pool does not
    # survive the fork that mutation testing runs each mutant in: the formula in PyTorch ops
    return x.exp() / x.exp().sum(dim, keepdim=True)


def _log_softmax(lib, x, dim):
    if lib is gg:
        return x.log_softmax(dim=dim)
    return x - x.logsumexp(dim, keepdim=True)


# name -> (how gpugrad and PyTorch spell the op, its inputs)
UNARY = {
    "sin": (lambda m, x: m.sin(x), ANY), "cos": (lambda m, x: m.cos(x), ANY),
    "tan": (lambda m, x: m.tan(x), ANY), "atan": (lambda m, x: m.atan(x), ANY * 2),
    "sinh": (lambda m, x: m.sinh(x), ANY), "cosh": (lambda m, x: m.cosh(x), ANY),
    "log1p": (lambda m, x: m.log1p(x), POSITIVE - 0.2),
    "expm1": (lambda m, x: m.expm1(x), ANY), "log2": (lambda m, x: m.log2(x), POSITIVE),
    "log10": (lambda m, x: m.log10(x), POSITIVE), "exp2": (lambda m, x: m.exp2(x), ANY),
    "reciprocal": (lambda m, x: m.reciprocal(x), POSITIVE),
    "neg": (lambda m, x: -x, ANY), "log": (lambda m, x: m.log(x), POSITIVE),
    "exp": (lambda m, x: m.exp(x), ANY), "tanh": (lambda m, x: m.tanh(x), ANY),
    "sigmoid": (lambda m, x: m.sigmoid(x), ANY * 2), "relu": (lambda m, x: m.relu(x), NONZERO),
    "softmax0": (lambda m, x: _softmax(m, x, 0), ANY * 2),
    "softmax1": (lambda m, x: _softmax(m, x, 1), ANY * 2),
    "log_softmax0": (lambda m, x: _log_softmax(m, x, 0), ANY * 2),
    "log_softmax1": (lambda m, x: _log_softmax(m, x, 1), ANY * 2),
    "mean1": (lambda m, x: m.mean(x, dim=1), ANY),
    "mean1_keep": (lambda m, x: m.mean(x, dim=1, keepdim=True), ANY),
    "mean_all": (lambda m, x: m.mean(x), ANY),
}
NAMES = list(UNARY)


def _grads(lib, fn, x, w1, w2):
    """(f, df/dx . w1 with create_graph, and the gradient of (that . w2) with respect to x and
    to w1) in ``lib`` (gg or torch); w1 requires grad, so linear ops have a second order too."""
    y = fn(lib, x)
    (g1,) = lib.autograd.grad(y, x, w1, create_graph=True)
    second = lib.autograd.grad(g1, (x, w1), w2, allow_unused=True)
    return y, g1, [lib.zeros_like(t) if g is None else g for g, t in zip(second, (x, w1))]


def _gg_case(name, device):
    fn, data = UNARY[name]
    x = gg.tensor(data, dtype=gg.float64, device=device, requires_grad=True)
    return fn, data, x


@pytest.mark.parametrize("name", NAMES)
def test_create_graph_gradient_equals_plain_gradient(name, device):
    fn, data, x = _gg_case(name, device)
    y = fn(gg, x)
    w = gg.tensor(R.standard_normal(y.shape), dtype=gg.float64, device=device,
                  requires_grad=True)
    (plain,) = gg.autograd.grad(y, x, w)
    y = fn(gg, x)
    (graphed,) = gg.autograd.grad(y, x, w, create_graph=True)
    assert graphed.requires_grad
    assert_close(graphed, plain.numpy(), atol=1e-12, what=f"{name} create_graph gradient")


@pytest.mark.parametrize("name", NAMES)
def test_first_and_second_derivatives_match_torch(name, device, torch):
    fn, data, x = _gg_case(name, device)
    rng = np.random.default_rng(1)
    out_shape = tuple(fn(gg, gg.tensor(data, dtype=gg.float64)).shape)
    w1, w2 = rng.standard_normal(out_shape), rng.standard_normal(data.shape)
    y, g1, g2 = _grads(gg, fn, x, gg.tensor(w1, dtype=gg.float64, device=device,
                                             requires_grad=True),
                       gg.tensor(w2, dtype=gg.float64, device=device))
    tx = torch.tensor(data, dtype=torch.float64, requires_grad=True)
    ty, tg1, tg2 = _grads(torch, fn, tx, torch.tensor(w1, requires_grad=True), torch.tensor(w2))
    assert_close(y, ty, atol=1e-12, what=f"{name} forward")
    assert_close(g1, tg1, atol=1e-12, what=f"{name} create_graph gradient")
    for i, (got, expected) in enumerate(zip(g2, tg2)):
        assert_close(got, expected, atol=1e-10, what=f"{name} second derivative {i}")


@pytest.mark.parametrize("name", ["sin", "tan", "reciprocal", "log1p", "tanh", "softmax1"])
def test_gradgradcheck(name, device):
    fn, data, x = _gg_case(name, device)
    assert gg.gradgradcheck(lambda t: fn(gg, t), (x,))
