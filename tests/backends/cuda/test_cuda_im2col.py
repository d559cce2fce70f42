"""The cuda backend's im2col/col2im and max_pool2d (+ backward) (kernels/im2col.cu and
gpugrad/backends/cuda/windows.py) against the NumPy reference, on a real GPU (marked ``cuda``)
and on the CUDA emulator (the tests' fake CuPy, kernels compiled for the CPU; skipped without a
C++ compiler). col2im adds in the reference's order, so its bits match exactly; a whole conv2d
and max_pool2d run on the emulated device against PyTorch too."""
import numpy as np
import pytest

from support import fake_cupy
import gpugrad as gg
from gpugrad.backends.cpu import windows as ref

# (input shape, kernel, stride, padding ((top, bottom), (left, right)), dilation)
GEOMETRIES = [
    ((1, 1, 4, 4), (3, 3), (1, 1), ((0, 0), (0, 0)), (1, 1)),
    ((2, 3, 7, 6), (3, 2), (2, 1), ((1, 1), (2, 2)), (1, 2)),
    ((2, 2, 5, 9), (2, 3), (3, 2), ((0, 1), (1, 0)), (2, 1)),  # asymmetric: 'same', ceil_mode
    ((1, 4, 1, 11), (1, 3), (1, 2), ((0, 0), (1, 1)), (1, 1)),  # a 1-D op's unit height
]


@pytest.fixture(scope="module", params=[pytest.param("gpu", marks=pytest.mark.cuda),
                                        "emulated"])
def be(request):
    yield from fake_cupy.kernel_backend(request.param, ["im2col.cu"])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("geometry", GEOMETRIES, ids=str)
def test_im2col_and_col2im_match_reference(be, rng, dtype, geometry):
    shape, kernel, stride, padding, dilation = geometry
    x = rng.standard_normal(shape).astype(dtype)
    for pad_value in (0.0, -np.inf):
        got = be.to_host(be.im2col(be.from_host(x), kernel, stride, padding, dilation,
                                   pad_value))
        want = ref.im2col_numpy(x, kernel, stride, padding, dilation, pad_value)
        np.testing.assert_array_equal(got, want)
    cols = rng.standard_normal(want.shape).astype(dtype)
    got = be.to_host(be.col2im(be.from_host(cols), shape, kernel, stride, padding, dilation))
    np.testing.assert_array_equal(got, ref.col2im_numpy(cols, shape, kernel, stride, padding,
                                                        dilation))


# pooling geometries: padding at most half the (dilated) window, so every window holds input
POOL_GEOMETRIES = [
    ((1, 1, 4, 4), (2, 2), (2, 2), ((0, 0), (0, 0)), (1, 1)),
    ((2, 3, 7, 6), (3, 3), (2, 2), ((1, 1), (1, 1)), (1, 1)),  # overlapping, padded
    ((2, 2, 5, 9), (2, 3), (1, 2), ((0, 1), (1, 1)), (2, 1)),  # dilated, ceil_mode's extra
    ((1, 4, 1, 11), (1, 3), (1, 2), ((0, 0), (1, 1)), (1, 1)),  # a 1-D op's unit height
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("geometry", POOL_GEOMETRIES, ids=str)
def test_max_pool2d_and_its_backward_match_reference(be, rng, dtype, geometry):
    shape, kernel, stride, padding, dilation = geometry
    # rounded values tie often; a NaN, and a -inf row, exercise PyTorch's choice rules
    x = np.round(rng.standard_normal(shape)).astype(dtype)
    x.flat[::7] = np.nan
    x[..., 0, :] = -np.inf
    values, indices = be.max_pool2d(be.from_host(x), kernel, stride, padding, dilation)
    want_values, want_indices = ref.max_pool2d_numpy(x, kernel, stride, padding, dilation)
    np.testing.assert_array_equal(be.to_host(values), want_values)
    np.testing.assert_array_equal(be.to_host(indices), want_indices)
    grad = rng.standard_normal(want_values.shape).astype(dtype)
    got = be.max_pool2d_backward(be.from_host(grad), indices, shape, kernel, stride, padding,
                                 dilation)
    np.testing.assert_array_equal(be.to_host(got), ref.max_pool2d_backward_numpy(
        grad, want_indices, shape, kernel, stride, padding, dilation))


def test_im2col_reads_a_strided_input(be, rng):
    x = rng.standard_normal((2, 3, 5, 4))
    view = be.permute(be.from_host(x.transpose(0, 1, 3, 2).copy()), (0, 1, 3, 2))
    got = be.to_host(be.im2col(view, (2, 2), (1, 1), ((1, 1), (0, 0)), (1, 1)))
    np.testing.assert_array_equal(got, ref.im2col_numpy(x, (2, 2), (1, 1), ((1, 1), (0, 0)),
                                                        (1, 1)))


def test_integer_arrays_are_refused_with_the_reason(be):
    with pytest.raises(TypeError, match="float32 or float64"):
        be.im2col(be.from_host(np.zeros((1, 1, 2, 2), np.int64)), (1, 1), (1, 1),
                  ((0, 0), (0, 0)), (1, 1))


def test_conv_and_pool_on_the_device_match_torch(be, rng, torch):
    x = rng.standard_normal((2, 3, 6, 5))
    w = rng.standard_normal((4, 3, 3, 3))
    gx = gg.tensor(x, device=str(be.device), requires_grad=True)
    gw = gg.tensor(w, device=str(be.device), requires_grad=True)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    out = gg.nn.functional.max_pool2d(gg.nn.functional.conv2d(gx, gw, padding=1), 2)
    want = torch.nn.functional.max_pool2d(torch.nn.functional.conv2d(tx, tw, padding=1), 2)
    np.testing.assert_allclose(out.detach().cpu().numpy(), want.detach().numpy(), rtol=1e-10)
    out.sum().backward()
    want.sum().backward()
    np.testing.assert_allclose(gx.grad.cpu().numpy(), tx.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(gw.grad.cpu().numpy(), tw.grad.numpy(), rtol=1e-10)
