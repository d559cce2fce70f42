"""``gg.grad`` and ``gg.autograd.backward``: their defaults (``create_graph=False``,
``retain_graph`` following ``create_graph``), their errors, backward passes nested in a hook or
run in a fresh thread, final callbacks, and the visiting order of ``topological_order``."""
import threading

import pytest

import gpugrad as gg
from gpugrad.engine import topological_order
from gpugrad.engine.graph import queue_callback


def leaf(values):
    return gg.tensor(values, dtype=gg.float64, requires_grad=True)


def test_grad_records_no_graph_and_frees_it_by_default():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    (g,) = gg.grad(y, x)
    assert g.tolist() == [2.0, 4.0] and g.requires_grad is False and g.grad_fn is None
    with pytest.raises(RuntimeError, match="a second time"):
        gg.grad(y, x)


def test_grad_with_create_graph_retains_the_graph_by_default():
    x = leaf([1.0, 2.0])
    y = (x * x * x).sum()
    (g,) = gg.grad(y, x, create_graph=True)
    assert g.requires_grad and g.tolist() == [3.0, 12.0]
    (gg_,) = gg.grad(g.sum(), x, retain_graph=True)
    assert gg_.tolist() == [6.0, 12.0]
    (g_again,) = gg.grad(y, x)  # the graph was retained
    assert g_again.tolist() == [3.0, 12.0]


def test_grad_outputs_count_must_match_outputs():
    x = leaf([1.0, 2.0])
    y = x * 2.0
    with pytest.raises(ValueError) as info:
        gg.grad([y, y], x, [gg.ones(2, dtype=gg.float64)])
    assert str(info.value) == "grad_outputs has 1 entries but there are 2 outputs"


def test_grad_of_an_unused_input():
    x, unused = leaf([1.0]), leaf([2.0])
    y = (x * 3.0).sum()
    with pytest.raises(RuntimeError) as info:
        gg.grad(y, [x, unused], retain_graph=True)
    assert str(info.value) == (
        "One of the differentiated Tensors (input 1) appears to not have been used in the "
        "graph. Set allow_unused=True if this is the desired behavior.")
    gx, gu = gg.grad(y, [x, unused], allow_unused=True)
    assert gx.tolist() == [3.0] and gu is None


def test_autograd_backward_records_no_graph_and_frees_it_by_default():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    gg.autograd.backward(y)
    assert x.grad.tolist() == [2.0, 4.0] and x.grad.requires_grad is False
    with pytest.raises(RuntimeError, match="a second time"):
        gg.autograd.backward(y)


def test_autograd_backward_with_create_graph_retains_and_records():
    x = leaf([1.0, 2.0])
    y = (x * x * x).sum()
    gg.autograd.backward(y, create_graph=True)
    assert x.grad.requires_grad and x.grad.tolist() == [3.0, 12.0]
    (second,) = gg.grad(x.grad.sum(), x, retain_graph=True)
    assert second.tolist() == [6.0, 12.0]
    gg.autograd.backward(y)  # the graph was retained
    assert x.grad.tolist() == [6.0, 24.0]


def test_autograd_backward_with_explicit_retain_graph_false_frees():
    x = leaf([1.0])
    y = (x * x).sum()
    gg.autograd.backward(y, retain_graph=False, create_graph=True)
    with pytest.raises(RuntimeError, match="a second time"):
        gg.autograd.backward(y)


def test_backward_and_callbacks_in_a_fresh_thread():
    result = {}

    def work():
        try:
            with pytest.raises(RuntimeError) as info:
                queue_callback(lambda: None)
            result["error"] = str(info.value)
            x = leaf([1.0, 2.0])
            ran = []
            h = x.register_hook(lambda g: queue_callback(lambda: ran.append(x.grad.tolist())))
            (x * 3.0).sum().backward()
            h.remove()
            result["ran"] = ran
            (g,) = gg.grad((x * x).sum(), x)
            result["grad"] = g.tolist()
        except BaseException as e:  # reported to the test below
            result["exception"] = e

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert "exception" not in result, result.get("exception")
    assert result["error"] == "Final callbacks can only be installed during backward pass."
    assert result["ran"] == [[3.0, 3.0]]
    assert result["grad"] == [2.0, 4.0]


def test_queue_callback_outside_backward_raises():
    with pytest.raises(RuntimeError) as info:
        queue_callback(lambda: None)
    assert str(info.value) == "Final callbacks can only be installed during backward pass."


def test_a_callback_queued_after_a_nested_backward_runs_at_the_outer_end():
    x, w = leaf([1.0, 2.0]), leaf([5.0])
    events = []

    def hook(g):
        queue_callback(lambda: events.append("outer-before"))
        with gg.enable_grad():
            inner = (w * w).sum()
        inner.register_hook(lambda g2: queue_callback(lambda: events.append("inner")))
        inner.backward()  # a whole pass nested in this one, with callbacks of its own
        queue_callback(lambda: events.append(("outer-after", x.grad.tolist())))

    x.register_hook(hook)
    (x * 2.0).sum().backward()
    assert events == ["inner", "outer-before", ("outer-after", [2.0, 2.0])]
    assert w.grad.tolist() == [10.0]
    with pytest.raises(RuntimeError, match="only be installed during backward"):
        queue_callback(lambda: None)


# a small graph for topological_order: d <- (b, c), b <- a1, c <- a2 (None: no parent)
PARENTS = {"d": ("b", "c"), "b": ("a1",), "c": ("a2", None), "a1": (), "a2": ()}


def test_topological_order_puts_each_node_after_its_parents():
    order = topological_order(["d"], PARENTS.__getitem__)
    assert order == ["a2", "c", "a1", "b", "d"]


def test_topological_order_first_parent_first():
    # the first parent's chain comes first in the order, so backward (the reversed order)
    # visits a node's later parents (a layer's weights) right after the node
    order = topological_order(["d"], PARENTS.__getitem__, first_parent_first=True)
    assert order == ["a1", "b", "a2", "c", "d"]
    single = {"y": ("x",), "x": (), "z": ("y", "x")}
    assert topological_order(["z"], single.__getitem__, first_parent_first=True) == \
        ["x", "y", "z"]


def test_a_gradient_of_another_dtype_is_cast_to_the_outputs(torch):
    # as PyTorch: an integer gradient must not flow through as integers, nor a float32 one
    # round a float64 graph
    for lib in (gg, torch):
        x = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
        (x / lib.tensor([3, 3])).backward(lib.tensor([1, 1]))
        assert x.grad.dtype == lib.float64 and x.grad.tolist() == [1 / 3, 1 / 3]
        y = lib.tensor([1.0, 2.0], requires_grad=True)
        (y * 1).backward(lib.tensor([0.1, 0.2], dtype=lib.float64))
        assert y.grad.dtype == lib.float32
        (got,) = lib.autograd.grad(x * 2, x, lib.tensor([1, 1]))
        assert got.dtype == lib.float64 and got.tolist() == [2.0, 2.0]


@pytest.mark.parametrize("allow_unused", [None, True])
def test_materialize_grads_gives_zeros_for_unused_inputs(allow_unused, device):
    x = gg.tensor([1.0, 2.0], device=device, requires_grad=True)
    unused = gg.tensor([[3.0]], dtype=gg.float64, device=device, requires_grad=True)
    gx, gu = gg.grad((x * 2).sum(), [x, unused], allow_unused=allow_unused,
                     materialize_grads=True)
    assert gx.tolist() == [2.0, 2.0]
    assert gu.tolist() == [[0.0]] and gu.dtype is gg.float64 and gu.device == unused.device
    assert not gu.requires_grad


def test_materialize_grads_refuses_allow_unused_false():
    x = gg.tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match="Expected allow_unused to be True or not passed when "
                                         "materialize_grads=True"):
        gg.grad(x.sum(), x, allow_unused=False, materialize_grads=True)
    with pytest.raises(RuntimeError, match="Set allow_unused=True"):  # the default still refuses
        gg.grad(x.sum(), [x, gg.tensor([1.0], requires_grad=True)])
