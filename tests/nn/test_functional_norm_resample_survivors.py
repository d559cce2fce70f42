"""batch_norm, group_norm, layer_norm, pad (non-constant modes), softmin and linear with a
vector weight against PyTorch in float64, values, gradients, running statistics and exact error
messages: the inputs that tell apart the mutants the older tests let survive (default
arguments, boundary sizes, which check fires first, each message's text)."""
import re

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.nn import functional as F

torch = pytest.importorskip("torch", reason="compares with PyTorch")
TF = torch.nn.functional


def _pair(array, grad=True):
    return (gg.tensor(array, requires_grad=grad), torch.tensor(array, requires_grad=grad))


def _close(ours, theirs):
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-10,
                               atol=1e-12)


def _backward_both(ours, theirs):
    weights = np.linspace(0.5, 1.5, max(theirs.numel(), 1))[:theirs.numel()]
    weights = weights.reshape(tuple(theirs.shape))
    (ours * gg.tensor(weights)).sum().backward()
    (theirs * torch.tensor(weights)).sum().backward()


def _raises(kind, message):
    return pytest.raises(kind, match="^" + re.escape(message) + "$")


# ---- batch_norm ------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(2, 3), (2, 3, 5), (2, 3, 2, 2)])
@pytest.mark.parametrize("momentum", ["default", 0.3, 1.0])
def test_batch_norm_training_updates_running_stats(shape, momentum):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape)
    w, b = rng.standard_normal(3), rng.standard_normal(3)
    mean0, var0 = rng.standard_normal(3), rng.uniform(0.5, 2.0, 3)
    (gx, tx), (gw, tw), (gb, tb) = _pair(x), _pair(w), _pair(b)
    g_rm, g_rv = gg.tensor(mean0.copy()), gg.tensor(var0.copy())
    t_rm, t_rv = torch.tensor(mean0.copy()), torch.tensor(var0.copy())
    kwargs = {} if momentum == "default" else {"momentum": momentum}
    ours = F.batch_norm(gx, g_rm, g_rv, gw, gb, training=True, eps=1e-3, **kwargs)
    theirs = TF.batch_norm(tx, t_rm, t_rv, tw, tb, training=True, eps=1e-3, **kwargs)
    _close(ours, theirs)
    np.testing.assert_allclose(g_rm.numpy(), t_rm.numpy(), rtol=1e-12)
    np.testing.assert_allclose(g_rv.numpy(), t_rv.numpy(), rtol=1e-12)
    _backward_both(ours, theirs)
    for mine, ref in ((gx, tx), (gw, tw), (gb, tb)):
        np.testing.assert_allclose(mine.grad.numpy(), ref.grad.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("shape", [(3, 2), (2, 2, 3)])
@pytest.mark.parametrize("affine", [False, True])
def test_batch_norm_defaults_to_evaluation(shape, affine):
    rng = np.random.default_rng(2)
    x = rng.standard_normal(shape)
    mean, var = rng.standard_normal(2), rng.uniform(0.5, 2.0, 2)
    w, b = (rng.standard_normal(2), rng.standard_normal(2)) if affine else (None, None)
    gx, tx = _pair(x)
    g_rm, g_rv = gg.tensor(mean.copy()), gg.tensor(var.copy())
    ours = F.batch_norm(gx, g_rm, g_rv, None if w is None else gg.tensor(w),
                        None if b is None else gg.tensor(b))
    theirs = TF.batch_norm(tx, torch.tensor(mean), torch.tensor(var),
                           None if w is None else torch.tensor(w),
                           None if b is None else torch.tensor(b))
    _close(ours, theirs)
    np.testing.assert_array_equal(g_rm.numpy(), mean)  # evaluation leaves them alone
    np.testing.assert_array_equal(g_rv.numpy(), var)
    _backward_both(ours, theirs)
    np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), rtol=1e-10)


def test_batch_norm_function_takes_no_momentum_none():
    # the cumulative average (momentum=None) is BatchNorm's: it counts the batches
    with pytest.raises(TypeError):
        F.batch_norm(gg.ones((2, 3)), gg.zeros(3), gg.ones(3), training=True, momentum=None)
    with pytest.raises(TypeError):
        TF.batch_norm(torch.ones((2, 3)), torch.zeros(3), torch.ones(3), training=True,
                      momentum=None)


def test_batch_norm_training_without_running_stats():
    x = np.random.default_rng(3).standard_normal((2, 4, 3))
    gx, tx = _pair(x)
    ours, theirs = F.batch_norm(gx, None, None, training=True), \
        TF.batch_norm(tx, None, None, training=True)
    _close(ours, theirs)
    _backward_both(ours, theirs)
    np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_batch_norm_rejects_one_d_input():
    with _raises(ValueError, "batch_norm: expected an input of shape (N, C, ...), got 1-D "
                             "input of size [3]"):
        F.batch_norm(gg.tensor(np.ones(3)), None, None, training=True)


@pytest.mark.parametrize("which", ["running_mean", "running_var", "weight", "bias"])
def test_batch_norm_names_the_wrong_sized_argument(which):
    args = {"running_mean": gg.zeros(3), "running_var": gg.ones(3), "weight": gg.ones(3),
            "bias": gg.zeros(3)}
    args[which] = gg.ones(4)
    with _raises(RuntimeError, f"batch_norm: {which} should contain 3 elements not 4"):
        F.batch_norm(gg.ones((2, 3)), args["running_mean"], args["running_var"],
                     args["weight"], args["bias"])


@pytest.mark.parametrize("given", ["mean", "var", "none"])
def test_batch_norm_evaluation_needs_both_running_stats(given):
    mean = gg.zeros(3) if given == "mean" else None
    var = gg.ones(3) if given == "var" else None
    with _raises(RuntimeError, "batch_norm: running_mean and running_var must be defined in "
                               "evaluation mode (training=False)"):
        F.batch_norm(gg.ones((2, 3)), mean, var, training=False)


@pytest.mark.parametrize("shape", [(1, 3), (1, 3, 1)])
def test_batch_norm_training_needs_two_values_per_channel(shape):
    # PyTorch refuses one value per channel
    with _raises(ValueError, f"Expected more than 1 value per channel when training, got "
                             f"input size {list(shape)}"):
        F.batch_norm(gg.tensor(np.ones(shape)), None, None, training=True)
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        TF.batch_norm(torch.ones(shape), None, None, training=True)


@pytest.mark.parametrize("shape", [(2, 0), (0, 3)])
def test_batch_norm_of_no_values_is_empty_as_pytorchs(shape):
    # no channel, or an empty batch: nothing to normalize (it refused both)
    assert F.batch_norm(gg.ones(shape), None, None, training=True).shape == shape
    assert TF.batch_norm(torch.ones(shape), None, None, training=True).shape == shape


# ---- layer_norm ------------------------------------------------------------------------------
@pytest.mark.parametrize("shape, normalized", [((2, 3), 3), ((2, 3), (3,)), ((2, 3), [2, 3]),
                                               ((3,), 3), ((2, 3, 4), (3, 4)),
                                               ((2, 3, 4), (2, 3, 4))])
def test_layer_norm_normalized_shape_forms(shape, normalized):
    rng = np.random.default_rng(4)
    x = rng.standard_normal(shape)
    wshape = (normalized,) if isinstance(normalized, int) else tuple(normalized)
    w, b = rng.standard_normal(wshape), rng.standard_normal(wshape)
    (gx, tx), (gw, tw), (gb, tb) = _pair(x), _pair(w), _pair(b)
    ours, theirs = F.layer_norm(gx, normalized, gw, gb), TF.layer_norm(tx, wshape, tw, tb)
    _close(ours, theirs)
    _backward_both(ours, theirs)
    for mine, ref in ((gx, tx), (gw, tw), (gb, tb)):
        np.testing.assert_allclose(mine.grad.numpy(), ref.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_layer_norm_message_lists_the_normalized_shape():
    message = ("Given normalized_shape=[4, 5], expected input with shape [*, 4, 5], but got "
               "input of size[2, 3, 4]")
    with _raises(RuntimeError, message):
        F.layer_norm(gg.ones((2, 3, 4)), (4, 5))
    with pytest.raises(RuntimeError, match=re.escape("[*, 4, 5]")):
        TF.layer_norm(torch.ones((2, 3, 4)), (4, 5))


# ---- group_norm ------------------------------------------------------------------------------
@pytest.mark.parametrize("shape, groups", [((2, 6), 1), ((2, 6), 3), ((2, 6, 4), 2),
                                           ((3, 4, 2, 3), 4), ((1, 6, 5), 6)])
@pytest.mark.parametrize("affine", [False, True])
def test_group_norm_matches_torch(shape, groups, affine):
    rng = np.random.default_rng(5)
    x = rng.standard_normal(shape)
    gx, tx = _pair(x)
    gw = tw = gb = tb = None
    if affine:
        (gw, tw), (gb, tb) = _pair(rng.standard_normal(shape[1])), \
            _pair(rng.standard_normal(shape[1]))
    ours, theirs = F.group_norm(gx, groups, gw, gb, eps=1e-4), \
        TF.group_norm(tx, groups, tw, tb, eps=1e-4)
    _close(ours, theirs)
    _backward_both(ours, theirs)
    pairs = ((gx, tx),) + (((gw, tw), (gb, tb)) if affine else ())
    for mine, ref in pairs:
        np.testing.assert_allclose(mine.grad.numpy(), ref.grad.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("shape, groups", [((2, 3, 4), 2), ((2, 6), 4), ((2, 3), 0)])
def test_group_norm_groups_must_divide_channels(shape, groups):
    message = (f"Expected number of channels in input to be divisible by num_groups, but got "
               f"input of shape {list(shape)} and num_groups={groups}")
    with _raises(RuntimeError, message):
        F.group_norm(gg.ones(shape), groups)
    if groups:
        with pytest.raises(RuntimeError, match=re.escape(message)):
            TF.group_norm(torch.ones(shape), groups)


def test_group_norm_rejects_one_d_input():
    with _raises(RuntimeError, "group_norm: expected an input of shape (N, C, ...), got [4]"):
        F.group_norm(gg.ones(4), 2)


# ---- pad: reflect, replicate, circular -------------------------------------------------------
@pytest.mark.parametrize("mode, shape, pads", [
    ("reflect", (2, 4), (3, 2)), ("reflect", (1, 2, 4), (-1, 3)),
    ("reflect", (2, 3, 4), (1, 2, 2, 0)), ("reflect", (1, 2, 3, 3, 4), (1, 2, 0, 2, 1, 1)),
    ("reflect", (2, 3, 3, 4), (1, 0, 2, 1, 0, 2)),
    ("replicate", (2, 1), (3, 2)), ("replicate", (1, 2, 3), (4, -1)),
    ("replicate", (2, 2, 3), (1, 2, 3, 0)), ("replicate", (1, 1, 2, 2, 3), (1, 0, 2, 1, 1, 3)),
    ("circular", (2, 3), (3, 3)), ("circular", (1, 2, 3), (2, 1)),
    ("circular", (1, 3), (-1, -2)), ("circular", (1, 2, 3, 3), (1, 2, 3, 0)),
    ("circular", (1, 1, 2, 3, 3), (1, 1, 2, 0, 0, 2)),
    # a crop and a pad on one dim: the crop first, then the kept entries wrap (the wrap read
    # the cropped entries before)
    ("circular", (1, 5, 6), (0, 0, 1, -1)), ("circular", (1, 5, 6), (-2, 3)),
    ("circular", (1, 5, 6), (2, -3, -1, 1)), ("circular", (1, 5, 6), (3, -3))])
def test_pad_modes_match_torch(mode, shape, pads):
    x = np.arange(1.0, 1.0 + np.prod(shape)).reshape(shape) ** 1.5
    kwargs = {"value": 0} if len(pads) == 4 else {}  # a zero value is allowed
    gx, tx = _pair(x)
    ours, theirs = F.pad(gx, pads, mode=mode, **kwargs), TF.pad(tx, pads, mode=mode, **kwargs)
    _close(ours, theirs)
    if theirs.numel():
        _backward_both(ours, theirs)
        np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_pad_mode_refuses_a_fill_value(mode):
    message = f"Padding mode \"{mode}\" doesn't take in value argument"
    with _raises(RuntimeError, message):
        F.pad(gg.ones((1, 3)), (1, 1), mode=mode, value=1.0)
    with pytest.raises(RuntimeError, match=re.escape(message)):
        TF.pad(torch.ones((1, 3)), (1, 1), mode=mode, value=1.0)


@pytest.mark.parametrize("shape, pads", [((3,), (1, 1)), ((2, 3), (1, 1, 1, 1)),
                                         ((1, 1, 2, 2, 2), (1,) * 8)])
def test_pad_mode_needs_a_leading_dimension_and_at_most_three(shape, pads):
    message = (f"pad: mode 'replicate' pads 1 to 3 trailing dimensions of an input with a "
               f"batch or channel dimension before them (got padding length {len(pads)} for a "
               f"{len(shape)}-D input)")
    with _raises(NotImplementedError, message):
        F.pad(gg.ones(shape), pads, mode="replicate")
    with pytest.raises((NotImplementedError, RuntimeError)):
        TF.pad(torch.ones(shape), pads, mode="replicate")


def test_pad_length_messages():
    message = "Padding length must be divisible by 2"
    with _raises(RuntimeError, message):
        F.pad(gg.ones((2, 3)), (1, 2, 3))
    with pytest.raises(RuntimeError, match=re.escape(message)):
        TF.pad(torch.ones((2, 3)), (1, 2, 3))
    message = ("Padding length should be less than or equal to two times the input dimension "
               "but got padding length 6 and input of dimension 2")
    with _raises(RuntimeError, message):
        F.pad(gg.ones((2, 3)), (1,) * 6)
    with pytest.raises(RuntimeError, match=re.escape(message)):
        TF.pad(torch.ones((2, 3)), (1,) * 6)


@pytest.mark.parametrize("pads", [(3, 0), (0, 3), (4, 1)])
def test_reflect_pad_must_be_smaller_than_the_dimension(pads):
    message = (f"Argument #4: Padding size should be less than the corresponding input "
               f"dimension, but got: padding ({pads[0]}, {pads[1]}) at dimension")
    with _raises(RuntimeError, message + " of size 3"):  # PyTorch: "1 of input [1, 3]"
        F.pad(gg.ones((1, 3)), pads, mode="reflect")
    with pytest.raises(RuntimeError, match=re.escape(message)):
        TF.pad(torch.ones((1, 3)), pads, mode="reflect")


@pytest.mark.parametrize("pads", [(4, 0), (0, 4), (5, 5)])
def test_circular_pad_wraps_at_most_once(pads):
    message = "Padding value causes wrapping around more than once"
    with _raises(RuntimeError, f"{message}: {pads} around the 3 entries kept of 3"):
        F.pad(gg.ones((1, 3)), pads, mode="circular")
    with pytest.raises(RuntimeError, match=re.escape(message)):
        TF.pad(torch.ones((1, 3)), pads, mode="circular")


def test_replicate_pad_refuses_an_empty_dimension():
    with _raises(RuntimeError, "pad: mode 'replicate' cannot pad an empty dimension"):
        F.pad(gg.ones((1, 0)), (1, 1), mode="replicate")
    with pytest.raises(RuntimeError):
        TF.pad(torch.ones((1, 0)), (1, 1), mode="replicate")


# ---- softmin ---------------------------------------------------------------------------------
@pytest.mark.parametrize("shape, dim", [((4,), None), ((3, 4), None), ((4,), 0), ((3, 4), 0),
                                        ((3, 4), 1), ((3, 4), -2), ((2, 3, 4), 1),
                                        ((2, 3, 4), -1), ((2, 3, 4), None),
                                        ((2, 3, 4, 5), None)])
def test_softmin_matches_torch(shape, dim):
    x = np.random.default_rng(6).standard_normal(shape)
    gx, tx = _pair(x)
    if dim is None:  # PyTorch's implicit choice (dim 0 for 1-D and 3-D, else 1) warns
        with pytest.warns(UserWarning, match="Implicit dimension choice for softmin"):
            theirs = TF.softmin(tx)
        with pytest.warns(UserWarning, match="Implicit dimension choice for softmin"):
            ours = F.softmin(gx)
    else:
        ours, theirs = F.softmin(gx, dim=dim), TF.softmin(tx, dim=dim)
    _close(ours, theirs)
    _backward_both(ours, theirs)
    np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-14)


# ---- linear with a vector weight -------------------------------------------------------------
@pytest.mark.parametrize("activation", ["identity", "relu", None])
def test_linear_vector_weight_activation(activation):
    rng = np.random.default_rng(7)
    (gx, tx), (gw, tw) = _pair(rng.standard_normal((5, 3))), _pair(rng.standard_normal(3))
    ours = F.linear(gx, gw, activation=activation)
    theirs = tx @ tw if activation in (None, "identity") else torch.relu(tx @ tw)
    _close(ours, theirs)
    _backward_both(ours, theirs)
    np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(gw.grad.numpy(), tw.grad.numpy(), rtol=1e-12)


def test_linear_refuses_a_list_weight_with_a_type_error():
    with pytest.raises(TypeError):
        F.linear(gg.ones((2, 3)), [[1.0, 2.0, 3.0]])
    with pytest.raises(TypeError):
        TF.linear(torch.ones((2, 3)), [[1.0, 2.0, 3.0]])


@pytest.mark.parametrize("pads, kept, size", [((4, -3), 3, 6), ((0, 0, -4, 2), 1, 5),
                                              ((-3, -1), 2, 6)])
def test_circular_pad_wraps_at_most_once_around_what_the_crop_keeps(pads, kept, size):
    x = gg.ones((1, 5, 6))
    if pads == (-3, -1):  # a crop alone is fine
        assert F.pad(x, pads, mode="circular").shape == (1, 5, kept)
        return
    with _raises(RuntimeError, "Padding value causes wrapping around more than once: "
                               f"{tuple(p for p in pads if p)} around the {kept} entries kept "
                               f"of {size}"):
        F.pad(x, pads, mode="circular")


def test_batch_norm_of_an_empty_batch_gives_zero_gradients_to_weight_and_bias():
    x = gg.zeros((0, 3, 2), requires_grad=True)
    weight, bias = gg.ones(3, requires_grad=True), gg.zeros(3, requires_grad=True)
    out = F.batch_norm(x, None, None, weight, bias, training=True)
    tout = TF.batch_norm(torch.zeros((0, 3, 2)), None, None, torch.ones(3, requires_grad=True),
                         torch.zeros(3, requires_grad=True), training=True)
    assert out.shape == tuple(tout.shape) == (0, 3, 2)
    out.sum().backward()
    assert weight.grad.tolist() == [0.0] * 3 and bias.grad.tolist() == [0.0] * 3
    assert x.grad.shape == (0, 3, 2)


def test_circular_pad_refuses_a_crop_larger_than_the_dimension():
    with _raises(RuntimeError, "pad: the padding (-4, -3) would leave a negative size from 6"):
        F.pad(gg.ones((1, 5, 6)), (-4, -3), mode="circular")
