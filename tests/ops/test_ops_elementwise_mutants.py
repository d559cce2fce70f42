"""Elementwise ops (``ops/elementwise.py``) where the common tests do not look: result dtypes of
mixed operand classes (0-d tensors, numbers), gradients of mixed dtypes computed in PyTorch's
dtype, ``create_graph`` gradients of the arithmetic ops, in-place ``neg_`` and ``pow_``, and
the kernels a backward launches for operands that need no gradient (on the simulated GPU).
Kills the mutation-testing survivors of the module (``bench/mutation.toml``, package ops)."""
import warnings

import numpy as np
import pytest

import gpugrad as gg


def _torch_dtype(torch, dtype):
    return getattr(torch, dtype.name)


def _pair(torch, value, dtype):
    """The same tensor in gpugrad and in PyTorch."""
    return gg.tensor(value, dtype=dtype), torch.tensor(value, dtype=_torch_dtype(torch, dtype))


# ---- result dtypes: dimensioned tensors, 0-d tensors and numbers ------------------------------
F16, F32, F64 = gg.float16, gg.float32, gg.float64

# (a, b) for where(cond, a, b): a tensor is (values, dtype), anything else is a number
WHERE_OPERANDS = [
    (2.5, (1.0, F16)),                       # a number never outranks a 0-d tensor's float
    (([1.0, 2.0], F64), ([1.0, 2.0], F32)),  # dimensioned f64 and f32: f64
    ((1.0, F64), ([1.0, 2.0], F32)),         # a 0-d f64 gives way to a dimensioned f32
    (([1.0, 2.0], F32), (1.0, F64)),
    ((1.0, F16), ([1.0, 2.0], F32)),         # a 0-d f16 gives way to a dimensioned f32
    (([1, 2], gg.int64), 0.5),               # an integer tensor and a float number: float32
    (([1, 2], gg.int32), (0.5, F64)),        # a 0-d tensor of a higher category: its dtype
]


def _operand(torch, spec):
    if isinstance(spec, tuple):
        return _pair(torch, *spec)
    return spec, spec


@pytest.mark.parametrize("a_spec, b_spec", WHERE_OPERANDS)
def test_where_result_dtype_is_pytorchs(torch, a_spec, b_spec):
    (a, ta), (b, tb) = _operand(torch, a_spec), _operand(torch, b_spec)
    expected = torch.where(torch.tensor([True, False]), ta, tb)
    out = gg.where(gg.tensor([True, False]), a, b)
    assert out.dtype.name == str(expected.dtype).removeprefix("torch.")
    assert out.tolist() == expected.tolist()


def test_zero_d_integer_tensor_plus_int_keeps_its_dtype(torch):
    a, ta = _pair(torch, 100, gg.int8)
    assert (ta + 5).dtype == torch.int8
    out = a + 5
    assert out.dtype is gg.int8 and out.item() == 105


def test_clamp_by_zero_d_tensor_keeps_the_dimensioned_dtype(torch):
    x, tx = _pair(torch, [1.0, 2.0, 3.0], F32)
    lo, tlo = _pair(torch, 2.0, F64)
    assert tx.clamp(tlo).dtype == torch.float32
    out = x.clamp(lo)
    assert out.dtype is F32 and out.tolist() == [2.0, 2.0, 3.0]


def test_clamp_zero_d_bound_outranks_a_number_bound(torch):
    """A 0-d float16 input and bound, a float number as the other bound: float16 (the number
    is of the same category, so it does not promote)."""
    x, tx = _pair(torch, 3.0, F16)
    lo, tlo = _pair(torch, 0.0, F16)
    assert tx.clamp(tlo, 2.5).dtype == torch.float16
    out = x.clamp(lo, 2.5)
    assert out.dtype is F16 and out.item() == 2.5


# ---- gradients of mixed dtypes, computed in the result's dtype as PyTorch does ----------------
def test_mul_gradient_by_zero_d_f64_factor_is_computed_in_float32(torch):
    """f32 tensor * 0-d f64 tensor is f32, and so is the product in its gradient: 1.1 * 0.1
    rounds differently when computed in f64 and then rounded to f32."""
    x, tx = gg.tensor([1.0], requires_grad=True), torch.tensor([1.0], requires_grad=True)
    y, ty = _pair(torch, 0.1, F64)
    (tx * ty).backward(torch.tensor([1.1]))
    (x * y).backward(gg.tensor([1.1]))
    assert x.grad.dtype is F32 and x.grad.tolist() == tx.grad.tolist()


def test_div_gradient_of_zero_d_f64_divisor_is_computed_in_float32(torch):
    """The divisor's gradient ``-grad * x / y²`` is computed in the result's f32, then cast to
    the divisor's f64: -1/9 rounded to f32, as PyTorch gives it."""
    x, tx = _pair(torch, [1.0], F32)
    y = gg.tensor(3.0, dtype=F64, requires_grad=True)
    ty = torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
    (tx / ty).backward(torch.tensor([1.0]))
    (x / y).backward(gg.tensor([1.0]))
    assert y.grad.dtype is F64 and y.grad.item() == ty.grad.item() == float(np.float32(-1 / 9))


# 2**24 + 3 is not a float32: PyTorch rounds the integer factor to f32 (2**24 + 4) before it
# multiplies; computing the product in f64 and rounding it after gives another float32
BIG = 2 ** 24 + 3


@pytest.mark.parametrize("int_first", [True, False])
def test_mul_gradient_by_integer_tensor_casts_the_integer_first(torch, int_first):
    n, tn = _pair(torch, [BIG], gg.int64)
    w, tw = gg.tensor([1.0], requires_grad=True), torch.tensor([1.0], requires_grad=True)
    (tn * tw if int_first else tw * tn).backward(torch.tensor([3.0]))
    (n * w if int_first else w * n).backward(gg.tensor([3.0]))
    assert w.grad.tolist() == tw.grad.tolist() == [3.0 * (BIG + 1)]


def test_true_division_gradient_of_integer_output_gradient_is_float(torch):
    """An integer gradient handed to backward: the quotient's gradient is a true division."""
    x, tx = gg.tensor([1.0, 2.0], requires_grad=True), torch.tensor([1.0, 2.0], requires_grad=True)
    (tx / 2).backward(torch.tensor([1, 1]))
    (x / 2).backward(gg.tensor([1, 1]))
    assert x.grad.dtype is F32 and x.grad.tolist() == tx.grad.tolist() == [0.5, 0.5]


@pytest.mark.parametrize("then_grad", [True, False], ids=["then", "else"])
def test_where_gradient_of_integer_output_gradient_is_the_inputs_dtype(torch, then_grad):
    cond = [True, False]
    x, tx = gg.tensor([1.0, 2.0], requires_grad=True), torch.tensor([1.0, 2.0], requires_grad=True)
    pick = (lambda t: (t, 0.0)) if then_grad else (lambda t: (0.0, t))
    torch.where(torch.tensor(cond), *pick(tx)).backward(torch.tensor([1, 1]))
    gg.where(gg.tensor(cond), *pick(x)).backward(gg.tensor([1, 1]))
    assert x.grad.dtype is F32 and x.grad.tolist() == tx.grad.tolist()


# ---- no kernel for an operand that needs no gradient (the simulated GPU lists them) -----------
_C = [True, False, True]
_OPS = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
        "div": lambda a, b: a / b,
        "where": lambda a, b: gg.where(gg.tensor(_C, device="sim"), a, b)}


def _backward_kernels(op, shapes, needs, create_graph):
    """``{kernel: launches}`` of the backward of ``op(a, b)`` on sim:0; a shape of None is the
    number 2.0, ``needs`` says which tensor requires a gradient."""
    operands = [2.0 if s is None else gg.ones(*s, device="sim", requires_grad=n)
                for s, n in zip(shapes, needs)]
    out = _OPS[op](*operands)
    grad = gg.ones(*out.shape, device="sim")
    wanted = [t for t in operands if getattr(t, "requires_grad", False)]
    gg.sim.reset("sim:0")
    got = gg.autograd.grad(out, wanted, grad, create_graph=create_graph)
    assert [g.shape for g in got] == [t.shape for t in wanted]
    totals, _ = gg.device_registry.get_backend("sim:0").kernel_totals()
    return {name: row[0] for name, row in totals.items()}


@pytest.mark.parametrize("op, shapes, needs, create_graph, kernels", [
    # the gradient passes as is, or negated: no reduction for the broadcast operand
    ("add", [(2, 3), (3,)], [True, False], False, {}),
    ("add", [(3,), (2, 3)], [False, True], False, {}),
    ("sub", [(2, 3), (3,)], [True, False], False, {}),
    ("sub", [(3,), (2, 3)], [False, True], False, {"unary:neg": 1}),
    ("sub", [(3,), None], [True, False], True, {}),
    # one product, for the operand that needs it
    ("mul", [(3,), (3,)], [True, False], False, {"binary:mul": 1}),
    ("mul", [(3,), (3,)], [False, True], False, {"binary:mul": 1}),
    ("mul", [(3,), None], [True, False], True, {"binary:mul": 1}),
    ("mul", [None, (3,)], [False, True], True, {"binary:mul": 1}),
    ("div", [(3,), None], [True, False], True, {"binary:div": 1}),
    ("div", [None, (3,)], [False, True], True,
     {"unary:neg": 1, "binary:mul": 2, "binary:div": 1}),
    ("where", [(3,), None], [True, False], True, {"where": 1}),
    ("where", [None, (3,)], [False, True], True, {"where": 1}),
], ids=["add_a", "add_b", "sub_a", "sub_b", "sub_number_cg", "mul_a", "mul_b", "mul_number_cg",
        "number_mul_cg", "div_number_cg", "number_div_cg", "where_number_cg",
        "number_where_cg"])
def test_backward_launches_kernels_only_for_needed_gradients(op, shapes, needs, create_graph,
                                                              kernels):
    assert _backward_kernels(op, shapes, needs, create_graph) == kernels


# ---- create_graph gradients (the ops' Tensor-level backward) against PyTorch ------------------
def _graph_grads(torch, op, values):
    """``grad(op(*inputs), inputs, create_graph=True)`` in gpugrad and in PyTorch (float64);
    an entry of ``values`` that is a number stays a number and gets no gradient."""
    def run(lib, make):
        ins = [v if isinstance(v, float) else make(v) for v in values]
        out = op(lib, *ins)
        wanted = [t for t in ins if not isinstance(t, float)]
        seed = make(np.linspace(0.5, 2.0, int(np.prod(out.shape))).reshape(out.shape))
        seed.requires_grad_(False)
        return lib.autograd.grad(out, wanted, seed, create_graph=True)
    ours = run(gg, lambda v: gg.tensor(v, dtype=F64, requires_grad=True))
    theirs = run(torch, lambda v: torch.tensor(v, dtype=torch.float64, requires_grad=True))
    return ours, theirs


A23 = [[1.0, -2.0, 3.0], [0.5, 4.0, -1.5]]
B3 = [2.0, -0.5, 4.0]
WHERE = lambda lib, a, b: lib.where(lib.tensor([[True, False, True], [False, True, True]]), a, b)


@pytest.mark.parametrize("op, values", [
    (lambda lib, a, b: a - b, [A23, B3]),
    (lambda lib, a, b: a - b, [B3, A23]),
    (lambda lib, a, b: a - b, [B3, 2.0]),
    (lambda lib, a, b: a / b, [A23, B3]),
    (lambda lib, a, b: a / b, [B3, A23]),
    (lambda lib, a, b: a / b, [B3, 2.0]),
    (lambda lib, a, b: a / b, [2.0, B3]),
    (WHERE, [A23, B3]),
    (WHERE, [B3, A23]),
    (WHERE, [B3, 2.0]),
    (WHERE, [2.0, B3]),
], ids=["sub", "sub_wide_b", "sub_number", "div", "div_wide_b", "div_by_number",
        "number_div", "where", "where_wide_b", "where_number_b", "where_number_a"])
def test_create_graph_gradients_match_pytorch(torch, op, values):
    ours, theirs = _graph_grads(torch, op, values)
    assert [g.shape for g in ours] == [tuple(t.shape) for t in theirs]
    for g, t in zip(ours, theirs):
        np.testing.assert_allclose(g.tolist(), t.tolist(), rtol=1e-12, atol=0)


@pytest.mark.parametrize("power", [0, 1, 2, 3, 0.0, 2.0])
def test_create_graph_gradient_of_number_power_matches_pytorch(torch, power):
    ours, theirs = _graph_grads(torch, lambda lib, a: a ** power, [[0.0, -2.0, 3.0]])
    assert ours[0].tolist() == theirs[0].tolist()
    if power == 0:  # zeros, as a constant: nothing to differentiate further
        assert ours[0].requires_grad is False


def test_gradient_of_power_zero_is_zeros_where_the_output_gradient_is_nan():
    x = gg.tensor([0.0, 2.0], requires_grad=True)
    (x ** 0).backward(gg.tensor([float("nan"), 1.0]))
    assert x.grad.tolist() == [0.0, 0.0]


def test_create_graph_gradient_of_sign_is_a_constant_zero():
    x = gg.tensor([1.0, -2.0], dtype=F64, requires_grad=True)
    g, = gg.autograd.grad(x.sign().sum(), x, create_graph=True)
    assert g.tolist() == [0.0, 0.0] and g.requires_grad is False


def test_where_gives_each_input_its_gradient_in_its_own_dtype():
    x, y = gg.tensor([1.0, 2.0], requires_grad=True), gg.tensor([3.0, 4.0], dtype=F64,
                                                                 requires_grad=True)
    out = gg.where(gg.tensor([True, False]), x, y)
    assert out.dtype is F64
    out.backward(gg.tensor([0.1, 0.2], dtype=F64))
    assert x.grad.dtype is F32 and x.grad.tolist() == [float(np.float32(0.1)), 0.0]
    assert y.grad.dtype is F64 and y.grad.tolist() == [0.0, 0.2]


def _where_message(first, second, dim, size_first, size_second):
    return (f"where: shapes {first} and {second} cannot be broadcast together: dimension {dim} "
            f"is {size_first} in the first and {size_second} in the second (sizes must be equal "
            f"or 1 in each dimension, counted from the right)")


@pytest.mark.parametrize("cond, a, b, message", [
    ((2,), (3,), (3,), _where_message((2,), (3,), -1, 2, 3)),
    ((2,), (3,), None, _where_message((2,), (3,), -1, 2, 3)),
    ((2,), None, (3,), _where_message((2,), (3,), -1, 2, 3)),
    ((3,), (3,), (2,), _where_message((3,), (2,), -1, 3, 2)),
    ((2, 1), (3,), (4,), _where_message((2, 3), (4,), -1, 3, 4)),
    ((3,), (2, 3), (4, 3), _where_message((2, 3), (4, 3), -2, 2, 4)),
])
def test_where_shape_error_names_the_shapes_that_cannot_broadcast(device, cond, a, b, message):
    operands = [0.0 if s is None else gg.ones(*s, device=device) for s in (a, b)]
    with pytest.raises(RuntimeError) as info:
        gg.where(gg.ones(*cond, dtype=gg.bool, device=device), *operands)
    assert str(info.value) == message


# ---- in place ---------------------------------------------------------------------------------
NEG_BOOL = ("Negation, the `-` operator, on a bool tensor is not supported. If you are trying "
            "to invert a mask, use the `~` or `logical_not()` operator instead.")


def test_neg_in_place_writes_into_the_tensor(device):
    x = gg.tensor([1.0, -2.0], device=device)
    assert x.neg_() is x and x.tolist() == [-1.0, 2.0]


@pytest.mark.parametrize("in_place", [False, True])
def test_negating_a_bool_tensor_is_pytorchs_error(torch, in_place):
    with pytest.raises(RuntimeError) as theirs:
        torch.tensor([True]).neg_() if in_place else -torch.tensor([True])
    x = gg.tensor([True, False])
    with pytest.raises(RuntimeError) as ours:
        x.neg_() if in_place else -x
    assert str(ours.value) == str(theirs.value) == NEG_BOOL


def test_pow_in_place_writes_into_the_tensor(torch):
    x = gg.tensor([2.0, 3.0])
    assert x.pow_(2.0) is x and x.tolist() == [4.0, 9.0]
    n = gg.tensor([2, 3])
    with pytest.raises(RuntimeError) as ours:
        n.pow_(0.5)
    with pytest.raises(RuntimeError) as theirs:
        torch.tensor([2, 3]).pow_(0.5)
    # PyTorch names the dtypes Float and Long; gpugrad's message names them as gpugrad does
    assert str(ours.value) in (str(theirs.value), str(theirs.value).replace(
        "Float", "float32").replace("Long", "int64"))
    assert n.tolist() == [2, 3]


# ---- an operand that needs no gradient gets none ----------------------------------------------
def test_where_gradient_of_the_other_dtype_operand_alone():
    """Operands of two dtypes, only the second needing a gradient: it comes back in its dtype."""
    x = gg.tensor([1.0, 2.0])
    y = gg.tensor([3.0, 4.0], dtype=F64, requires_grad=True)
    gg.where(gg.tensor([True, False]), x, y).backward(gg.tensor([0.5, 0.25], dtype=F64))
    assert y.grad.dtype is F64 and y.grad.tolist() == [0.0, 0.25]


def test_anomaly_in_add_gradient_names_the_input_that_needs_it(torch):
    """``constant + x`` with a NaN gradient: only input 1 gets a gradient, so anomaly detection
    reports that one, as PyTorch does (its "1th output")."""
    tx = torch.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError) as theirs, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch warns with the forward's traceback
        with torch.autograd.detect_anomaly(check_nan=True):
            (torch.ones(2) + tx).backward(torch.tensor([float("nan"), 1.0]))
    assert "returned nan values in its 1th output" in str(theirs.value)
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError) as ours, gg.autograd.detect_anomaly():
        (gg.ones(2) + x).backward(gg.tensor([float("nan"), 1.0]))
    assert str(ours.value).startswith(
        "Function 'AddBackward0' returned nan values in its 1st output during backward")
