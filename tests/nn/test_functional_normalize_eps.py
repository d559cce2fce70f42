"""normalize's default eps: slices with a norm below 1 are still scaled to unit norm (the
default eps is 1e-12, as in PyTorch), and a zero slice stays zero."""
import numpy as np

import gpugrad as gg
from gpugrad.nn import functional as F


def test_normalize_default_eps_leaves_small_norms_unit(torch):
    x = np.array([[0.3, 0.4], [0.0, 0.0], [3e-6, -4e-6]])
    ours_x, theirs_x = gg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours, theirs = F.normalize(ours_x), torch.nn.functional.normalize(theirs_x)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.detach().numpy()[0], [0.6, 0.8], rtol=1e-12)
    ours.sum().backward()
    theirs.sum().backward()
    np.testing.assert_allclose(ours_x.grad.numpy(), theirs_x.grad.numpy(), rtol=1e-9)
