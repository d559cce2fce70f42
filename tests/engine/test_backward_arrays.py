"""Backward without create_graph runs on raw arrays (ops' ``backward_arrays``): its gradients
equal the differentiable path's (``create_graph=True``, the ops' Tensor ``backward``), it makes
no Function per product or sum, and its in-place sums never write into an array anyone else
can see."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn.functional as F
from gpugrad.engine.function import Function
from gpugrad.tensor import Tensor

RNG = np.random.default_rng(0)


def _data(*shape, low=-1.5, high=1.5, dtype=np.float32):
    return RNG.uniform(low, high, shape).astype(dtype)


# name -> (function of the inputs, input arrays); every input requires grad unless it is an
# integer array or listed by index in the third entry
CASES = {
    "add_broadcast": (lambda a, b: a + b, [_data(3, 4), _data(4)]),
    "add_number": (lambda a: 2.0 + a, [_data(3, 4)]),
    "sub_broadcast": (lambda a, b: a - b, [_data(3, 4), _data(3, 1)]),
    "sub_number": (lambda a: 2 - a, [_data(3, 4)]),
    "mul_broadcast": (lambda a, b: a * b, [_data(2, 3, 4), _data(3, 1)]),
    "mul_number": (lambda a: a * 0.5, [_data(3, 4)]),
    "mul_f32_by_f64_scalar": (lambda a, b: a * b, [_data(3, 4), _data(dtype=np.float64)]),
    "mul_by_integer": (lambda a, n: a * n, [_data(3, 4), np.arange(12).reshape(3, 4)]),
    "mul_constant": (lambda a, b: a * b, [_data(3, 4), _data(3, 4)], (1,)),
    "div_broadcast": (lambda a, b: a / b, [_data(3, 4), _data(4, low=0.5, high=2)]),
    "div_number": (lambda a: 3.0 / a, [_data(3, 4, low=0.5, high=2)]),
    "pow_cube": (lambda a: a ** 3, [_data(3, 4)]),
    "pow_square": (lambda a: a ** 2, [_data(3, 4)]),
    "pow_one": (lambda a: a ** 1, [_data(3, 4)]),
    "pow_zero": (lambda a: a ** 0, [_data(3, 4)]),
    "pow_half": (lambda a: a ** 0.5, [_data(3, 4, low=0.5, high=2)]),
    "pow_tensor": (lambda a, b: a ** b, [_data(3, 4, low=0.5, high=2), _data(4)]),
    "neg": (lambda a: -a, [_data(3, 4)]),
    "exp": (lambda a: a.exp(), [_data(3, 4)]),
    "log": (lambda a: a.log(), [_data(3, 4, low=0.5, high=2)]),
    "sqrt": (lambda a: a.sqrt(), [_data(3, 4, low=0.5, high=2)]),
    "abs": (lambda a: a.abs(), [_data(3, 4)]),
    "tanh": (lambda a: a.tanh(), [_data(3, 4)]),
    "relu": (lambda a: a.relu(), [_data(3, 4)]),
    "sigmoid": (lambda a: a.sigmoid(), [_data(3, 4)]),
    "sin": (lambda a: a.sin(), [_data(3, 4)]),
    "cos": (lambda a: a.cos(), [_data(3, 4)]),
    "tan": (lambda a: a.tan(), [_data(3, 4, low=-1, high=1)]),
    "atan": (lambda a: a.atan(), [_data(3, 4)]),
    "sinh": (lambda a: a.sinh(), [_data(3, 4)]),
    "cosh": (lambda a: a.cosh(), [_data(3, 4)]),
    "log1p": (lambda a: a.log1p(), [_data(3, 4, low=0, high=2)]),
    "expm1": (lambda a: a.expm1(), [_data(3, 4)]),
    "log2": (lambda a: a.log2(), [_data(3, 4, low=0.5, high=2)]),
    "log10": (lambda a: a.log10(), [_data(3, 4, low=0.5, high=2)]),
    "exp2": (lambda a: a.exp2(), [_data(3, 4)]),
    "reciprocal": (lambda a: a.reciprocal(), [_data(3, 4, low=0.5, high=2)]),
    "asin_via_tensors": (lambda a: a.asin(), [_data(3, 4, low=-0.9, high=0.9)]),
    "frac": (lambda a: a.frac(), [_data(3, 4)]),
    "where": (lambda a, b: gg.where(a > 0, a, b), [_data(3, 4), _data(4)]),
    "cast": (lambda a: a.double() * 2.0, [_data(3, 4)]),
    "clone": (lambda a: a.clone(), [_data(3, 4)]),
    "sum_all": (lambda a: a.sum(), [_data(3, 4)]),
    "sum_dim": (lambda a: a.sum(dim=0), [_data(3, 4)]),
    "sum_keepdim": (lambda a: a.sum(dim=1, keepdim=True), [_data(3, 4)]),
    "mean_all": (lambda a: a.mean(), [_data(3, 4)]),
    "mean_dim": (lambda a: a.mean(dim=(0, 2)), [_data(2, 3, 4)]),
    "matmul": (lambda a, b: a @ b, [_data(3, 4), _data(4, 5)]),
    "matmul_batched": (lambda a, b: a @ b, [_data(2, 3, 4), _data(4, 5)]),
    "matmul_vector": (lambda a, b: a @ b, [_data(3, 4), _data(4)]),
    "linear": (lambda x, w: F.linear(x, w), [_data(2, 3, 4), _data(5, 4)]),
    "linear_bias_act": (lambda x, w, b: F.linear(x, w, b, "tanh"),
                        [_data(3, 4), _data(5, 4), _data(5)]),
    "bias_act_input_only": (lambda x, b: x.bias_act(b, "sigmoid"), [_data(3, 4), _data(4)],
                            (1,)),
    "softmax": (lambda a: a.softmax(dim=1), [_data(3, 4)]),
    "log_softmax": (lambda a: a.log_softmax(dim=0), [_data(3, 4)]),
    "cross_entropy_mean": (lambda a, t: F.cross_entropy(a, t),
                           [_data(5, 4), np.array([0, 3, 1, 2, 3])]),
    "cross_entropy_sum": (lambda a, t: F.cross_entropy(a, t, reduction="sum", ignore_index=3),
                          [_data(5, 4), np.array([0, 3, 1, 2, 3])]),
    "cross_entropy_none": (lambda a, t: F.cross_entropy(a, t, reduction="none"),
                           [_data(5, 4), np.array([0, 3, 1, 2, 3])]),
    "mse_mean": (lambda a, t: F.mse_loss(a, t), [_data(3, 4), _data(3, 4)]),
    "mse_sum": (lambda a, t: F.mse_loss(a, t, reduction="sum"), [_data(3, 4), _data(3, 4)]),
    "reshape": (lambda a: a.reshape(4, 3) * 2.0, [_data(3, 4)]),
    "view_of_transpose": (lambda a: a.t().reshape(12), [_data(3, 4)]),
    "permute": (lambda a: a.permute(2, 0, 1) * 2.0, [_data(2, 3, 4)]),
    "expand": (lambda a: a.expand(3, 4) * 2.0, [_data(3, 1)]),
    "squeeze_unsqueeze": (lambda a: a.unsqueeze(0).squeeze(1) * 2.0, [_data(3, 1, 4)]),
    "getitem_basic": (lambda a: a[1:, ::2] * 2.0, [_data(3, 4)]),
    "getitem_advanced": (lambda a: a[[0, 2, 0]] * 2.0, [_data(3, 4)]),
}


def _inputs(arrays, device, constant=()):
    return [gg.tensor(a, device=device,
                      requires_grad=a.dtype.kind == "f" and i not in constant)
            for i, a in enumerate(arrays)]


def _gradients(name, device, create_graph):
    fn, arrays, *constant = CASES[name]
    xs = _inputs(arrays, device, *constant)
    out = fn(*xs)
    dtype = out.detach().numpy().dtype
    weights = gg.tensor(np.random.default_rng(1).uniform(-1, 1, out.shape).astype(dtype),
                        device=device)
    wanted = [x for x in xs if x.requires_grad]
    return gg.grad(out, wanted, weights, create_graph=create_graph)


@pytest.mark.parametrize("name", sorted(CASES))
def test_raw_gradients_equal_the_differentiable_path(name, device):
    raw = _gradients(name, device, create_graph=False)
    differentiable = _gradients(name, device, create_graph=True)
    for got, expected in zip(raw, differentiable):
        assert got.dtype is expected.dtype and got.shape == expected.shape
        assert not got.requires_grad
        np.testing.assert_array_equal(got.numpy(), expected.detach().numpy(), err_msg=name)


def test_float64_gradcheck_through_the_raw_path():
    def fn(a, b, w):
        h = (a @ w).tanh() * b.exp() + (a.sin() / (b * b + 1.0)).sum(dim=1, keepdim=True)
        return F.cross_entropy(h.log_softmax(dim=1), gg.tensor([0, 2, 1])) + (h ** 3).mean()
    xs = [gg.tensor(_data(3, 4, dtype=np.float64), requires_grad=True),
          gg.tensor(_data(3, 1, dtype=np.float64), requires_grad=True),
          gg.tensor(_data(4, 3, dtype=np.float64), requires_grad=True)]
    assert gg.gradcheck(fn, xs)


@pytest.fixture
def counted(monkeypatch):
    """Counts of ``Function.apply`` calls and of Tensors made with ``Tensor._make``."""
    counts = {"apply": 0, "make": 0}
    apply, make = Function.apply.__func__, Tensor._make.__func__

    def counting_apply(cls, *args, **kwargs):
        counts["apply"] += 1
        return apply(cls, *args, **kwargs)

    def counting_make(cls, *args):
        counts["make"] += 1
        return make(cls, *args)

    monkeypatch.setattr(Function, "apply", classmethod(counting_apply))
    monkeypatch.setattr(Tensor, "_make", classmethod(counting_make))
    return counts


def test_backward_through_hot_ops_makes_no_function_and_no_tensor_per_op(device, counted):
    x = gg.tensor(_data(4, 3), device=device, requires_grad=True)
    w = gg.tensor(_data(5, 3), device=device, requires_grad=True)
    b = gg.tensor(_data(5), device=device, requires_grad=True)
    h = F.linear(x, w, b, "relu")
    for _ in range(5):  # every gradient meets another at h, x and the loop's nodes
        h = (h * 0.9 + h.sin()).tanh() - h.exp() / 4 + h.sigmoid() ** 2
    loss = F.cross_entropy(h.log_softmax(dim=1).reshape(4, 5), gg.tensor([0, 1, 4, 2],
                                                                          device=device))
    loss = loss + F.mse_loss(h, h.detach() * 0.5) + (x @ x.t()).mean() + h.softmax(dim=0).sum()
    counted["apply"] = counted["make"] = 0
    loss.backward()
    assert counted["apply"] == 0
    assert counted["make"] <= 4  # the root gradient (ones) and each leaf's .grad
    assert all(t.grad is not None for t in (x, w, b))


def test_summing_in_place_never_writes_into_a_root_gradient(device):
    x = gg.tensor(_data(3, 4), device=device, requires_grad=True)
    y = x.exp()
    z = y + y + y + y  # the root gradient reaches y four times through the adds, unchanged
    root = gg.tensor(_data(3, 4), device=device)
    kept = root.numpy().copy()
    z.backward(root)
    np.testing.assert_array_equal(root.numpy(), kept)
    np.testing.assert_allclose(x.grad.numpy(), 4 * kept * np.exp(x.detach().numpy()),
                               rtol=1e-6)


def test_summing_in_place_never_writes_into_a_hook_result_or_an_op_input(device):
    x = gg.tensor(_data(3, 4), device=device, requires_grad=True)
    w = gg.tensor(_data(3, 4), device=device)
    kept = w.numpy().copy()
    y = x * 2.0
    u = y * 1.0
    u.register_hook(lambda g: w)  # the hook hands back a tensor the forward used
    seen = []
    v = y + 0.0
    v.register_hook(lambda g: seen.append((g, g.numpy().copy())))
    (u + v + y * w + y).sum().backward()
    np.testing.assert_array_equal(w.numpy(), kept)
    for g, values in seen:
        np.testing.assert_array_equal(g.numpy(), values)
    np.testing.assert_allclose(x.grad.numpy(), 2.0 * (kept + 1 + kept + 1), rtol=1e-6)


def test_a_held_grad_is_never_written_by_a_later_sum(device):
    x = gg.tensor(_data(3, 4), device=device, requires_grad=True)
    h = x + 1.0  # passes its own gradient buffer on to x
    h.retain_grad()
    out = (h * 2.0 + h * 3.0 + h + x * 5.0).sum()  # h: 3 paths; x: h's buffer and one more
    out.backward(retain_graph=True)
    held_h, held_x = h.grad, x.grad
    np.testing.assert_array_equal(held_h.numpy(), np.full((3, 4), 6.0, np.float32))
    np.testing.assert_array_equal(held_x.numpy(), np.full((3, 4), 11.0, np.float32))
    out.backward()  # repeated backward through the retained graph accumulates
    np.testing.assert_array_equal(held_h.numpy(), np.full((3, 4), 6.0, np.float32))
    np.testing.assert_array_equal(held_x.numpy(), np.full((3, 4), 11.0, np.float32))
    np.testing.assert_array_equal(x.grad.numpy(), np.full((3, 4), 22.0, np.float32))
    np.testing.assert_array_equal(h.grad.numpy(), np.full((3, 4), 12.0, np.float32))


def test_a_leaf_shared_by_two_inputs_gets_its_own_grad(device):
    a = gg.tensor(_data(3, 4), device=device, requires_grad=True)
    b = gg.tensor(_data(3, 4), device=device, requires_grad=True)
    (a + b).sum().backward()  # one array of ones reaches both leaves
    a.grad.add_(1.0)
    np.testing.assert_array_equal(b.grad.numpy(), np.ones((3, 4), np.float32))


def test_mixed_dtype_gradients_meet_in_the_promoted_dtype(device):
    x = gg.tensor(_data(3), device=device, requires_grad=True)
    s = gg.tensor(_data(dtype=np.float64), device=device, requires_grad=True)
    (x * s + x * s).sum().backward()
    assert x.grad.dtype is gg.float32 and s.grad.dtype is gg.float64
    np.testing.assert_allclose(s.grad.numpy(), 2 * x.detach().numpy().astype(np.float64).sum(),
                               rtol=1e-6)
