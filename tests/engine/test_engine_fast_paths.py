"""The engine's fast paths for small graphs give what the general paths give: same-shape
``Add``/``Mul`` gradients without a reduction, the one-step mode switch around backward, the
saved-version check that runs only where a write was possible, and the topological order's
shortcut for nodes without parents."""
import random
import threading

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.engine import grad_mode, hooks
from gpugrad.engine.topology import topological_order

RNG = np.random.default_rng(3)


def _leaf(dtype=np.float32, requires_grad=True, shape=(4,)):
    return gg.tensor(RNG.uniform(-1, 1, shape).astype(dtype), requires_grad=requires_grad)


def _grads(build, leaves, create_graph, gradient=None):
    for t in leaves:
        t.grad = None
    out = build(*leaves)
    out.backward(gradient, create_graph=create_graph)
    return [None if t.grad is None else (t.grad.dtype, t.grad.detach().numpy().copy())
            for t in leaves]


CHAINS = {
    "mul": lambda a, b: a * b,
    "add": lambda a, b: a + b,
    "chain": lambda a, b: ((a * b + a) * b + a) * b,
    "same_input": lambda a, b: a * a + a,
}


@pytest.mark.parametrize("name", sorted(CHAINS))
@pytest.mark.parametrize("needs", [(True, True), (True, False), (False, True)])
def test_same_shape_raw_gradients_equal_the_differentiable_path(name, needs):
    a, b = (_leaf(requires_grad=r) for r in needs)
    build = lambda a, b: CHAINS[name](a, b).sum()  # noqa: E731
    if not any(t.requires_grad for t in (a, b) if name != "same_input" or t is a):
        pytest.skip("same_input uses only a")
    raw = _grads(build, [a, b], create_graph=False)
    graph = _grads(build, [a, b], create_graph=True)
    for r, g, t in zip(raw, graph, (a, b)):
        assert (r is None) == (g is None)
        assert r is None or t.requires_grad
        if r is not None:
            assert r[0] is g[0]
            np.testing.assert_allclose(r[1], g[1], rtol=1e-6)


def test_a_gradient_of_another_dtype_is_promoted_not_taken_as_is():
    # a float64 gradient into float32 same-shape ops leaves the fast path's dtype test
    a, b = _leaf(), _leaf()
    g = gg.tensor(RNG.uniform(-1, 1, 4), dtype=gg.float64)
    raw = _grads(lambda a, b: a * b + a, [a, b], False, g)
    graph = _grads(lambda a, b: a * b + a, [a, b], True, g)
    for (rd, rv), (gd, gv) in zip(raw, graph):
        assert rd is gd
        np.testing.assert_allclose(rv, gv, rtol=1e-6)
    np.testing.assert_allclose(b.grad.detach().numpy(), (g * a.detach()).numpy(), rtol=1e-6)


def test_backward_hooks_see_no_gradient_for_an_input_that_needs_none():
    a, c = _leaf(), _leaf(requires_grad=False)
    seen = []
    handle = hooks.register_backward_hook(lambda fn, grads: seen.append((fn.name(), grads)))
    try:
        (a + c).sum().backward()
        (a * c).sum().backward()
    finally:
        handle.remove()
    by_name = dict(seen)
    for name in ("AddBackward0", "MulBackward0"):
        ga, gc = by_name[name]
        assert ga is not None and gc is None


def test_backward_turns_recording_and_autocast_off_and_restores_both():
    a = _leaf()
    base = grad_mode.threads_off_default
    inside = []
    a.register_hook(lambda g: inside.append((gg.is_grad_enabled(), grad_mode.modes.autocast,
                                              grad_mode.threads_off_default - base)))
    (a * a).sum().backward()
    assert inside == [(False, None, 1)]
    assert gg.is_grad_enabled() and grad_mode.threads_off_default == base
    with gg.no_grad():  # entered off the defaults: restored to off, the count unchanged
        with gg.enable_grad():
            (a * a).sum().backward()
        assert not gg.is_grad_enabled() and grad_mode.threads_off_default == base + 1
    assert grad_mode.threads_off_default == base


def test_modes_are_restored_when_backward_raises():
    a = _leaf()
    y = (a * a).sum()
    y.backward()
    base = grad_mode.threads_off_default
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()
    assert gg.is_grad_enabled() and grad_mode.threads_off_default == base


def test_set_modes_is_per_thread():
    seen = []

    def worker():
        grad_mode.set_modes(False, None)
        seen.append(gg.is_grad_enabled())
        grad_mode.set_modes(True, None)

    t = threading.Thread(target=worker)
    t.start()
    t.join(10)
    assert seen == [False] and gg.is_grad_enabled()


def test_a_saved_input_written_after_forward_is_caught():
    a, b = _leaf(), _leaf()
    y = (a * b).sum()
    alias = b.detach()  # b gets its version counter only now, after Mul saved it
    alias.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_a_version_counter_without_a_write_passes():
    a, b = _leaf(), _leaf()
    y = (a * b).sum()
    b.detach()  # a version counter at 0: nothing was written
    y.backward()
    np.testing.assert_allclose(a.grad.numpy(), b.detach().numpy())


# ---- topological order -----------------------------------------------------------------------
_EMIT = object()


def _reference_order(roots, parents_of, first_parent_first=False):
    """The order before the leaf shortcut (every node pushed under a marker)."""
    order, visited, stack = [], set(), list(roots)[::-1]
    while stack:
        node = stack.pop()
        if node is _EMIT:
            order.append(stack.pop())
            continue
        if node in visited:
            continue
        visited.add(node)
        stack += [node, _EMIT]
        parents = parents_of(node)
        if first_parent_first and len(parents) > 1:
            parents = parents[::-1]
        stack += [p for p in parents if p is not None and p not in visited]
    return order


class _Node:
    def __init__(self, parents):
        self.parents = tuple(parents)


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("first_parent_first", [False, True])
def test_topological_order_is_unchanged_by_the_leaf_shortcut(seed, first_parent_first):
    rng = random.Random(seed)
    nodes = []
    for _ in range(rng.randint(1, 40)):
        k = rng.randint(0, min(3, len(nodes)))
        parents = rng.sample(nodes, k) + ([None] if rng.random() < 0.2 else [])
        nodes.append(_Node(parents))
    roots = rng.sample(nodes, rng.randint(1, min(3, len(nodes))))
    got = topological_order(roots, lambda n: n.parents, first_parent_first)
    assert got == _reference_order(roots, lambda n: n.parents, first_parent_first)
    position = {n: i for i, n in enumerate(got)}
    for n in got:
        assert all(position[p] < position[n] for p in n.parents if p is not None)
