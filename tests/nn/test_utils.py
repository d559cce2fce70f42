"""Gradient health tools: clip_grad_norm_, clip_grad_value_ (against PyTorch) and grad_stats."""
import math

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.nn import utils

SHAPES = [(3, 4), (5,), ()]


def _params(device, arrays, dtype):
    params = []
    for a in arrays:
        p = gg.tensor(a, dtype=dtype, device=device, requires_grad=True)
        p.grad = gg.tensor(a * 1.5, dtype=dtype, device=device)
        params.append(p)
    return params


def _torch_params(torch, arrays, dtype):
    params = []
    for a in arrays:
        p = torch.tensor(a, dtype=dtype, requires_grad=True)
        p.grad = torch.tensor(a * 1.5, dtype=dtype)
        params.append(p)
    return params


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf, -math.inf, 0.0])
@pytest.mark.parametrize("max_norm", [0.5, 1e3, math.inf])
def test_clip_grad_norm_matches_torch(device, torch, rng, norm_type, max_norm):
    arrays = [rng.standard_normal(s) * 4 for s in SHAPES]
    arrays[1][2] = 0.0  # a zero entry, so the 0-"norm" (a count) is not trivially the size
    params = _params(device, arrays, gg.float64)
    grads_before = [p.grad for p in params]
    tparams = _torch_params(torch, arrays, torch.float64)
    total = utils.clip_grad_norm_(params, max_norm, norm_type)
    expected = torch.nn.utils.clip_grad_norm_(tparams, max_norm, norm_type)
    assert total.shape == () and total.device == gg.Device(device)
    np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-10)
    for p, tp, before in zip(params, tparams, grads_before):
        assert p.grad is before, "clipping must work in place, as PyTorch's does"
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_clip_grad_norm_float32_and_single_tensor(device, torch, rng):
    a = rng.standard_normal((4, 3)).astype(np.float32)
    p = _params(device, [a], gg.float32)[0]
    tp = _torch_params(torch, [a], torch.float32)[0]
    total = utils.clip_grad_norm_(p, 1.0)
    expected = torch.nn.utils.clip_grad_norm_(tp, 1.0)
    assert total.dtype is gg.float32
    np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-6)
    np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-6)
    assert np.linalg.norm(p.grad.numpy()) <= 1.0 + 1e-5


def test_clip_grad_norm_inf_only_measures(device, rng):
    arrays = [rng.standard_normal(s) for s in SHAPES]
    params = _params(device, arrays, gg.float64)
    total = utils.clip_grad_norm_(params, float("inf"))
    flat = np.concatenate([1.5 * a.ravel() for a in arrays])
    np.testing.assert_allclose(total.item(), np.linalg.norm(flat), rtol=1e-12)
    for p, a in zip(params, arrays):
        np.testing.assert_array_equal(p.grad.numpy(), 1.5 * a)


def test_clip_grad_norm_skips_missing_grads_and_empty():
    p = gg.tensor([3.0, 4.0], requires_grad=True)
    q = gg.tensor([1.0], requires_grad=True)  # never got a gradient
    p.grad = gg.tensor([3.0, 4.0])
    assert utils.clip_grad_norm_([p, q], 1.0).item() == pytest.approx(5.0)
    assert q.grad is None
    assert utils.clip_grad_norm_([q], 1.0).item() == 0.0
    assert utils.clip_grad_norm_([], 1.0).item() == 0.0


def test_clip_grad_norm_nonfinite(device, torch):
    p = gg.tensor([1.0, 2.0], device=device, requires_grad=True)
    p.grad = gg.tensor([float("nan"), 1.0], device=device)
    with pytest.raises(RuntimeError, match="non-finite.*error_if_nonfinite=False"):
        utils.clip_grad_norm_(p, 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(np.isnan(p.grad.numpy()), [True, False])  # untouched
    total = utils.clip_grad_norm_(p, 1.0)  # PyTorch spreads the NaN into every gradient
    tp = torch.tensor([1.0, 2.0], requires_grad=True)
    tp.grad = torch.tensor([float("nan"), 1.0])
    torch.nn.utils.clip_grad_norm_(tp, 1.0)
    assert math.isnan(total.item())
    np.testing.assert_array_equal(np.isnan(p.grad.numpy()), np.isnan(tp.grad.numpy()))


@pytest.mark.parametrize("clip_value", [0.1, 1.0, 100.0])
def test_clip_grad_value_matches_torch(device, torch, rng, clip_value):
    arrays = [rng.standard_normal(s) for s in SHAPES]
    params = _params(device, arrays, gg.float64)
    tparams = _torch_params(torch, arrays, torch.float64)
    assert utils.clip_grad_value_(params, clip_value) is None
    torch.nn.utils.clip_grad_value_(tparams, clip_value)
    for p, tp in zip(params, tparams):
        np.testing.assert_array_equal(p.grad.numpy(), tp.grad.numpy())


def test_grad_stats_values_and_table(device, rng):
    big = rng.standard_normal((3, 4)) * 1e4
    small = np.zeros(5)
    small[0] = 1e-9
    params = {"w": gg.tensor(big, device=device, requires_grad=True),
              "b": gg.tensor(small, device=device, requires_grad=True),
              "unused": gg.tensor([1.0], device=device, requires_grad=True)}
    params["w"].grad = gg.tensor(big, device=device)
    params["b"].grad = gg.tensor(small, device=device)
    stats = utils.grad_stats(params)
    w, b = stats["w"], stats["b"]
    assert w["norm"] == pytest.approx(np.linalg.norm(big))
    assert w["max_abs"] == pytest.approx(np.abs(big).max())
    assert w["zero_frac"] == 0.0
    assert b["zero_frac"] == pytest.approx(0.8) and b["norm"] == pytest.approx(1e-9)
    assert stats["unused"]["norm"] is None
    assert stats.total_norm == pytest.approx(np.hypot(np.linalg.norm(big), 1e-9))
    assert set(stats.as_dict()) == {"w", "b", "unused"} and len(stats) == 3
    text = str(stats)
    assert "exploding?" in text and "vanishing?" in text and "no grad" in text
    assert "80.0%" in text and "total grad norm" in text
    with pytest.raises(KeyError, match="no parameter named 'nope'"):
        stats["nope"]


def test_grad_stats_flags_vanishing_relative_to_the_largest():
    params = [gg.tensor([1.0], requires_grad=True) for _ in range(3)]
    for p, g in zip(params, [1e-6, 1e-2, 20.0]):  # 1e-6 is 5e-8 of the largest, 1e-2 is 5e-4
        p.grad = gg.tensor([g])
    flags = [line.endswith("vanishing?") for line in str(utils.grad_stats(params)).splitlines()]
    assert flags[2:5] == [True, False, False]


def test_grad_stats_flags_nonfinite():
    p = gg.tensor([1.0, 2.0], requires_grad=True)
    p.grad = gg.tensor([float("inf"), 0.0])
    stats = utils.grad_stats([p])
    assert not stats["0"]["finite"] and "NaN/inf!" in str(stats)


def test_total_norm_and_clip_with_norm_match_torch(device, torch, rng):
    arrays = [rng.standard_normal(s) for s in SHAPES]
    params = _params(device, arrays, gg.float64)
    tparams = _torch_params(torch, arrays, torch.float64)
    total = utils.get_total_norm([p.grad for p in params], 3.0)
    expected = torch.nn.utils.get_total_norm([p.grad for p in tparams], 3.0)
    np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-12)
    utils.clip_grads_with_norm_(params, 0.25, total)
    torch.nn.utils.clip_grads_with_norm_(tparams, 0.25, expected)
    for p, tp in zip(params, tparams):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-12)


def test_clip_grad_norm_accepts_a_generator():
    params = [gg.tensor([3.0, 4.0], requires_grad=True)]
    params[0].grad = gg.tensor([3.0, 4.0])
    assert utils.clip_grad_norm_((p for p in params), 1.0).item() == pytest.approx(5.0)
    np.testing.assert_allclose(params[0].grad.numpy(), [0.6, 0.8], rtol=1e-5)
