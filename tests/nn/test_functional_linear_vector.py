"""``F.linear`` with a vector weight is ``input @ weight`` (plus the bias), as in PyTorch,
values and gradients; PyTorch's addmm path refuses it for a 2-D input with a bias, and so does
gpugrad."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn.functional as F

torch = pytest.importorskip("torch", reason="compares with PyTorch")


@pytest.mark.parametrize("device", ["cpu", "sim"])
@pytest.mark.parametrize("shape, with_bias", [((3,), False), ((3,), True), ((2, 3), False),
                                              ((4, 2, 3), False), ((4, 2, 3), True)])
def test_vector_weight_matches_pytorch(device, shape, with_bias):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(shape), rng.standard_normal(3)
    b = rng.standard_normal(()) if with_bias else None
    gx, gw = (gg.tensor(v, requires_grad=True, device=device) for v in (x, w))
    tx, tw = (torch.tensor(v, requires_grad=True) for v in (x, w))
    gb = None if b is None else gg.tensor(b, requires_grad=True, device=device)
    tb = None if b is None else torch.tensor(b, requires_grad=True)
    ours, theirs = F.linear(gx, gw, gb), torch.nn.functional.linear(tx, tw, tb)
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-12)
    ours.sum().backward()
    theirs.sum().backward()
    np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(gw.grad.numpy(), tw.grad.numpy(), rtol=1e-12)
    if b is not None:
        np.testing.assert_allclose(gb.grad.numpy(), tb.grad.numpy(), rtol=1e-12)


def test_vector_weight_with_an_activation():
    x, w = gg.tensor([[1.0, -2.0], [3.0, 1.0]]), gg.tensor([1.0, 1.0])
    assert F.linear(x, w, activation="relu").tolist() == [0.0, 4.0]


def test_a_2d_input_with_a_bias_is_refused_as_in_pytorch():
    with pytest.raises(RuntimeError) as theirs:
        torch.nn.functional.linear(torch.ones(2, 3), torch.ones(3), torch.tensor(1.0))
    with pytest.raises(RuntimeError) as ours:
        F.linear(gg.ones(2, 3), gg.ones(3), gg.tensor(1.0))
    assert str(ours.value) == str(theirs.value) == "mat2 must be a matrix, got 1-D tensor"
