"""conv1d and conv2d (gpugrad/ops/conv.py) at the edges the main tests pass over: PyTorch's error
messages word for word (where gpugrad words them as PyTorch does) or gpugrad's own in full, the
boundary where the output size reaches 0 or 1, the bias under autocast, and unbatched inputs whose
results have unit dimensions."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn.functional as F
from support.gradtools import assert_close


def _messages(torch, call, *arrays):
    """The errors that ``call`` raises in PyTorch and in gpugrad on the same arrays."""
    with pytest.raises(Exception) as expected:
        call(torch.nn.functional, *[torch.tensor(a) for a in arrays])
    with pytest.raises(Exception) as got:
        call(F, *[gg.tensor(a) for a in arrays])
    return expected.value, got.value


def _raises(call, *args, **kwargs):
    """The exception ``call`` raises (failing the test when it raises none)."""
    with pytest.raises(Exception) as info:
        call(*args, **kwargs)
    return info.value


X, W = np.zeros((1, 3, 4, 4)), np.zeros((3, 3, 3, 3))


@pytest.mark.parametrize("call", [
    lambda F, x, w: F.conv2d(x, w, stride=2, padding="same"),
    lambda F, x, w: F.conv2d(x, w, padding=-1),
    lambda F, x, w: F.conv2d(x, w, stride=0),
    lambda F, x, w: F.conv2d(x[0, 0], w),
    lambda F, x, w: F.conv1d(x[0, 0, 0], w[:, :, 0]),
    lambda F, x, w: F.conv1d(x[:, :, 0], w[:, :, 0], stride=2, padding="same"),
], ids=["same_strided", "negative_padding", "zero_stride", "rank2d", "rank1d", "same_strided1d"])
def test_errors_word_for_word_as_torch(torch, call):
    expected, got = _messages(torch, call, X, W)
    assert type(got) is type(expected) is RuntimeError
    assert str(got) == str(expected)


def test_channel_mismatch_with_groups_word_for_word_as_torch(torch):
    # every size in the message differs from the others, so each must come from its own place
    expected, got = _messages(torch, lambda F, x, w: F.conv2d(x, w, groups=2),
                              np.zeros((1, 6, 5, 7)), np.zeros((4, 2, 3, 3)))
    assert str(got) == str(expected)
    assert "to have 4 channels, but got 6 channels instead" in str(got)


@pytest.mark.parametrize("x_shape,w_shape,padding,dilation", [
    ((1, 1, 3, 6), (1, 1, 2, 3), (1, 2), (5, 1)),  # the height has exactly 0 positions
    ((1, 1, 6, 3), (1, 1, 3, 2), (2, 1), (1, 5)),  # the width has exactly 0 positions
], ids=["height", "width"])
def test_input_smaller_than_kernel_word_for_word_as_torch(torch, x_shape, w_shape, padding,
                                                          dilation):
    """One dimension too small (the other fine), each size of the message distinct."""
    expected, got = _messages(
        torch, lambda F, x, w: F.conv2d(x, w, padding=padding, dilation=dilation),
        np.zeros(x_shape), np.zeros(w_shape))
    assert type(got) is RuntimeError
    assert str(got) == str(expected)


@pytest.mark.parametrize("x_shape,w_shape,padding,dilation", [
    ((1, 2, 6, 3), (2, 2, 3, 2), (2, 1), (1, 4)),  # output width 1
    ((1, 2, 3, 6), (2, 2, 2, 3), (1, 2), (4, 1)),  # output height 1
], ids=["width1", "height1"])
def test_output_of_size_one_matches_torch(torch, x_shape, w_shape, padding, dilation):
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(2)
    got = F.conv2d(gg.tensor(x), gg.tensor(w), gg.tensor(b), padding=padding, dilation=dilation)
    want = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), torch.tensor(b),
                                      padding=padding, dilation=dilation)
    assert got.shape == tuple(want.shape)
    assert_close(got, want)


@pytest.mark.parametrize("op,dims", [(F.conv1d, 1), (F.conv2d, 2)])
@pytest.mark.parametrize("name", ["stride", "padding", "dilation"])
def test_bad_argument_errors_name_the_op_and_the_argument(op, dims, name):
    """A float or a tuple of the wrong length is refused (PyTorch: TypeError / RuntimeError),
    naming the function and the argument."""
    x, w = gg.zeros((1, 2) + (5,) * dims), gg.zeros((2, 2) + (3,) * dims)
    fn = op.__name__
    err = _raises(op, x, w, **{name: 1.5})
    assert type(err) is TypeError
    assert str(err) == (f"{fn}(): argument '{name}' must be an int or a tuple of {dims} ints, "
                        f"not float")
    bad = (1,) * (dims + 1)
    err = _raises(op, x, w, **{name: bad})
    assert str(err) == (f"{fn}(): argument '{name}' must be an int or a tuple of {dims} ints, "
                        f"got {bad!r}")


@pytest.mark.parametrize("op,dims", [(F.conv1d, 1), (F.conv2d, 2)])
def test_weight_of_the_wrong_rank_is_refused_naming_the_op(op, dims):
    x, w = gg.zeros((1, 2) + (5,) * dims), gg.zeros((2, 2) + (3,) * (dims + 1))
    err = _raises(op, x, w)
    assert type(err) is RuntimeError
    assert str(err) == (f"{op.__name__}: expected a {dims + 2}-D weight (out_channels, "
                        f"in_channels / groups, *kernel_size), got weight of size "
                        f"{list(w.shape)}")


@pytest.mark.parametrize("groups", [0, -2])
def test_non_positive_groups_as_torch(torch, groups):
    expected, got = _messages(torch, lambda F, x, w: F.conv2d(x, w, groups=groups), X, W)
    assert type(got) is RuntimeError
    assert str(got).startswith(str(expected))  # PyTorch's words, then the value given
    assert str(got) == f"non-positive groups is not supported (got groups={groups})"


@pytest.mark.parametrize("groups", [True, 1.0])
def test_groups_that_is_no_int_is_refused(groups):
    """PyTorch raises a TypeError for a bool or float groups; gpugrad refuses it too rather
    than running as groups=1."""
    with pytest.raises((TypeError, RuntimeError), match="groups"):
        F.conv2d(gg.tensor(X), gg.tensor(W), groups=groups)


def test_zero_dilation_as_torch(torch):
    expected, got = _messages(torch, lambda F, x, w: F.conv2d(x, w, dilation=(1, 0)), X, W)
    assert type(got) is RuntimeError
    assert str(expected).startswith("dilation should be greater than zero")
    assert str(got).startswith("dilation should be greater than zero")


@pytest.mark.parametrize("device_type,device,low", [("cpu", "cpu", gg.bfloat16),
                                                    ("sim", "sim", gg.float16)])
def test_bias_keeps_the_autocast_dtype(torch, device_type, device, low):
    """Under autocast the product is low precision and so is the result with a float32 bias,
    as torch.autocast gives."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 2, 4, 4)).astype(np.float32)
    w = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    with gg.autocast(device_type, dtype=low):
        got = F.conv2d(gg.tensor(x, device=device), gg.tensor(w, device=device),
                       gg.tensor(b, device=device))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        want = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), torch.tensor(b))
    assert want.dtype == torch.bfloat16
    assert got.dtype is low
    assert_close(got.float(), want.float(), atol=0.1, rtol=0.05)


@pytest.mark.parametrize("op,x_shape,w_shape", [
    (F.conv2d, (2, 3, 3), (1, 2, 3, 3)),
    (F.conv1d, (2, 3), (1, 2, 3)),
], ids=["conv2d", "conv1d"])
def test_unbatched_keeps_unit_dimensions(torch, op, x_shape, w_shape):
    """One output channel and one position: only the batch dimension added is removed."""
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    got = op(gg.tensor(x), gg.tensor(w))
    want = getattr(torch.nn.functional, op.__name__)(torch.tensor(x), torch.tensor(w))
    assert got.shape == tuple(want.shape) == (1,) * (len(x_shape))
    assert_close(got, want)
