"""conv1d and conv2d (gpugrad/ops/conv.py) and the windows under them (gpugrad/ops/windows.py):
gradcheck and gradgradcheck in float64 on every device, values and gradients against PyTorch
over a grid of stride, padding, dilation and groups, PyTorch's errors, and the sim's kernels."""
import itertools

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn.functional as F
from gpugrad.ops.windows import Col2Im, Im2Col
from support.gradtools import OpCase, assert_close, check_against_torch, op_tests

# PyTorch warns that its own 'same' padding of an even kernel copies the input
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")
R = np.random.default_rng(7)


def normal(*shape):
    return R.standard_normal(shape)


def _tf():
    import torch

    return torch.nn.functional


def conv2d_case(name, x_shape, w_shape, bias=True, **kw):
    inputs = [normal(*x_shape), normal(*w_shape)] + ([normal(w_shape[0])] if bias else [])
    return OpCase(name, lambda *t: F.conv2d(*t, **kw), lambda *t: _tf().conv2d(*t, **kw),
                  inputs)


def conv1d_case(name, x_shape, w_shape, bias=True, **kw):
    inputs = [normal(*x_shape), normal(*w_shape)] + ([normal(w_shape[0])] if bias else [])
    return OpCase(name, lambda *t: F.conv1d(*t, **kw), lambda *t: _tf().conv1d(*t, **kw),
                  inputs)


# small shapes: gradgradcheck differentiates every output twice by finite differences
CASES = [
    conv2d_case("conv2d_plain", (2, 2, 4, 4), (3, 2, 2, 2)),
    conv2d_case("conv2d_no_bias", (1, 2, 4, 3), (2, 2, 3, 2), bias=False),
    conv2d_case("conv2d_stride_pad", (1, 2, 5, 4), (2, 2, 3, 3), stride=2, padding=1),
    conv2d_case("conv2d_tuples", (1, 1, 5, 6), (2, 1, 2, 3), stride=(2, 1), padding=(1, 2),
                dilation=(2, 1)),
    conv2d_case("conv2d_groups", (1, 4, 4, 4), (4, 2, 2, 2), groups=2),
    conv2d_case("conv2d_depthwise", (1, 3, 4, 4), (3, 1, 3, 3), groups=3, padding=1),
    conv2d_case("conv2d_same_even", (1, 2, 4, 5), (2, 2, 2, 4), padding="same"),
    conv2d_case("conv2d_valid", (1, 1, 4, 4), (1, 1, 3, 3), padding="valid"),
    conv2d_case("conv2d_unbatched", (2, 4, 4), (2, 2, 3, 3), padding=1),
    conv1d_case("conv1d_plain", (2, 2, 6), (3, 2, 3)),
    conv1d_case("conv1d_all", (1, 4, 9), (4, 2, 3), stride=2, padding=2, dilation=2, groups=2),
    conv1d_case("conv1d_same", (1, 2, 6), (2, 2, 4), padding="same", bias=False),
    conv1d_case("conv1d_unbatched", (2, 7), (3, 2, 2)),
]

test_gradcheck, test_matches_torch = op_tests(CASES)

GRID = list(itertools.product([1, 2], [0, 1, "same"], [1, 2], [1, 2]))


@pytest.mark.parametrize("stride,padding,dilation,groups", GRID, ids=str)
def test_conv2d_grid_matches_torch(device, torch, stride, padding, dilation, groups):
    """Values and gradients over every stride/padding/dilation/groups combination."""
    if padding == "same" and stride != 1:
        pytest.skip("PyTorch refuses padding='same' with a stride (tested below)")
    case = conv2d_case("grid", (2, 4, 7, 6), (4, 4 // groups, 3, 2), stride=stride,
                       padding=padding, dilation=dilation, groups=groups)
    check_against_torch(case, device, torch)


def test_float32_conv_matches_torch(device, torch, rng):
    x = rng.standard_normal((3, 5, 12, 10)).astype(np.float32)
    w = rng.standard_normal((8, 5, 3, 3)).astype(np.float32)
    got = F.conv2d(gg.tensor(x, device=device), gg.tensor(w, device=device), padding=1)
    want = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), padding=1)
    assert got.dtype == gg.float32 and got.is_contiguous()
    assert_close(got, want, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("call", [
    lambda F, x, w: F.conv2d(x, w, stride=2, padding="same"),
    lambda F, x, w: F.conv2d(x, w, padding="full"),
    lambda F, x, w: F.conv2d(x, w[:, :2]),
    lambda F, x, w: F.conv2d(x, w, groups=2),
    lambda F, x, w: F.conv2d(x[0, 0], w),
    lambda F, x, w: F.conv2d(x, w, bias=w[0, 0]),
    lambda F, x, w: F.conv2d(x[:, :, :2, :2], w),
    lambda F, x, w: F.conv2d(x, w, padding=-1),
    lambda F, x, w: F.conv2d(x, w, stride=0),
], ids=["same_strided", "bad_string", "channels", "groups", "rank", "bias", "too_small",
        "negative_padding", "zero_stride"])
def test_errors_match_torch(torch, call):
    x, w = np.zeros((1, 3, 4, 4)), np.zeros((3, 3, 3, 3))
    with pytest.raises((RuntimeError, ValueError)) as expected:
        call(torch.nn.functional, torch.tensor(x), torch.tensor(w))
    with pytest.raises(type(expected.value)) as got:
        call(F, gg.tensor(x), gg.tensor(w))
    first_words = " ".join(str(expected.value).split()[:2])
    assert first_words in str(got.value), (str(got.value), str(expected.value))


def test_im2col_and_col2im_are_adjoint(device, rng):
    """<im2col(x), c> == <x, col2im(c)> for every geometry the ops use, padding included."""
    geometry = dict(kernel=(2, 3), stride=(2, 1), padding=((1, 0), (2, 1)), dilation=(1, 2))
    x = gg.tensor(rng.standard_normal((2, 3, 5, 6)), device=device)
    cols = Im2Col.apply(x, **geometry)
    c = gg.tensor(rng.standard_normal(tuple(cols.shape)), device=device)
    back = Col2Im.apply(c, shape=tuple(x.shape), **geometry)
    assert abs((cols * c).sum().item() - (x * back).sum().item()) < 1e-9


def test_sim_models_im2col_and_col2im_as_single_kernels(torch):
    """On the sim each window primitive is one kernel with honest bytes and flops: im2col reads
    the input once and writes the columns; col2im reads the columns, adds each entry once and
    writes the image."""
    from gpugrad.sim import report  # noqa: F401  (the sim package loads its controls)

    backend = gg.device_registry.get_backend("sim")
    x = backend.from_host(np.ones((2, 3, 6, 5), np.float32))
    backend.reset()
    geometry = ((3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1))
    cols = backend.im2col(x, *geometry)
    img = backend.col2im(cols, (2, 3, 6, 5), *geometry)
    by_op, _ = backend.kernel_totals()
    count, _, flops, nbytes, op_class = by_op["im2col"]
    assert (count, flops, op_class) == (1, 0, "gather")
    assert nbytes == 2 * 3 * 6 * 5 * 4 + 27 * 60 * 4
    count, _, flops, nbytes, op_class = by_op["col2im"]
    assert (count, flops, op_class) == (1, 27 * 60, "gather")
    assert nbytes == 27 * 60 * 4 + 2 * 3 * 6 * 5 * 4
    assert backend.to_host(cols).shape == (27, 60) and backend.to_host(img).shape == (2, 3, 6, 5)


def test_sim_conv_forward_is_im2col_and_one_gemm():
    backend = gg.device_registry.get_backend("sim")
    x = gg.randn(4, 3, 8, 8, device="sim")
    w = gg.randn(6, 3, 3, 3, device="sim")
    backend.reset()
    F.conv2d(x, w, padding=1)
    by_op, _ = backend.kernel_totals()
    assert by_op["im2col"][0] == 1 and by_op["matmul"][0] == 1
    assert by_op["matmul"][2] == 2 * 6 * 27 * 4 * 64  # 2*m*n*k flops of the one GEMM
