"""dropout and dropout1d/2d/3d in detail: the defaults, p at 0 and 1, training=False, inplace,
the 1 / (1 - p) scale in the input's precision, which elements share a mask (whole channels,
with and without a batch dimension), the comparison of draws with p, and PyTorch's messages."""
import re
import warnings

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.nn import functional as F

FEATURE = {"dropout1d": 1, "dropout2d": 2, "dropout3d": 3}


def _channels_kept(out, feature_dims):
    """Per channel (all leading dims): True when kept, after checking the channel is uniform."""
    lead = out.shape[:out.ndim - feature_dims]
    kept = out.reshape(lead + (-1,)) != 0
    assert (kept == kept[..., :1]).all(), "a channel was partly zeroed"
    return kept[..., 0]


def test_dropout_defaults_drop_half_and_scale_by_two():
    gg.manual_seed(0)
    out = F.dropout(gg.ones(4000, dtype="float64")).numpy()
    assert set(np.unique(out)) == {0.0, 2.0}  # training by default, p = 0.5: scale 1 / 0.5
    assert 0.45 < (out == 0).mean() < 0.55


@pytest.mark.parametrize("p", [0.2, 0.7])
def test_dropout_scale_is_exact_in_float64(p):
    gg.manual_seed(1)
    x = gg.tensor(np.linspace(1.0, 2.0, 3000))
    out = F.dropout(x, p).numpy()
    kept = out != 0
    assert 0.0 < kept.mean() < 1.0
    # PyTorch's float64 mask holds 1 / (1 - p) in float64, not rounded to float32
    np.testing.assert_array_equal(out[kept], x.numpy()[kept] * (1.0 / (1.0 - p)))
    assert out.dtype == np.float64


def test_dropout_p_zero_and_eval_return_the_input_values():
    x = gg.tensor(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(F.dropout(x, 0.0).numpy(), x.numpy())
    np.testing.assert_array_equal(F.dropout(x, 0.9, training=False).numpy(), x.numpy())


@pytest.mark.parametrize("name", ["dropout", "dropout1d", "dropout2d", "dropout3d"])
@pytest.mark.filterwarnings("ignore:dropout2d")
def test_p_one_zeroes_everything_and_its_gradient(name):
    x = gg.tensor(np.arange(1.0, 25.0), requires_grad=True)
    shape = {"dropout": (3, 8), "dropout1d": (3, 8), "dropout2d": (3, 2, 4),
             "dropout3d": (3, 2, 2, 2)}[name]
    xin = x.reshape(shape)
    out = getattr(F, name)(xin, 1.0)
    np.testing.assert_array_equal(out.detach().numpy(), np.zeros(shape))
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros(24))


@pytest.mark.parametrize("p", [-0.1, 1.5])
@pytest.mark.parametrize("name", ["dropout", "dropout1d", "dropout2d", "dropout3d"])
def test_p_outside_zero_one_raises_as_torch(name, p):
    x = gg.ones(2, 3, 4) if name in ("dropout", "dropout1d") else gg.ones(2, 3, 4, 4)
    with pytest.raises(ValueError, match=re.escape(
            f"dropout probability has to be between 0 and 1, but got {p}")):
        getattr(F, name)(x, p)


class _Draws:
    """Stands in for ``rand``: hands out chosen draws in the dtype asked for, and records it."""

    def __init__(self, values):
        self.values, self.dtypes = values, []

    def __call__(self, shape, dtype=None, device=None):
        self.dtypes.append(dtype)
        return gg.tensor(np.asarray(self.values).reshape(shape), dtype=dtype or "float32",
                         device=device)


def test_a_draw_equal_to_p_is_kept_and_compared_in_the_input_dtype(monkeypatch):
    # keep where u >= p: P(keep) = 1 - p exactly; the draws are in the input's dtype
    p = 0.3
    draws = _Draws([p, p - 1e-12, 0.9, 0.1])
    monkeypatch.setattr(F, "rand", draws)
    out = F.dropout(gg.ones(4, dtype="float64"), p).numpy()
    np.testing.assert_array_equal(out, [1 / 0.7, 0.0, 1 / 0.7, 0.0])
    assert draws.dtypes == [gg.float64]


@pytest.mark.parametrize("name,shape", [
    ("dropout1d", (6, 50, 4)), ("dropout1d", (300, 4)),
    ("dropout2d", (6, 50, 2, 3)),  # (C, H, W) is taken as (N, C, L), as in PyTorch
    ("dropout3d", (6, 50, 2, 1, 2)), ("dropout3d", (300, 2, 1, 2))])
def test_feature_dropout_masks_whole_channels_independently(name, shape):
    gg.manual_seed(2)
    p = 0.4
    x = gg.tensor(np.linspace(1.0, 2.0, int(np.prod(shape))).reshape(shape))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # only a 3-D dropout2d input warns
        out = getattr(F, name)(x, p).numpy()
    kept = _channels_kept(out, FEATURE[name])
    assert kept.shape == shape[:len(shape) - FEATURE[name]]
    assert 0.45 < kept.mean() < 0.75  # each channel on its own, kept with 1 - p
    if kept.ndim == 2:  # with a batch: the channels of one sample are not dropped as one
        assert (kept.any(axis=1) & ~kept.all(axis=1)).any()
    np.testing.assert_allclose(out[out != 0], (x.numpy() / (1 - p))[out != 0],
                               rtol=1e-15)


def test_dropout2d_of_3d_input_masks_channels_of_n_c_l_with_torchs_warning(torch):
    gg.manual_seed(3)
    x = gg.tensor(np.linspace(1.0, 2.0, 40 * 30 * 3).reshape(40, 30, 3))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = F.dropout2d(x, 0.5).numpy()
        torch.nn.functional.dropout2d(torch.ones(2, 3, 4), 0.5)
    ours, theirs = [str(w.message) for w in caught]
    assert ours == theirs
    assert caught[0].category is UserWarning
    kept = _channels_kept(out, 1)  # (N, C, L): one draw per (sample, channel)
    assert kept.shape == (40, 30)
    assert (kept.any(axis=1) & ~kept.all(axis=1)).any()


@pytest.mark.parametrize("name,shape", [("dropout1d", (2, 3, 4, 5)), ("dropout1d", (4,)),
                                        ("dropout2d", (2, 3, 4, 5, 6)), ("dropout2d", (3, 4)),
                                        ("dropout3d", (1, 2, 3, 4, 5, 6)),
                                        ("dropout3d", (3, 4, 5))])
def test_feature_dropout_wrong_rank_message(torch, name, shape):
    n = FEATURE[name]
    expected = f"{name}: Expected {n + 1}D or {n + 2}D input, but received a {len(shape)}D input"
    with pytest.raises(RuntimeError, match="^" + re.escape(expected)):
        getattr(F, name)(gg.ones(*shape), 0.5)
    if name == "dropout1d":  # PyTorch's words (it warns instead for dropout2d and 3d)
        with pytest.raises(RuntimeError, match="^" + re.escape(expected)):
            torch.nn.functional.dropout1d(torch.ones(*shape), 0.5)


@pytest.mark.parametrize("name,shape", [("dropout", (3, 4)), ("dropout1d", (3, 4)),
                                        ("dropout1d", (2, 3, 4)), ("dropout2d", (2, 3, 4)),
                                        ("dropout2d", (2, 3, 2, 2)),
                                        ("dropout3d", (3, 2, 2, 2)),
                                        ("dropout3d", (2, 3, 2, 2, 2))])
@pytest.mark.filterwarnings("ignore:dropout2d")
def test_inplace_writes_into_the_input(name, shape):
    x = gg.ones(*shape, dtype="float64")
    out = getattr(F, name)(x, 1.0, inplace=True)
    np.testing.assert_array_equal(x.numpy(), np.zeros(shape))
    np.testing.assert_array_equal(out.detach().numpy(), np.zeros(shape))
    y = gg.ones(*shape, dtype="float64")
    getattr(F, name)(y, 1.0)  # out of place by default
    np.testing.assert_array_equal(y.numpy(), np.ones(shape))


@pytest.mark.parametrize("name", ["dropout1d", "dropout2d", "dropout3d"])
def test_feature_dropout_defaults_train_with_p_half(name):
    gg.manual_seed(4)
    shape = (400, 2) + (1,) * (FEATURE[name] - 1) + (2,)
    out = getattr(F, name)(gg.ones(*shape, dtype="float64")).numpy()
    assert set(np.unique(out)) == {0.0, 2.0}
    assert 0.4 < (out == 0).mean() < 0.6


# ---- relu and linear ------------------------------------------------------------------------
def test_relu_is_out_of_place_unless_asked():
    x = gg.tensor([-1.0, 2.0])
    np.testing.assert_array_equal(F.relu(x).numpy(), [0.0, 2.0])
    np.testing.assert_array_equal(x.numpy(), [-1.0, 2.0])
    F.relu(x, inplace=True)
    np.testing.assert_array_equal(x.numpy(), [0.0, 2.0])


@pytest.mark.parametrize("activation", ["identity", "relu", "tanh", "sigmoid", None])
@pytest.mark.parametrize("case", ["3d_bias", "2d_no_bias"])
def test_linear_activation_off_the_fused_path_matches_torch(torch, activation, case):
    rng = np.random.default_rng(5)
    shape = (2, 3, 4) if case == "3d_bias" else (3, 4)
    x, w, b = rng.standard_normal(shape), rng.standard_normal((5, 4)), rng.standard_normal(5)
    ours_x = gg.tensor(x, requires_grad=True)
    theirs_x = torch.tensor(x, requires_grad=True)
    ours_b = gg.tensor(b) if case == "3d_bias" else None
    theirs_b = torch.tensor(b) if case == "3d_bias" else None
    ours = F.linear(ours_x, gg.tensor(w), ours_b, activation=activation)
    theirs = torch.nn.functional.linear(theirs_x, torch.tensor(w), theirs_b)
    if activation not in (None, "identity"):
        theirs = getattr(torch, activation)(theirs)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-12)
    ours.sum().backward()
    theirs.sum().backward()
    np.testing.assert_allclose(ours_x.grad.numpy(), theirs_x.grad.numpy(), rtol=1e-12)


def test_linear_unknown_activation_message():
    with pytest.raises(ValueError, match=re.escape(
            "linear: unknown activation 'gelu'; expected one of (None, 'identity', 'relu', "
            "'tanh', 'sigmoid')")):
        F.linear(gg.ones(2, 3), gg.ones(4, 3), activation="gelu")


def test_dropout2d_warning_points_outside_gpugrad():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        F.dropout2d(gg.ones(2, 3, 4), 0.5)
    assert not caught[0].filename.replace("\\", "/").endswith("gpugrad/nn/functional.py")
