"""PyTorch's elementwise long tail (gpugrad/tensor_numeric_methods.py): remainder, fmod,
floor_divide, divide's rounding modes, logaddexp, xlogy, logit, sinc, hypot, copysign,
nan_to_num, float_power, the aliases and the in-place forms. Differentiable ops: gradcheck,
gradgradcheck and PyTorch (values and gradients) on every device; the rest: PyTorch's values,
dtypes and errors."""
import math

import numpy as np
import pytest

import gpugrad as gg
from support.gradtools import OpCase, assert_close, op_tests

R = np.random.default_rng(11)


def normal(*shape, scale=1.0):
    return R.standard_normal(shape) * scale


def away(*shape, low=0.5):
    x = R.uniform(low, 3.0, shape)
    return x * np.where(R.random(shape) < 0.5, -1.0, 1.0)


def _both(name, **kwargs):
    """(gpugrad function, torch function) calling ``name`` with ``kwargs``."""
    def torch_fn(*args):
        import torch

        return getattr(torch, name)(*args, **kwargs)

    return (lambda *args: getattr(gg, name)(*args, **kwargs)), torch_fn


def _case(label, name, inputs, second_order=True, **kwargs):
    fn, torch_fn = _both(name, **kwargs)
    return OpCase(label, fn, torch_fn, inputs, second_order=second_order)


def _off_multiples(a, b):
    """``a`` moved so ``a / b`` is at least 0.1 from an integer (no rounding jump nearby)."""
    q = a / b
    frac = q - np.floor(q)
    frac = np.clip(frac, 0.1, 0.9)
    return (np.floor(q) + frac) * b


_B = away(3)
CASES = [
    _case("remainder", "remainder", [_off_multiples(normal(2, 3, scale=4), _B), _B]),
    _case("fmod", "fmod", [_off_multiples(normal(2, 3, scale=4), _B), _B]),
    OpCase("remainder_number", lambda a: gg.remainder(a, -1.5),
           lambda a: __import__("torch").remainder(a, -1.5),
           [_off_multiples(normal(4, scale=4), 1.5)]),
    _case("divide_floor", "divide", [normal(2, 3), _B], rounding_mode="floor"),
    _case("divide_trunc", "div", [normal(2, 3), _B], rounding_mode="trunc"),
    _case("divide", "divide", [normal(2, 3), _B]),
    _case("true_divide", "true_divide", [normal(2, 3), _B]),
    _case("logaddexp", "logaddexp", [normal(2, 3, scale=3), normal(3, scale=3)]),
    _case("logaddexp2", "logaddexp2", [normal(2, 3, scale=3), normal(2, 3, scale=3)]),
    _case("xlogy", "xlogy", [normal(2, 3), R.uniform(0.3, 3, (2, 3))]),
    _case("logit", "logit", [R.uniform(0.1, 0.9, (2, 3))]),
    _case("logit_eps", "logit", [R.uniform(0.1, 0.9, (5,))], eps=0.2, second_order=False),
    _case("sinc", "sinc", [normal(2, 3)]),
    _case("hypot", "hypot", [away(2, 3), away(3)]),
    _case("deg2rad", "deg2rad", [normal(2, 3, scale=90)]),
    _case("rad2deg", "rad2deg", [normal(2, 3)]),
    _case("copysign", "copysign", [away(2, 3), away(3)]),
    _case("float_power", "float_power", [R.uniform(0.3, 3, (2, 3)), normal(3)]),
    _case("nan_to_num", "nan_to_num", [normal(2, 3)], nan=1.0),
    _case("positive", "positive", [normal(2, 3)]),
    _case("multiply", "multiply", [normal(2, 3), normal(3)]),
    _case("subtract", "subtract", [normal(2, 3), normal(3)]),
    _case("addcmul", "addcmul", [normal(2, 3), normal(3), normal(2, 1)], value=0.5),
    _case("addcdiv", "addcdiv", [normal(2, 3), normal(3), away(2, 1)], value=-2),
    _case("clone", "clone", [normal(3)]),
]

test_gradcheck, test_matches_torch = op_tests(CASES)


# ---- values and dtypes against PyTorch -------------------------------------------------------
SPECIAL = [0.0, -0.0, 1.5, -2.5, 7.0, -7.0, math.inf, -math.inf, math.nan, 1e-3]
INTS = [-7, -3, -1, 0, 2, 5, 9]


def _same(ours, theirs, torch):
    assert ours.dtype.name == str(theirs.dtype).replace("torch.", ""), (ours.dtype, theirs.dtype)
    np.testing.assert_allclose(ours.cpu().numpy().astype(np.float64),
                               theirs.double().numpy(), rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("name,kwargs", [
    ("remainder", {}), ("fmod", {}), ("floor_divide", {}), ("divide", {"rounding_mode": "floor"}),
    ("divide", {"rounding_mode": "trunc"}), ("divide", {}), ("true_divide", {}),
])
@pytest.mark.parametrize("dtype", ["int32", "int64", "float32"])
def test_division_family_matches_torch(name, kwargs, dtype, device, torch):
    a = np.array(INTS)
    b = np.array([3, -2, 4, 5, -3, 2, -4])
    ours = getattr(gg, name)(gg.tensor(a, dtype=dtype, device=device),
                             gg.tensor(b, dtype=dtype, device=device), **kwargs)
    theirs = getattr(torch, name)(torch.tensor(a, dtype=getattr(torch, dtype)),
                                  torch.tensor(b, dtype=getattr(torch, dtype)), **kwargs)
    _same(ours, theirs, torch)
    number = getattr(gg, name)(gg.tensor(a, dtype=dtype, device=device), 2.5, **kwargs)
    _same(number, getattr(torch, name)(torch.tensor(a, dtype=getattr(torch, dtype)), 2.5,
                                       **kwargs), torch)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_floating_division_family_rounds_as_python(dtype, device, torch):
    """From C's exact fmod, as Python and PyTorch: 1.0 // 0.1 is 9.0 and 1.0 % 0.1 is 0.0999...
    (floor(1.0 / 0.1) rounds to 10, which gave 0), inf // 2.5 is NaN, -2.5 // inf is -1."""
    inf = float("inf")
    a = [1.0, 7.0, -1.0, 0.3, inf, -2.5, 2.5, -2.5, 5.0, -0.0]
    b = [0.1, 0.7, 0.1, 0.1, 2.5, inf, -inf, -inf, -0.0, 1.0]
    for name in ("floor_divide", "remainder", "fmod"):
        ours = getattr(gg, name)(gg.tensor(a, dtype=dtype, device=device),
                                 gg.tensor(b, dtype=dtype, device=device))
        theirs = getattr(torch, name)(torch.tensor(a, dtype=getattr(torch, dtype)),
                                      torch.tensor(b, dtype=getattr(torch, dtype)))
        np.testing.assert_array_equal(ours.cpu().numpy(), theirs.numpy(), err_msg=name)
    x = gg.tensor(a[:4], dtype=dtype, requires_grad=True)
    t = torch.tensor(a[:4], dtype=getattr(torch, dtype), requires_grad=True)
    y, u = gg.tensor(b[:4], dtype=dtype, requires_grad=True), \
        torch.tensor(b[:4], dtype=getattr(torch, dtype), requires_grad=True)
    gg.remainder(x, y).sum().backward()
    torch.remainder(t, u).sum().backward()
    assert y.grad.tolist() == u.grad.tolist()  # -floor_divide: -9 for 1.0 and 0.1, not -10
    assert x.grad.tolist() == t.grad.tolist()


def test_detach_function_cuts_the_graph():
    x = gg.ones(2, requires_grad=True)
    assert not gg.detach(x).requires_grad and gg.clone(x).requires_grad


def test_integer_division_by_zero_raises(torch):
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        gg.remainder(gg.tensor([1, 2]), gg.tensor([1, 0]))
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        torch.remainder(torch.tensor([1, 2]), torch.tensor([1, 0]))


def test_operators_mod_and_floordiv(torch):
    a = gg.tensor([-7.5, 3.0, 8.0])
    t = torch.tensor([-7.5, 3.0, 8.0])
    _same(a % 2, t % 2, torch)
    _same(a // 2, t // 2, torch)
    _same(5 % gg.tensor([3, -3]), 5 % torch.tensor([3, -3]), torch)


@pytest.mark.parametrize("name", ["logaddexp", "logaddexp2", "xlogy", "hypot", "copysign"])
def test_special_values_match_torch(name, device, torch):
    a, b = np.meshgrid(SPECIAL, SPECIAL)
    ours = getattr(gg, name)(gg.tensor(a, dtype=gg.float32, device=device),
                             gg.tensor(b, dtype=gg.float32, device=device))
    theirs = getattr(torch, name)(torch.tensor(a, dtype=torch.float32),
                                  torch.tensor(b, dtype=torch.float32))
    _same(ours, theirs, torch)


@pytest.mark.parametrize("name", ["sinc", "logit", "deg2rad", "rad2deg", "signbit", "sgn",
                                  "nan_to_num"])
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int64"])
def test_unary_values_and_dtypes_match_torch(name, dtype, device, torch):
    values = INTS if dtype == "int64" else SPECIAL + [0.25, 0.75]
    ours = getattr(gg, name)(gg.tensor(values, dtype=dtype, device=device))
    theirs = getattr(torch, name)(torch.tensor(values, dtype=getattr(torch, dtype)))
    _same(ours, theirs, torch)


def test_nan_to_num_arguments_and_float_power_dtype(device, torch):
    x = [math.nan, math.inf, -math.inf, 1.0]
    _same(gg.nan_to_num(gg.tensor(x, device=device), nan=2.0, posinf=3.0, neginf=-4.0),
          torch.nan_to_num(torch.tensor(x), nan=2.0, posinf=3.0, neginf=-4.0), torch)
    _same(gg.float_power(gg.tensor([2, 3], device=device), 2),
          torch.float_power(torch.tensor([2, 3]), 2), torch)


def test_heaviside_and_logical_xor_match_torch(device, torch):
    x = [-1.5, 0.0, 2.0, 0.0]
    v = [0.5, 0.25, 0.5, 7.0]
    _same(gg.heaviside(gg.tensor(x, device=device), gg.tensor(v, device=device)),
          torch.heaviside(torch.tensor(x), torch.tensor(v)), torch)
    with pytest.raises(RuntimeError, match="different dtypes"):
        gg.heaviside(gg.tensor(x), gg.tensor([1, 2, 3, 4]))
    _same(gg.logical_xor(gg.tensor(x, device=device), gg.tensor([1, 0, 0, 2], device=device)),
          torch.logical_xor(torch.tensor(x), torch.tensor([1, 0, 0, 2])), torch)


@pytest.mark.parametrize("alias,name", [("greater", "gt"), ("greater_equal", "ge"),
                                        ("less", "lt"), ("less_equal", "le"),
                                        ("not_equal", "ne")])
def test_comparison_aliases_match_torch(alias, name, device, torch):
    a, b = [1.0, 2.0, 3.0], [2.0, 2.0, 2.0]
    _same(getattr(gg, alias)(gg.tensor(a, device=device), gg.tensor(b, device=device)),
          getattr(torch, alias)(torch.tensor(a), torch.tensor(b)), torch)
    assert getattr(gg.Tensor, alias) is getattr(gg.Tensor, name)


# ---- in-place forms --------------------------------------------------------------------------
INPLACE = [("remainder_", (1.5,)), ("fmod_", (-1.5,)), ("floor_divide_", (2.0,)),
           ("nan_to_num_", ()), ("xlogy_", (2.0,)), ("copysign_", (-1.0,)), ("sgn_", ()),
           ("logit_", (0.1,)), ("sinc_", ()), ("deg2rad_", ()), ("rad2deg_", ()),
           ("eq_", (0.5,)), ("ne_", (0.5,)), ("lt_", (0.5,)), ("le_", (0.5,)), ("gt_", (0.5,)),
           ("ge_", (0.5,)), ("logical_not_", ()), ("cumsum_", (0,)), ("cumprod_", (0,)),
           ("greater_", (0.2,)), ("float_power_", (2.0,))]


@pytest.mark.parametrize("name,args", INPLACE, ids=[n for n, _ in INPLACE])
def test_inplace_forms_match_torch(name, args, device, torch):
    values = np.array([0.3, -0.7, 0.5, 0.9])
    dtype = "float64" if name == "float_power_" else "float32"
    ours = gg.tensor(values, dtype=dtype, device=device)
    theirs = torch.tensor(values, dtype=getattr(torch, dtype))
    assert getattr(ours, name)(*args) is ours
    getattr(theirs, name)(*args)
    _same(ours, theirs, torch)


@pytest.mark.parametrize("name", ["logical_and_", "logical_or_", "logical_xor_", "hypot_",
                                  "heaviside_"])
def test_inplace_binary_forms_match_torch(name, device, torch):
    a, b = [0.0, 1.5, -2.0, 0.0], [0.0, 0.0, 3.0, 2.0]
    ours = gg.tensor(a, device=device)
    theirs = torch.tensor(a)
    getattr(ours, name)(gg.tensor(b, device=device))
    getattr(theirs, name)(torch.tensor(b))
    _same(ours, theirs, torch)


def test_inplace_gradient_matches_torch(device, torch):
    x = gg.tensor([0.3, 0.6, 0.8], dtype=gg.float64, device=device, requires_grad=True)
    tx = torch.tensor([0.3, 0.6, 0.8], dtype=torch.float64, requires_grad=True)
    for t, mod in ((x, gg), (tx, torch)):
        y = t * 1.0
        y.logit_().sinc_().remainder_(0.7)
        (y * y).sum().backward()
    assert_close(x.grad, tx.grad)


def test_inplace_refuses_float_into_integer_and_broadcast(torch):
    with pytest.raises(RuntimeError, match="can't be cast"):
        gg.tensor([1, 2]).remainder_(1.5)
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        gg.tensor([1.0, 2.0]).hypot_(gg.ones(3, 2))
    with pytest.raises(RuntimeError, match="leaf Variable"):
        gg.ones(2, requires_grad=True).sinc_()


@pytest.mark.parametrize("mode", [None, "floor", "trunc"])
def test_div_inplace_takes_a_rounding_mode(mode, device, torch):
    ours = gg.tensor([7.5, -7.5, 3.0], device=device)
    theirs = torch.tensor([7.5, -7.5, 3.0])
    assert ours.div_(2, rounding_mode=mode) is ours
    theirs.div_(2, rounding_mode=mode)
    _same(ours, theirs, torch)
    _same(gg.tensor([7, -7], device=device).divide_(2, rounding_mode="floor"),
          torch.tensor([7, -7]).divide_(2, rounding_mode="floor"), torch)


def test_divide_rejects_unknown_rounding_mode():
    with pytest.raises(RuntimeError, match="rounding_mode"):
        gg.divide(gg.ones(2), 2, rounding_mode="round")


def test_result_type_and_can_cast_match_torch(torch):
    pairs = [(gg.tensor([1, 2]), 2.5), (gg.tensor([1, 2], dtype=gg.int8), gg.tensor(3)),
             (gg.tensor(1.5, dtype=gg.float64), gg.tensor([1], dtype=gg.float16)),
             (gg.tensor([True]), 3)]
    for a, b in pairs:
        ta = torch.tensor(a.numpy())
        tb = torch.tensor(b.numpy()) if isinstance(b, gg.Tensor) else b
        assert gg.result_type(a, b).name == str(torch.result_type(ta, tb))[6:]
    for src in (gg.float32, gg.int64, gg.bool, gg.uint8):
        for dst in (gg.float16, gg.int8, gg.bool):
            assert gg.can_cast(src, dst) == torch.can_cast(getattr(torch, src.name),
                                                           getattr(torch, dst.name))


def _kernels(run, *arrays):
    """``{kernel name: (launches, flops, bytes)}`` on sim:0 for ``run(*tensors)``."""
    gg.sim.configure("sim:0")
    xs = [gg.tensor(a, dtype=gg.float32, device="sim:0") for a in arrays]
    gg.sim.reset("sim:0")
    run(*xs)
    by_op, _ = gg.device_registry.get_backend("sim:0").kernel_totals()
    return {name: (row[0], row[2], row[3]) for name, row in by_op.items()}


def test_sim_costs_are_those_of_the_composed_kernels():
    from gpugrad.backends.sim import costmodel

    n = 1000
    flops = costmodel.BINARY_FLOPS
    # deg2rad: one multiplication by a number (reads and writes n floats)
    assert _kernels(lambda t: t.deg2rad(), normal(n)) == {
        "binary:mul": (1, flops["mul"] * n, 8 * n)}
    # hypot: two squares, a sum and a square root, each one elementwise kernel
    kernels = _kernels(lambda a, b: a.hypot(b), normal(n), normal(n))
    assert kernels["binary:mul"] == (2, 2 * flops["mul"] * n, 2 * 12 * n)
    assert kernels["binary:add"] == (1, flops["add"] * n, 12 * n)
    assert kernels["unary:sqrt"][0] == 1


def test_inplace_with_a_grad_operand_and_on_a_view(device, torch):
    results = []
    for module in (gg, torch):
        y = module.tensor([0.5, -1.5, 2.0], dtype=module.float64, requires_grad=True)
        base = module.tensor([[1.0, -2.0, 3.0], [0.5, 0.25, -4.0]], dtype=module.float64,
                             requires_grad=True)
        x = module.tensor([3.0, -4.0, 1.0], dtype=module.float64)
        x.hypot_(y)  # an operand that requires grad, into a tensor that does not
        b = base * 1.0
        b[1].copysign_(y)  # a view of a tensor in the graph
        ((x * x).sum() + (b * b * b).sum()).backward()
        results.append((y.grad, base.grad))
    for ours, theirs in zip(*results):
        assert_close(ours, theirs)
    with pytest.raises(RuntimeError, match="float_power_ has dtype Float"):
        gg.ones(2).float_power_(2)


def test_the_ops_run_on_emulated_cuda(fake_cuda, torch):
    a = np.array([[1.5, -2.0, 0.25], [0.5, 3.0, -0.9]])
    b = np.array([0.7, -1.2, 2.0])
    x = gg.tensor(a, device="cuda", requires_grad=True)
    t = torch.tensor(a, requires_grad=True)
    for module, v in ((gg, x), (torch, t)):
        other = module.tensor(b, dtype=module.float64).to(v.device)
        out = (module.remainder(v, other) + module.logaddexp(v, other) + module.sinc(v)
               + module.xlogy(v, other.abs()) + module.copysign(v, other)
               + module.hypot(v, other))
        out.sum().backward()
    assert_close(x.grad, t.grad)
    assert gg.floor_divide(gg.tensor([7, -7], device="cuda"), 2).tolist() == [3, -4]
