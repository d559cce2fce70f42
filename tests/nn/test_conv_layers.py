"""Conv1d/Conv2d and the pooling layers (gpugrad/nn/conv.py, gpugrad/nn/pooling.py): PyTorch's
parameter shapes, initialization bounds, argument checks and reprs, and outputs equal to
PyTorch's layers holding the same weights."""
import math

import numpy as np
import pytest

import gpugrad as gg
from support.gradtools import assert_close


@pytest.mark.parametrize("cls,args,kw", [
    ("Conv2d", (3, 6, 5), {}),
    ("Conv2d", (4, 8, (3, 2)), dict(stride=2, padding=1, dilation=(1, 2), groups=2)),
    ("Conv2d", (2, 4, 3), dict(padding="same", bias=False)),
    ("Conv1d", (4, 6, 3), dict(stride=2, padding=1, groups=2)),
    ("Conv1d", (2, 3, 4), dict(padding="valid")),
], ids=str)
def test_conv_layers_match_torch(device, torch, cls, args, kw):
    gg.manual_seed(0)
    layer = getattr(gg.nn, cls)(*args, **kw, dtype=gg.float64, device=device)
    ref = getattr(torch.nn, cls)(*args, **kw, dtype=torch.float64)
    assert [tuple(p.shape) for p in layer.parameters()] == [tuple(p.shape) for p in
                                                             ref.parameters()]
    assert repr(layer) == repr(ref)
    with torch.no_grad():
        for p, q in zip(layer.parameters(), ref.parameters()):
            q.copy_(torch.tensor(p.detach().cpu().numpy()))
    spatial = (9,) if cls == "Conv1d" else (9, 8)
    x = np.random.default_rng(1).standard_normal((2, args[0]) + spatial)
    assert_close(layer(gg.tensor(x, device=device)), ref(torch.tensor(x)))


def test_conv_init_has_torch_bounds():
    """kaiming_uniform_(a=sqrt(5)) gives U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the weight, and
    the bias uses the same bound."""
    gg.manual_seed(0)
    layer = gg.nn.Conv2d(8, 64, 3, groups=2)
    bound = 1 / math.sqrt(4 * 9)
    for p in (layer.weight, layer.bias):
        values = p.detach().numpy()
        assert values.min() >= -bound and values.max() <= bound
        assert values.max() > 0.9 * bound and values.min() < -0.9 * bound
    assert layer.weight.requires_grad and layer.weight.dtype == gg.float32


@pytest.mark.parametrize("kw,error,match", [
    (dict(padding_mode="reflect"), NotImplementedError, "padding_mode='reflect'"),
    (dict(padding_mode="mirror"), ValueError, "padding_mode must be one of"),
    (dict(groups=4), ValueError, "in_channels must be divisible by groups"),
    (dict(padding="same", stride=2), ValueError, "not supported for strided"),
    (dict(padding="full"), ValueError, "Invalid padding string"),
], ids=str)
def test_conv_argument_errors(kw, error, match):
    with pytest.raises(error, match=match):
        gg.nn.Conv2d(6, 4, 3, **kw)


@pytest.mark.parametrize("cls,args,kw", [
    ("MaxPool2d", (2,), {}), ("MaxPool2d", (3,), dict(stride=2, padding=1, ceil_mode=True)),
    ("AvgPool2d", (3,), dict(stride=2, padding=1, count_include_pad=False)),
    ("AvgPool2d", (2,), dict(divisor_override=3)),
    ("AdaptiveAvgPool2d", ((3, 2),), {}), ("AdaptiveAvgPool2d", (1,), {}),
    ("MaxPool1d", (3,), dict(stride=2)), ("AvgPool1d", (2,), {}),
    ("AdaptiveAvgPool1d", (4,), {}),
], ids=str)
def test_pool_layers_match_torch(device, torch, cls, args, kw):
    layer, ref = getattr(gg.nn, cls)(*args, **kw), getattr(torch.nn, cls)(*args, **kw)
    spatial = (9,) if cls.endswith("1d") else (9, 8)
    x = np.random.default_rng(2).standard_normal((2, 3) + spatial)
    assert_close(layer(gg.tensor(x, device=device)), ref(torch.tensor(x)))


def test_max_pool_layer_returns_indices(torch):
    x = np.random.default_rng(3).standard_normal((1, 2, 6, 6))
    out, idx = gg.nn.MaxPool2d(2, return_indices=True)(gg.tensor(x))
    want, want_idx = torch.nn.MaxPool2d(2, return_indices=True)(torch.tensor(x))
    assert_close(out, want)
    np.testing.assert_array_equal(idx.numpy(), want_idx.numpy())


def test_a_lenet_trains_one_step(device):
    """Conv -> ReLU -> pool -> flatten -> Linear: every parameter gets a gradient."""
    gg.manual_seed(0)
    net = gg.nn.Sequential(gg.nn.Conv2d(1, 4, 3, padding=1), gg.nn.ReLU(), gg.nn.MaxPool2d(2),
                           gg.nn.Flatten(), gg.nn.Linear(4 * 4 * 4, 10)).to(device)
    x, y = gg.randn(5, 1, 8, 8, device=device), gg.tensor([0, 1, 2, 3, 4], device=device)
    gg.nn.functional.cross_entropy(net(x), y).backward()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in net.parameters())
