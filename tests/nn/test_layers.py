"""Layers: Linear (init and math), activations, Sequential, Dropout and MLP, against PyTorch."""
import math

import numpy as np
import pytest

import gpugrad as gg
from gpugrad import nn


def test_linear_init_is_uniform_with_torch_bound():
    gg.manual_seed(0)
    fan_in = 50
    layer = nn.Linear(fan_in, 400)
    bound = 1 / math.sqrt(fan_in)
    for values in (layer.weight.detach().numpy().ravel(), layer.bias.detach().numpy()):
        assert values.min() >= -bound and values.max() <= bound
        # U(-b, b): mean 0, variance b^2 / 3; a wrong formula (e.g. normal or the gain of
        # kaiming for ReLU, sqrt(6/fan_in)) fails these.
        n = values.size
        assert abs(values.mean()) < 4 * bound / math.sqrt(3 * n)
        assert values.var() == pytest.approx(bound ** 2 / 3, rel=8 / math.sqrt(n))
    w = layer.weight.detach().numpy().ravel()
    assert w.max() > 0.98 * bound and w.min() < -0.98 * bound  # the full range is used
    hist, _ = np.histogram(w, bins=10, range=(-bound, bound))
    assert hist.min() > 0.8 * w.size / 10  # flat, not bell-shaped


def test_linear_init_matches_torch_distribution(torch):
    torch.manual_seed(0)
    theirs = torch.nn.Linear(30, 2000).weight.detach().numpy().ravel()
    ours = nn.Linear(30, 2000).weight.detach().numpy().ravel()
    quantiles = np.linspace(0.05, 0.95, 7)
    np.testing.assert_allclose(np.quantile(ours, quantiles), np.quantile(theirs, quantiles),
                               atol=0.01)


def test_init_is_seeded():
    gg.manual_seed(3)
    a = nn.Linear(4, 4).weight.detach().numpy()
    gg.manual_seed(3)
    b = nn.Linear(4, 4).weight.detach().numpy()
    np.testing.assert_array_equal(a, b)


def _copy_linear(ours, theirs, torch):
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(ours.weight.detach().numpy().copy()))
        if ours.bias is not None:
            theirs.bias.copy_(torch.from_numpy(ours.bias.detach().numpy().copy()))


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_mlp_forward_and_backward_match_torch(device, torch, activation, rng):
    ours = nn.MLP([5, 7, 6, 3], activation=activation).to(device)
    act = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid}[activation]
    theirs = torch.nn.Sequential(torch.nn.Linear(5, 7), act(), torch.nn.Linear(7, 6), act(),
                                 torch.nn.Linear(6, 3))
    for mine, other in zip(ours, [theirs[0], theirs[2], theirs[4]]):
        _copy_linear(mine, other, torch)
    x = rng.standard_normal((4, 5)).astype(np.float32)
    out = ours(gg.tensor(x, device=device))
    expected = theirs(torch.from_numpy(x))
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=1e-5, atol=1e-6)
    (out * out).sum().backward()
    (expected * expected).sum().backward()
    for mine, other in zip(ours, [theirs[0], theirs[2], theirs[4]]):
        np.testing.assert_allclose(mine.weight.grad.numpy(), other.weight.grad.numpy(),
                                   rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(mine.bias.grad.numpy(), other.bias.grad.numpy(),
                                   rtol=1e-4, atol=1e-6)


def test_linear_without_bias_and_batched_input(torch, rng):
    ours = nn.Linear(4, 3, bias=False)
    theirs = torch.nn.Linear(4, 3, bias=False)
    _copy_linear(ours, theirs, torch)
    x = rng.standard_normal((2, 5, 4)).astype(np.float32)
    np.testing.assert_allclose(ours(gg.tensor(x)).detach().numpy(),
                               theirs(torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-6)
    with_bias = nn.Linear(4, 3)
    out = with_bias(gg.tensor(x))  # 3-D input: bias added by broadcasting
    expected = x @ with_bias.weight.detach().numpy().T + with_bias.bias.detach().numpy()
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-5, atol=1e-6)


def test_linear_shape_error_names_in_features():
    with pytest.raises(RuntimeError, match="in_features=4"):
        nn.Linear(4, 3)(gg.randn(2, 5))


def test_linear_gradcheck_float64(rng):
    layer = nn.Linear(3, 2, activation="tanh").double()
    x = gg.tensor(rng.standard_normal((4, 3)), dtype=gg.float64, requires_grad=True)

    def fn(x, w, b):
        return gg.nn.functional.linear(x, w, b, "tanh")

    assert gg.gradcheck(fn, (x, layer.weight, layer.bias))


@pytest.mark.parametrize("name", ["ReLU", "Tanh", "Sigmoid"])
def test_activation_modules_match_torch(torch, name, rng):
    x = rng.standard_normal((3, 4)).astype(np.float32) * 3
    ours = getattr(nn, name)()(gg.tensor(x)).numpy()
    theirs = getattr(torch.nn, name)()(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-7)
    assert repr(getattr(nn, name)()) == f"{name}()"


def test_sequential_indexing_and_len():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert len(seq) == 3
    assert isinstance(seq[-1], nn.Linear) and seq[-1].out_features == 1
    assert len(seq[:2]) == 2 and list(seq[:2].state_dict()) == ["0.weight", "0.bias"]
    with pytest.raises(IndexError, match="out of range"):
        seq[3]
    assert seq(gg.randn(4, 2)).shape == (4, 1)


def test_dropout_train_and_eval(device):
    gg.manual_seed(0)
    layer = nn.Dropout(0.25)
    x = gg.ones(200, 100, device=device)
    out = layer(x).numpy()
    kept = out != 0
    assert abs(kept.mean() - 0.75) < 0.01
    np.testing.assert_allclose(out[kept], 1 / 0.75, rtol=1e-6)
    layer.eval()
    assert layer(x) is x
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)


def test_dropout_masks_are_seeded_and_gradients_masked():
    x = gg.ones(10, 10, requires_grad=True)
    gg.manual_seed(7)
    a = gg.nn.functional.dropout(x, 0.5)
    gg.manual_seed(7)
    b = gg.nn.functional.dropout(x, 0.5)
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    a.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), a.detach().numpy())


def test_mlp_validation_and_repr():
    with pytest.raises(ValueError, match="activation"):
        nn.MLP([2, 3], activation="gelu")
    with pytest.raises(ValueError, match="two positive"):
        nn.MLP([2])
    text = repr(nn.MLP([2, 3, 1]))
    assert "(0): Linear(in_features=2, out_features=3, bias=True, activation='relu')" in text
    assert "(1): Linear(in_features=3, out_features=1, bias=True)" in text


def test_linear_with_zero_features_works_as_in_torch(device, torch):
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        layer = gg.nn.Linear(0, 2).to(device)
    out = layer(gg.ones(3, 0, device=device))
    assert out.shape == (3, 2) and layer.weight.shape == (2, 0)
    np.testing.assert_allclose(out.cpu().detach().numpy(),
                               np.broadcast_to(layer.bias.detach().cpu().numpy(), (3, 2)))
    with pytest.warns(UserWarning):
        reference = torch.nn.Linear(0, 2)
    assert tuple(reference.weight.shape) == layer.weight.shape


@pytest.mark.parametrize("args, error, name", [((-1, 2), ValueError, "in_features"),
                                               ((2, -3), ValueError, "out_features"),
                                               ((2.5, 2), TypeError, "in_features"),
                                               ((True, 2), TypeError, "in_features")])
def test_linear_names_a_bad_argument(args, error, name):
    with pytest.raises(error, match=f"Linear: {name} must be a non-negative int, got"):
        gg.nn.Linear(*args)


# ---- Embedding, Flatten, Unflatten, feature dropout ----------------------------------------
def test_embedding_layer_init_padding_and_repr(torch):
    gg.manual_seed(0)
    layer = nn.Embedding(6, 4, padding_idx=-1)
    assert layer.padding_idx == 5 and layer.weight[5].detach().tolist() == [0.0] * 4
    assert repr(layer) == repr(torch.nn.Embedding(6, 4, padding_idx=-1))
    assert list(layer.state_dict()) == ["weight"]
    std = nn.Embedding(1000, 50).weight.detach().numpy().std()
    assert abs(std - 1.0) < 0.02  # N(0, 1), as PyTorch
    out = layer(gg.tensor([[5, 2]]))
    out.sum().backward()
    assert layer.weight.grad[5].tolist() == [0.0] * 4
    assert layer.weight.grad[2].tolist() == [1.0] * 4
    with pytest.raises(AssertionError, match="Padding_idx must be within"):
        nn.Embedding(3, 2, padding_idx=3)


def test_embedding_from_pretrained():
    table = gg.randn(3, 2)
    frozen = nn.Embedding.from_pretrained(table)
    assert frozen.weight.requires_grad is False
    assert frozen(gg.tensor([2])).tolist() == [table[2].tolist()]
    assert nn.Embedding.from_pretrained(table, freeze=False).weight.requires_grad


def test_flatten_unflatten_match_torch(torch):
    x = np.arange(24.0).reshape(2, 3, 4)
    for ours, theirs in [(nn.Flatten(), torch.nn.Flatten()),
                         (nn.Flatten(0, 1), torch.nn.Flatten(0, 1)),
                         (nn.Unflatten(2, (2, 2)), torch.nn.Unflatten(2, (2, 2))),
                         (nn.Unflatten(-1, (2, -1)), torch.nn.Unflatten(-1, (2, -1)))]:
        assert ours(gg.tensor(x)).shape == tuple(theirs(torch.tensor(x)).shape)
        assert repr(ours) == repr(theirs)


def test_feature_dropout_layers(torch):
    for name in ("Dropout", "Dropout1d", "Dropout2d", "Dropout3d"):
        assert repr(getattr(nn, name)(0.2)) == repr(getattr(torch.nn, name)(0.2))
    layer = nn.Dropout2d(0.5).eval()
    x = gg.ones(2, 3, 2, 2)
    assert layer(x) is x
    layer.train()
    gg.manual_seed(1)
    out = layer(x).numpy().reshape(2, 3, -1)
    assert (out.min(axis=-1) == out.max(axis=-1)).all()


def test_dropout_inplace_writes_into_the_input():
    gg.manual_seed(0)
    x = gg.ones(50)
    out = nn.Dropout(0.5, inplace=True)(x)
    assert out is x and set(x.tolist()) <= {0.0, 2.0}
