"""Graphs hold no reference cycles: with the cyclic GC off, dropping a graph's root frees every
node at once (reference counting alone), before and after backward, so the collector never has
to find a graph. (``create_graph=True`` is the exception PyTorch has too: a leaf's ``.grad``
then records a graph that reaches the leaf.)"""
import gc
import weakref

import pytest

import gpugrad as gg
from gpugrad.engine import Function


def _nodes(root):
    """Every graph node (op) reachable from tensor ``root``."""
    seen, stack = [], [root.grad_fn]
    while stack:
        fn = stack.pop()
        if fn is None or not isinstance(fn, Function) or any(fn is s for s in seen):
            continue
        seen.append(fn)
        stack.extend(fn.next_nodes)
    return seen


def _leaves():
    return (gg.tensor([[0.1, -0.2], [0.3, 0.4]], requires_grad=True),
            gg.tensor([[0.5], [-0.6]], requires_grad=True))


GRAPHS = {
    "arithmetic": lambda x, w: ((x * 2 + x) / (w.sum() + 3) - x ** 2).sum(),
    "saved_output_and_views": lambda x, w: (x.exp()[0] * x.t()[1]).tanh().sum(),
    "matmul_relu": lambda x, w: (x @ w).relu().sum(),
    "in_place": lambda x, w: (x * 1).add_(w.t()).mul_(2).sum(),
    "nn_layers": lambda x, w: gg.nn.functional.mse_loss(
        gg.nn.Linear(2, 1)(x.sigmoid()), w),
}


@pytest.fixture
def collector_off():
    """The cyclic GC off (so only reference counting frees), and garbage saved for
    inspection; both restored afterwards."""
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if was_enabled:
            gc.enable()


def _ours(objects):
    return [o for o in objects if isinstance(o, (gg.Tensor, Function))]


@pytest.mark.parametrize("backward", ["none", "backward", "retain_graph"])
@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_dropping_the_root_frees_the_whole_graph(collector_off, name, backward):
    x, w = _leaves()
    root = GRAPHS[name](x, w)
    nodes = _nodes(root)
    assert len(nodes) >= 3
    refs = [weakref.ref(fn) for fn in nodes] + [weakref.ref(root)]
    if backward != "none":
        root.backward(retain_graph=backward == "retain_graph")
    del root, nodes
    assert [r() for r in refs if r() is not None] == []  # freed by reference counting
    gc.collect()
    assert _ours(gc.garbage) == []  # and the collector found nothing of ours


def test_leaves_and_their_gradients_are_freed_too(collector_off):
    x, w = _leaves()
    GRAPHS["matmul_relu"](x, w).backward()
    refs = [weakref.ref(t) for t in (x, w, x.grad, w.grad)]
    del x, w
    assert [r() for r in refs if r() is not None] == []
