"""The loss ops (gpugrad/ops/losses.py): gradcheck and gradgradcheck in float64 at smooth points
(these run without PyTorch), the same points against PyTorch, and the ops' own contracts.
The boundaries against PyTorch are in tests/nn/test_functional.py and tests/ops/test_boundaries.py.
"""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad.nn import functional as F
from support.gradtools import OpCase, op_tests

R = np.random.default_rng(11)
LOGITS = R.standard_normal((3, 4)) * 3
TARGETS = R.uniform(0.05, 0.95, (3, 4))
PROBS = R.uniform(0.1, 0.9, (3, 4))
WEIGHT = R.uniform(0.5, 2.0, (3, 4))
POS_WEIGHT = R.uniform(0.5, 3.0, 4)


def _const(array, like):
    return gg.tensor(array, dtype=gg.float64, device=like.device)


def _torch_f():
    import torch

    return torch.nn.functional


def _softplus_points():
    x = R.standard_normal((2, 5)) * 4
    x[np.abs(x * 2 - 3) < 0.1] += 0.5  # away from beta * x == threshold (a jump of ~1e-3)
    return x


CASES = [
    OpCase("softplus", lambda a: F.softplus(a), lambda a: _torch_f().softplus(a), [LOGITS]),
    OpCase("softplus_beta_threshold", lambda a: F.softplus(a, beta=2.0, threshold=3.0),
           lambda a: _torch_f().softplus(a, beta=2.0, threshold=3.0), [_softplus_points()]),
    OpCase("logsigmoid", lambda a: F.logsigmoid(a), lambda a: _torch_f().logsigmoid(a),
           [LOGITS]),
    OpCase("mse_mean", lambda a, b: F.mse_loss(a, b), lambda a, b: _torch_f().mse_loss(a, b),
           [LOGITS, TARGETS]),
    OpCase("mse_sum", lambda a, b: F.mse_loss(a, b, "sum"),
           lambda a, b: _torch_f().mse_loss(a, b, reduction="sum"), [LOGITS, TARGETS]),
    OpCase("mse_none", lambda a, b: F.mse_loss(a, b, "none"),
           lambda a, b: _torch_f().mse_loss(a, b, reduction="none"), [LOGITS, TARGETS]),
    OpCase("l1_none", lambda a, b: F.l1_loss(a, b, "none"),
           lambda a, b: _torch_f().l1_loss(a, b, reduction="none"), [LOGITS, TARGETS],
           second_order=False),
    OpCase("bce_logits_mean", lambda a, b: F.binary_cross_entropy_with_logits(a, b),
           lambda a, b: _torch_f().binary_cross_entropy_with_logits(a, b), [LOGITS, TARGETS]),
    OpCase("bce_logits_none_pos_weight",
           lambda a, b: F.binary_cross_entropy_with_logits(
               a, b, "none", pos_weight=_const(POS_WEIGHT, a)),
           lambda a, b: _torch_f().binary_cross_entropy_with_logits(
               a, b, reduction="none", pos_weight=_const_torch(POS_WEIGHT)), [LOGITS, TARGETS]),
    OpCase("bce_logits_sum_both_weights",
           lambda a, b: F.binary_cross_entropy_with_logits(
               a, b, "sum", pos_weight=2.5, weight=_const(WEIGHT, a)),
           lambda a, b: _torch_f().binary_cross_entropy_with_logits(
               a, b, weight=_const_torch(WEIGHT), reduction="sum",
               pos_weight=_const_torch(2.5)), [LOGITS, TARGETS]),
    OpCase("bce_mean", lambda a, b: F.binary_cross_entropy(a, b),
           lambda a, b: _torch_f().binary_cross_entropy(a, b), [PROBS, TARGETS]),
    OpCase("bce_none_weight", lambda a, b: F.binary_cross_entropy(a, b, "none",
                                                                   weight=_const(WEIGHT, a)),
           lambda a, b: _torch_f().binary_cross_entropy(a, b, weight=_const_torch(WEIGHT),
                                                        reduction="none"), [PROBS, TARGETS]),
]


def _const_torch(array):
    import torch

    return torch.tensor(array, dtype=torch.float64)


test_gradcheck, test_matches_torch = op_tests(CASES)


@pytest.mark.parametrize("name", ["mse_loss", "binary_cross_entropy_with_logits",
                                  "binary_cross_entropy"])
def test_each_loss_is_one_op_and_skips_unneeded_gradients(device, name):
    x = gg.tensor(PROBS, dtype=gg.float64, device=device, requires_grad=True)
    t = gg.tensor(TARGETS, dtype=gg.float64, device=device)
    loss = getattr(F, name)(x, t)
    assert type(loss.grad_fn).__name__ in ("MSELoss", "BCEWithLogits", "BCE")
    loss.backward()
    assert x.grad.shape == x.shape and t.grad is None


def test_reductions_sum_the_none_loss(device):
    x = gg.tensor(LOGITS, dtype=gg.float64, device=device)
    t = gg.tensor(TARGETS, dtype=gg.float64, device=device)
    for fn in (F.mse_loss, F.binary_cross_entropy_with_logits):
        rows = fn(x, t, "none")
        assert rows.shape == x.shape
        np.testing.assert_allclose(fn(x, t, "sum").item(), rows.sum().item(), rtol=1e-12)
        np.testing.assert_allclose(fn(x, t, "mean").item(), rows.mean().item(), rtol=1e-12)


def test_softplus_is_exact_at_large_and_small_inputs(device):
    x = gg.tensor([-1e4, -50.0, 0.0, 19.0, 21.0, 1e4], dtype=gg.float64, device=device)
    expected = np.log1p(np.exp([-1e4, -50.0, 0.0, 19.0])).tolist() + [21.0, 1e4]
    np.testing.assert_allclose(F.softplus(x).tolist(), expected, rtol=1e-15)
    assert F.logsigmoid(gg.tensor([-1e4, 1e4], device=device)).tolist() == [-1e4, 0.0]


def test_weights_are_passed_by_keyword():
    x, t = gg.randn(3), gg.rand(3)
    with pytest.raises(TypeError, match="weight=..."):
        F.binary_cross_entropy(x.sigmoid(), t, gg.ones(3))
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        F.binary_cross_entropy_with_logits(x, t, "avg")


def test_bce_refuses_probabilities_outside_0_1_on_cpu():
    t = gg.tensor([0.5, 0.5])
    for bad in ([1.5, 0.5], [float("nan"), 0.5], [-0.1, 0.5]):
        with pytest.raises(RuntimeError, match="all elements of input should be between 0 and 1"):
            F.binary_cross_entropy(gg.tensor(bad), t)
    with pytest.raises(RuntimeError, match="all elements of target should be between 0 and 1"):
        F.binary_cross_entropy(t, gg.tensor([2.0, 0.0]))


def test_weights_that_require_grad_are_refused_like_torch(device):
    x, t = gg.randn(3, device=device), gg.rand(3, device=device)
    w = gg.ones(3, device=device, requires_grad=True)
    for call in (lambda: F.binary_cross_entropy_with_logits(x, t, pos_weight=w),
                 lambda: F.binary_cross_entropy_with_logits(x, t, weight=w),
                 lambda: F.binary_cross_entropy(x.sigmoid(), t, weight=w)):
        with pytest.raises(RuntimeError, match="not differentiable with respect to argument"):
            call()
    with gg.no_grad():
        assert F.binary_cross_entropy_with_logits(x, t, pos_weight=w).shape == ()


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_low_precision_softplus_and_its_gradient_round_once(dtype, device):
    # in float16, exp(x) overflows from x = 11.1, below the threshold of 20: softplus was inf
    # there, and its gradient z / (z + 1) NaN
    values = [-3.0, 0.5, 11.25, 15.0, 19.5, 25.0]
    x = gg.tensor(values, dtype=getattr(gg, dtype), device=device, requires_grad=True)
    out = gg.nn.functional.softplus(x)
    out.backward(gg.tensor([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], device=device).to(x.dtype))
    wide = x.detach().float().requires_grad_()
    want = gg.nn.functional.softplus(wide)
    want.backward(gg.tensor([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], device=device))
    assert out.dtype == dtype and x.grad.dtype == dtype
    assert out.tolist() == want.to(x.dtype).tolist()
    assert x.grad.tolist() == wide.grad.to(x.dtype).tolist()
