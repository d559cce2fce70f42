"""mse_loss and softplus where the loss tests do not reach: the differentiable backward that
``create_graph=True`` runs (each reduction, a broadcast target, gradients of one input or both)
and softplus at its threshold and in low precision, against PyTorch."""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad.nn import functional as F
from support.gradtools import assert_close

R = np.random.default_rng(17)
X = R.standard_normal((3, 4))
T_FULL = R.standard_normal((3, 4))


def _mse_grads(lib, functional, x, t, reduction, wrt, w2):
    """mse_loss, its gradients with create_graph, and the second derivatives through them."""
    loss = functional.mse_loss(x, t, reduction=reduction)
    g_out = lib.ones_like(loss) * 1.5  # a non-unit upstream gradient
    first = lib.autograd.grad(loss, wrt, g_out, create_graph=True)
    total = sum((g * w).sum() for g, w in zip(first, w2))
    second = lib.autograd.grad(total, wrt, allow_unused=True)
    return loss, first, second


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("wrt", ["input", "target", "both"])
def test_mse_loss_create_graph_gradients_match_torch(reduction, wrt, device, torch):
    t_data = T_FULL
    need = {"input": (True, False), "target": (False, True), "both": (True, True)}[wrt]
    x = gg.tensor(X, device=device, requires_grad=need[0])
    t = gg.tensor(t_data, device=device, requires_grad=need[1])
    tx = torch.tensor(X, requires_grad=need[0])
    tt = torch.tensor(t_data, requires_grad=need[1])
    pick = [i for i in (0, 1) if need[i]]
    w2 = [R.standard_normal((X, t_data)[i].shape) for i in pick]
    got = _mse_grads(gg, F, x, t, reduction, [(x, t)[i] for i in pick],
                     [gg.tensor(w, device=device) for w in w2])
    expected = _mse_grads(torch, torch.nn.functional, tx, tt, reduction,
                          [(tx, tt)[i] for i in pick], [torch.tensor(w) for w in w2])
    assert_close(got[0], expected[0], what="loss")
    for i, (g, e) in enumerate(zip(got[1], expected[1])):
        assert g.shape == tuple(e.shape)
        assert_close(g, e, atol=1e-12, what=f"gradient {i}")
    for i, (g, e) in enumerate(zip(got[2], expected[2])):
        assert_close(gg.zeros_like((x, t)[pick[i]]) if g is None else g,
                     torch.zeros_like(e) if e is None else e, atol=1e-12,
                     what=f"second derivative {i}")


def test_mse_loss_gradients_of_one_input_leave_the_other_alone(device):
    x = gg.tensor(X, device=device, requires_grad=True)
    t = gg.tensor(T_FULL, device=device)
    (gx,) = gg.autograd.grad(F.mse_loss(x, t, reduction="sum"), x, create_graph=True)
    assert_close(gx, 2 * (X - T_FULL))
    F.mse_loss(x, t).backward(create_graph=True)
    assert t.grad is None
    assert_close(x.grad, 2 * (X - T_FULL) / X.size)


@pytest.mark.parametrize("beta,threshold", [(1.0, 20.0), (2.0, 5.0), (0.5, 3.0)])
def test_softplus_gradient_at_the_threshold_matches_torch(beta, threshold, device, torch):
    # beta * x equal to the threshold is still the smooth branch: z / (z + 1), not 1
    data = np.array([threshold / beta, threshold / beta - 0.5, threshold / beta + 0.5, -1.0])
    x = gg.tensor(data, device=device, requires_grad=True)
    t = torch.tensor(data, requires_grad=True)
    F.softplus(x, beta=beta, threshold=threshold).sum().backward()
    torch.nn.functional.softplus(t, beta=beta, threshold=threshold).sum().backward()
    assert_close(x.grad, t.grad, atol=0, rtol=1e-13)
    assert x.grad.numpy()[0] < 1.0


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16", "float64"])
def test_softplus_keeps_the_input_dtype_and_matches_torch(dtype, device, torch):
    data = np.array([-3.0, -0.4, 0.0, 0.7, 2.5, 9.0, 25.0])
    x = gg.tensor(data, device=device).to(getattr(gg, dtype))
    t = torch.tensor(data).to(getattr(torch, dtype))
    for kwargs in ({}, {"beta": 3.0, "threshold": 10.0}):
        got = F.softplus(x, **kwargs)
        assert got.dtype is x.dtype
        tol = 1e-6 if dtype in ("float32", "float64") else 2e-2
        assert_close(got.to(gg.float64), torch.nn.functional.softplus(t, **kwargs).double(),
                     atol=tol, rtol=tol)
