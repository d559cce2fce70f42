"""Elementwise math (gpugrad/ops/unary_math.py, ops/binary_math.py, tensor_math_methods.py):
trigonometric, hyperbolic, logarithms and exponentials, erf, rounding, classification, atan2,
fmax/fmin, lerp and the functions and aliases PyTorch has. Each differentiable op is checked by
gradcheck, gradgradcheck and PyTorch (values and gradients) on every device; dtype rules, NaN,
in-place forms and the simulator's modeled kernels separately."""
import math
import sys
import types

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.backends.cpu import numpy_ops
from gpugrad.backends.sim import costmodel
from support.gradtools import OpCase, assert_close, op_tests

R = np.random.default_rng(7)


def normal(*shape, scale=1.0):
    return R.standard_normal(shape) * scale


def uniform(low, high, *shape):
    return R.uniform(low, high, shape)


def away_from_zero(*shape):
    x = R.standard_normal(shape)
    return np.sign(x) * (np.abs(x) + 0.3)


def off_grid(*shape, step=1.0):
    """Values at least 0.05 steps from the multiples of ``step`` and from the half-steps, where
    rounding jumps (finite differences must not straddle a jump)."""
    x = R.uniform(-3, 3, shape)
    frac = x - np.floor(x)
    frac = np.clip(frac, 0.05, 0.95)
    frac = np.where(np.abs(frac - 0.5) < 0.05, 0.4, frac)
    return (np.floor(x) + frac) * step


def _torch(name, **kwargs):
    def call(*args):
        import torch

        return getattr(torch, name)(*args, **kwargs)

    return call


def _function(name, **kwargs):
    return lambda *args: getattr(gg, name)(*args, **kwargs)


def _method(name, **kwargs):
    return lambda x, *args: getattr(x, name)(*args, **kwargs)


# name -> the inputs it is smooth on
UNARY_DOMAINS = {
    "sin": normal(2, 3, scale=2), "cos": normal(2, 3, scale=2), "tan": uniform(-1.2, 1.2, 2, 3),
    "asin": uniform(-0.9, 0.9, 2, 3), "acos": uniform(-0.9, 0.9, 2, 3), "atan": normal(2, 3),
    "sinh": normal(2, 3), "cosh": normal(2, 3), "asinh": normal(2, 3, scale=2),
    "acosh": uniform(1.2, 4.0, 2, 3), "atanh": uniform(-0.9, 0.9, 2, 3),
    "log1p": uniform(-0.8, 3.0, 2, 3), "expm1": normal(2, 3), "log2": uniform(0.2, 5.0, 2, 3),
    "log10": uniform(0.2, 5.0, 2, 3), "exp2": normal(2, 3), "erf": normal(2, 3),
    "erfc": normal(2, 3), "reciprocal": away_from_zero(2, 3), "rsqrt": uniform(0.3, 4.0, 2, 3),
    "sigmoid": normal(2, 3), "tanh": normal(2, 3), "sqrt": uniform(0.3, 4.0, 2, 3),
    "abs": away_from_zero(2, 3), "neg": normal(2, 3), "negative": normal(2, 3),
    "absolute": away_from_zero(2, 3), "square": normal(2, 3), "frac": off_grid(2, 3),
    "floor": off_grid(2, 3), "ceil": off_grid(2, 3), "trunc": off_grid(2, 3),
    "fix": off_grid(2, 3), "round": off_grid(2, 3), "sign": away_from_zero(2, 3),
    "arcsin": uniform(-0.9, 0.9, 4), "arccos": uniform(-0.9, 0.9, 4), "arctan": normal(4),
    "arcsinh": normal(4), "arccosh": uniform(1.2, 4.0, 4), "arctanh": uniform(-0.9, 0.9, 4),
}

CASES = [OpCase(f"gg.{name}", _function(name), _torch(name), [x])
         for name, x in UNARY_DOMAINS.items()]
CASES += [OpCase(f"method_{name}", _method(name), _method(name), [x])
          for name, x in UNARY_DOMAINS.items() if name in ("sin", "erf", "floor", "rsqrt")]
CASES += [
    OpCase("round_decimals_2", _function("round", decimals=2), _torch("round", decimals=2),
           [off_grid(2, 3, step=0.01)]),
    OpCase("round_decimals_-1", _method("round", decimals=-1), _method("round", decimals=-1),
           [off_grid(2, 3, step=10.0)]),
    OpCase("atan2", _function("atan2"), _torch("atan2"), [normal(2, 3), normal(3)]),
    OpCase("arctan2_method", _method("arctan2"), _method("arctan2"), [normal(3), normal(2, 1)]),
    OpCase("fmax", _function("fmax"), _torch("fmax"), [normal(2, 3), normal(3)]),
    OpCase("fmin", _method("fmin"), _method("fmin"), [normal(2, 1), normal(3)]),
    OpCase("maximum", _function("maximum"), _torch("maximum"), [normal(2, 3), normal(3)]),
    OpCase("minimum", _function("minimum"), _torch("minimum"), [normal(2, 3), normal(3)]),
    OpCase("lerp_small_weight", lambda a, b: gg.lerp(a, b, 0.3),
           lambda a, b: _torch("lerp")(a, b, 0.3), [normal(2, 3), normal(3)]),
    OpCase("lerp_large_weight", lambda a, b: a.lerp(b, 0.8), lambda a, b: a.lerp(b, 0.8),
           [normal(2, 3), normal(2, 3)]),
    OpCase("lerp_tensor_weight", _function("lerp"), _torch("lerp"),
           [normal(2, 3), normal(2, 3), uniform(-0.5, 1.5, 3)]),
    OpCase("clamp_tensor_bounds", _function("clamp"), _torch("clamp"),
           [normal(2, 3), normal(3, scale=0.3) - 0.5, normal(2, 1, scale=0.3) + 0.5]),
    OpCase("clip_tensor_min", lambda a, b: gg.clip(a, min=b), lambda a, b: _torch("clip")(a, b),
           [normal(2, 3), normal(3, scale=0.3)]),
    OpCase("clamp_min", lambda a: gg.clamp_min(a, 0.1), _torch("clamp_min", min=0.1),
           [normal(2, 3)]),
    OpCase("clamp_max_tensor", lambda a, b: gg.clamp_max(a, b), _torch("clamp_max"),
           [normal(2, 3), normal(3, scale=0.3)]),
    OpCase("pow_tensor_exponent", _function("pow"), _torch("pow"),
           [uniform(0.3, 3.0, 2, 3), normal(3)]),
    OpCase("pow_number_base", lambda e: gg.pow(2.0, e), lambda e: _torch("pow")(2.0, e),
           [normal(2, 3)]),
    OpCase("composite", lambda a, b: (a.sin() * b.erf()).atan2(a.cosh()) + a.lerp(b, 0.6),
           lambda a, b: (a.sin() * b.erf()).atan2(a.cosh()) + a.lerp(b, 0.6),
           [normal(2, 3), normal(2, 3)]),
]

test_gradcheck, test_matches_torch = op_tests(CASES)


# ---- values: accuracy and dtypes ------------------------------------------------------------
@pytest.mark.parametrize("name", ["erf", "erfc"])
def test_erf_is_exact_in_float64(name, device, torch):
    x = np.concatenate([np.linspace(-6, 6, 241), [0.0, -0.0, 1e-300, 27.0, -27.0]])
    expected = getattr(torch, name)(torch.tensor(x)).numpy()
    assert_close(getattr(gg, name)(gg.tensor(x, device=device)), expected, atol=1e-300,
                 rtol=1e-12)
    # without SciPy: math.erf element by element, just as exact
    assert_close(numpy_ops.math_special(name)(x), expected, atol=1e-300, rtol=1e-12)


def test_the_math_fallback_keeps_float32_and_writes_out():
    x = np.array([0.5, -1.0], np.float32)
    assert numpy_ops.math_special("erf")(x).dtype == np.float32
    out = np.empty(2, np.float32)
    assert numpy_ops.math_special("erf")(x, out=out) is out
    np.testing.assert_allclose(out, [math.erf(0.5), math.erf(-1.0)], rtol=1e-6)
    assert numpy_ops.math_special("erf")(np.array(0.5)).shape == ()


FLOAT_OPS = ["sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh",
             "atanh", "log1p", "expm1", "log2", "log10", "exp2", "erf", "erfc", "reciprocal",
             "rsqrt"]


@pytest.mark.parametrize("name", FLOAT_OPS)
def test_float32_values_and_integer_inputs_match_torch(name, device, torch):
    x = np.array([-1.5, -0.5, 0.0, 0.25, 0.75, 2.0, 5.0, np.nan, np.inf, -np.inf], np.float32)
    expected = getattr(torch, name)(torch.tensor(x))
    out = getattr(gg, name)(gg.tensor(x, device=device))
    assert out.dtype == gg.float32
    assert_close(out, expected, atol=1e-6, rtol=2e-6)
    ints = np.array([-2, 0, 1, 3])
    expected = getattr(torch, name)(torch.tensor(ints))
    out = getattr(gg, name)(gg.tensor(ints, device=device))
    assert out.dtype.name == str(expected.dtype).removeprefix("torch.")
    assert_close(out, expected, atol=1e-6, rtol=2e-6)
    bools = getattr(gg.tensor([True, False], device=device), name)()
    assert_close(bools, getattr(torch, name)(torch.tensor([True, False])), atol=1e-6, rtol=2e-6)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float64"])
def test_other_float_dtypes_keep_their_dtype(dtype, device, torch):
    x = [0.3, -1.7, 2.5]
    for name in ("sin", "erf", "floor", "round", "rsqrt", "exp2"):
        out = getattr(gg.tensor(x, dtype=dtype, device=device), name)()
        expected = getattr(torch.tensor(x, dtype=getattr(torch, dtype)), name)()
        assert out.dtype.name == dtype
        assert_close(out.float(), expected.float(), atol=1e-2, rtol=1e-2, what=name)


def test_rounding_matches_torch_half_to_even_and_decimals(device, torch):
    x = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 2.675, -0.126, 1234.5, np.nan, np.inf],
                 np.float32)
    for kwargs in ({}, {"decimals": 1}, {"decimals": 2}, {"decimals": -1}, {"decimals": -2}):
        out = gg.tensor(x, device=device).round(**kwargs)
        np.testing.assert_array_equal(out.numpy(), torch.tensor(x).round(**kwargs).numpy())
    for name in ("floor", "ceil", "trunc", "frac"):
        np.testing.assert_array_equal(getattr(gg, name)(gg.tensor(x, device=device)).numpy(),
                                      getattr(torch, name)(torch.tensor(x)).numpy())


def test_rounding_copies_integers_and_refuses_bools(device):
    ints = gg.tensor([3, -4], device=device)
    for name in ("floor", "ceil", "trunc", "round", "fix"):
        out = getattr(ints, name)()
        assert out.dtype == gg.int64 and out.tolist() == [3, -4]
    boolean = gg.tensor([True], device=device)
    for name in ("floor", "ceil", "trunc", "round"):
        with pytest.raises(NotImplementedError, match=f'"{name}" not implemented for .bool'):
            getattr(boolean, name)()
    with pytest.raises(NotImplementedError, match='"frac" not implemented for .int64'):
        ints.frac()
    with pytest.raises(NotImplementedError, match='"round" not implemented for .int64'):
        ints.round(decimals=1)


def test_sign_of_bools_and_integers(device, torch):
    for values in ([True, False], [-3, 0, 5], [-0.5, 0.0, 2.0]):
        out = gg.sign(gg.tensor(values, device=device))
        expected = torch.sign(torch.tensor(values))
        assert out.dtype.name == str(expected.dtype).removeprefix("torch.")
        assert out.tolist() == expected.tolist()


# ---- gradients PyTorch defines specially ----------------------------------------------------
@pytest.mark.parametrize("name", ["sign", "floor", "ceil", "trunc", "round"])
def test_piecewise_constant_ops_have_a_zero_gradient(name, device, torch):
    x = gg.tensor([0.3, -1.7, 2.5], device=device, requires_grad=True)
    out = getattr(x, name)()
    assert out.requires_grad and out.grad_fn is not None  # as PyTorch: a graph, zero gradient
    (out * 3.0).sum().backward()
    assert x.grad is not None and x.grad.tolist() == [0.0, 0.0, 0.0]
    t = torch.tensor([0.3, -1.7, 2.5], requires_grad=True)
    (getattr(t, name)() * 3.0).sum().backward()
    assert t.grad.tolist() == x.grad.tolist()


def test_fmax_fmin_ignore_nan_in_values_and_gradients(device, torch):
    a = [1.0, np.nan, np.nan, 2.0, 3.0]
    b = [np.nan, 4.0, np.nan, 2.0, -1.0]
    for name in ("fmax", "fmin"):
        ga = gg.tensor(a, device=device, requires_grad=True)
        gb = gg.tensor(b, device=device, requires_grad=True)
        ta = torch.tensor(a, requires_grad=True)
        tb = torch.tensor(b, requires_grad=True)
        out, expected = getattr(gg, name)(ga, gb), getattr(torch, name)(ta, tb)
        assert_close(out, expected)
        weights = [1.0, 2.0, 3.0, 4.0, 5.0]
        (out * gg.tensor(weights, device=device)).sum().backward()
        (expected * torch.tensor(weights)).sum().backward()
        assert_close(ga.grad, ta.grad, what=f"{name} grad a")
        assert_close(gb.grad, tb.grad, what=f"{name} grad b")
    assert gg.fmax(gg.tensor([1, 5]), gg.tensor([2.5, 0.5])).tolist() == [2.5, 5.0]


def test_binary_math_takes_tensors_only(device):
    x = gg.tensor([1.0], device=device)
    for name in ("atan2", "fmax", "fmin"):
        with pytest.raises(TypeError, match=f"{name}\\(\\): argument 'other' .* must be Tensor"):
            getattr(gg, name)(x, 2.0)
    assert gg.atan2(gg.tensor([1, -1], device=device), gg.tensor([0, 0], device=device)
                    ).dtype == gg.float32


def test_lerp_is_exact_at_the_ends_and_checks_dtypes(device, torch):
    start = gg.tensor([0.1, -3.3, 7.7], device=device)
    end = gg.tensor([1e-8, 2.2, -5.1], device=device)
    assert start.lerp(end, 1.0).tolist() == end.tolist()
    assert start.lerp(end, 0.0).tolist() == start.tolist()
    weight = gg.tensor([1.0, 0.0, 1.0], device=device)
    assert start.lerp(end, weight).tolist() == [end.tolist()[0], start.tolist()[1],
                                                end.tolist()[2]]
    with pytest.raises(RuntimeError, match="expected dtype float32 for `end` but got dtype "
                                           "float64"):
        start.lerp(end.double(), 0.5)
    with pytest.raises(RuntimeError, match="expected dtype float32 for `weight`"):
        start.lerp(end, gg.tensor([0.5, 0.5, 0.5], dtype=gg.float64, device=device))
    with pytest.raises(TypeError, match="argument 'end'"):
        start.lerp(1.0, 0.5)
    # a 0-d weight of another float dtype is allowed and gets its gradient in its own dtype
    w = gg.tensor(0.25, dtype=gg.float64, device=device, requires_grad=True)
    s = gg.tensor([1.0, 2.0], device=device, requires_grad=True)
    tw = torch.tensor(0.25, dtype=torch.float64, requires_grad=True)
    ts = torch.tensor([1.0, 2.0], requires_grad=True)
    out, expected = s.lerp(s * 3, w), ts.lerp(ts * 3, tw)
    assert out.dtype == gg.float32
    out.sum().backward()
    expected.sum().backward()
    assert w.grad.dtype == gg.float64
    assert_close(w.grad, tw.grad, atol=1e-6)
    assert_close(s.grad, ts.grad, atol=1e-6)


def test_isnan_isinf_isfinite(device, torch):
    values = [1.0, np.nan, np.inf, -np.inf, -0.0, 3e38]
    x = gg.tensor(values, device=device, requires_grad=True)
    for name in ("isnan", "isinf", "isfinite"):
        out = getattr(gg, name)(x)
        assert out.dtype == gg.bool and not out.requires_grad
        assert out.tolist() == getattr(torch, name)(torch.tensor(values)).tolist()
        for ints in ([1, -2], [True, False]):
            assert getattr(gg.tensor(ints, device=device), name)().tolist() == \
                getattr(torch, name)(torch.tensor(ints)).tolist()


# ---- in place -------------------------------------------------------------------------------
INPLACE = ["sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "atanh",
           "log1p", "expm1", "log2", "log10", "exp2", "erf", "erfc", "reciprocal", "rsqrt",
           "floor", "ceil", "trunc", "round", "frac", "arcsin", "fix", "sign"]


@pytest.mark.parametrize("name", INPLACE)
def test_inplace_forms_write_into_self_with_gradients(name, device, torch):
    data = uniform(0.1, 0.9, 2, 3)
    x = gg.tensor(data, dtype=gg.float64, device=device, requires_grad=True)
    y = x * 2.0
    assert getattr(y, f"{name}_")() is y and y._version == 1
    t = torch.tensor(data, requires_grad=True)
    ty = getattr(t * 2.0, name)()  # (PyTorch has no derivative for asinh_ and atanh_)
    assert_close(y, ty)
    (y * y).sum().backward()
    (ty * ty).sum().backward()
    assert_close(x.grad, t.grad)


def test_inplace_math_refuses_what_pytorch_refuses(device):
    with pytest.raises(RuntimeError, match="result type float32 can't be cast to the desired "
                                           "output type int64"):
        gg.tensor([1, 2], device=device).sin_()
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        gg.tensor([1.0], device=device, requires_grad=True).floor_()
    x = gg.tensor([1.26, -3.5], device=device)
    assert x.round_(decimals=1) is x and x.tolist() == pytest.approx([1.3, -3.5])
    ints = gg.tensor([3, 4], device=device)
    assert ints.floor_() is ints and ints.tolist() == [3, 4]


def test_lerp_and_atan2_in_place(device, torch):
    a, b, w = normal(2, 3), normal(3), uniform(0, 1, 2, 3)
    x = gg.tensor(a, device=device)
    x.lerp_(gg.tensor(b, device=device), gg.tensor(w, device=device))
    assert_close(x, torch.tensor(a).lerp_(torch.tensor(b), torch.tensor(w)))
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        gg.tensor(b, device=device).lerp_(gg.tensor(a, device=device), 0.5)
    x = gg.tensor(a, device=device)
    x.atan2_(gg.tensor(b, device=device))
    assert_close(x, torch.tensor(a).atan2_(torch.tensor(b)))


def test_functions_and_aliases_are_the_methods(torch):
    names = ["sin", "cos", "tan", "asin", "acos", "atan", "atan2", "sinh", "cosh", "log1p",
             "expm1", "log2", "log10", "rsqrt", "reciprocal", "sign", "floor", "ceil", "round",
             "trunc", "frac", "isnan", "isinf", "isfinite", "erf", "erfc", "lerp", "clamp",
             "clip", "minimum", "maximum", "fmax", "fmin", "square", "exp2", "sigmoid", "tanh",
             "abs", "neg", "negative", "sqrt", "pow", "arcsin", "arctan2", "fix", "absolute",
             "clamp_min", "clamp_max"]
    for name in names:
        assert getattr(gg, name) is getattr(gg.Tensor, name), name
        assert hasattr(torch, name) and hasattr(torch.Tensor, name), name
    for name in ("sin_", "floor_", "round_", "lerp_", "atan2_", "arcsin_", "fix_", "frac_"):
        assert hasattr(gg.Tensor, name) and hasattr(torch.Tensor, name), name


# ---- the simulator's modeled kernels ----------------------------------------------------------
def _kernels(run, *arrays, dtype=gg.float32):
    """``{kernel name: (launches, flops, bytes)}`` on sim:0 for ``run(*tensors)`` (the tensors
    made beforehand)."""
    gg.sim.configure("sim:0")
    xs = [gg.tensor(a, dtype=dtype, device="sim:0") for a in arrays]
    gg.sim.reset("sim:0")
    run(*xs)
    by_op, _ = gg.device_registry.get_backend("sim:0").kernel_totals()
    return {name: (row[0], row[2], row[3]) for name, row in by_op.items()}


N = 1000


@pytest.mark.parametrize("op", ["sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh",
                                "asinh", "acosh", "atanh", "log1p", "expm1", "log2", "log10",
                                "exp2", "erf", "erfc", "floor", "ceil", "trunc", "round"])
def test_each_unary_op_is_one_modeled_kernel(op):
    assert op in costmodel.UNARY_FLOPS  # a cost of its own, not the default
    x = uniform(1.1, 2.0, N)
    assert _kernels(lambda t: getattr(t, op)(), x) == {
        f"unary:{op}": (1, costmodel.UNARY_FLOPS[op] * N, 2 * 4 * N)}
    # an integer input is read as int64 and written as the float result (rounding: a copy)
    expected = {f"unary:{op}": (1, costmodel.UNARY_FLOPS[op] * N, (8 + 4) * N)}
    if op in ("floor", "ceil", "trunc", "round"):
        expected = {"copy": (1, 0, 2 * 8 * N)}
    assert _kernels(lambda t: getattr(t, op)(), x, dtype=gg.int64) == expected


@pytest.mark.parametrize("op", ["atan2", "fmax", "fmin"])
def test_each_binary_op_is_one_modeled_kernel(op):
    assert op in costmodel.BINARY_FLOPS
    assert _kernels(lambda a, b: getattr(a, op)(b), normal(N), normal(N)) == {
        f"binary:{op}": (1, costmodel.BINARY_FLOPS[op] * N, 3 * 4 * N)}


def test_composed_ops_launch_their_kernels():
    x, flops = normal(N), costmodel.UNARY_FLOPS
    div, sub, mul = (costmodel.BINARY_FLOPS[op] for op in ("div", "sub", "mul"))
    # a number operand reads nothing
    assert _kernels(lambda t: t.reciprocal(), x) == {"binary:div": (1, div * N, 8 * N)}
    assert _kernels(lambda t: t.rsqrt(), x) == {"unary:sqrt": (1, flops["sqrt"] * N, 8 * N),
                                                "binary:div": (1, div * N, 8 * N)}
    assert _kernels(lambda t: t.frac(), x) == {"unary:trunc": (1, N, 8 * N),
                                               "binary:sub": (1, sub * N, 12 * N)}
    assert _kernels(lambda t: t.round(decimals=2), x) == {
        "binary:mul": (1, mul * N, 8 * N), "unary:round": (1, N, 8 * N),
        "binary:div": (1, div * N, 8 * N)}
    assert _kernels(lambda t: t.isnan(), x) == {"binary:ne": (1, N, 8 * N + N)}
    assert _kernels(lambda t: t.isfinite(), x) == {"binary:sub": (1, sub * N, 12 * N),
                                                   "binary:eq": (1, N, 4 * N + N)}
    add = costmodel.BINARY_FLOPS["add"]
    assert _kernels(lambda a, b: a.lerp(b, 0.25), x, normal(N)) == {
        "binary:sub": (1, sub * N, 12 * N), "binary:mul": (1, mul * N, 8 * N),
        "binary:add": (1, add * N, 12 * N)}


# ---- cuda, on the tests' stand-in for CuPy ----------------------------------------------------
def test_cuda_backend_runs_the_math(fake_cuda, torch):
    x = np.array([0.3, -1.7, 2.5, 0.5])
    t = torch.tensor(x)
    for name in ("sin", "acos", "log2", "exp2", "floor", "round", "trunc", "frac", "rsqrt",
                 "reciprocal", "isnan", "isfinite"):
        assert_close(getattr(gg.tensor(x, device="cuda"), name)(), getattr(t, name)(),
                     what=name)
    y = np.array([1.0, 2.0, -3.0, 0.5])
    for name in ("atan2", "fmax", "fmin"):
        assert_close(getattr(gg.tensor(x, device="cuda"), name)(gg.tensor(y, device="cuda")),
                     getattr(t, name)(torch.tensor(y)), what=name)
    out = gg.tensor(x, device="cuda")
    out.sin_()
    assert_close(out, t.sin())


def test_cuda_erf_comes_from_cupyx_scipy_special(fake_cuda, monkeypatch, torch):
    """CuPy's core has no erf: the backend takes cupyx.scipy.special's (stood in for here by
    SciPy's on the fake's arrays), with ``out=`` for the in-place form."""
    special_host = pytest.importorskip("scipy.special")
    fake, _ = fake_cuda
    calls = []

    def on_device(name):
        def call(a, out=None):
            calls.append(name)
            values = getattr(special_host, name)(np.asarray(a))
            if out is None:
                return fake.asarray(values)
            out[...] = values
            return out

        return call

    cupyx, scipy_ns, special = (types.ModuleType(n) for n in
                                ("cupyx", "cupyx.scipy", "cupyx.scipy.special"))
    special.erf, special.erfc = on_device("erf"), on_device("erfc")
    cupyx.scipy, scipy_ns.special = scipy_ns, special
    for module in (cupyx, scipy_ns, special):
        monkeypatch.setitem(sys.modules, module.__name__, module)
    x = np.array([-1.5, 0.0, 0.7])
    assert_close(gg.erf(gg.tensor(x, device="cuda")), torch.erf(torch.tensor(x)), rtol=1e-12)
    assert_close(gg.erfc(gg.tensor(x, device="cuda")), torch.erfc(torch.tensor(x)), rtol=1e-12)
    inplace = gg.tensor(x, device="cuda")
    inplace.erf_()
    assert_close(inplace, torch.erf(torch.tensor(x)), rtol=1e-12)
    assert calls == ["erf", "erfc", "erf"]


def test_sign_of_nan_is_zero_as_in_pytorch(device, torch):
    values = [math.nan, -0.0, -2.5, 3.0]
    assert gg.sign(gg.tensor(values, device=device)).tolist() == \
        torch.sign(torch.tensor(values)).tolist() == [0.0, 0.0, -1.0, 1.0]
