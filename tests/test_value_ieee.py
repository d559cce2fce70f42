"""The scalar ``Value`` at IEEE 754 special values (0, -0.0, ±inf, nan, overflow): as PyTorch
float64 and as hard-coded expectations, never an exception."""
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpugrad.value import Value


# ---- IEEE 754 special values: as PyTorch float64, never an exception --------------------------
INF, NAN = math.inf, math.nan
UNARY = ("exp", "log", "tanh", "relu", "sigmoid")

# (op, a, b, expected value, expected gradients of the Value operands). The ops:
#   pow_num: Value(a) ** b      rpow: a ** Value(b)     pow_value: Value(a) ** Value(b)
#   div: Value(a) / Value(b)    div_num: Value(a) / b   rdiv: a / Value(b)
#   exp/log/tanh/relu/sigmoid: Value(a).op() (b unused)
IEEE_CASES = [
    # a ** number: the pole at 0, negative bases, x ** 0, overflow
    ("pow_num", 0.0, 0.5, 0.0, [INF]),
    ("pow_num", -0.0, 0.5, 0.0, [INF]),
    ("pow_num", 0.0, -0.5, INF, [-INF]),
    ("pow_num", -1.0, 0.5, NAN, [NAN]),
    ("pow_num", -2.0, 2.5, NAN, [NAN]),
    ("pow_num", -2.0, -2.5, NAN, [NAN]),
    ("pow_num", 0.0, -1, INF, [-INF]),
    ("pow_num", -0.0, -1, -INF, [-INF]),
    ("pow_num", 0.0, -2, INF, [-INF]),
    ("pow_num", -0.0, -2, INF, [INF]),
    ("pow_num", 0.0, 0, 1.0, [0.0]),
    ("pow_num", -0.0, 0.0, 1.0, [0.0]),
    ("pow_num", NAN, 0, 1.0, [0.0]),
    ("pow_num", INF, 0, 1.0, [0.0]),
    ("pow_num", -INF, 0.0, 1.0, [0.0]),
    ("pow_num", -3.0, 0, 1.0, [0.0]),
    ("pow_num", 10.0, 400, INF, [INF]),
    ("pow_num", -10.0, 401, -INF, [INF]),
    ("pow_num", 10.0, -400, 0.0, [0.0]),
    ("pow_num", 1e-200, -2, INF, [-INF]),
    ("pow_num", -1e-200, -3, -INF, [-INF]),
    ("pow_num", NAN, 2.0, NAN, [NAN]),
    ("pow_num", INF, 0.5, INF, [0.0]),
    ("pow_num", -INF, 3, -INF, [INF]),
    ("pow_num", -INF, 0.5, INF, [0.0]),  # C's pow; PyTorch's t ** 0.5 takes sqrt: nan
    ("pow_num", 1.0, NAN, 1.0, [NAN]),
    ("pow_num", 2.0, NAN, NAN, [NAN]),
    ("pow_num", 0.0, INF, 0.0, [NAN]),
    ("pow_num", 0, -1, INF, [-INF]),  # ints
    # number ** Value
    ("rpow", 2.0, 0.0, 1.0, [math.log(2.0)]),
    ("rpow", 2.0, 2000.0, INF, [INF]),
    ("rpow", 10, 400.0, INF, [INF]),
    ("rpow", 0.0, -1.0, INF, [-INF]),
    ("rpow", -0.0, -1.0, -INF, [INF]),
    ("rpow", 0.0, 0.0, 1.0, [0.0]),
    ("rpow", 0.0, 2.0, 0.0, [0.0]),
    ("rpow", 0.0, NAN, NAN, [NAN]),
    ("rpow", -2.0, 0.5, NAN, [NAN]),
    ("rpow", -2.0, 2.0, 4.0, [NAN]),
    ("rpow", NAN, 0.0, 1.0, [NAN]),
    ("rpow", INF, 0.0, 1.0, [INF]),
    ("rpow", 1.0, NAN, 1.0, [0.0]),
    # Value ** Value: d/db = a ** b * log(a), 0 where a == 0 and b >= 0
    ("pow_value", 0.0, 0.5, 0.0, [INF, 0.0]),
    ("pow_value", 0.0, 0.0, 1.0, [0.0, 0.0]),
    ("pow_value", 0.0, 2.0, 0.0, [0.0, 0.0]),
    ("pow_value", 0.0, -1.0, INF, [-INF, -INF]),
    ("pow_value", -0.0, -1.0, -INF, [-INF, INF]),
    ("pow_value", 0.0, NAN, NAN, [NAN, NAN]),
    ("pow_value", -1.0, 0.5, NAN, [NAN, NAN]),
    ("pow_value", -2.0, 2.0, 4.0, [-4.0, NAN]),
    ("pow_value", NAN, 0.0, 1.0, [0.0, NAN]),
    ("pow_value", INF, 0.0, 1.0, [0.0, INF]),
    ("pow_value", 10.0, 400.0, INF, [INF, INF]),
    ("pow_value", 2.0, -INF, 0.0, [NAN, 0.0]),
    ("pow_value", 1.0, NAN, 1.0, [NAN, 0.0]),
    # division by zero: IEEE 754 (±inf, nan for 0/0), the sign of a zero divisor counts
    ("div", 1.0, 0.0, INF, [INF, -INF]),
    ("div", -1.0, 0.0, -INF, [INF, INF]),
    ("div", 0.0, 0.0, NAN, [INF, NAN]),
    ("div", 1.0, -0.0, -INF, [-INF, -INF]),
    ("div", NAN, 0.0, NAN, [INF, NAN]),
    ("div", INF, 0.0, INF, [INF, -INF]),
    ("div", INF, INF, NAN, [0.0, NAN]),
    ("div", 1e300, 1e-300, INF, [1 / 1e-300, -INF]),
    ("div", 1e-200, 1e-200, 1.0, [1e200, -1e200]),  # d/db = -(a/b)/b: b*b would underflow
    ("div_num", 1.0, 0.0, INF, [INF]),
    ("div_num", -1.0, 0.0, -INF, [INF]),
    ("div_num", 0.0, 0.0, NAN, [INF]),
    ("div_num", 1.0, -0.0, -INF, [-INF]),
    ("div_num", 1, 0, INF, [INF]),  # ints
    ("rdiv", 1.0, 0.0, INF, [-INF]),
    ("rdiv", -1.0, 0.0, -INF, [INF]),
    ("rdiv", 0.0, 0.0, NAN, [NAN]),
    ("rdiv", 1.0, -0.0, -INF, [-INF]),
    ("rdiv", 1, 0, INF, [-INF]),  # ints
    ("rdiv", 1e-10, 1e-310, 1e-10 / 1e-310, [-INF]),
    # the functions at 0, -0.0, ±inf and nan
    ("exp", 0.0, None, 1.0, [1.0]),
    ("exp", INF, None, INF, [INF]),
    ("exp", -INF, None, 0.0, [0.0]),
    ("exp", NAN, None, NAN, [NAN]),
    ("exp", 1000.0, None, INF, [INF]),
    ("exp", -1000.0, None, 0.0, [0.0]),
    ("log", 0.0, None, -INF, [INF]),
    ("log", -0.0, None, -INF, [-INF]),
    ("log", INF, None, INF, [0.0]),
    ("log", -INF, None, NAN, [0.0]),
    ("log", NAN, None, NAN, [NAN]),
    ("log", -1.0, None, NAN, [-1.0]),
    ("tanh", 0.0, None, 0.0, [1.0]),
    ("tanh", -0.0, None, 0.0, [1.0]),
    ("tanh", INF, None, 1.0, [0.0]),
    ("tanh", -INF, None, -1.0, [0.0]),
    ("tanh", NAN, None, NAN, [NAN]),
    ("relu", 0.0, None, 0.0, [0.0]),
    ("relu", -0.0, None, 0.0, [0.0]),
    ("relu", INF, None, INF, [1.0]),
    ("relu", -INF, None, 0.0, [0.0]),
    ("relu", NAN, None, NAN, [1.0]),  # as PyTorch: nan passes through, gradient 1
    ("sigmoid", 0.0, None, 0.5, [0.25]),
    ("sigmoid", -0.0, None, 0.5, [0.25]),
    ("sigmoid", INF, None, 1.0, [0.0]),
    ("sigmoid", -INF, None, 0.0, [0.0]),
    ("sigmoid", NAN, None, NAN, [NAN]),
]


def _case_id(case):
    op, a, b = case[:3]
    return f"{op}({a!r})" if b is None else f"{op}({a!r},{b!r})"


def _same(actual, expected, abs_tol=0.0):
    """Equal as IEEE values, with nan equal to nan (the sign of a zero is not compared)."""
    if math.isnan(expected) or math.isnan(actual):
        return math.isnan(expected) and math.isnan(actual)
    if math.isinf(expected) or math.isinf(actual):
        return actual == expected
    return actual == pytest.approx(expected, rel=1e-12, abs=abs_tol)


def _run_value(op, a, b):
    """Forward and backward of one case on Values: ``(value, [grads of the Value operands])``."""
    if op in UNARY:
        leaves = [Value(a)]
        out = getattr(leaves[0], op)()
    elif op in ("pow_num", "div_num"):
        leaves = [Value(a)]
        out = leaves[0] ** b if op == "pow_num" else leaves[0] / b
    elif op in ("rpow", "rdiv"):
        leaves = [Value(b)]
        out = a ** leaves[0] if op == "rpow" else a / leaves[0]
    else:
        leaves = [Value(a), Value(b)]
        out = leaves[0] ** leaves[1] if op == "pow_value" else leaves[0] / leaves[1]
    out.backward()
    return out.data, [v.grad for v in leaves]


def _run_torch(torch, op, a, b):
    """The same case on float64 0-d tensors. A number exponent is passed as a tensor, so PyTorch
    takes C's pow as Value does (its ``t ** 0.5`` takes sqrt: nan at -inf, -0.0 at -0.0), and a
    number over a Value as a tensor division (``c / t`` is ``c * t.reciprocal()``, which overflows
    early: 1e-10 / 1e-310)."""
    def leaf(x):
        return torch.tensor(x, dtype=torch.float64, requires_grad=True)

    def const(x):
        return torch.tensor(x, dtype=torch.float64)

    if op in UNARY:
        leaves = [leaf(a)]
        out = getattr(leaves[0], op)()
    elif op == "pow_num":
        leaves = [leaf(a)]
        out = torch.pow(leaves[0], const(b))
    elif op == "div_num":
        leaves = [leaf(a)]
        out = leaves[0] / b
    elif op == "rpow":
        leaves = [leaf(b)]
        out = a ** leaves[0]
    elif op == "rdiv":
        leaves = [leaf(b)]
        out = const(a) / leaves[0]
    else:
        leaves = [leaf(a), leaf(b)]
        out = leaves[0] ** leaves[1] if op == "pow_value" else leaves[0] / leaves[1]
    out.backward()
    return out.item(), [t.grad.item() for t in leaves]


def _assert_matches(op, a, b, actual, expected):
    (value, grads), (want_value, want_grads) = actual, expected
    where = _case_id((op, a, b))
    assert not isinstance(value, complex), f"{where}: complex value {value!r}"
    assert _same(value, want_value), f"{where}: value {value!r}, expected {want_value!r}"
    # 1 - t*t (tanh) and s * (1 - s) (sigmoid) cancel near |t|, s = 1: one ulp of difference in
    # t or s between libms is an absolute error of about 1e-16 in the gradient
    abs_tol = 1e-15 if op in ("tanh", "sigmoid") else 0.0
    for i, (g, want) in enumerate(zip(grads, want_grads)):
        assert _same(g, want, abs_tol), f"{where}: gradient {i} is {g!r}, expected {want!r}"


@pytest.mark.parametrize("case", IEEE_CASES, ids=_case_id)
def test_special_values_follow_ieee_without_torch(case):
    op, a, b, value, grads = case
    _assert_matches(op, a, b, _run_value(op, a, b), (value, grads))


@pytest.mark.parametrize("case", IEEE_CASES, ids=_case_id)
def test_special_values_match_torch_float64(case, torch):
    op, a, b, value, grads = case
    expected = _run_torch(torch, op, a, b)
    _assert_matches(op, a, b, _run_value(op, a, b), expected)
    # and the hard-coded table says what PyTorch says
    _assert_matches(op, a, b, expected, (value, grads))


def test_ints_stay_ints_and_the_issue_examples():
    for v, want in [(Value(2) ** 3, 8), (2 ** Value(3), 8), (Value(2) ** Value(3), 8),
                    (Value(-2) ** 3, -8), (Value(0) ** Value(2), 0)]:
        assert type(v.data) is int and v.data == want
    assert (Value(0.0) ** 0.5).data == 0.0
    assert math.isnan((Value(-1.0) ** 0.5).data)
    assert (Value(10.0) ** 400).data == INF
    assert (1 / Value(0.0)).data == INF and (-1 / Value(0.0)).data == -INF
    assert math.isnan((Value(0.0) / Value(0.0)).data)


def test_special_values_inside_a_graph_backward_never_raises():
    x, y = Value(0.0), Value(-0.0)
    z = (x ** 0.5 + 1 / y + (x / y) + 2 ** (x - 1e6) + y ** -1 + (x * 0).log()).relu() + x.sigmoid()
    z.backward()
    assert math.isnan(z.data) and math.isnan(x.grad) and math.isnan(y.grad)


_SPECIAL = [0.0, -0.0, INF, -INF, NAN, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, 3.0, -3.0, 1e308,
            -1e308, 5e-324, -5e-324, 1e-300, 400.0, -401.0, 2.0**52 + 1, -(2.0**52 + 1), 1e300]
_floats = st.one_of(st.sampled_from(_SPECIAL), st.floats(allow_nan=True, allow_infinity=True))


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # torch: a module
@given(op=st.sampled_from(["pow_num", "rpow", "pow_value", "div", "div_num", "rdiv"]),
       a=_floats, b=_floats)
def test_property_pow_and_div_match_torch_float64(torch, op, a, b):
    _assert_matches(op, a, b, _run_value(op, a, b), _run_torch(torch, op, a, b))


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(op=st.sampled_from(UNARY), a=_floats)
def test_property_functions_match_torch_float64(torch, op, a):
    _assert_matches(op, a, None, _run_value(op, a, None), _run_torch(torch, op, a, None))
