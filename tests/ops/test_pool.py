"""Pooling (gpugrad/ops/pool.py): max, average and adaptive average pooling in 1-D and 2-D.
gradcheck and gradgradcheck in float64 on every device, values, gradients and indices against
PyTorch (ties included: the gradient goes to the first maximum), PyTorch's errors, sim kernels."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn.functional as F
from support.gradtools import OpCase, assert_close, check_against_torch, op_tests

R = np.random.default_rng(11)


def distinct(*shape):
    """Values at least 0.05 apart, so no window's maximum sits within a finite-difference step
    of another value (max is not differentiable at a tie)."""
    values = R.permutation(np.prod(shape)).astype(np.float64) * 0.05
    return values.reshape(shape) - values.mean()


def _tf():
    import torch

    return torch.nn.functional


def case(name, fn_name, shape, **kw):
    return OpCase(name, lambda x: getattr(F, fn_name)(x, **kw),
                  lambda x: getattr(_tf(), fn_name)(x, **kw), [distinct(*shape)])


CASES = [
    case("max2d_k2", "max_pool2d", (2, 2, 4, 4), kernel_size=2),
    case("max2d_overlap_pad", "max_pool2d", (1, 2, 5, 5), kernel_size=3, stride=2, padding=1),
    case("max2d_dilation", "max_pool2d", (1, 1, 6, 5), kernel_size=(2, 2), stride=1,
         dilation=(2, 1)),
    case("max2d_ceil", "max_pool2d", (1, 2, 5, 4), kernel_size=2, ceil_mode=True),
    case("max2d_unbatched", "max_pool2d", (2, 4, 4), kernel_size=2),
    case("max1d", "max_pool1d", (2, 2, 7), kernel_size=3, stride=2, padding=1),
    case("avg2d_k2", "avg_pool2d", (2, 2, 4, 4), kernel_size=2),
    case("avg2d_pad", "avg_pool2d", (1, 2, 5, 5), kernel_size=3, stride=2, padding=1),
    case("avg2d_no_pad_count", "avg_pool2d", (1, 2, 5, 5), kernel_size=3, stride=2, padding=1,
         count_include_pad=False),
    case("avg2d_ceil", "avg_pool2d", (1, 1, 5, 6), kernel_size=(2, 3), stride=(2, 2),
         padding=(1, 1), ceil_mode=True),
    case("avg2d_divisor", "avg_pool2d", (1, 1, 4, 4), kernel_size=2, divisor_override=3),
    case("avg1d", "avg_pool1d", (2, 2, 7), kernel_size=3, stride=2, padding=1,
         count_include_pad=False),
    case("adaptive2d", "adaptive_avg_pool2d", (1, 2, 5, 7), output_size=(3, 4)),
    case("adaptive2d_global", "adaptive_avg_pool2d", (2, 2, 3, 3), output_size=1),
    case("adaptive2d_none", "adaptive_avg_pool2d", (1, 1, 4, 6), output_size=(None, 4)),
    case("adaptive1d", "adaptive_avg_pool1d", (2, 2, 7), output_size=3),
]

test_gradcheck, test_matches_torch = op_tests(CASES)


@pytest.mark.parametrize("kw", [
    dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=(3, 2), stride=(1, 2), dilation=(2, 1), padding=(1, 0)),
    dict(kernel_size=3, stride=2, ceil_mode=True),
], ids=str)
def test_max_pool2d_indices_match_torch(device, torch, kw):
    x = distinct(2, 3, 7, 6)
    out, idx = F.max_pool2d(gg.tensor(x, device=device), return_indices=True, **kw)
    want, want_idx = torch.nn.functional.max_pool2d(torch.tensor(x), return_indices=True, **kw)
    assert_close(out, want)
    assert idx.dtype == gg.int64 and not idx.requires_grad
    np.testing.assert_array_equal(idx.cpu().numpy(), want_idx.numpy())


def test_max_pool1d_indices_match_torch(device, torch):
    x = distinct(2, 3, 9)
    out, idx = F.max_pool1d(gg.tensor(x, device=device), 3, 2, 1, return_indices=True)
    want, want_idx = torch.nn.functional.max_pool1d(torch.tensor(x), 3, 2, 1,
                                                    return_indices=True)
    assert_close(out, want)
    np.testing.assert_array_equal(idx.cpu().numpy(), want_idx.numpy())


def test_max_pool_gradient_goes_to_the_first_of_tied_maxima(device, torch):
    """After a ReLU whole windows are 0: PyTorch gives each window's gradient to one element."""
    x = np.maximum(distinct(2, 2, 6, 6), 0.0)
    x[0, 0, :2, :2] = 1.5
    check_against_torch(OpCase("ties", lambda t: F.max_pool2d(t, 2, 1),
                               lambda t: _tf().max_pool2d(t, 2, 1), [x]), device, torch)


def test_max_pool_propagates_nan(device, torch):
    x = distinct(1, 1, 4, 4)
    x[0, 0, 1, 1] = np.nan
    got = F.max_pool2d(gg.tensor(x, device=device), 2)
    want = torch.nn.functional.max_pool2d(torch.tensor(x), 2)
    np.testing.assert_array_equal(np.isnan(got.cpu().numpy()), np.isnan(want.numpy()))


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=2, stride=1, dilation=2)], ids=str)
def test_max_pool_indices_and_gradient_with_nan_and_inf_match_torch(device, torch, kw):
    # ties, NaNs (PyTorch chooses a window's last NaN) and all -inf windows that also read
    # the padding (the index stays on the window's first element inside the input)
    x = np.round(np.random.default_rng(5).standard_normal((2, 3, 7, 6)))
    x.flat[::11] = np.nan
    x[:, :, :3, :3] = -np.inf
    gx = gg.tensor(x, device=device, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    out, idx = F.max_pool2d(gx, return_indices=True, **kw)
    want, want_idx = torch.nn.functional.max_pool2d(tx, return_indices=True, **kw)
    np.testing.assert_array_equal(out.detach().cpu().numpy(), want.detach().numpy())
    np.testing.assert_array_equal(idx.cpu().numpy(), want_idx.numpy())
    grad = np.random.default_rng(6).standard_normal(want.shape)
    out.backward(gg.tensor(grad, device=device))
    want.backward(torch.tensor(grad))
    np.testing.assert_allclose(gx.grad.cpu().numpy(), tx.grad.numpy(), rtol=1e-12)


def test_float32_pools_match_torch(device, torch, rng):
    x = rng.standard_normal((4, 3, 9, 8)).astype(np.float32)
    for name, kw in (("max_pool2d", dict(kernel_size=2)), ("avg_pool2d", dict(kernel_size=3)),
                     ("adaptive_avg_pool2d", dict(output_size=(4, 3)))):
        got = getattr(F, name)(gg.tensor(x, device=device), **kw)
        assert got.dtype == gg.float32
        assert_close(got, getattr(torch.nn.functional, name)(torch.tensor(x), **kw),
                     atol=1e-6, rtol=1e-5, what=name)


@pytest.mark.parametrize("name,args,kw", [
    ("max_pool2d", (2,), dict(padding=2)),
    ("avg_pool2d", (2,), dict(padding=2)),
    ("max_pool2d", (5,), {}),
    ("max_pool2d", (2,), dict(stride=0)),
], ids=["max_pad", "avg_pad", "too_small", "zero_stride"])
def test_errors_match_torch(torch, name, args, kw):
    x = np.zeros((1, 1, 4, 4))
    with pytest.raises(RuntimeError) as expected:
        getattr(torch.nn.functional, name)(torch.tensor(x), *args, **kw)
    with pytest.raises(RuntimeError) as got:
        getattr(F, name)(gg.tensor(x), *args, **kw)
    first_words = " ".join(str(expected.value).split()[:2])
    assert first_words in str(got.value), (str(got.value), str(expected.value))


def test_pooling_refuses_integers_naming_the_op():
    with pytest.raises(RuntimeError, match="max_pool2d"):
        F.max_pool2d(gg.zeros(1, 1, 4, 4, dtype=gg.int64), 2)


def test_sim_max_pool_is_one_kernel_each_way():
    backend = gg.device_registry.get_backend("sim")
    x = gg.randn(4, 3, 8, 8, device="sim", requires_grad=True)
    grad = gg.randn(4, 3, 4, 4, device="sim")
    backend.reset()
    F.max_pool2d(x, 2).backward(grad)
    by_op, _ = backend.kernel_totals()
    assert "im2col" not in by_op and "col2im" not in by_op
    windows = 4 * 3 * 4 * 4
    count, _, flops, nbytes, _ = by_op["max_pool2d"]
    # reads the input once, writes the maxima and their int64 indices; 4 compares per window
    assert (count, flops, nbytes) == (1, 4 * windows, 4 * 3 * 8 * 8 * 4 + windows * (4 + 8))
    count, _, flops, nbytes, _ = by_op["max_pool2d_backward"]
    # reads the gradient and the indices, writes the input's gradient; one test per window
    assert (count, flops, nbytes) == (1, windows, windows * (4 + 8) + 4 * 3 * 8 * 8 * 4)
