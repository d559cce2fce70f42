"""The scalar ``Value`` (micrograd-compatible): the micrograd README example, the checklist
(data, grad, _prev, _op, _backward, hashing), every op's gradient against finite differences and
PyTorch, a million-deep chain, and the small MLP. IEEE 754 special values: test_value_ieee.py."""
import gc
import math
import sys
import weakref

import pytest

import gpugrad as gg
from gpugrad.value import MLP, Layer, Neuron, Value, mse

X0, Y0 = 0.7, -1.3  # evaluation point of the op checks

# name -> (Value expression, PyTorch expression, finite-difference-friendly inputs)
OPS = {
    "add": (lambda a, b: a + b, lambda a, b: a + b),
    "sub": (lambda a, b: a - b, lambda a, b: a - b),
    "mul": (lambda a, b: a * b, lambda a, b: a * b),
    "div": (lambda a, b: a / b, lambda a, b: a / b),
    "pow_number": (lambda a, b: a ** 3 + b ** 2, lambda a, b: a ** 3 + b ** 2),
    "pow_value": (lambda a, b: a ** b, lambda a, b: a ** b),
    "radd": (lambda a, b: 2.0 + a + b, lambda a, b: 2.0 + a + b),
    "rsub": (lambda a, b: 2.0 - a - b, lambda a, b: 2.0 - a - b),
    "rmul": (lambda a, b: 3.0 * a * b, lambda a, b: 3.0 * a * b),
    "rdiv": (lambda a, b: 2.0 / a + 1 / b, lambda a, b: 2.0 / a + 1 / b),
    "rpow": (lambda a, b: 2.0 ** a + 3 ** b, lambda a, b: 2.0 ** a + 3 ** b),
    "neg": (lambda a, b: -a * b, lambda a, b: -a * b),
    "exp": (lambda a, b: (a * b).exp(), lambda a, b: (a * b).exp()),
    "log": (lambda a, b: (a * a + b * b).log(), lambda a, b: (a * a + b * b).log()),
    "tanh": (lambda a, b: (a + b).tanh(), lambda a, b: (a + b).tanh()),
    "relu": (lambda a, b: a.relu() + b.relu(), lambda a, b: a.relu() + b.relu()),
    "sigmoid": (lambda a, b: (a * b).sigmoid(), lambda a, b: (a * b).sigmoid()),
    "reuse": (lambda a, b: a * a * b + a, lambda a, b: a * a * b + a),
}
POSITIVE_BASE = {"pow_value"}


def _point(name):
    return (abs(X0) + 0.5, Y0) if name in POSITIVE_BASE else (X0, Y0)


def test_micrograd_readme_example():
    a = Value(-4.0)
    b = Value(2.0)
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    g.backward()
    assert f"{g.data:.4f}" == "24.7041"
    assert f"{a.grad:.4f}" == "138.8338"
    assert f"{b.grad:.4f}" == "645.5773"


def test_design_example_and_gg_value():
    a, b = gg.Value(2.0), gg.Value(3.0)
    z = a * b + a
    z.backward()
    assert a.grad == 4.0 and b.grad == 2.0 and gg.Value is Value


def test_checklist_data_grad_prev_op_backward():
    a, b = Value(2.0), Value(-3.0)
    c = a * b
    assert c.data == -6.0 and c.grad == 0.0 and a.grad == 0.0
    assert c._prev == {a, b} and isinstance(c._prev, set) and a._prev == set()
    assert c._op == "*" and a._op == ""
    assert (a + b)._op == "+" and a.tanh()._op == "tanh" and a.relu()._op == "ReLU"
    c.grad = 1.0
    c._backward()  # micrograd's local step: pushes c.grad into its operands
    assert a.grad == -3.0 and b.grad == 2.0
    a._backward()  # a leaf's _backward does nothing
    assert a.grad == -3.0
    assert repr(c) == "Value(data=-6.0, grad=1.0)"


def test_values_hash_by_identity():
    a, b = Value(1.0), Value(1.0)
    assert a != b and hash(a) != hash(b)
    assert len({a, b, a}) == 2
    assert {a: 1}[a] == 1


def test_custom_op_with_assigned_backward():
    # micrograd's way to add an op: build the node and assign _backward
    x = Value(3.0)
    out = Value(x.data ** 2, (x,), "square")

    def _backward():
        x.grad += 2 * x.data * out.grad

    out._backward = _backward
    (out * 2).backward()
    assert x.grad == 12.0 and out._backward is _backward and out._prev == {x}


def test_custom_op_of_many_operands_reaches_each_of_them():
    xs = [Value(float(i)) for i in range(1, 5)]
    out = Value(sum(x.data for x in xs), xs, "sum4")
    assert out._prev == set(xs) and out._children == tuple(xs) and out._op == "sum4"
    assert out._backward() is None  # no backward assigned yet: a no-op, as in micrograd

    def _backward():
        for x in xs:
            x.grad += out.grad

    out._backward = _backward
    (out * out).backward()
    assert [x.grad for x in xs] == [20.0] * 4
    assert gg.autograd.topological_order([out], lambda v: v._children)[-1] is out


def test_overriding_a_built_in_backward_keeps_the_operands():
    a, b = Value(2.0), Value(5.0)
    c = a * b
    c._backward = lambda: None  # c now passes nothing back
    (c + a).backward()
    assert a.grad == 1.0 and b.grad == 0.0 and c._prev == {a, b}


def test_a_node_is_one_gc_tracked_object_and_graphs_hold_no_cycles():
    # every tracked object a node adds is walked by each collection while the graph lives
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        before = len(gc.get_objects())
        x, w = Value(0.5), Value(-1.5)
        y = x
        for _ in range(1000):
            y = (y * w + x).relu() / 2.0 - x ** 2
        tracked = len(gc.get_objects()) - before
        assert tracked <= 6000 + 10  # 6 nodes a step, nothing else
        custom = Value(y.data, (y, x, w), "custom")
        custom.backward()
        refs = [weakref.ref(v) for v in (y, custom)]
        del y, custom
        assert [r() for r in refs if r() is not None] == []  # reference counting freed them
    finally:
        if was_enabled:
            gc.enable()


def _numeric_grads(fn, point, eps=1e-6):
    grads = []
    for i in range(2):
        hi, lo = list(point), list(point)
        hi[i] += eps
        lo[i] -= eps
        grads.append((fn(*map(Value, hi)).data - fn(*map(Value, lo)).data) / (2 * eps))
    return grads


@pytest.mark.parametrize("name", OPS)
def test_op_gradient_matches_finite_differences(name):
    fn = OPS[name][0]
    a, b = (Value(v) for v in _point(name))
    fn(a, b).backward()
    expected = _numeric_grads(fn, _point(name))
    assert a.grad == pytest.approx(expected[0], rel=1e-5, abs=1e-6)
    assert b.grad == pytest.approx(expected[1], rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("name", OPS)
def test_op_value_and_gradient_match_torch(name, torch):
    fn, torch_fn = OPS[name]
    x, y = _point(name)
    a, b = Value(x), Value(y)
    out = fn(a, b)
    out.backward()
    ta = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    tb = torch.tensor(y, dtype=torch.float64, requires_grad=True)
    t_out = torch_fn(ta, tb)
    t_out.backward()
    assert out.data == pytest.approx(t_out.item(), rel=1e-12)
    assert a.grad == pytest.approx(ta.grad.item(), rel=1e-12, abs=1e-15)
    assert b.grad == pytest.approx(tb.grad.item(), rel=1e-12, abs=1e-15)


def test_backward_twice_accumulates_on_leaves_only():
    a = Value(3.0)
    h = a * a
    y = h * 2
    y.backward()
    assert a.grad == 12.0 and h.grad == 2.0
    y.backward()
    assert a.grad == 24.0 and h.grad == 2.0  # intermediate grads start from zero each time


def test_edge_values_follow_ieee_not_exceptions():
    assert Value(0.0).log().data == -math.inf
    assert math.isnan(Value(-1.0).log().data)
    assert Value(1000.0).exp().data == math.inf
    s = Value(-1000.0).sigmoid()
    assert s.data == 0.0
    s.backward()


def test_unsupported_operand_is_a_clear_error():
    with pytest.raises(TypeError, match="Value and str"):
        Value(1.0) + "x"


@pytest.mark.slow
def test_million_deep_chain_without_recursion_error():
    limit = sys.getrecursionlimit()
    x = Value(0.5)
    y = x
    gc.disable()  # full GC passes over a million live nodes only cost time (no cycles here)
    try:
        for _ in range(1_000_000):
            y = y + 1.0
    finally:
        gc.enable()
    y.backward()
    assert x.grad == 1.0 and y.data == 1_000_000.5
    assert sys.getrecursionlimit() == limit


def test_mlp_api_and_training_reduces_loss():
    model = MLP(2, [8, 8, 1], seed=0)
    assert len(model.parameters()) == (2 * 8 + 8) + (8 * 8 + 8) + (8 + 1)
    assert isinstance(model.layers[0], Layer) and isinstance(model.layers[0].neurons[0], Neuron)
    assert "MLP of [Layer of [ReLUNeuron(2)" in repr(model)
    xs = [[2.0, 3.0], [3.0, -1.0], [0.5, 1.0], [1.0, 1.0]]
    ys = [1.0, -1.0, -1.0, 1.0]
    losses = []
    for _ in range(30):
        loss = mse([model(x) for x in xs], ys)
        model.zero_grad()
        assert all(p.grad == 0.0 for p in model.parameters())
        loss.backward()
        for p in model.parameters():
            p.data -= 0.02 * p.grad
        losses.append(loss.data)
    assert losses[-1] < 0.5 * losses[0]


def test_mse_matches_definition_and_checks_lengths():
    p = [Value(1.0), Value(2.0)]
    loss = mse(p, [0.0, 4.0])
    assert loss.data == pytest.approx((1 + 4) / 2)
    loss.backward()
    assert p[0].grad == pytest.approx(1.0) and p[1].grad == pytest.approx(-2.0)
    with pytest.raises(ValueError, match="1 predictions and 2 targets"):
        mse([Value(1.0)], [1.0, 2.0])


def test_subclass_operands_get_gradients():
    class Named(Value):
        __slots__ = ("name",)

    a, b = Value(2.0), Named(3.0)
    (a * b + b).backward()
    assert a.grad == 3.0 and b.grad == 3.0 and isinstance(b, Value)
