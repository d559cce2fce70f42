"""Elementwise ops: arithmetic with tensors and numbers on both sides, unary math, activations,
maximum/minimum, clamp, where, casts. Each is checked by gradcheck, gradgradcheck and PyTorch."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gpugrad as gg
from support.gradtools import OpCase, assert_close, op_tests

R = np.random.default_rng(42)
ROOT = Path(__file__).resolve().parents[2]


def normal(*shape):
    return R.standard_normal(shape)


def positive(*shape):
    return np.abs(R.standard_normal(shape)) + 0.5


def away_from_zero(*shape):
    """Values at least 0.3 from 0, so kinks (relu, abs) sit far from the finite-difference step."""
    x = R.standard_normal(shape)
    return np.sign(x) * (np.abs(x) + 0.3)


def _torch(name):
    def call(*args):
        import torch

        return getattr(torch, name)(*args)

    return call


CASES = [
    # binary ops between tensors, with broadcasting
    OpCase("add", lambda a, b: a + b, lambda a, b: a + b, [normal(2, 3), normal(3)]),
    OpCase("add_outer", lambda a, b: a + b, lambda a, b: a + b, [normal(2, 1), normal(1, 3)]),
    OpCase("sub", lambda a, b: a - b, lambda a, b: a - b, [normal(2, 3), normal(2, 1)]),
    OpCase("mul", lambda a, b: a * b, lambda a, b: a * b, [normal(2, 3), normal(3)]),
    OpCase("mul_self", lambda a: a * a, lambda a: a * a, [normal(2, 3)]),
    OpCase("div", lambda a, b: a / b, lambda a, b: a / b, [normal(2, 3), away_from_zero(1, 3)]),
    OpCase("pow_tensor", lambda a, b: a ** b, lambda a, b: a ** b, [positive(2, 3), normal(3)]),
    OpCase("neg", lambda a: -a, lambda a: -a, [normal(2, 3)]),
    OpCase("neg_method", lambda a: a.neg(), lambda a: a.neg(), [normal(4)]),
    # numbers on either side
    OpCase("add_number", lambda a: a + 2.5, lambda a: a + 2.5, [normal(2, 3)]),
    OpCase("radd_number", lambda a: 2.5 + a, lambda a: 2.5 + a, [normal(2, 3)]),
    OpCase("sub_number", lambda a: a - 1.5, lambda a: a - 1.5, [normal(2, 3)]),
    OpCase("rsub_number", lambda a: 1.5 - a, lambda a: 1.5 - a, [normal(2, 3)]),
    OpCase("mul_number", lambda a: a * -3.0, lambda a: a * -3.0, [normal(2, 3)]),
    OpCase("rmul_number", lambda a: -3.0 * a, lambda a: -3.0 * a, [normal(2, 3)]),
    OpCase("div_number", lambda a: a / 4.0, lambda a: a / 4.0, [normal(2, 3)]),
    OpCase("rdiv_number", lambda a: 4.0 / a, lambda a: 4.0 / a, [away_from_zero(2, 3)]),
    OpCase("pow_2", lambda a: a ** 2, lambda a: a ** 2, [normal(2, 3)]),
    OpCase("pow_3", lambda a: a ** 3, lambda a: a ** 3, [normal(2, 3)]),
    OpCase("pow_1", lambda a: a ** 1, lambda a: a ** 1, [normal(2, 3)]),
    OpCase("pow_0", lambda a: a ** 0, lambda a: a ** 0, [normal(2, 3)]),
    OpCase("pow_half", lambda a: a ** 0.5, lambda a: a ** 0.5, [positive(2, 3)]),
    OpCase("pow_neg", lambda a: a ** -1.5, lambda a: a ** -1.5, [positive(2, 3)]),
    OpCase("rpow_number", lambda a: 2.0 ** a, lambda a: 2.0 ** a, [normal(2, 3)]),
    # unary math and activations
    OpCase("exp", lambda a: a.exp(), _torch("exp"), [normal(2, 3)]),
    OpCase("log", lambda a: a.log(), _torch("log"), [positive(2, 3)]),
    OpCase("sqrt", lambda a: a.sqrt(), _torch("sqrt"), [positive(2, 3)]),
    OpCase("abs", lambda a: a.abs(), _torch("abs"), [away_from_zero(2, 3)]),
    OpCase("abs_builtin", lambda a: abs(a), lambda a: abs(a), [away_from_zero(5)]),
    OpCase("tanh", lambda a: a.tanh(), _torch("tanh"), [normal(2, 3)]),
    OpCase("relu", lambda a: a.relu(), _torch("relu"), [away_from_zero(2, 3)]),
    OpCase("sigmoid", lambda a: a.sigmoid(), _torch("sigmoid"), [normal(2, 3)]),
    OpCase("square", lambda a: a.square(), _torch("square"), [normal(2, 3)]),
    # two-operand selections
    OpCase("maximum", lambda a, b: a.maximum(b), _torch("maximum"), [normal(2, 3), normal(3)]),
    OpCase("minimum", lambda a, b: a.minimum(b), _torch("minimum"), [normal(2, 3), normal(2, 1)]),
    OpCase("clamp", lambda a: a.clamp(-0.55, 0.45), lambda a: a.clamp(-0.55, 0.45),
           [normal(3, 4)]),
    OpCase("clamp_min", lambda a: a.clamp(min=0.05), lambda a: a.clamp(min=0.05), [normal(3, 4)]),
    OpCase("clamp_max", lambda a: a.clamp(max=0.05), lambda a: a.clamp(max=0.05), [normal(3, 4)]),
    OpCase("where", lambda a, b: gg.where(a > b, a, b * 2.0),
           lambda a, b: __import__("torch").where(a > b, a, b * 2.0), [normal(2, 3), normal(3)]),
    OpCase("where_number", lambda a: gg.where(a > 0, a, 0.5),
           lambda a: __import__("torch").where(a > 0, a, 0.5), [away_from_zero(2, 3)]),
    OpCase("where_method", lambda a, b: a.where(a < 0, b), lambda a, b: a.where(a < 0, b),
           [away_from_zero(2, 3), normal(2, 3)]),
    OpCase("composite", lambda a, b: ((a * b).tanh() + (a - b).sigmoid() / 2.0) ** 2,
           lambda a, b: ((a * b).tanh() + (a - b).sigmoid() / 2.0) ** 2,
           [normal(2, 3), normal(2, 3)]),
]


test_gradcheck, test_matches_torch = op_tests(CASES)


def test_pow_of_zero_base_with_tensor_exponent_has_finite_gradient(device, torch):
    base = gg.tensor([0.0, 2.0], dtype=gg.float64, device=device, requires_grad=True)
    exponent = gg.tensor([2.0, 3.0], dtype=gg.float64, device=device, requires_grad=True)
    (base ** exponent).sum().backward()
    tb = torch.tensor([0.0, 2.0], dtype=torch.float64, requires_grad=True)
    te = torch.tensor([2.0, 3.0], dtype=torch.float64, requires_grad=True)
    (tb ** te).sum().backward()
    assert_close(base.grad, tb.grad)
    assert_close(exponent.grad, te.grad)


def test_maximum_ties_split_the_gradient(device, torch):
    a = gg.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    b = gg.tensor([1.0, 0.0, 5.0], device=device, requires_grad=True)
    a.maximum(b).sum().backward()
    ta = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    tb = torch.tensor([1.0, 0.0, 5.0], requires_grad=True)
    torch.maximum(ta, tb).sum().backward()
    assert_close(a.grad, ta.grad)
    assert_close(b.grad, tb.grad)


@pytest.mark.parametrize("op", ["eq", "ne", "lt", "le", "gt", "ge"])
def test_comparisons_carry_no_gradient(op, device):
    a = gg.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    out = getattr(a, op)(2.0)
    expected = getattr(np, {"eq": "equal", "ne": "not_equal", "lt": "less", "le": "less_equal",
                            "gt": "greater", "ge": "greater_equal"}[op])([1.0, 2.0, 3.0], 2.0)
    assert out.dtype == gg.bool
    assert not out.requires_grad and out.grad_fn is None
    assert out.tolist() == expected.tolist()


def test_operators_compare_tensors(device):
    a = gg.tensor([1.0, 2.0, 3.0], device=device)
    b = gg.tensor([3.0, 2.0, 1.0], device=device)
    assert (a < b).tolist() == [True, False, False]
    assert (a >= b).tolist() == [False, True, True]
    assert (a == b).tolist() == [False, True, False]
    assert (a != b).tolist() == [True, False, True]
    assert ((a < b) | (a > b)).tolist() == [True, False, True]
    assert ((a <= b) & (a >= b)).tolist() == [False, True, False]
    assert (~(a == b)).tolist() == [True, False, True]


def test_float32_inputs_stay_float32(device):
    a = gg.tensor([1.0, 2.0], device=device, requires_grad=True)
    out = (a * 2 + 1).exp() / 3.0 - a ** 2
    assert out.dtype == gg.float32
    out.sum().backward()
    assert a.grad.dtype == gg.float32


def test_cast_gradient_returns_in_input_dtype(device):
    x = gg.tensor([0.5, -1.25], dtype=gg.float64, device=device, requires_grad=True)
    y = x.float()
    assert y.dtype == gg.float32 and y.grad_fn is not None
    (y * y).sum().backward()
    assert x.grad.dtype == gg.float64
    assert_close(x.grad, [1.0, -2.5])
    z = gg.tensor([0.5, 1.0], device=device, requires_grad=True)
    assert z.double().dtype == gg.float64 and z.to(gg.float32) is z
    assert gg.gradcheck(lambda t: t.to(gg.float64) * 3.0, [x])


def test_cast_to_integer_carries_no_gradient(device):
    x = gg.tensor([1.7, -2.2], device=device, requires_grad=True)
    n = x.long()
    assert n.dtype == gg.int64 and not n.requires_grad
    assert n.tolist() == [1, -2]
    assert x.bool().tolist() == [True, True]


def test_nan_and_inf_pass_through(device):
    x = gg.tensor([0.0, -1.0, float("inf"), float("nan")], dtype=gg.float64, device=device)
    logs, ratios, roots = x.log().tolist(), (x / 0.0).tolist(), x.sqrt().tolist()
    assert logs[0] == -np.inf and np.isnan(logs[1]) and logs[2] == np.inf and np.isnan(logs[3])
    assert np.isnan(ratios[0]) and ratios[1] == -np.inf and ratios[2] == np.inf
    assert np.isnan(roots[1]) and roots[2] == np.inf


def test_nan_and_inf_raise_no_warnings_in_a_program(device):
    # A fresh interpreter with RuntimeWarnings turned into errors: pytest's own warning
    # capture would otherwise hide the filter gpugrad installs at import.
    code = (
        "import gpugrad as gg\n"
        f"x = gg.tensor([0.0, -1.0, float('inf')], device={device!r}, requires_grad=True)\n"
        "y = (x.log() + x / 0.0 + x.sqrt() + (x * 1e308) * 1e308 + x.exp() ** 400).sum()\n"
        "y.backward()\n"
        "print(y.item(), x.grad.tolist())\n"
    )
    result = subprocess.run([sys.executable, "-W", "error::RuntimeWarning", "-c", code],
                            capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "nan" in result.stdout


def test_nan_gradient_passes_through(device):
    x = gg.tensor([0.0, 4.0], dtype=gg.float64, device=device, requires_grad=True)
    x.sqrt().sum().backward()
    assert x.grad.tolist() == [np.inf, 0.25]


def test_shapes_that_do_not_broadcast_name_op_and_shapes(device):
    a = gg.ones(2, 3, device=device)
    b = gg.ones(4, device=device)
    for expr, op in ((lambda: a + b, "add"), (lambda: a * b, "mul"), (lambda: a - b, "sub"),
                     (lambda: a / b, "div"), (lambda: a.maximum(b), "maximum"),
                     (lambda: a < b, "lt")):
        with pytest.raises(RuntimeError) as info:
            expr()
        message = str(info.value)
        assert op in message and "(2, 3)" in message and "(4,)" in message


def test_where_needs_a_bool_condition(device):
    x = gg.ones(3, device=device)
    with pytest.raises(TypeError, match="bool"):
        gg.where(x, x, x)


def test_clamp_needs_a_bound(device):
    with pytest.raises(RuntimeError, match="min"):
        gg.ones(2, device=device).clamp()


def test_ndarray_on_the_left_defers_to_tensor(device):
    x = gg.tensor([1.0, 2.0], device=device)
    out = np.float32(2.0) * x
    assert isinstance(out, gg.Tensor) and out.tolist() == [2.0, 4.0]


def test_clamp_with_tensor_bounds_matches_torch(device, torch):
    data, lo, hi = [-1.0, 0.2, 3.0], [0.0, 0.5, 0.0], [0.5, 1.0, 2.0]
    x = gg.tensor(data, device=device, requires_grad=True)
    out = x.clamp(min=gg.tensor(lo, device=device), max=gg.tensor(hi, device=device))
    t = torch.tensor(data, requires_grad=True)
    expected = t.clamp(min=torch.tensor(lo), max=torch.tensor(hi))
    assert_close(out, expected)
    out.sum().backward()
    expected.sum().backward()
    assert_close(x.grad, t.grad)
