"""Cumulative scans (cumsum, cumprod, cummax, cummin) against PyTorch: values, indices and
gradients, cumprod's with zeros in the input; the sim's modeled scan kernels; the cuda path on
the CuPy stand-in."""
import math

import numpy as np
import pytest

import gpugrad as gg
from support.gradtools import OpCase, assert_close, op_tests

R = np.random.default_rng(11)
X = R.standard_normal((3, 5))
ONE_ZERO = np.array([[1.5, -2.0, 0.0, 0.7, 1.2], [0.5, 1.1, -0.9, 2.0, -1.3]])
ZEROS = np.array([[0.0, 1.5, 0.0, -0.7, 1.2], [0.5, 0.0, -0.9, 0.0, 0.0]])

CASES = [
    OpCase("cumsum_last", lambda a: a.cumsum(-1), lambda a: a.cumsum(-1), [X]),
    OpCase("cumsum_dim0", lambda a: gg.cumsum(a, 0), lambda a: a.cumsum(0), [X]),
    OpCase("cumprod", lambda a: a.cumprod(1), lambda a: a.cumprod(1), [X]),
    OpCase("cumprod_dim0", lambda a: a.cumprod(0), lambda a: a.cumprod(0), [X]),
    OpCase("cumprod_one_zero", lambda a: a.cumprod(1), lambda a: a.cumprod(1), [ONE_ZERO]),
    OpCase("cumprod_zeros", lambda a: a.cumprod(1), lambda a: a.cumprod(1), [ZEROS]),
    OpCase("cumprod_zeros_dim0", lambda a: a.cumprod(0), lambda a: a.cumprod(0), [ZEROS]),
    OpCase("cummax", lambda a: a.cummax(1).values, lambda a: a.cummax(1).values, [X],
           second_order=False),
    OpCase("cummin_dim0", lambda a: gg.cummin(a, 0)[0], lambda a: a.cummin(0)[0], [X],
           second_order=False),
]

test_gradcheck, test_matches_torch = op_tests(CASES)


def test_cumprod_second_order_matches_torch_with_zeros(device, torch):
    x = gg.tensor(ZEROS, dtype=gg.float64, device=device, requires_grad=True)
    t = torch.tensor(ZEROS, requires_grad=True)
    w = R.standard_normal(ZEROS.shape)
    (g,) = gg.grad((x.cumprod(1) * gg.tensor(w, device=device)).sum(), x, create_graph=True)
    (tg,) = torch.autograd.grad((t.cumprod(1) * torch.tensor(w)).sum(), t, create_graph=True)
    assert_close(g, tg)
    (g * g).sum().backward()
    (tg * tg).sum().backward()
    assert_close(x.grad, t.grad)


@pytest.mark.parametrize("op", ["cummax", "cummin"])
def test_cummax_cummin_indices_match_torch_with_ties_and_nan(device, torch, op):
    data = [[1.0, 3.0, 3.0, 2.0, 3.0], [2.0, math.nan, 1.0, math.nan, 5.0], [0.0, 0.0, -1.0,
                                                                               -1.0, 0.0]]
    values, indices = getattr(gg.tensor(data, device=device), op)(dim=1)
    expected = getattr(torch.tensor(data), op)(dim=1)
    assert_close(values, expected.values, atol=0)
    assert indices.dtype == gg.int64 and indices.tolist() == expected.indices.tolist()


def test_cummax_gradient_goes_to_the_index_with_repeats(device, torch):
    data = [[1.0, 3.0, 2.0, 3.0, 0.5]]
    x = gg.tensor(data, dtype=gg.float64, device=device, requires_grad=True)
    t = torch.tensor(data, dtype=torch.float64, requires_grad=True)
    x.cummax(1).values.sum().backward()
    t.cummax(1).values.sum().backward()
    assert_close(x.grad, t.grad)


@pytest.mark.parametrize("dtype", ["int32", "bool", "uint8", "int64"])
def test_integer_scans_give_int64_like_torch(device, torch, dtype):
    data = np.array([[1, 0, 3], [2, 2, 0]]).astype(dtype)
    x, t = gg.tensor(data, device=device), torch.tensor(data)
    for name in ("cumsum", "cumprod"):
        out = getattr(x, name)(1)
        expected = getattr(t, name)(1)
        assert str(out.dtype) == str(expected.dtype).replace("torch.", "gpugrad."), name
        assert out.tolist() == expected.tolist()
    assert x.cummax(0).values.tolist() == t.cummax(0).values.tolist()


def test_scan_dtype_argument_and_zero_d(device, torch):
    x = gg.tensor([1, 2, 3], device=device)
    out = x.cumsum(0, dtype=gg.float64)
    assert out.dtype == gg.float64 and out.tolist() == [1.0, 3.0, 6.0]
    scalar = gg.tensor(2.5, device=device)
    assert scalar.cumsum(0).shape == () and scalar.cumprod(-1).item() == 2.5
    values, indices = scalar.cummax(0)
    assert values.item() == 2.5 and indices.item() == 0 and indices.shape == ()
    with pytest.raises(IndexError):
        x.cumsum(1)


def test_scan_of_float16_accumulates_in_float32(device, torch):
    data = np.full(3000, 0.1, dtype=np.float16)
    out = gg.tensor(data, device=device).cumsum(0)
    expected = torch.tensor(data).cumsum(0)
    assert out.dtype == gg.float16
    np.testing.assert_allclose(out.numpy().astype(np.float64),
                               expected.numpy().astype(np.float64), rtol=2e-3)


# ---- the sim's modeled kernels ----------------------------------------------------------------
def _kernels(run, array, dtype=gg.float32):
    """``{kernel: (launches, flops, bytes)}`` on sim:0 for ``run(tensor)``."""
    gg.sim.configure("sim:0")
    x = gg.tensor(array, dtype=dtype, device="sim:0")
    gg.sim.reset("sim:0")
    run(x)
    by_op, _ = gg.device_registry.get_backend("sim:0").kernel_totals()
    return {name: (row[0], row[2], row[3]) for name, row in by_op.items()}


def test_cumsum_and_cumprod_are_one_pass_each():
    n = 64 * 100
    data = np.ones((64, 100))
    for name in ("cumsum", "cumprod"):
        op = "sum" if name == "cumsum" else "prod"
        # read once, written once, one flop an element
        assert _kernels(lambda t: getattr(t, name)(1), data) == {
            f"scan:{op}": (1, n, 8 * n)}


def test_cummax_models_the_doubling_passes():
    rows, length = 8, 100
    n, passes = rows * length, 7  # ceil(log2(100))
    kernels = _kernels(lambda t: t.cummax(1), np.ones((rows, length)))
    # each pass reads two shifted copies and writes one (float32); the index scan of int64
    assert kernels["scan:max"][0] == 2
    values = (passes * n, passes * n * 4 * 3)
    index = (passes * n, passes * n * 8 * 3)
    assert kernels["scan:max"][1:] == (values[0] + index[0], values[1] + index[1])


# ---- cuda, on the tests' stand-in for CuPy ----------------------------------------------------
def test_cuda_backend_scans(fake_cuda, torch):
    data = np.array([[1.5, -2.0, 0.0, 0.7, 3.0], [0.5, 3.0, -0.9, 3.0, -1.3]])
    x, t = gg.tensor(data, device="cuda"), torch.tensor(data)
    assert_close(x.cumsum(1), t.cumsum(1))
    assert_close(x.cumprod(0), t.cumprod(0))
    for op in ("cummax", "cummin"):
        values, indices = getattr(x, op)(1)
        expected = getattr(t, op)(1)
        assert_close(values, expected.values)
        assert indices.tolist() == expected.indices.tolist()
    ints = gg.tensor([[1, 2], [3, 4]], dtype=gg.int32, device="cuda")
    assert ints.cumsum(1).dtype == gg.int64 and ints.cumprod(0).tolist() == [[1, 2], [3, 8]]
