"""pad (constant mode) and interpolate argument by argument against PyTorch, values and
gradients: negative and lopsided pads, fill values and dtypes, results that never alias the
input; interpolate's modes (area too) with size, scale_factor (above and below 1), recompute_scale_factor
and align_corners down to outputs of 1 and 2, and PyTorch's messages."""
import re

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.nn import functional as F


def _grads_match(torch, ours_fn, theirs_fn, x, rtol=1e-12):
    ours_x, theirs_x = gg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours, theirs = ours_fn(ours_x), theirs_fn(theirs_x)
    assert ours.shape == tuple(theirs.shape)
    assert ours.dtype.name == str(theirs.dtype).replace("torch.", "")
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=rtol,
                               atol=1e-14)
    if theirs.numel():
        weights = np.linspace(0.5, 1.5, theirs.numel()).reshape(tuple(theirs.shape))
        (ours * gg.tensor(weights)).sum().backward()
        (theirs * torch.tensor(weights)).sum().backward()
        np.testing.assert_allclose(ours_x.grad.numpy(), theirs_x.grad.numpy(), rtol=rtol,
                                   atol=1e-14)


# ---- pad -------------------------------------------------------------------------------------
@pytest.mark.parametrize("pads", [(0, 5), (5, 0), (2, 3), (-1, 2), (2, -1), (-1, -2), (0, -3),
                                  (-3, 0), (1, 1, -1, 2), (0, 0, 2, 0), (-1, 0, 0, -1),
                                  (-2, -2), (0, -4), (-4, 0, 1, 0)])  # the last: empty
@pytest.mark.parametrize("value", [None, 0.1, -2.5])
def test_constant_pad_matches_torch(torch, pads, value):
    x = np.arange(1.0, 13.0).reshape(1, 3, 4)
    kwargs = {} if value is None else {"value": value}
    _grads_match(torch, lambda t: F.pad(t, pads, **kwargs),
                 lambda t: torch.nn.functional.pad(t, pads, **kwargs), x)


def test_constant_pad_keeps_an_integer_dtype(torch):
    x = np.arange(6).reshape(2, 3)
    ours = F.pad(gg.tensor(x), (1, 2), value=7)
    theirs = torch.nn.functional.pad(torch.tensor(x), (1, 2), value=7)
    assert ours.dtype == gg.int64
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_pad_beyond_the_size_message():
    with pytest.raises(RuntimeError, match="^" + re.escape(
            "pad: the padding of dimension 1 (-2, -2) would leave a negative size from 3")):
        F.pad(gg.ones(2, 3), (-2, -2))


@pytest.mark.parametrize("pads", [(0, 0), (-1, 0), (0, -1), (-1, -1, 0, 0)])
def test_pad_never_aliases_its_input(torch, pads):
    # PyTorch's pad returns new memory even when it only crops or adds nothing
    x = gg.ones(3, 4)
    out = F.pad(x, pads)
    assert out is not x
    out.mul_(5.0)
    np.testing.assert_array_equal(x.numpy(), np.ones((3, 4)))
    t = torch.ones(3, 4)
    torch.nn.functional.pad(t, pads).mul_(5.0)
    assert (t == 1).all()


# ---- interpolate -----------------------------------------------------------------------------
CASES = [dict(size=7), dict(size=3), dict(size=1), dict(size=2), dict(scale_factor=1.7),
         dict(scale_factor=0.75), dict(scale_factor=2), dict(scale_factor=0.6),
         dict(scale_factor=1.7, recompute_scale_factor=True),
         dict(scale_factor=0.75, recompute_scale_factor=True),
         dict(scale_factor=1.7, recompute_scale_factor=False)]


@pytest.mark.parametrize("kwargs", CASES, ids=str)
@pytest.mark.parametrize("mode,align_corners", [("nearest", None), ("nearest-exact", None),
                                                ("linear", None), ("linear", False),
                                                ("linear", True), ("area", None)])
def test_interpolate_1d_matches_torch(torch, mode, align_corners, kwargs):
    x = np.random.default_rng(0).standard_normal((2, 3, 5))
    extra = {} if align_corners is None else {"align_corners": align_corners}
    _grads_match(torch, lambda t: F.interpolate(t, mode=mode, **extra, **kwargs),
                 lambda t: torch.nn.functional.interpolate(t, mode=mode, **extra, **kwargs), x)


@pytest.mark.parametrize("kwargs", [dict(size=(2, 7)), dict(size=(1, 3)),
                                    dict(scale_factor=(0.75, 1.7)),
                                    dict(scale_factor=1.5, recompute_scale_factor=True)],
                         ids=str)
@pytest.mark.parametrize("mode,align_corners", [("nearest", None), ("bilinear", False),
                                                ("bilinear", True), ("area", None)])
def test_interpolate_2d_matches_torch(torch, mode, align_corners, kwargs):
    x = np.random.default_rng(1).standard_normal((1, 2, 4, 5))
    extra = {} if align_corners is None else {"align_corners": align_corners}
    _grads_match(torch, lambda t: F.interpolate(t, mode=mode, **extra, **kwargs),
                 lambda t: torch.nn.functional.interpolate(t, mode=mode, **extra, **kwargs), x)


def _same_error(torch, error, ours_call, theirs_call, message=None):
    with pytest.raises(error) as theirs:
        theirs_call()
    expected = str(theirs.value) if message is None else message
    with pytest.raises(error, match="^" + re.escape(expected)):
        ours_call()


@pytest.mark.parametrize("shape,kwargs", [
    ((1, 1, 4, 4), dict(size=3, mode="linear")), ((1, 1, 4), dict(size=3, mode="bilinear")),
    ((1, 1, 4), dict(size=3, mode="nearest", align_corners=True)),
    ((1, 1, 4), dict(size=3, mode="nearest-exact", align_corners=False)),
    ((1, 1, 4), dict(size=3, scale_factor=2.0)), ((1, 1, 4), dict())])
def test_interpolate_argument_errors_are_torchs(torch, shape, kwargs):
    error = NotImplementedError if "linear" in kwargs.get("mode", "") else ValueError
    _same_error(torch, error, lambda: F.interpolate(gg.ones(*shape), **kwargs),
                lambda: torch.nn.functional.interpolate(torch.ones(*shape), **kwargs))


def test_interpolate_rank_mismatch_messages():
    with pytest.raises(ValueError, match="^" + re.escape(
            "Input and output must have the same number of spatial dimensions, but got input "
            "with spatial dimensions of [4, 5] and output size of [3, 4, 5].")):
        F.interpolate(gg.ones(1, 1, 4, 5), size=(3, 4, 5))
    with pytest.raises(ValueError, match="^" + re.escape(
            "Input and scale_factor must have the same number of spatial dimensions, but got "
            "input with spatial dimensions of [4, 5] and scale_factor of shape [2.0, 3.0, 1.0].")):
        F.interpolate(gg.ones(1, 1, 4, 5), scale_factor=(2.0, 3.0, 1.0))


def test_interpolate_antialias_message():
    with pytest.raises(NotImplementedError, match="^" + re.escape(
            "interpolate: antialias=True is not supported") + "$"):
        F.interpolate(gg.ones(1, 1, 4, 4), size=3, mode="bilinear", antialias=True)


@pytest.mark.parametrize("shape,kwargs", [((1, 1, 4), dict(size=0)),
                                          ((1, 1, 4), dict(scale_factor=0.1)),
                                          ((1, 1, 4), dict(scale_factor=0.0, mode="linear")),
                                          ((1, 1, 4, 5), dict(size=(0, 3))),
                                          ((1, 1, 0, 5), dict(size=(2, 3), mode="bilinear"))])
def test_interpolate_sizes_must_be_positive(torch, shape, kwargs):
    _same_error(torch, RuntimeError, lambda: F.interpolate(gg.ones(*shape), **kwargs),
                lambda: torch.nn.functional.interpolate(torch.ones(*shape), **kwargs))
