"""The cpu backend against the contract in ``backends/base.py``: every primitive implemented,
NumPy semantics, dtype inference, and the fused kernels (bias_act, softmax cross-entropy, SGD
and Adam steps) against PyTorch."""
import math

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.backends import base
from gpugrad.backends.cpu.numpy_ops import gg_dtype, numpy_dtype
from gpugrad.device_registry import get_backend

B = get_backend("cpu")
R = np.random.default_rng(1)


def test_every_contract_primitive_is_implemented():
    missing = [name for name, member in vars(base.Backend).items()
               if callable(member) and not name.startswith("_")
               and getattr(type(B), name) is member and name not in ("synchronize", "describe",
                                                                      "from_backend", "owns_memory",
                                                                      "strides", "is_contiguous",
                                                                      # only devices that model
                                                                      # time act on collectives
                                                                      "collective_launch",
                                                                      "collective_wait")]
    assert not missing, f"cpu backend leaves {missing} unimplemented"
    assert B.device == gg.Device("cpu") and "NumPy" in B.describe()


def test_from_host_dtype_inference():
    assert B.dtype(B.from_host([1.0, 2.0])) == gg.float32
    assert B.dtype(B.from_host(3)) == gg.int64
    assert B.dtype(B.from_host([True])) == gg.bool
    assert B.dtype(B.from_host(np.zeros(2, np.float64))) == gg.float64
    assert B.dtype(B.from_host(np.zeros(2, np.int32))) == gg.int32
    for kept in (np.uint8, np.int8, np.int16, np.float16):  # never silently upcast
        assert B.dtype(B.from_host(np.zeros(2, kept))).name == np.dtype(kept).name
    assert B.dtype(B.from_host([1, 2], gg.float64)) == gg.float64
    assert B.dtype(B.from_host([1, 2], "bfloat16")) == gg.bfloat16
    for unsupported in (np.array(["a"]), np.zeros(2, np.uint16), np.zeros(2, np.complex64)):
        with pytest.raises(TypeError, match=r"unsupported dtype .*\(convert first"):
            B.from_host(unsupported)
    data = np.ones(2)
    copy = B.from_host(data)
    copy[0] = 5
    assert data[0] == 1  # from_host copies


@pytest.mark.parametrize("op", base.UNARY_OPS)
def test_unary_ops_match_numpy_and_return_arrays(op):
    x = np.array([0.25, 1.5, 3.0])
    reference = {"neg": -x, "exp": np.exp(x), "log": np.log(x), "sqrt": np.sqrt(x),
                 "abs": np.abs(x), "tanh": np.tanh(x), "relu": np.maximum(x, 0),
                 "sigmoid": 1 / (1 + np.exp(-x)), "sign": np.sign(x), "log1p": np.log(1 + x),
                 "expm1": np.exp(x) - 1, "log2": np.log(x) / np.log(2),
                 "log10": np.log(x) / np.log(10), "exp2": 2.0 ** x, "floor": [0.0, 1.0, 3.0],
                 "ceil": [1.0, 2.0, 3.0], "trunc": [0.0, 1.0, 3.0], "round": [0.0, 2.0, 3.0],
                 "tan": np.sin(x) / np.cos(x), "acos": np.pi / 2 - np.arcsin(x),
                 "erf": [math.erf(v) for v in x], "erfc": [math.erfc(v) for v in x],
                 "sinh": (np.exp(x) - np.exp(-x)) / 2, "cosh": (np.exp(x) + np.exp(-x)) / 2,
                 "asinh": np.log(x + np.sqrt(x * x + 1)), "acosh": np.log(x + np.sqrt(x * x - 1)),
                 "atanh": np.log((1 + x) / (1 - x)) / 2, "sin": [math.sin(v) for v in x],
                 "cos": [math.cos(v) for v in x], "asin": [math.asin(v) if v <= 1 else np.nan
                                                          for v in x],
                 "atan": [math.atan(v) for v in x]}[op]
    np.testing.assert_allclose(B.unary(op, x), reference, rtol=1e-12)
    assert type(B.unary(op, np.array(0.5))) is np.ndarray  # 0-d stays an array


def test_sigmoid_does_not_overflow():
    out = B.unary("sigmoid", np.array([-1000.0, 1000.0]))
    assert out.tolist() == [0.0, 1.0]


@pytest.mark.parametrize("op", base.BINARY_OPS + base.COMPARE_OPS + base.LOGICAL_OPS)
def test_binary_ops_broadcast_like_numpy(op):
    a, b = R.random((2, 3)) + 0.5, R.random(3) + 0.5
    reference = getattr(np, {"add": "add", "sub": "subtract", "mul": "multiply",
                             "div": "true_divide", "pow": "power", "maximum": "maximum",
                             "minimum": "minimum", "eq": "equal", "ne": "not_equal",
                             "lt": "less", "le": "less_equal", "gt": "greater",
                             "ge": "greater_equal", "logical_and": "logical_and",
                             "logical_or": "logical_or", "atan2": "arctan2", "fmax": "fmax",
                             "fmin": "fmin", "fmod": "fmod", "remainder": "remainder",
                             "floor_divide": "floor_divide"}[op])
    np.testing.assert_array_equal(B.binary(op, a, b), reference(a, b))
    assert type(B.binary(op, np.array(1.0), 2.0)) is np.ndarray


@pytest.mark.parametrize("shape", [(2,), ()])  # NumPy 1 read a number beside a 0-d array by value
@pytest.mark.parametrize("dtype", [gg.float32, gg.float16, gg.bfloat16, gg.int8, gg.uint8])
def test_python_numbers_adopt_the_array_dtype(shape, dtype):
    a = np.ones(shape, numpy_dtype(dtype))
    for op in ("mul", "add"):
        assert gg_dtype(B.binary(op, a, 2).dtype) is dtype, op
        assert gg_dtype(B.binary(op, 2, a).dtype) is dtype, op
        assert B.binary(op, a, 2).shape == shape
    if dtype.is_floating_point:
        assert gg_dtype(B.binary("div", a, 2.5).dtype) is dtype
        assert gg_dtype(B.binary("sub", 2.5, a).dtype) is dtype
        assert gg_dtype(B.where(np.ones(shape, bool), a, 0.5).dtype) is dtype
        assert gg_dtype(B.where(np.ones(shape, bool), 0.5, a).dtype) is dtype
    else:  # a float beside integers promotes to the default float, as in NumPy 2 and PyTorch
        assert B.binary("mul", a, 2.5).dtype == np.float64
    assert gg_dtype(B.where(np.ones(shape, bool), 0, a).dtype) is dtype


@pytest.mark.parametrize("source", [gg.bfloat16, gg.float16, gg.float32])
@pytest.mark.parametrize("target", [gg.uint8, gg.int8, gg.int32])
def test_float_to_integer_casts_convert_as_c_does(source, target, torch):
    values = [0.75, -2.0, 1.5, -300.0, 300.0, -0.5]
    ours = B.cast(B.from_host(np.array(values, np.float32), source), target)
    theirs = torch.tensor(values, dtype=getattr(torch, source.name)).to(getattr(torch, target.name))
    assert ours.tolist() == theirs.tolist()  # (uint8: -2.0 is 254, as PyTorch's wrap)


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("dtype", [gg.bfloat16, gg.float16, gg.float32])
def test_sort_puts_nan_above_every_number(dtype, descending):
    """NaN sorts last (first when descending) in every float dtype, bfloat16 included."""
    a = np.array([1.0, np.nan, -np.inf, 0.5, np.inf, -2.0], numpy_dtype(dtype))
    values, indices = B.sort(a, 0, descending)
    order = [2, 5, 3, 0, 4, 1]
    assert indices.tolist() == (order[::-1] if descending else order)
    np.testing.assert_array_equal(values.astype(np.float32), a[indices].astype(np.float32))


@pytest.mark.parametrize("op", base.REDUCE_OPS)
def test_reductions(op):
    x = R.standard_normal((2, 3, 4))
    fn = getattr(np, op)
    if op.startswith("arg"):
        np.testing.assert_array_equal(B.reduce(op, x, 1), fn(x, axis=1))
        assert B.reduce(op, x).shape == ()
    else:
        np.testing.assert_allclose(B.reduce(op, x, (0, 2), True), fn(x, axis=(0, 2),
                                                                      keepdims=True))
        assert type(B.reduce(op, x)) is np.ndarray and B.reduce(op, x).shape == ()


def test_sum_of_bools_and_ints_counts():
    assert B.reduce("sum", np.array([True, True, False])).item() == 2
    assert B.reduce("sum", np.array([1, 2], np.int32)).item() == 3


@pytest.mark.parametrize("shape", [(3, 4), (200, 300)])  # a copy when small, a view when large
def test_broadcast_to(shape):
    a = R.standard_normal((1, shape[1]))
    out = B.broadcast_to(a, shape)
    assert out.shape == shape
    np.testing.assert_array_equal(out, np.broadcast_to(a, shape))
    with pytest.raises(ValueError):
        B.broadcast_to(np.ones(3), (2, 4))


def test_layout_primitives():
    x = np.arange(6.0).reshape(2, 3)
    assert B.reshape(x, (3, 2)).shape == (3, 2)
    np.testing.assert_array_equal(B.permute(x, (1, 0)), x.T)
    c = B.contiguous(x.T)
    assert c.flags["C_CONTIGUOUS"] and c.base is None
    np.testing.assert_array_equal(B.concatenate([x, x], 1), np.concatenate([x, x], 1))
    np.testing.assert_array_equal(B.where(x > 2, x, 0.0), np.where(x > 2, x, 0.0))
    assert B.cast(x, gg.int64).dtype == np.int64
    dst = np.zeros((2, 3))
    B.copy_(dst, np.array([1.0, 2.0, 3.0]))
    assert dst.tolist() == [[1, 2, 3], [1, 2, 3]]


def test_getitem_and_index_add_are_adjoint():
    x = R.standard_normal((4, 3))
    index = (np.array([0, 2, 0]), slice(None))
    np.testing.assert_array_equal(B.getitem(x, index), x[index])
    out = B.index_add((4, 3), index, np.ones((3, 3)), gg.float64)
    assert out[:, 0].tolist() == [2.0, 0.0, 1.0, 0.0]  # repeated rows accumulate
    basic = B.index_add((4,), (slice(1, 3),), np.array([5.0, 6.0]), gg.float64)
    assert basic.tolist() == [0.0, 5.0, 6.0, 0.0]


def test_creation_and_random():
    assert B.full((2,), 3, gg.int64).tolist() == [3, 3]
    assert B.arange(0, 3, 1, gg.float32).dtype == np.float32
    a, b = B.random("normal", (5,), gg.float64, 7), B.random("normal", (5,), gg.float64, 7)
    np.testing.assert_array_equal(a, b)
    assert B.random("uniform", (3,), gg.float32, 1).dtype == np.float32
    r = B.randint(2, 5, (100,), 3)
    assert r.dtype == np.int64 and r.min() >= 2 and r.max() < 5


@pytest.mark.parametrize("act", base.ACTIVATIONS)
def test_bias_act_and_its_backward(act, torch):
    x, bias, grad = R.standard_normal((4, 3)), R.standard_normal(3), R.standard_normal((4, 3))
    tx = torch.tensor(x, requires_grad=True)
    fn = {"identity": lambda t: t, "relu": torch.relu, "tanh": torch.tanh,
          "sigmoid": torch.sigmoid}[act]
    expected = fn(tx + torch.tensor(bias))
    out = B.bias_act(x, bias, act)
    np.testing.assert_allclose(out, expected.detach().numpy(), rtol=1e-12)
    expected.backward(torch.tensor(grad))
    np.testing.assert_allclose(B.bias_act_backward(grad, out, act), tx.grad.numpy(), rtol=1e-10)


def test_softmax_cross_entropy_and_backward(torch):
    logits, target = R.standard_normal((4, 5)) * 3, np.array([0, 4, 2, 2])
    (loss, counted), lse = B.softmax_cross_entropy(logits, target)
    np.testing.assert_array_equal(counted, 1)
    t = torch.tensor(logits, requires_grad=True)
    expected = torch.nn.functional.cross_entropy(t, torch.tensor(target), reduction="none")
    np.testing.assert_allclose(loss, expected.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(lse, torch.logsumexp(t, 1).detach().numpy(), rtol=1e-12)
    grad_rows = np.array([1.0, 0.5, -2.0, 0.0])
    expected.backward(torch.tensor(grad_rows))
    np.testing.assert_allclose(B.softmax_cross_entropy_backward(logits, target, lse, grad_rows),
                               t.grad.numpy(), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("momentum,nesterov,weight_decay,maximize", [
    (0.0, False, 0.0, False), (0.9, False, 0.01, False), (0.9, True, 0.0, True)])
def test_sgd_step_matches_torch(momentum, nesterov, weight_decay, maximize, torch):
    p0, grads = R.standard_normal(5), [R.standard_normal(5) for _ in range(3)]
    params, bufs = [p0.copy()], [None]
    tp = torch.tensor(p0.copy(), requires_grad=True)
    opt = torch.optim.SGD([tp], lr=0.1, momentum=momentum, nesterov=nesterov,
                          weight_decay=weight_decay, maximize=maximize)
    for g in grads:
        bufs = B.sgd_step(params, [g], bufs, 0.1, momentum, 0.0, weight_decay, nesterov,
                          maximize)
        tp.grad = torch.tensor(g)
        opt.step()
    np.testing.assert_allclose(params[0], tp.detach().numpy(), rtol=1e-12)


@pytest.mark.parametrize("decoupled,weight_decay", [(False, 0.0), (False, 0.1), (True, 0.1)])
def test_adam_step_matches_torch(decoupled, weight_decay, torch):
    p0, grads = R.standard_normal(5), [R.standard_normal(5) for _ in range(3)]
    params, m, v = [p0.copy()], [np.zeros(5)], [np.zeros(5)]
    tp = torch.tensor(p0.copy(), requires_grad=True)
    cls = torch.optim.AdamW if decoupled else torch.optim.Adam
    opt = cls([tp], lr=0.01, betas=(0.9, 0.99), eps=1e-8, weight_decay=weight_decay)
    for step, g in enumerate(grads, 1):
        B.adam_step(params, [g], m, v, step, 0.01, 0.9, 0.99, 1e-8, weight_decay, decoupled)
        tp.grad = torch.tensor(g)
        opt.step()
    np.testing.assert_allclose(params[0], tp.detach().numpy(), rtol=1e-10)


@pytest.mark.parametrize("dtype", [gg.bfloat16, gg.float16, gg.float32])
def test_sgd_momentum_buffer_has_the_parameter_dtype(dtype):
    # with weight decay, NumPy 1 computes bfloat16 * float in a wider dtype; the buffer (as
    # PyTorch's momentum_buffer) must still take the parameter's dtype
    p = B.from_host(np.ones(4, np.float32), dtype)
    g = B.from_host(np.full(4, 0.5, np.float32), dtype)
    (buf,) = B.sgd_step([p], [g], [None], 0.1, 0.9, 0.0, 1e-4, False)
    assert B.dtype(buf) is dtype and B.dtype(p) is dtype


def test_sigmoid_keeps_the_relative_precision_of_tiny_results():
    # 0.5 * (1 + tanh(x / 2)) rounded these to 0 in float32
    x = np.array([-20.5, -40.0, -87.0, -104.0, -np.inf, np.nan, 0.0, 20.5], np.float32)
    want = [1 / (1 + math.exp(20.5)), math.exp(-40.0) / (1 + math.exp(-40.0)),
            math.exp(-87.0), 0.0, 0.0]
    got = B.unary("sigmoid", x)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got[:5], want, rtol=1e-6, atol=0)
    assert np.isnan(got[5]) and got[6] == 0.5 and got[7] == np.float32(1.0)
    out = x.copy()
    assert B.unary("sigmoid", out, out=out) is out
    np.testing.assert_array_equal(out, got)
