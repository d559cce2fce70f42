"""The fused cross-entropy's higher derivatives and the losses' gradients where the other tests
do not reach: a non-default ``ignore_index`` and a single class under ``create_graph``, the third
derivative through an ignored row, a target that alone requires grad, and the graph hygiene of
the backward (no stray leaves, only tensors as inputs and gradients) seen through engine hooks,
against PyTorch."""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad.nn import functional as F
from support.gradtools import assert_close
from support.graph_watch import GraphWatch, stray_leaves

R = np.random.default_rng(29)
LOGITS = R.standard_normal((4, 3))


# ---- fused softmax cross-entropy -----------------------------------------------------------------
def _ce_second(lib, functional, logits, target, reduction, ignore_index):
    x = lib.tensor(logits, requires_grad=True)
    t = lib.tensor(target)
    loss = functional.cross_entropy(x, t, reduction=reduction, ignore_index=ignore_index)
    g_out = lib.ones_like(loss) * 1.5
    (g,) = lib.autograd.grad(loss, (x,), g_out, create_graph=True)
    weights = lib.tensor(np.arange(1.0, 1.0 + g.numel()).reshape(tuple(g.shape)))
    (h,) = lib.autograd.grad((g * g * weights).sum(), (x,))
    return loss, g, h


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("ignore_index", [1, -100])
def test_cross_entropy_ignore_index_second_derivative_matches_torch(reduction, ignore_index, torch):
    target = np.array([0, 1, 2, 1])
    got = _ce_second(gg, F, LOGITS, target, reduction, ignore_index)
    expected = _ce_second(torch, torch.nn.functional, LOGITS, target, reduction, ignore_index)
    for g, e in zip(got, expected):
        assert_close(g, e)


@pytest.mark.parametrize("reduction", ["none", "mean"])
def test_cross_entropy_one_class_with_an_ignored_row_second_derivative_matches_torch(reduction,
                                                                                     torch):
    logits, target = R.standard_normal((3, 1)), np.array([0, -100, 0])
    got = _ce_second(gg, F, logits, target, reduction, -100)
    expected = _ce_second(torch, torch.nn.functional, logits, target, reduction, -100)
    for g, e in zip(got, expected):
        assert_close(g, e)


def _ce_third(lib, functional):
    """The derivative, with respect to the upstream gradient of an unreduced loss, of the
    second derivative: through the per-row scale, 0 on the ignored row."""
    x = lib.tensor(LOGITS, requires_grad=True)
    w = lib.tensor([1.0, 2.0, -1.0, 0.5], dtype=x.dtype, requires_grad=True)
    loss = functional.cross_entropy(x, lib.tensor([0, 2, 1, 2]), reduction="none", ignore_index=2)
    (g1,) = lib.autograd.grad(loss, (x,), w, create_graph=True)
    (g2,) = lib.autograd.grad((g1 * g1).sum(), (x,), create_graph=True)
    (g3,) = lib.autograd.grad((g2 * lib.tensor(LOGITS)).sum(), (w,))
    return g1, g2, g3


def test_cross_entropy_third_derivative_through_ignored_rows_matches_torch(torch):
    got, expected = _ce_third(gg, F), _ce_third(torch, torch.nn.functional)
    for g, e in zip(got, expected):
        assert_close(g, e)
    assert np.isfinite(got[2].numpy()).all()


@pytest.mark.parametrize("reduction", ["none", "mean"])
def test_cross_entropy_double_backward_graph_is_clean(reduction):
    x = gg.tensor(LOGITS, requires_grad=True)
    with GraphWatch() as watch:
        loss = F.cross_entropy(x, gg.tensor([0, 2, 1, 2]), reduction=reduction)
        (g,) = gg.grad(loss.sum(), (x,), create_graph=True)
        (g * g).sum().backward()
    watch.check()
    assert stray_leaves([g], [x]) == []


# ---- losses: a target that alone requires grad ---------------------------------------------------
P = np.array([0.2, 0.7, 0.4, 0.9])
T = np.array([0.0, 1.0, 0.5, 0.25])


@pytest.mark.parametrize("name", ["mse_loss", "binary_cross_entropy_with_logits",
                                  "binary_cross_entropy"])
@pytest.mark.parametrize("create_graph", [False, True])
def test_loss_gradient_of_the_target_alone_matches_torch(name, create_graph, torch):
    def run(lib, functional):
        x, t = lib.tensor(P), lib.tensor(T, requires_grad=True)
        loss = getattr(functional, name)(x, t)
        if create_graph:
            (g,) = lib.autograd.grad(loss, (t,), create_graph=True)
            return g
        loss.backward()
        return t.grad

    with GraphWatch() as watch:
        got = run(gg, F)
    watch.check()
    assert_close(got, run(torch, torch.nn.functional))


@pytest.mark.parametrize("dtype", ["int64", "uint8", "bool"])
def test_softplus_of_an_integer_tensor_is_not_implemented_as_in_pytorch(dtype, torch):
    with pytest.raises(NotImplementedError, match="not implemented for"):
        torch.nn.functional.softplus(torch.tensor([1, 0], dtype=getattr(torch, dtype)))
    with pytest.raises(NotImplementedError, match=f"^\"softplus\" not implemented for '{dtype}': "
                                                   f"convert the input to a floating dtype"):
        F.softplus(gg.tensor([1, 0], dtype=getattr(gg, dtype)))
