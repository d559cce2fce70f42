"""Elementwise math ops at the edges the op tests leave out, against PyTorch: lerp with number
and tensor weights (the 0.5 switch of formula, broadcasting, a 0-d float64 weight, low-precision
dtypes, the gradients of all three inputs), round with ``decimals``, frac, reciprocal in place,
median and cummax on every device, casts' gradients and bias_act's argument checks."""
import numpy as np
import pytest

import gpugrad as gg
from support.gradtools import assert_close

R = np.random.default_rng(3)
START = (R.standard_normal((3, 4)) * 10).astype(np.float32)
END = R.standard_normal((3, 4)).astype(np.float32)


def _pair(device, dtype=gg.float32, requires_grad=False):
    return (gg.tensor(START, dtype=dtype, device=device, requires_grad=requires_grad),
            gg.tensor(END, dtype=dtype, device=device, requires_grad=requires_grad))


# ---- lerp -----------------------------------------------------------------------------------
@pytest.mark.parametrize("weight", [0.5, 1.0, 0.0])
def test_lerp_number_weight_exact_where_pytorch_switches_formula(weight, device, torch):
    # from 0.5 up PyTorch computes end - (end - start) * (1 - w): bit for bit, not start + w * d
    start, end = _pair(device)
    expected = torch.lerp(torch.tensor(START), torch.tensor(END), weight).numpy()
    got = start.lerp(end, weight)
    assert got.dtype is gg.float32
    np.testing.assert_array_equal(got.numpy(), expected)


@pytest.mark.parametrize("weight", [-0.3, 0.25, 0.7, 1.5])
def test_lerp_number_weight_matches_torch(weight, device, torch):
    start, end = _pair(device)
    expected = torch.lerp(torch.tensor(START), torch.tensor(END), weight)
    got = start.lerp(end, weight)
    assert got.dtype is gg.float32
    assert_close(got, expected, atol=1e-5, rtol=1e-6)


def test_lerp_tensor_weight_exact_at_half_and_one(device, torch):
    w = np.array([0.5, 1.0, -0.5, 0.0], dtype=np.float32)
    start, end = _pair(device)
    got = start.lerp(end, gg.tensor(w, device=device))
    expected = torch.lerp(torch.tensor(START), torch.tensor(END), torch.tensor(w)).numpy()
    assert got.dtype is gg.float32 and got.shape == (3, 4)
    exact = [0, 1, 3]  # PyTorch may fuse the multiply-add elsewhere (one rounding fewer)
    np.testing.assert_array_equal(got.numpy()[:, exact], expected[:, exact])
    assert_close(got, expected, atol=1e-5, rtol=1e-6)


def test_lerp_tensor_weight_broadcasts_and_matches_torch(device, torch):
    w = R.uniform(-1, 2, (3, 1)).astype(np.float32)
    start, end = _pair(device)
    got = start.lerp(end, gg.tensor(w, device=device))
    expected = torch.lerp(torch.tensor(START), torch.tensor(END), torch.tensor(w))
    assert got.dtype is gg.float32
    assert_close(got, expected, atol=1e-5, rtol=1e-6)


@pytest.mark.parametrize("weight", [0.1, 0.7])
def test_lerp_zero_dim_float64_weight_computes_in_start_dtype(weight, device, torch):
    start, end = _pair(device)
    got = start.lerp(end, gg.tensor(weight, dtype=gg.float64, device=device))
    expected = torch.lerp(torch.tensor(START), torch.tensor(END),
                          torch.tensor(weight, dtype=torch.float64))
    assert got.dtype is gg.float32
    assert_close(got, expected, atol=1e-5, rtol=1e-6)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("weight", [0.3, 0.8, "tensor"])
def test_lerp_low_precision_matches_torch(dtype, weight, device, torch):
    start, end = _pair(device, getattr(gg, dtype))
    ts, te = (torch.tensor(a).to(getattr(torch, dtype)) for a in (START, END))
    if weight == "tensor":
        w = R.uniform(-0.5, 1.5, 4)
        got = start.lerp(end, gg.tensor(w, device=device).to(getattr(gg, dtype)))
        expected = torch.lerp(ts, te, torch.tensor(w).to(getattr(torch, dtype)))
    else:
        got, expected = start.lerp(end, weight), torch.lerp(ts, te, weight)
    assert got.dtype is getattr(gg, dtype)
    assert_close(got.to(gg.float32), expected.float(), atol=0.1, rtol=2e-2)


def test_lerp_gradients_of_all_three_inputs_match_torch(device, torch):
    shapes = {"start": (3, 4), "end": (4,), "weight": (3, 1)}
    data = {k: R.uniform(-1, 1.5, s) for k, s in shapes.items()}
    xs = {k: gg.tensor(v, dtype=gg.float64, device=device, requires_grad=True)
          for k, v in data.items()}
    ts = {k: torch.tensor(v, requires_grad=True) for k, v in data.items()}
    g = R.standard_normal((3, 4))
    (xs["start"].lerp(xs["end"], xs["weight"]) * gg.tensor(g, device=device)).sum().backward()
    (torch.lerp(ts["start"], ts["end"], ts["weight"]) * torch.tensor(g)).sum().backward()
    for k in shapes:
        assert xs[k].grad.shape == shapes[k]
        assert_close(xs[k].grad, ts[k].grad, atol=1e-12, what=f"grad of {k}")
    assert gg.gradcheck(lambda s, e, w: s.lerp(e, w), tuple(xs.values()))


@pytest.mark.parametrize("weight", [0.25, 0.75])
def test_lerp_number_weight_gradients(weight, device, torch):
    start, end = _pair(device, gg.float64, requires_grad=True)
    ts, te = (torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (START, END))
    start.lerp(end, weight).sum().backward()
    torch.lerp(ts, te, weight).sum().backward()
    assert_close(start.grad, ts.grad, what="grad of start")
    assert_close(end.grad, te.grad, what="grad of end")
    assert gg.gradgradcheck(lambda s, e: s.lerp(e, weight), _pair(device, gg.float64, True))


# ---- rounding and reciprocal ----------------------------------------------------------------
ROUND_DATA = np.array([1.2345, -2.675, 0.125, 1250.0, -35.5, 149.99, 0.0049], np.float32)


# float16/bfloat16 only with decimals=0: with decimals gpugrad rounds the scaled value to the
# low-precision dtype (bfloat16 1.2345 gives 1.2421875, PyTorch 1.2265625; float16 1250 to 2
# decimals overflows to inf, PyTorch gives 1248): PyTorch keeps the steps in float32
@pytest.mark.parametrize("dtype,decimals", [
    *((d, k) for d in ("float32", "float64") for k in (0, 1, 2, -1, -2)),
    ("float16", 0), ("bfloat16", 0)])
def test_round_decimals_matches_torch(dtype, decimals, device, torch):
    x = gg.tensor(ROUND_DATA, device=device).to(getattr(gg, dtype))
    expected = torch.round(torch.tensor(ROUND_DATA).to(getattr(torch, dtype)), decimals=decimals)
    got = x.round(decimals=decimals)
    assert got.dtype is x.dtype
    np.testing.assert_array_equal(got.to(gg.float64).numpy(), expected.double().numpy())
    inplace = x.clone()
    assert inplace.round_(decimals=decimals) is inplace
    np.testing.assert_array_equal(inplace.to(gg.float64).numpy(), expected.double().numpy())


def test_round_default_is_to_integers(device, torch):
    x = gg.tensor(ROUND_DATA, device=device)
    np.testing.assert_array_equal(x.round().numpy(), torch.tensor(ROUND_DATA).round().numpy())
    np.testing.assert_array_equal(gg.round(x).numpy(), torch.tensor(ROUND_DATA).round().numpy())


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_frac_matches_torch(dtype, device, torch):
    data = ROUND_DATA * 3.3
    x = gg.tensor(data, device=device).to(getattr(gg, dtype))
    expected = torch.tensor(data).to(getattr(torch, dtype)).frac().double().numpy()
    assert x.frac().dtype is x.dtype
    np.testing.assert_array_equal(x.frac().to(gg.float64).numpy(), expected)
    np.testing.assert_array_equal(x.clone().frac_().to(gg.float64).numpy(), expected)


def test_reciprocal_in_place_refuses_an_integer_tensor(device, torch):
    x = gg.tensor([1, 2, 4], device=device)
    with pytest.raises(RuntimeError) as expected:
        torch.tensor([1, 2, 4]).reciprocal_()
    with pytest.raises(RuntimeError, match="can't be cast to the desired output type"):
        x.reciprocal_()
    assert "Float" in str(expected.value)
    np.testing.assert_array_equal(x.numpy(), [1, 2, 4])  # left unchanged


def test_reciprocal_of_integers_is_default_float(device, torch):
    got = gg.tensor([1, 2, 4], device=device).reciprocal()
    assert got.dtype is gg.float32
    assert_close(got, torch.tensor([1, 2, 4]).reciprocal())


# ---- reductions and scans on every device ---------------------------------------------------
@pytest.mark.parametrize("shape", [(7,), (2, 3), (2, 2, 2)])
def test_median_of_all_elements_matches_torch(shape, device, torch):
    data = R.standard_normal(shape)
    x = gg.tensor(data, device=device, requires_grad=True)
    t = torch.tensor(data, requires_grad=True)
    got, expected = x.median(), t.median()
    assert got.shape == ()
    assert_close(got, expected)
    got.backward()
    expected.backward()
    assert_close(x.grad, t.grad)


def test_median_with_nan_is_nan(device):
    x = gg.tensor([1.0, float("nan"), 0.5, 2.0], device=device)
    assert np.isnan(x.median().item())


@pytest.mark.parametrize("op", ["cummax", "cummin"])
def test_cummax_cummin_indices_on_every_device(op, device, torch):
    data = np.array([[1.0, 3.0, 3.0, 2.0, float("nan"), 5.0], [4.0, 1.0, 4.0, 0.0, 4.0, 6.0]])
    values, indices = getattr(gg.tensor(data, device=device), op)(dim=1)
    tv, ti = getattr(torch.tensor(data), op)(dim=1)
    assert indices.dtype is gg.int64
    np.testing.assert_array_equal(indices.numpy(), ti.numpy())
    np.testing.assert_array_equal(values.numpy(), tv.numpy())


# ---- casts and bias_act ---------------------------------------------------------------------
@pytest.mark.parametrize("source,target", [("float32", "float64"), ("float64", "float16"),
                                           ("bfloat16", "float32")])
def test_cast_gradient_comes_back_in_the_source_dtype(source, target, device):
    x = gg.tensor([1.5, -2.0, 3.25], device=device, dtype=getattr(gg, source),
                  requires_grad=True)
    y = x.to(getattr(gg, target))
    (y * y).sum().backward()
    assert x.grad.dtype is getattr(gg, source)
    assert_close(x.grad.to(gg.float64), [3.0, -4.0, 6.5])


def test_bias_act_refuses_wrong_shapes(device):
    bias = gg.zeros(3, device=device)
    for x in (gg.zeros((2, 3, 3), device=device), gg.zeros(3, device=device)):
        with pytest.raises(RuntimeError, match=r"expected x of shape \(N, F\)"):
            x.bias_act(bias, "relu")
    with pytest.raises(RuntimeError, match=r"expected x of shape \(N, F\)"):
        gg.zeros((2, 3), device=device).bias_act(gg.zeros((1, 3), device=device), "relu")
    with pytest.raises(RuntimeError, match=r"expected x of shape \(N, F\)"):
        gg.zeros((2, 4), device=device).bias_act(bias, "relu")


def test_bias_act_refuses_mixed_dtypes(device):
    x = gg.zeros((2, 3), device=device)
    with pytest.raises(RuntimeError, match="x and bias must have the same dtype, got float32 "
                                           "and float64; convert one first"):
        x.bias_act(gg.zeros(3, dtype=gg.float64, device=device), "tanh")


# ---- lerp bit for bit -----------------------------------------------------------------------
# Weights whose products are exact (powers of two, and 1 - w too) leave PyTorch's fused
# multiply-add nothing to round differently, so the formula chosen on each side of 0.5 shows.
BIG_START = (R.standard_normal(400) * 7).astype(np.float32)
BIG_END = R.standard_normal(400).astype(np.float32)
EXACT_WEIGHTS = [0.0, 0.25, -0.25, 0.75, 1.5, 2.0]


@pytest.mark.parametrize("kind", ["number", "tensor", "0-d float64"])
def test_lerp_exact_weights_match_torch_bit_for_bit(kind, device, torch):
    start = gg.tensor(BIG_START, device=device)
    end = gg.tensor(BIG_END, device=device)
    for w in EXACT_WEIGHTS:
        if kind == "number":
            weight, tweight = w, w
        elif kind == "tensor":
            weight = gg.full((400,), w, device=device)
            tweight = torch.full((400,), w)
        else:
            weight = gg.tensor(w, dtype=gg.float64, device=device)
            tweight = torch.tensor(w, dtype=torch.float64)
        expected = torch.lerp(torch.tensor(BIG_START), torch.tensor(BIG_END), tweight)
        got = start.lerp(end, weight)
        assert got.dtype is gg.float32
        np.testing.assert_array_equal(got.numpy(), expected.numpy(), err_msg=f"weight {w}")


def test_lerp_float64_weight_just_below_half_rounds_to_half_first(device, torch):
    # the weight is converted to float32 (0.5) before the branch: PyTorch's end-side formula
    w = 0.5 - 1e-12
    got = gg.tensor(BIG_START, device=device).lerp(gg.tensor(BIG_END, device=device),
                                                   gg.tensor(w, dtype=gg.float64, device=device))
    expected = torch.lerp(torch.tensor(BIG_START), torch.tensor(BIG_END),
                          torch.tensor(w, dtype=torch.float64))
    np.testing.assert_array_equal(got.numpy(), expected.numpy())


@pytest.mark.parametrize("w", [0.1, 0.3, 0.7, 0.9])
def test_lerp_float64_weight_computes_in_float32(w, device):
    # documented: everything in start's dtype, the weight converted first (no float64 step)
    got = gg.tensor(BIG_START, device=device).lerp(gg.tensor(BIG_END, device=device),
                                                   gg.tensor(w, dtype=gg.float64, device=device))
    w32 = np.float32(w)
    diff = BIG_END - BIG_START
    expected = BIG_START + w32 * diff if w < 0.5 else BIG_END - diff * (np.float32(1) - w32)
    np.testing.assert_array_equal(got.numpy(), expected)


@pytest.mark.parametrize("weight", [1e-10, -1e-9])
def test_lerp_float16_tiny_steps_are_computed_in_float32(weight, device, torch):
    # w * (end - start) rounds once, from float32: the weight itself is not rounded to float16
    start = np.array([0.0, -1000.0, 0.0, 3.0], np.float16)
    end = np.array([1000.0, 0.0, -2000.0, 60000.0], np.float16)
    got = gg.tensor(start, device=device).lerp(gg.tensor(end, device=device), weight)
    expected = torch.lerp(torch.tensor(start), torch.tensor(end), weight)
    assert got.dtype is gg.float16
    np.testing.assert_array_equal(got.numpy(), expected.numpy())
