"""Activations at their arguments' edges against PyTorch, values and gradients: celu's and
elu's alpha (default, small, at x = 0), hardtanh with min_val == max_val, and PyTorch's
errors for celu(alpha=0) and hardtanh(min_val > max_val)."""
import re

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.nn import functional as F

X = np.array([-3.0, -1.0, -0.25, 0.0, 0.25, 0.5, 0.9, 1.0, 2.5])


def _match(torch, name, x=X, rtol=1e-12, **kwargs):
    ours_x, theirs_x = gg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours = getattr(F, name)(ours_x, **kwargs)
    theirs = getattr(torch.nn.functional, name)(theirs_x, **kwargs)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=rtol,
                               atol=1e-15)
    weights = np.linspace(0.5, 1.5, x.size)
    (ours * gg.tensor(weights)).sum().backward()
    (theirs * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(ours_x.grad.numpy(), theirs_x.grad.numpy(), rtol=rtol,
                               atol=1e-15)


@pytest.mark.parametrize("kwargs", [{}, {"alpha": 2.0}, {"alpha": 0.5}, {"alpha": 1e-3},
                                    {"alpha": -0.7}])
def test_celu_alpha_matches_torch(torch, kwargs):
    # alpha = 1e-3: exp(x / alpha) overflows for x > 0, which must stay out of the gradient;
    # PyTorch rounds 1 / alpha to float32 (a relative 1e-7, more after exp(-250))
    _match(torch, "celu", rtol=1e-5, **kwargs)


@pytest.mark.parametrize("name,kwargs", [("elu", {}), ("elu", {"alpha": 2.0}),
                                         ("elu", {"alpha": 0.3}), ("selu", {})])
def test_elu_family_matches_torch_including_the_gradient_at_zero(torch, name, kwargs):
    _match(torch, name, **kwargs)  # at x = 0 PyTorch's gradient is the exponential side's


def test_celu_alpha_zero_is_torchs_error(torch):
    with pytest.raises(RuntimeError) as theirs:
        torch.nn.functional.celu(torch.ones(2), alpha=0.0)
    with pytest.raises(RuntimeError, match="^" + re.escape(str(theirs.value)) + "$"):
        F.celu(gg.ones(2), alpha=0.0)


@pytest.mark.parametrize("bounds", [(0.5, 0.5), (-1.0, -1.0), (-0.25, 0.9), (-1.0, 1.0)])
def test_hardtanh_bounds_match_torch(torch, bounds):
    _match(torch, "hardtanh", min_val=bounds[0], max_val=bounds[1])


def test_hardtanh_min_above_max_is_torchs_error(torch):
    with pytest.raises(ValueError) as theirs:
        torch.nn.functional.hardtanh(torch.ones(2), 1.0, 0.5)
    with pytest.raises(ValueError, match="^" + re.escape(str(theirs.value)) + "$"):
        F.hardtanh(gg.ones(2), 1.0, 0.5)
