"""Hooks that run when a leaf's ``.grad`` is accumulated, and callbacks at the end of a backward
pass: the engine support data parallelism builds on (PyTorch's
``register_post_accumulate_grad_hook`` and ``Variable._execution_engine.queue_callback``)."""
import gc

import pytest

import gpugrad as gg
from gpugrad.engine import graph
from gpugrad.engine.graph import queue_callback


def leaf(values, device="cpu"):
    return gg.tensor(values, dtype=gg.float64, device=device, requires_grad=True)


def test_post_accumulate_hook_sees_the_accumulated_grad(device):
    x = leaf([1.0, 2.0], device)
    seen = []
    x.register_post_accumulate_grad_hook(lambda t: seen.append((t is x, t.grad.tolist())))
    (x * 3).sum().backward()
    (x * x).sum().backward()  # the second pass accumulates onto the first
    assert seen == [(True, [3.0, 3.0]), (True, [5.0, 7.0])]


def test_post_accumulate_hook_may_update_the_grad_in_place():
    x = leaf([1.0, 2.0])
    x.register_post_accumulate_grad_hook(lambda t: t.grad.mul_(10))
    (x * 2).sum().backward()
    assert x.grad.tolist() == [20.0, 20.0]


def test_post_accumulate_hook_is_for_leaves_that_require_grad():
    with pytest.raises(RuntimeError, match="cannot be registered on non-leaf tensors"):
        (leaf([1.0]) * 2).register_post_accumulate_grad_hook(print)
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        gg.tensor([1.0]).register_post_accumulate_grad_hook(print)


def test_removed_post_accumulate_hook_does_not_run():
    x = leaf([1.0])
    calls = []
    handle = x.register_post_accumulate_grad_hook(calls.append)
    handle.remove()
    handle.remove()  # a second remove does nothing
    (x * 2).sum().backward()
    assert calls == [] and x.grad.tolist() == [2.0]


def test_post_accumulate_hook_does_not_run_for_grad():
    # gg.grad writes no .grad, so there is nothing accumulated to report (as in PyTorch)
    x = leaf([1.0])
    calls = []
    x.register_post_accumulate_grad_hook(calls.append)
    (g,) = gg.grad((x * 2).sum(), x)
    assert calls == [] and g.tolist() == [2.0] and x.grad is None


def test_post_accumulate_hooks_are_dropped_with_their_tensor():
    x = leaf([1.0])
    key = id(x)
    x.register_post_accumulate_grad_hook(print)
    assert key in graph._post_accumulate_hooks
    del x
    gc.collect()
    assert key not in graph._post_accumulate_hooks


def test_gradients_complete_in_reverse_layer_order():
    # Data parallelism overlaps each layer's all-reduce with the backward of the layers under it.
    model = gg.nn.MLP([4, 5, 6, 3], activation="relu")
    order = []
    for name, param in model.named_parameters():
        param.register_post_accumulate_grad_hook(lambda t, name=name: order.append(name))
    model(gg.randn(2, 4)).sum().backward()
    assert order == ["2.bias", "2.weight", "1.bias", "1.weight", "0.bias", "0.weight"]


def test_queued_callbacks_run_once_at_the_end_after_every_grad_is_written():
    x, y = leaf([1.0, 2.0]), leaf([3.0])  # y has no hook: its .grad is written last
    events = []

    def hook(t):
        events.append("hook")
        queue_callback(lambda: events.append(("first", x.grad.tolist(), y.grad.tolist())))
        queue_callback(lambda: (events.append("second"),
                                queue_callback(lambda: events.append("queued by a callback"))))

    x.register_post_accumulate_grad_hook(hook)
    (x * y).sum().backward()
    assert events == ["hook", ("first", [3.0, 3.0], [3.0]), "second", "queued by a callback"]
    (x * y).sum().backward()  # a new pass starts with no callbacks left over
    assert events[4:] == ["hook", ("first", [6.0, 6.0], [6.0]), "second",
                          "queued by a callback"]


def test_queue_callback_outside_backward_raises():
    with pytest.raises(RuntimeError, match="Final callbacks can only be installed during "
                                           "backward pass"):
        queue_callback(print)


def test_a_nested_backward_runs_its_own_callbacks():
    x, inner = leaf([1.0]), leaf([2.0])
    events = []

    def hook(t):
        queue_callback(lambda: events.append("outer"))
        inner.register_post_accumulate_grad_hook(
            lambda t: queue_callback(lambda: events.append("inner")))
        with gg.enable_grad():  # hooks run with grad mode off, as the backward pass does
            (inner * 2).sum().backward()
        events.append("inner backward returned")

    x.register_post_accumulate_grad_hook(hook)
    (x * 2).sum().backward()
    assert events == ["inner", "inner backward returned", "outer"]


def test_callbacks_do_not_run_when_backward_fails():
    x = leaf([1.0])
    events = []
    x.register_post_accumulate_grad_hook(
        lambda t: (queue_callback(lambda: events.append("ran")), 1 / 0))
    with pytest.raises(ZeroDivisionError):
        (x * 2).sum().backward()
    assert events == []
    with pytest.raises(RuntimeError, match="during backward pass"):
        queue_callback(print)  # the failed pass left no list behind
