"""Pooling (gpugrad/ops/pool.py) argument by argument against PyTorch in float64: values,
gradients and indices of max/avg pooling in 1-D and 2-D with every argument (default and
explicit stride, padding at its maximum, dilation, ceil_mode windows, count_include_pad,
divisor_override, return_indices), batched and unbatched shapes with size-1 dimensions,
adaptive pooling to sizes that do not divide the input, and each error's exact message."""
import re

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn.functional as F

torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch)")
TF = torch.nn.functional


def _distinct(shape, seed):
    """Values 0.1 apart in random order: no ties, so each window has one maximum."""
    rng = np.random.default_rng(seed)
    return (rng.permutation(int(np.prod(shape))).astype(np.float64) * 0.1 - 1.0).reshape(shape)


def _check(device, name, shape, kw):
    """``F.name(x, **kw)`` and the gradient of a random weighting of it equal PyTorch's."""
    x = _distinct(shape, len(shape) + sum(shape))
    gx = gg.tensor(x, device=device, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    got, want = getattr(F, name)(gx, **kw), getattr(TF, name)(tx, **kw)
    if kw.get("return_indices"):
        (got, got_index), (want, want_index) = got, want
        assert got_index.requires_grad is False
        assert got_index.shape == tuple(want_index.shape), (got_index.shape, want_index.shape)
        np.testing.assert_array_equal(got_index.numpy(), want_index.numpy())
    assert got.shape == tuple(want.shape), (got.shape, tuple(want.shape))
    assert got.dtype == gg.float64
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-12, atol=1e-12)
    weight = np.random.default_rng(1).standard_normal(tuple(want.shape))
    (got * gg.tensor(weight, device=device)).sum().backward()
    (want * torch.tensor(weight)).sum().backward()
    np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-12)


MAX_CASES = [
    ("max_pool1d", (2, 3, 7), dict(kernel_size=3)),
    ("max_pool1d", (2, 3, 7), dict(kernel_size=3, stride=2, padding=1)),
    ("max_pool1d", (2, 3, 9), dict(kernel_size=3, stride=1, padding=1, dilation=3)),
    ("max_pool1d", (2, 3, 7), dict(kernel_size=2, ceil_mode=True, return_indices=True)),
    ("max_pool1d", (3, 7), dict(kernel_size=2, ceil_mode=True, return_indices=True)),
    ("max_pool1d", (1, 5), dict(kernel_size=2, padding=1, return_indices=True)),
    ("max_pool1d", (3, 4), dict(kernel_size=4, return_indices=True)),
    ("max_pool1d", (1, 1, 5), dict(kernel_size=5, return_indices=True)),
    ("max_pool1d", (1, 2, 6), dict(kernel_size=(2,), stride=[3], padding=(1,))),
    ("max_pool2d", (2, 3, 5, 7), dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 1),
                                      dilation=(1, 2), ceil_mode=True, return_indices=True)),
    ("max_pool2d", (1, 2, 9, 5), dict(kernel_size=3, stride=1, padding=(1, 0),
                                      dilation=(3, 1))),
    ("max_pool2d", (3, 5, 5), dict(kernel_size=2, ceil_mode=True, return_indices=True)),
    ("max_pool2d", (1, 4, 6), dict(kernel_size=(4, 2), return_indices=True)),
    ("max_pool2d", (1, 1, 4, 6), dict(kernel_size=(4, 2), padding=(2, 1), return_indices=True)),
    ("max_pool2d", (2, 2, 4, 4), dict(kernel_size=4, return_indices=True)),
    ("max_pool2d", (2, 2, 4, 6), dict(kernel_size=2, stride=())),
    ("max_pool2d", (2, 2, 4, 6), dict(kernel_size=(2, 3), stride=[])),
]

AVG_CASES = [
    ("avg_pool1d", (2, 3, 7), dict(kernel_size=3)),
    ("avg_pool1d", (2, 3, 7), dict(kernel_size=3, stride=2, padding=1)),
    ("avg_pool1d", (2, 3, 7), dict(kernel_size=2, stride=2, padding=1, ceil_mode=True)),
    ("avg_pool1d", (2, 3, 8), dict(kernel_size=4, stride=3, padding=2, ceil_mode=True,
                                   count_include_pad=False)),
    ("avg_pool1d", (3, 7), dict(kernel_size=2, ceil_mode=True)),
    ("avg_pool1d", (1, 5), dict(kernel_size=5)),
    ("avg_pool1d", (2, 1, 5), dict(kernel_size=3, padding=1, count_include_pad=True)),
    ("avg_pool2d", (2, 3, 5, 7), dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 1),
                                      ceil_mode=True)),
    ("avg_pool2d", (2, 3, 5, 7), dict(kernel_size=(3, 4), stride=2, padding=(1, 2),
                                      ceil_mode=True, count_include_pad=False)),
    ("avg_pool2d", (2, 3, 5, 5), dict(kernel_size=2, stride=3, ceil_mode=True,
                                      divisor_override=3)),
    ("avg_pool2d", (1, 2, 4, 4), dict(kernel_size=2, divisor_override=1)),
    ("avg_pool2d", (3, 4, 5), dict(kernel_size=(4, 2))),
    ("avg_pool2d", (1, 5, 5), dict(kernel_size=2, padding=1)),
    ("avg_pool2d", (2, 2, 4, 4), dict(kernel_size=4)),
    ("avg_pool2d", (1, 1, 4, 4), dict(kernel_size=4, padding=2, count_include_pad=False)),
    ("avg_pool2d", (2, 2, 4, 6), dict(kernel_size=2, stride=())),
]

ADAPTIVE_CASES = [
    ("adaptive_avg_pool1d", (2, 3, 7), dict(output_size=3)),
    ("adaptive_avg_pool1d", (2, 3, 7), dict(output_size=2)),
    ("adaptive_avg_pool1d", (2, 3, 5), dict(output_size=(4,))),
    ("adaptive_avg_pool1d", (3, 7), dict(output_size=4)),
    ("adaptive_avg_pool1d", (1, 5), dict(output_size=2)),
    ("adaptive_avg_pool1d", (3, 1), dict(output_size=1)),
    ("adaptive_avg_pool1d", (2, 3, 1), dict(output_size=3)),
    ("adaptive_avg_pool2d", (2, 3, 5, 7), dict(output_size=(3, 4))),
    ("adaptive_avg_pool2d", (2, 3, 5, 7), dict(output_size=2)),
    ("adaptive_avg_pool2d", (2, 3, 5, 7), dict(output_size=(None, 4))),
    ("adaptive_avg_pool2d", (2, 3, 5, 7), dict(output_size=(3, None))),
    ("adaptive_avg_pool2d", (2, 3, 5, 7), dict(output_size=1)),
    ("adaptive_avg_pool2d", (3, 5, 7), dict(output_size=(1, 3))),
    ("adaptive_avg_pool2d", (1, 5, 7), dict(output_size=(2, 3))),
    ("adaptive_avg_pool2d", (2, 1, 1), dict(output_size=(2, 1))),
]


@pytest.mark.parametrize("name,shape,kw", MAX_CASES + AVG_CASES + ADAPTIVE_CASES,
                         ids=lambda v: str(v).replace(" ", ""))
def test_pool_values_gradients_and_indices_match_torch(device, name, shape, kw):
    _check(device, name, shape, kw)


def test_avg_pool_keeps_low_precision_dtypes_with_uneven_divisors(device):
    for dtype, tdtype in ((gg.float32, torch.float32), (gg.float16, torch.float16)):
        x = _distinct((1, 2, 5, 5), 3)
        got = F.avg_pool2d(gg.tensor(x, dtype=dtype, device=device), 2, ceil_mode=True)
        want = TF.avg_pool2d(torch.tensor(x, dtype=tdtype), 2, ceil_mode=True)
        assert got.dtype == dtype
        np.testing.assert_allclose(got.numpy().astype(np.float64),
                                   want.numpy().astype(np.float64), rtol=2e-3, atol=2e-3)


def _int64():
    return str(gg.int64)


def _arg_message(op, name, n, value):
    return f"{op}(): argument '{name}' must be an int or a tuple of {n} ints, got {value!r}"


def _window_message(message, kernel, stride, dilation, op):
    return f"{message}, but got kernel_size={kernel}, stride={stride}, dilation={dilation} ({op})"


def _z(*shape, dtype=None):
    return np.zeros(shape, dtype=np.int64 if dtype == "int" else np.float64)


# gpugrad refuses on purpose what PyTorch accepts: integer pooling, empty adaptive outputs
TORCH_ACCEPTS = "PyTorch accepts it"

# (function, input, args, kwargs, exception, gpugrad's message, the start of PyTorch's message
# where gpugrad copies it, else None: PyTorch refuses every case, in its own words)
ERRORS = [
    ("max_pool2d", _z(2, 3, 4, 4), ((1, 2, 3),), {}, ValueError,
     _arg_message("max_pool2d", "kernel_size", 2, (1, 2, 3)), None),
    ("max_pool2d", _z(2, 3, 4, 4), (2,), dict(stride=(1, 2, 3)), ValueError,
     _arg_message("max_pool2d", "stride", 2, (1, 2, 3)), None),
    ("max_pool2d", _z(2, 3, 4, 4), (2,), dict(padding=(1, 2, 3)), ValueError,
     _arg_message("max_pool2d", "padding", 2, (1, 2, 3)), None),
    ("max_pool2d", _z(2, 3, 4, 4), (2,), dict(dilation=(1, 2, 3)), ValueError,
     _arg_message("max_pool2d", "dilation", 2, (1, 2, 3)), None),
    ("max_pool1d", _z(2, 3, 4), ((1, 2),), {}, ValueError,
     _arg_message("max_pool1d", "kernel_size", 1, (1, 2)), None),
    ("avg_pool1d", _z(2, 3, 4), ((1, 2),), {}, ValueError,
     _arg_message("avg_pool1d", "kernel_size", 1, (1, 2)), None),
    ("avg_pool2d", _z(2, 3, 4, 4), (2,), dict(stride=(1, 2, 3)), ValueError,
     _arg_message("avg_pool2d", "stride", 2, (1, 2, 3)), None),
    ("max_pool2d", _z(2, 3, 4, 4), (0,), {}, RuntimeError,
     _window_message("kernel size should be greater than zero", (0, 0), (0, 0), (1, 1),
                     "max_pool2d"), None),
    ("max_pool2d", _z(2, 3, 4, 4), (2,), dict(stride=0), RuntimeError,
     _window_message("stride should not be zero", (2, 2), (0, 0), (1, 1), "max_pool2d"),
     "stride should not be zero"),
    ("max_pool2d", _z(2, 3, 4, 4), (2,), dict(dilation=(1, 0)), RuntimeError,
     _window_message("dilation should be greater than zero", (2, 2), (2, 2), (1, 0),
                     "max_pool2d"), "dilation should be greater than zero"),
    ("max_pool1d", _z(2, 3, 4), (0,), {}, RuntimeError,
     _window_message("kernel size should be greater than zero", (0,), (0,), (1,),
                     "max_pool1d"), None),
    ("avg_pool1d", _z(2, 3, 4), (2,), dict(stride=0), RuntimeError,
     _window_message("stride should not be zero", (2,), (0,), (1,), "avg_pool1d"),
     "stride should not be zero"),
    ("avg_pool2d", _z(2, 3, 4, 4), (0,), {}, RuntimeError,
     _window_message("kernel size should be greater than zero", (0, 0), (0, 0), (1, 1),
                     "avg_pool2d"), None),
    ("max_pool2d", _z(3, 4, 5), (6,), {}, RuntimeError,
     "Given input size: (3x4x5). Calculated output size: (3x0x0). Output size is too small",
     "Given input size: (3x4x5). Calculated output size: (3x0x0). Output size is too small"),
    ("max_pool2d", _z(2, 3, 4, 5), ((4, 6),), {}, RuntimeError,
     "Given input size: (3x4x5). Calculated output size: (3x1x0). Output size is too small",
     "Given input size: (3x4x5). Calculated output size: (3x1x0). Output size is too small"),
    ("avg_pool2d", _z(2, 3, 4, 5), ((5, 4),), {}, RuntimeError,
     "Given input size: (3x4x5). Calculated output size: (3x0x1). Output size is too small",
     "Given input size: (3x4x5). Calculated output size: (3x0x1). Output size is too small"),
    ("max_pool1d", _z(2, 3, 4), (5,), {}, RuntimeError,
     "Given input size: (3x4). Calculated output size: (3x0). Output size is too small", None),
    ("avg_pool1d", _z(3, 4), (5,), {}, RuntimeError,
     "Given input size: (3x4). Calculated output size: (3x0). Output size is too small", None),
    ("max_pool2d", _z(1, 1, 8, 8), ((4, 2),), dict(padding=(0, 2)), RuntimeError,
     "pad should be at most half of effective kernel size, but got pad=2, kernel_size=2 and "
     "dilation=1", "pad should be at most half of effective kernel size, but got pad=2, "
     "kernel_size=2 and dilation=1"),
    ("max_pool2d", _z(1, 1, 8, 8), (3,), dict(padding=2), RuntimeError,
     "pad should be at most half of effective kernel size, but got pad=2, kernel_size=3 and "
     "dilation=1", "pad should be at most half of effective kernel size, but got pad=2, "
     "kernel_size=3 and dilation=1"),
    ("max_pool1d", _z(1, 1, 8), (3,), dict(padding=3, dilation=2), RuntimeError,
     "pad should be at most half of effective kernel size, but got pad=3, kernel_size=3 and "
     "dilation=2", None),
    ("max_pool2d", _z(1, 1, 8, 8), (3,), dict(padding=(2, 0), dilation=(1, 3)), RuntimeError,
     "pad should be at most half of effective kernel size, but got pad=2, kernel_size=3 and "
     "dilation=1", None),
    ("avg_pool2d", _z(1, 1, 8, 8), ((2, 4),), dict(padding=(2, 0)), RuntimeError,
     "pad should be smaller than or equal to half of kernel size, but got padding=(2, 0), "
     "kernel_size=(2, 4)", None),
    ("avg_pool1d", _z(1, 1, 8), (2,), dict(padding=2), RuntimeError,
     "pad should be smaller than or equal to half of kernel size, but got padding=(2,), "
     "kernel_size=(2,)", None),
    ("avg_pool2d", _z(1, 1, 4, 4), (2,), dict(divisor_override=0), RuntimeError,
     "divisor must be not zero", "divisor must be not zero"),
    ("adaptive_avg_pool2d", _z(1, 4, 4), ((2,),), {}, RuntimeError,
     "adaptive_avg_pool2d: output_size must be 2", "adaptive_avg_pool2d: output_size must be 2"),
    ("adaptive_avg_pool2d", _z(1, 4, 4), ((2.0, 3),), {}, ValueError,
     "adaptive_avg_pool2d: output_size must be a positive int or a tuple of 2 positive ints "
     "(None keeps a size), got (2.0, 3)", None),
    ("adaptive_avg_pool2d", _z(1, 4, 4), ((3, 0),), {}, ValueError,
     "adaptive_avg_pool2d: output_size must be a positive int or a tuple of 2 positive ints "
     "(None keeps a size), got (3, 0)", TORCH_ACCEPTS),
    ("adaptive_avg_pool1d", _z(1, 4), (0,), {}, ValueError,
     "adaptive_avg_pool1d: output_size must be a positive int or a tuple of 1 positive ints "
     "(None keeps a size), got (0,)", TORCH_ACCEPTS),
    ("adaptive_avg_pool2d", _z(1, 0, 4), (2,), {}, RuntimeError,
     "adaptive_avg_pool2d(): Expected input to have non-zero size for non-batch dimensions, "
     "but input has sizes [1, 0, 4]", "adaptive_avg_pool2d(): Expected input to have non-zero "
     "size for non-batch dimensions, but input has sizes [1, 0, 4]"),
    ("adaptive_avg_pool1d", _z(2, 3, 0), (2,), {}, RuntimeError,
     "adaptive_avg_pool1d(): Expected input to have non-zero size for non-batch dimensions, "
     "but input has sizes [2, 3, 0]", None),
] + [
    (name, _z(*([4] * (dims))), (2,), {}, RuntimeError,
     f"Expected {dims + 1}D (unbatched) or {dims + 2}D (batched) input to {name}, but got "
     f"input of size: {[4] * dims}", None)
    for name, dims in (("max_pool1d", 1), ("max_pool2d", 2), ("avg_pool1d", 1),
                       ("avg_pool2d", 2), ("adaptive_avg_pool1d", 1),
                       ("adaptive_avg_pool2d", 2))
] + [
    (name, _z(*([2] * (dims + 2)), dtype="int"), (2,), {}, RuntimeError,
     f"\"{name}\" not implemented for '{_int64()}': pool a floating-point tensor (x.float())",
     None if name.startswith("adaptive") or name == "max_pool1d" else TORCH_ACCEPTS)
    for name, dims in (("max_pool1d", 1), ("max_pool2d", 2), ("avg_pool1d", 1),
                       ("avg_pool2d", 2), ("adaptive_avg_pool1d", 1),
                       ("adaptive_avg_pool2d", 2))
]


@pytest.mark.parametrize("name,x,args,kw,error,message,torch_message", ERRORS,
                         ids=[f"{e[0]}-{i}" for i, e in enumerate(ERRORS)])
def test_errors_have_exact_messages(device, name, x, args, kw, error, message, torch_message):
    with pytest.raises(error) as got:
        getattr(F, name)(gg.tensor(x, device=device), *args, **kw)
    assert str(got.value) == message
    if torch_message is TORCH_ACCEPTS:
        return
    with pytest.raises(Exception) as expected:  # PyTorch refuses it too
        getattr(TF, name)(torch.tensor(x), *args, **kw)
    if torch_message is not None:  # gpugrad copies PyTorch's words: the same text or a prefix
        assert re.match(re.escape(torch_message), str(expected.value)), str(expected.value)


@pytest.mark.parametrize("output_size", [(1, 2, 3), (2,)])
def test_adaptive_pool_refuses_a_wrong_count_of_output_sizes_as_pytorch(output_size):
    torch = pytest.importorskip("torch", reason="compares with PyTorch")
    with pytest.raises(RuntimeError) as theirs:
        torch.nn.functional.adaptive_avg_pool2d(torch.zeros(1, 1, 4, 4), output_size)
    with pytest.raises(RuntimeError) as ours:  # (extra sizes were silently dropped)
        F.adaptive_avg_pool2d(gg.zeros(1, 1, 4, 4), output_size)
    assert str(ours.value) == str(theirs.value) == "adaptive_avg_pool2d: output_size must be 2"
