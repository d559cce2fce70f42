"""The regression losses and kl_div argument by argument against PyTorch, values and gradients
of input and target: every reduction and the default, beta and delta at their edges (beta=0,
|d| == beta), log_target, 'batchmean' of a 0-d input, and the messages naming each loss."""
import re

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.nn import functional as F

LOSSES = ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "kl_div"]
# PyTorch warns that kl_div's 'mean' is not the KL divergence's ('batchmean' is)
pytestmark = pytest.mark.filterwarnings("ignore:reduction. 'mean' divides:UserWarning")
REDUCTIONS = [None, "mean", "sum", "none"]  # None: the default


def _data(name, shape=(3, 4), seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3, 3, shape)
    t = rng.uniform(-3, 3, shape)
    if name == "kl_div":
        x = np.log(rng.uniform(0.05, 1.0, shape))
        t = rng.uniform(0.0, 1.0, shape)
        t.flat[::3] = 0.0  # 0 * log(0) is 0
    return x, t


def _compare(torch, name, x, t, rtol=1e-12, **kwargs):
    ours_x, ours_t = gg.tensor(x, requires_grad=True), gg.tensor(t, requires_grad=True)
    theirs_x, theirs_t = torch.tensor(x, requires_grad=True), torch.tensor(t, requires_grad=True)
    ours = getattr(F, name)(ours_x, ours_t, **kwargs)
    theirs = getattr(torch.nn.functional, name)(theirs_x, theirs_t, **kwargs)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=rtol,
                               atol=1e-14)
    weights = np.linspace(0.5, 1.5, max(theirs.numel(), 1)).reshape(tuple(theirs.shape))
    (ours * gg.tensor(weights)).sum().backward()
    (theirs * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(ours_x.grad.numpy(), theirs_x.grad.numpy(), rtol=rtol, atol=1e-14)
    # PyTorch's target gradient is NaN where a kl_div target is 0 (log 0); gpugrad's is finite
    defined = np.isfinite(theirs_t.grad.numpy())
    assert np.isfinite(ours_t.grad.numpy()).all()
    np.testing.assert_allclose(ours_t.grad.numpy()[defined], theirs_t.grad.numpy()[defined],
                               rtol=rtol, atol=1e-14)
    return ours


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", LOSSES)
def test_every_reduction_and_the_default_match_torch(torch, name, reduction):
    x, t = _data(name)
    kwargs = {} if reduction is None else {"reduction": reduction}
    out = _compare(torch, name, x, t, **kwargs)
    assert out.shape == ((3, 4) if reduction == "none" else ())


@pytest.mark.parametrize("name", LOSSES)
def test_shape_and_reduction_messages_name_the_loss(name):
    with pytest.raises(ValueError, match="^" + re.escape(
            f"{name}: target size (3,) must be the same as input size (2,)")):
        getattr(F, name)(gg.zeros(2), gg.zeros(3))
    with pytest.raises(ValueError, match="^" + re.escape(
            f"{name}: 'avg' is not a valid value for reduction; expected one of "
            f"('mean', 'sum', 'none')")):
        getattr(F, name)(gg.zeros(2), gg.zeros(2), "avg")


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_smooth_l1_default_beta_and_beta_zero_match_torch(torch, reduction):
    kwargs = {} if reduction is None else {"reduction": reduction}
    x = np.array([0.0, 0.5, -0.9, 1.5, -1.8, 2.5, 3.0])  # |d| on both sides of 1 and of 2
    t = np.zeros_like(x)
    _compare(torch, "smooth_l1_loss", x, t, **kwargs)  # beta = 1 by default
    _compare(torch, "smooth_l1_loss", x, t, beta=0.0, **kwargs)  # l1_loss, gradient 0 at d=0


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_huber_default_delta_matches_torch(torch, reduction):
    kwargs = {} if reduction is None else {"reduction": reduction}
    x = np.array([0.0, 0.5, -0.9, 1.5, -1.8, 2.5, 3.0])
    _compare(torch, "huber_loss", x, np.zeros_like(x), **kwargs)
    _compare(torch, "huber_loss", x, np.zeros_like(x), delta=0.7, **kwargs)


def test_smooth_l1_at_d_equal_beta_is_the_linear_branch_bit_for_bit(torch):
    # PyTorch takes 0.5 * z * z / beta only where z < beta: at z == beta it computes
    # z - 0.5 * beta, which the quadratic form rounds differently for many betas
    betas = np.linspace(0.1, 3.0, 59)
    x = np.concatenate([betas, -betas])
    beta_of = np.concatenate([betas, betas])
    for beta in betas[::7]:
        _compare(torch, "smooth_l1_loss", np.array([beta, -beta]), np.zeros(2), rtol=0,
                 reduction="none", beta=float(beta))
    ours = [F.smooth_l1_loss(gg.tensor(np.array([v])), gg.zeros(1, dtype="float64"), "none",
                             beta=float(b)).numpy()[0] for v, b in zip(x, beta_of)]
    theirs = [torch.nn.functional.smooth_l1_loss(torch.tensor([v]), torch.zeros(1, dtype=
              torch.float64), reduction="none", beta=float(b)).item() for v, b in zip(x, beta_of)]
    np.testing.assert_array_equal(ours, theirs)


def test_beta_and_delta_errors_are_torchs(torch):
    x = gg.zeros(2)
    with pytest.raises(RuntimeError, match="^" + re.escape(
            "smooth_l1_loss does not support negative values for beta.") + "$"):
        F.smooth_l1_loss(x, x, beta=-0.5)
    for delta in (0.0, -1.0):
        with pytest.raises(RuntimeError, match="^" + re.escape(
                "huber_loss does not support non-positive values for delta.") + "$"):
            F.huber_loss(x, x, delta=delta)
        with pytest.raises(RuntimeError, match="non-positive values for delta"):
            torch.nn.functional.huber_loss(torch.zeros(2), torch.zeros(2), delta=delta)


@pytest.mark.parametrize("reduction", [None, "mean", "sum", "none", "batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_log_target_and_reductions_match_torch(torch, reduction, log_target):
    x, t = _data("kl_div")
    if log_target:
        t = np.log(np.random.default_rng(1).uniform(0.05, 1.0, t.shape))
    kwargs = {} if reduction is None else {"reduction": reduction}
    _compare(torch, "kl_div", x, t, log_target=log_target, **kwargs)


@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_batchmean_of_a_0d_input_is_the_sum(torch, log_target):
    _compare(torch, "kl_div", np.array(-0.7), np.array(0.4), reduction="batchmean",
             log_target=log_target)


def test_kl_div_zero_target_gradient_is_finite(torch):
    x = np.log(np.array([0.2, 0.3, 0.5]))
    t = np.array([0.0, 0.6, 0.4])
    _compare(torch, "kl_div", x, t, reduction="sum")
