"""The engine's process-wide hooks (``gpugrad.engine.hooks``): what each kind is called with, in
which order, and that ``handle.remove()`` unregisters exactly the hook it was returned for."""
import pytest

import gpugrad as gg
from gpugrad.engine import Function
from gpugrad.engine import hooks


@pytest.fixture(autouse=True)
def restore_hook_lists():
    saved = hooks.forward_hooks, hooks.backward_hooks, hooks.backward_pre_hooks
    yield
    hooks.forward_hooks, hooks.backward_hooks, hooks.backward_pre_hooks = saved


def leaf(values, device="cpu"):
    return gg.tensor(values, dtype=gg.float64, device=device, requires_grad=True)


class Recorder:
    """Records every call of each hook kind, in one shared list, tagged with the kind."""

    def __init__(self):
        self.calls = []

    def forward(self, fn, inputs, output):
        self.calls.append(("forward", fn, inputs, output))

    def backward(self, fn, input_grads):
        self.calls.append(("backward", fn, input_grads))

    def pre(self, fn, grad_output):
        self.calls.append(("pre", fn, grad_output))

    def kinds(self):
        return [c[0] for c in self.calls]


def register_all(rec):
    return [hooks.register_forward_hook(rec.forward), hooks.register_backward_hook(rec.backward),
            hooks.register_backward_pre_hook(rec.pre)]


def test_forward_hook_sees_the_op_its_inputs_and_its_output():
    rec = Recorder()
    handles = register_all(rec)
    x, c = leaf([1.0, 2.0]), gg.tensor([3.0, 4.0], dtype=gg.float64)
    y = x * c
    for h in handles:
        h.remove()
    assert rec.kinds() == ["forward"]
    _, fn, inputs, output = rec.calls[0]
    assert output is y and fn is y.grad_fn and fn.name() == "MulBackward0"
    assert len(inputs) == 2 and inputs[0] is x and inputs[1] is c


def test_each_kind_runs_only_at_its_moment_pre_before_backward():
    rec = Recorder()
    handles = register_all(rec)
    x = leaf([1.0, 2.0])
    y = (x * 3.0).sum()
    assert rec.kinds() == ["forward", "forward"]
    rec.calls.clear()
    y.backward()
    for h in handles:
        h.remove()
    assert [(c[0], c[1].name()) for c in rec.calls] == [
        ("pre", "SumBackward0"), ("backward", "SumBackward0"),
        ("pre", "MulBackward0"), ("backward", "MulBackward0")]


def test_backward_pre_hook_sees_the_output_gradient_as_a_tensor(device):
    rec = Recorder()
    h = hooks.register_backward_pre_hook(rec.pre)
    x = leaf([1.0, 2.0], device)
    y = x * x
    y.backward(gg.tensor([5.0, 7.0], dtype=gg.float64, device=device))
    h.remove()
    assert len(rec.calls) == 1
    _, fn, g = rec.calls[0]
    assert fn is y.grad_fn
    assert isinstance(g, gg.Tensor) and g.requires_grad is False
    assert g.device == x.device and g.tolist() == [5.0, 7.0]


def test_backward_hook_sees_input_gradients_as_tensors(device):
    rec = Recorder()
    h = hooks.register_backward_hook(rec.backward)
    x, c = leaf([1.0, 2.0], device), gg.tensor([3.0, 4.0], dtype=gg.float64, device=device)
    y = x * c
    s = y.sum()
    s.backward()
    h.remove()
    (_, sum_fn, sum_grads), (_, mul_fn, mul_grads) = rec.calls
    assert sum_fn is s.grad_fn and mul_fn is y.grad_fn
    # one input: the gradient itself, not a 1-tuple
    assert isinstance(sum_grads, gg.Tensor) and sum_grads.tolist() == [1.0, 1.0]
    assert sum_grads.requires_grad is False and sum_grads.device == x.device
    # two inputs: a tuple, None where no gradient was computed
    assert type(mul_grads) is tuple and len(mul_grads) == 2
    gx, gc_ = mul_grads
    assert isinstance(gx, gg.Tensor) and gx.tolist() == [3.0, 4.0]
    assert gx.requires_grad is False and gx.device == x.device
    assert gc_ is None


class TwoGrads(Function):
    """x * c with both gradients computed as arrays, also the one for an input without grad."""
    save_inputs = True

    def forward(self, a, b):
        return self.backend.binary("mul", a, b)

    def backward(self, grad):
        x, c = self.inputs
        return grad * c, grad * x

    def backward_arrays(self, grad):
        x, c = self.inputs
        b = self.backend
        return b.binary("mul", grad, c._data), b.binary("mul", grad, x._data)


def test_backward_hook_wraps_a_gradient_for_an_input_outside_the_graph():
    rec = Recorder()
    h = hooks.register_backward_hook(rec.backward)
    x, c = leaf([1.0, 2.0]), gg.tensor([3.0, 4.0], dtype=gg.float64)
    TwoGrads.apply(x, c).sum().backward()
    h.remove()
    gx, gc_ = rec.calls[1][2]
    assert isinstance(gx, gg.Tensor) and gx.tolist() == [3.0, 4.0]
    assert isinstance(gc_, gg.Tensor) and gc_.tolist() == [1.0, 2.0]
    assert gc_.requires_grad is False and gc_.device == c.device
    assert x.grad.tolist() == [3.0, 4.0]


def test_backward_hook_sees_gradients_on_the_input_device_across_a_copy():
    rec = Recorder()
    h = hooks.register_backward_hook(rec.backward)
    xs = leaf([1.0, 2.0], "sim")
    xs.to("cpu").sum().backward()
    h.remove()
    copy_grad = rec.calls[1][2]
    assert isinstance(copy_grad, gg.Tensor) and copy_grad.device == xs.device
    assert copy_grad.tolist() == [1.0, 1.0]


def test_hooks_see_graph_tensors_with_create_graph():
    rec = Recorder()
    handles = [hooks.register_backward_hook(rec.backward),
               hooks.register_backward_pre_hook(rec.pre)]
    x = leaf([1.0, 2.0])
    y = x * x
    (g,) = gg.grad(y.sum(), x, create_graph=True)
    for h in handles:
        h.remove()
    pre_mul = [c for c in rec.calls if c[0] == "pre" and c[1] is y.grad_fn]
    back_mul = [c for c in rec.calls if c[0] == "backward" and c[1] is y.grad_fn]
    assert pre_mul[0][2].tolist() == [1.0, 1.0]
    mul_grads = back_mul[0][2]
    assert type(mul_grads) is tuple
    assert [t.tolist() for t in mul_grads] == [[1.0, 2.0], [1.0, 2.0]]
    assert all(t.requires_grad for t in mul_grads)  # recorded: higher derivatives flow
    assert g.tolist() == [2.0, 4.0]


@pytest.mark.parametrize("kind", ["forward", "backward", "backward_pre"])
def test_remove_unregisters_only_that_hook(kind):
    register = {"forward": hooks.register_forward_hook,
                "backward": hooks.register_backward_hook,
                "backward_pre": hooks.register_backward_pre_hook}[kind]
    calls = []
    first = register(lambda *args: calls.append("first"))
    second = register(lambda *args: calls.append("second"))
    others = Recorder()  # the other kinds, to see that removing touches only this kind
    other_handles = [r(getattr(others, n)) for k, r, n in [
        ("forward", hooks.register_forward_hook, "forward"),
        ("backward", hooks.register_backward_hook, "backward"),
        ("backward_pre", hooks.register_backward_pre_hook, "pre")] if k != kind]
    x, ones = leaf([1.0, 2.0]), gg.ones(2, dtype=gg.float64)

    def step():
        x.grad = None
        (x * 2.0).backward(ones)

    step()
    assert calls == ["first", "second"]
    n_other = len(others.calls)
    assert n_other == 2
    first.remove()
    calls.clear()
    step()
    assert calls == ["second"]
    assert len(others.calls) == 2 * n_other
    second.remove()
    second.remove()  # a second remove does nothing
    calls.clear()
    step()
    assert calls == []
    assert len(others.calls) == 3 * n_other
    for h in other_handles:
        h.remove()
    assert x.grad.tolist() == [2.0, 2.0]


def test_registered_hooks_run_in_registration_order():
    order = []
    handles = [hooks.register_forward_hook(lambda *a, i=i: order.append(i)) for i in range(3)]
    leaf([1.0]) * 2.0
    for h in handles:
        h.remove()
    leaf([1.0]) * 2.0
    assert order == [0, 1, 2]


def test_pre_hook_sees_the_graph_gradient_with_create_graph():
    rec = Recorder()
    h = hooks.register_backward_pre_hook(rec.pre)
    x = leaf([1.0, 2.0])
    v = leaf([3.0, 4.0])  # the vector of the product, itself differentiable
    y = x * x
    (g,) = gg.grad(y, x, grad_outputs=v, create_graph=True)
    h.remove()
    (_, fn, shown), = rec.calls
    assert fn is y.grad_fn and shown.requires_grad and shown.tolist() == [3.0, 4.0]
    (gv,) = gg.grad(g.sum(), v)
    assert gv.tolist() == [2.0, 4.0]


class TwoOutputs(gg.autograd.Function):
    @staticmethod
    def forward(ctx, a):
        return a * 2, a * 3

    @staticmethod
    def backward(ctx, g2, g3):
        return g2 * 2 + g3 * 3


def test_anomaly_detection_through_a_two_output_function():
    # anomaly detection watches every node's gradients with a backward hook, also those of
    # the nodes that stand for one output of a multi-output function
    x = leaf([1.0, 2.0])
    with gg.autograd.detect_anomaly():
        p, q = TwoOutputs.apply(x)
        (p + q).sum().backward()
    assert x.grad.tolist() == [5.0, 5.0]


def test_an_unknown_hook_kind_is_an_error_naming_the_kinds():
    before = (hooks.forward_hooks, hooks.backward_hooks, hooks.backward_pre_hooks)
    with pytest.raises(ValueError, match="unknown engine hook kind 'backwards': expected "
                                         "'forward', 'backward_pre' or 'backward'"):
        hooks._replace("backwards", lambda registered: registered + [print])
    assert (hooks.forward_hooks, hooks.backward_hooks, hooks.backward_pre_hooks) == before
