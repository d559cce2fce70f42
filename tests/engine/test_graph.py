"""Engine semantics, as PyTorch: accumulation, leaves vs non-leaves, retain_grad, no_grad and
enable_grad, detach, hooks, backward(gradient=), gg.grad, retain_graph, higher derivatives and
million-node graphs."""
import gc
import sys

import numpy as np
import pytest

import gpugrad as gg
from support.gradtools import assert_close


def leaf(values, device, dtype=gg.float64):
    return gg.tensor(values, dtype=dtype, device=device, requires_grad=True)


def test_gradients_accumulate_until_cleared(device):
    x = leaf([1.0, 2.0], device)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    assert x.grad.tolist() == [5.0, 7.0]
    x.grad = None
    (x * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]


def test_grad_is_a_fresh_writable_tensor_on_the_leaf_device(device):
    x, y = leaf([1.0, 2.0], device), leaf([3.0, 4.0], device)
    (x + y).sum().backward()
    assert x.grad.device == x.device and x.grad.requires_grad is False
    x.grad.zero_()  # must not touch y.grad, although both came from one gradient
    assert y.grad.tolist() == [1.0, 1.0]
    s = leaf([[1.0, 2.0]], device)
    s.sum().backward()  # Sum's backward is a broadcast view: the stored grad is a copy
    s.grad.fill_(5.0)
    assert s.grad.tolist() == [[5.0, 5.0]]


def test_leaf_and_non_leaf(device):
    x = leaf([1.0, 2.0], device)
    y = x * 2
    z = y.sum()
    assert x.is_leaf and not y.is_leaf and y.grad_fn is not None
    assert gg.tensor([1.0], device=device).is_leaf
    z.backward()
    assert y.grad is None and x.grad.tolist() == [2.0, 2.0]


def test_retain_grad_keeps_grad_on_a_non_leaf(device):
    x = leaf([1.0, 2.0], device)
    y = x * 2
    y.retain_grad()
    assert y.retains_grad
    (y * y).sum().backward()
    assert y.grad.tolist() == [4.0, 8.0]
    assert x.grad.tolist() == [8.0, 16.0]


def test_no_grad_context_and_decorator(device):
    x = leaf([1.0], device)
    with gg.no_grad():
        y = x * 2
        assert not gg.is_grad_enabled()
        with gg.enable_grad():
            z = x * 2
    assert gg.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad and z.grad_fn is not None

    @gg.no_grad()
    def double(t):
        return t * 2

    @gg.enable_grad()
    def triple(t):
        return t * 3

    assert not double(x).requires_grad and double.__name__ == "double"
    with gg.no_grad():
        assert triple(x).requires_grad
    with gg.set_grad_enabled(False):
        assert not (x * 1).requires_grad
    assert (x * 1).requires_grad


def test_no_grad_restores_the_mode_after_an_exception(device):
    with pytest.raises(ValueError):
        with gg.no_grad():
            raise ValueError("boom")
    assert gg.is_grad_enabled()


def test_detach_shares_values_and_cuts_the_graph(device):
    x = leaf([1.0, 2.0], device)
    d = (x * 2).detach()
    assert not d.requires_grad and d.grad_fn is None and d.tolist() == [2.0, 4.0]
    y = x * 2 + (x * 5).detach()
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]
    assert x.data.tolist() == [1.0, 2.0] and not x.data.requires_grad


def test_register_hook_on_a_leaf_can_replace_the_gradient(device):
    x = leaf([1.0, 2.0], device)
    seen = []
    handle = x.register_hook(lambda g: seen.append(g.tolist()))
    x.register_hook(lambda g: g * 10)
    (x * 3).sum().backward()
    assert seen == [[3.0, 3.0]] and x.grad.tolist() == [30.0, 30.0]
    handle.remove()
    x.grad = None
    (x * 3).sum().backward()
    assert seen == [[3.0, 3.0]] and x.grad.tolist() == [30.0, 30.0]


def test_register_hook_on_a_non_leaf_changes_what_flows_back(device):
    x = leaf([1.0, 2.0], device)
    y = x * x
    seen = []
    y.register_hook(lambda g: seen.append(g.tolist()))
    handle = y.register_hook(lambda g: g * 0.5)
    (y * 4).sum().backward(retain_graph=True)
    assert seen == [[4.0, 4.0]] and x.grad.tolist() == [4.0, 8.0]
    handle.remove()
    x.grad = None
    (y * 4).sum().backward()
    assert x.grad.tolist() == [8.0, 16.0]


def test_hook_on_a_tensor_without_grad_is_an_error(device):
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        gg.ones(2, device=device).register_hook(lambda g: g)


def test_backward_with_an_explicit_gradient(device):
    x = leaf([1.0, 2.0, 3.0], device)
    (x * x).backward(gradient=gg.tensor([1.0, 0.5, -1.0], dtype=gg.float64, device=device))
    assert x.grad.tolist() == [2.0, 2.0, -6.0]


def test_backward_of_a_non_scalar_needs_a_gradient(device):
    x = leaf([1.0, 2.0], device)
    with pytest.raises(RuntimeError) as info:
        (x * 2).backward()
    message = str(info.value)
    assert "scalar outputs" in message and "(2,)" in message and "gradient=" in message


def test_backward_gradient_of_wrong_shape_is_an_error(device):
    x = leaf([1.0, 2.0], device)
    with pytest.raises(RuntimeError, match=r"Mismatch in shape.*\(3,\).*\(2,\)"):
        (x * 2).backward(gradient=gg.ones(3, dtype=gg.float64, device=device))


def test_backward_on_a_tensor_without_graph_is_an_error(device):
    with pytest.raises(RuntimeError, match="does not require grad"):
        gg.ones(1, device=device).sum().backward()


def test_second_backward_through_a_freed_graph_says_retain_graph(device):
    x = leaf([1.0, 2.0], device)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward(device):
    x = leaf([1.0, 2.0], device)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.tolist()
    y.backward()
    assert_close(x.grad, 2 * np.array(first))


def test_grad_returns_gradients_without_touching_dot_grad(device):
    x, w = leaf([1.0, 2.0], device), leaf([3.0, -1.0], device)
    y = (x * w).sum()
    gx, gw = gg.grad(y, [x, w])
    assert gx.tolist() == [3.0, -1.0] and gw.tolist() == [1.0, 2.0]
    assert x.grad is None and w.grad is None


def test_grad_with_grad_outputs_and_multiple_outputs(device):
    x = leaf([1.0, 2.0], device)
    a, b = x * x, x.exp()
    ga, = gg.grad([a, b], [x], grad_outputs=[gg.ones(2, dtype=gg.float64, device=device),
                                             gg.tensor([2.0, 0.0], dtype=gg.float64,
                                                       device=device)])
    assert_close(ga, [2.0 + 2 * np.e, 4.0])


def test_grad_allow_unused(device):
    x, unused = leaf([1.0], device), leaf([1.0], device)
    y = (x * 2).sum()
    with pytest.raises(RuntimeError, match="allow_unused=True"):
        gg.grad(y, [x, unused], retain_graph=True)
    gx, gu = gg.grad(y, [x, unused], allow_unused=True)
    assert gx.tolist() == [2.0] and gu is None


def test_grad_of_a_non_leaf_input(device):
    x = leaf([1.0, 2.0], device)
    h = x * 3
    y = (h * h).sum()
    (gh,) = gg.grad(y, h)
    assert gh.tolist() == [6.0, 12.0]


def test_grad_input_must_require_grad(device):
    x = leaf([1.0], device)
    with pytest.raises(RuntimeError, match="does not require grad"):
        gg.grad((x * 2).sum(), gg.ones(1, device=device))


def test_create_graph_gives_second_and_third_derivatives(device, torch):
    x = leaf([0.3, -1.2, 2.0], device)
    y = (x.tanh() * x ** 3).sum()
    (g1,) = gg.grad(y, x, create_graph=True)
    (g2,) = gg.grad(g1.sum(), x, create_graph=True)
    (g3,) = gg.grad(g2.sum(), x)
    t = torch.tensor([0.3, -1.2, 2.0], dtype=torch.float64, requires_grad=True)
    ty = (t.tanh() * t ** 3).sum()
    (t1,) = torch.autograd.grad(ty, t, create_graph=True)
    (t2,) = torch.autograd.grad(t1.sum(), t, create_graph=True)
    (t3,) = torch.autograd.grad(t2.sum(), t)
    for got, expected in ((g1, t1), (g2, t2), (g3, t3)):
        assert_close(got, expected)


def test_backward_create_graph_then_backward_again(device):
    x = leaf([2.0], device)
    y = (x ** 3).sum()
    y.backward(create_graph=True)
    assert x.grad.requires_grad and x.grad.tolist() == [12.0]
    g = x.grad
    x.grad = None
    g.sum().backward()
    assert x.grad.tolist() == [12.0]  # d/dx 3x^2 = 6x


def test_backward_inputs_limits_which_leaves_get_grad(device):
    x, w = leaf([1.0], device), leaf([2.0], device)
    (x * w).sum().backward(inputs=[w])
    assert x.grad is None and w.grad.tolist() == [1.0]


def test_shared_subexpression_accumulates(device):
    x = leaf([3.0], device)
    h = x * x
    y = (h + h * h).sum()  # 9 + 81: dy/dx = 2x + 4x^3 = 6 + 108
    y.backward()
    assert x.grad.tolist() == [114.0]


def test_requires_grad_on_integer_tensors_is_an_error(device):
    with pytest.raises(RuntimeError) as info:
        gg.tensor([1, 2], device=device, requires_grad=True)
    assert "floating point" in str(info.value) and "int64" in str(info.value)
    with pytest.raises(RuntimeError, match="floating point"):
        gg.arange(3, device=device).requires_grad_()


def test_requires_grad_flag_cannot_be_cleared_on_a_non_leaf(device):
    y = leaf([1.0], device) * 2
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad_(False)


def test_in_place_on_a_leaf_that_requires_grad_is_an_error(device):
    x = leaf([1.0], device)
    with pytest.raises(RuntimeError, match="^a leaf Variable that requires grad is being used "
                                           "in an in-place operation.$"):
        x.fill_(2.0)
    with gg.no_grad():
        x.fill_(2.0)
    assert x.tolist() == [2.0]


@pytest.mark.slow
def test_million_node_tensor_chain_without_recursion(device):
    if device != "cpu":
        pytest.skip("one device suffices: the engine is device-independent")
    limit = sys.getrecursionlimit()
    x = gg.tensor(1.0, dtype=gg.float64, requires_grad=True)
    y = x
    # Building a million live nodes triggers full cyclic-GC passes over the whole graph; they
    # only cost time (the graph has no cycles), so the test skips them while building.
    gc.disable()
    try:
        for _ in range(1_000_000):
            y = y + 1.0
    finally:
        gc.enable()
    y.backward()
    assert x.grad.item() == 1.0 and y.item() == 1_000_001.0
    assert sys.getrecursionlimit() == limit


def test_topological_order_is_iterative_and_puts_parents_first():
    from gpugrad.autograd import topological_order

    limit = sys.getrecursionlimit()
    parents = {i: [i - 1] if i else [] for i in range(50_000)}
    parents[5] = [4, 2, None]
    order = topological_order([49_999, 3], lambda n: parents[n])
    assert order[:6] == [0, 1, 2, 3, 4, 5] and len(order) == 50_000
    position = {n: i for i, n in enumerate(order)}
    assert all(position[p] < position[n] for n in parents for p in parents[n] if p is not None)
    assert sys.getrecursionlimit() == limit


def test_grad_mode_forms_of_pytorch_2(device):
    x = leaf([1.0], device)

    @gg.no_grad
    def bare(t):
        return t * 2

    assert not bare(x).requires_grad and bare.__name__ == "bare" and gg.is_grad_enabled()
    gg.set_grad_enabled(False)  # as a function call: takes effect at once
    try:
        assert not gg.is_grad_enabled() and not (x * 2).requires_grad
    finally:
        gg.set_grad_enabled(True)
    assert gg.is_grad_enabled()

    @gg.set_grad_enabled(False)
    def off(t):
        return t * 2

    assert gg.is_grad_enabled() and not off(x).requires_grad and gg.is_grad_enabled()
    with gg.no_grad():
        with gg.set_grad_enabled(True):
            assert (x * 2).requires_grad
        assert not gg.is_grad_enabled()


def test_leaf_grads_never_share_memory_but_fresh_ones_are_not_copied():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    y = gg.tensor([3.0, 4.0], requires_grad=True)
    (x + y).sum().backward()  # add's backward hands one broadcast array to both leaves
    assert not np.shares_memory(x.grad.numpy(), y.grad.numpy())
    x.grad.zero_()
    assert y.grad.tolist() == [1.0, 1.0]
    root = gg.ones(2)
    z = x * 1.0
    z.backward(root)  # a user's gradient tensor is never adopted as a .grad
    assert not np.shares_memory(x.grad.numpy(), root.numpy())


def test_a_gradient_a_hook_kept_is_not_adopted_as_grad():
    """A hook that records gradients (logging) must not see them change when ``.grad`` is
    updated in place, e.g. by ``zero_grad(set_to_none=False)``."""
    seen = []
    w = gg.zeros(2, 2, requires_grad=True)
    w.register_hook(seen.append)
    (w @ gg.ones(2, 2)).sum().backward()
    w.grad.zero_()
    assert seen[0].tolist() == [[2.0, 2.0], [2.0, 2.0]]


def test_a_linear_training_step_on_sim_copies_no_gradient():
    gg.sim.configure("sim:3")
    model = gg.nn.MLP([8, 16, 4]).to("sim:3")
    x, y = gg.randn(5, 8, device="sim:3"), gg.randint(0, 4, size=(5,), device="sim:3")
    gg.sim.reset("sim:3")
    gg.nn.functional.cross_entropy(model(x), y).backward()
    by_op = gg.sim.stats("sim:3").by_op
    assert "copy" not in by_op, by_op  # every weight and bias gradient is adopted as it comes
    assert all(p.grad.shape == p.shape for p in model.parameters())


def test_a_user_defined_function_as_its_docstring_shows(device):
    class Cube(gg.autograd.Function):
        save_inputs = True

        def forward(self, a):
            return self.backend.binary("mul", a, self.backend.binary("mul", a, a))

        def backward(self, grad):
            (x,) = self.inputs
            return grad * 3 * x * x

    x = gg.tensor([2.0, -1.5], dtype=gg.float64, device=device, requires_grad=True)
    assert_close(Cube.apply(x), [8.0, -3.375])
    assert Cube.apply(x).grad_fn.name() == "CubeBackward0"
    assert gg.gradcheck(Cube.apply, [x])
    assert gg.gradgradcheck(Cube.apply, [x])


MODIFIED = "modified by an inplace operation"


def test_in_place_write_to_a_saved_input_is_caught_in_backward(device):
    w = gg.tensor([1.0, 2.0], device=device, requires_grad=True)
    x = gg.tensor([3.0, 4.0], device=device)
    y = (x * w).sum()  # mul saved x for w's gradient
    x.copy_(gg.tensor([0.0, 0.0], device=device))
    assert x._version == 1
    with pytest.raises(RuntimeError, match=MODIFIED + r".*MulBackward.*version 1; expected "
                                                      r"version 0"):
        y.backward()


@pytest.mark.parametrize("write", ["fill_", "setitem", "detached", "optimizer"])
def test_every_kind_of_in_place_write_bumps_the_version(write):
    w = gg.tensor([1.0, 2.0], requires_grad=True)
    loss = (w * w).sum()
    with gg.no_grad():
        if write == "fill_":
            w.fill_(0.5)
        elif write == "setitem":
            w[0] = 0.5
        elif write == "detached":
            w.detach()[1] = 0.5  # shares w's storage and its version counter
    if write == "optimizer":
        w.grad = gg.ones(2)
        gg.optim.SGD([w], lr=0.1).step()
    with pytest.raises(RuntimeError, match=MODIFIED):
        loss.backward()


def test_in_place_write_to_a_saved_output_is_caught():
    w = gg.tensor([0.5, 1.0], requires_grad=True)
    y = w.exp()  # exp's backward reads its output
    with gg.no_grad():
        y.fill_(0.0)
    with pytest.raises(RuntimeError, match=MODIFIED + ".*ExpBackward"):
        y.sum().backward()


def test_recorded_write_to_a_saved_input_or_output_is_caught():
    w = gg.tensor([1.0, 2.0], requires_grad=True)
    a = w * 2.0
    b = (a * a).sum()  # mul saved the tensor a itself
    a[0] = 5.0  # written in place, as in PyTorch: mul would read the new values
    with pytest.raises(RuntimeError, match=MODIFIED):
        b.backward()
    y = w.exp()
    y[0] = 0.0  # exp saved its output, written here
    with pytest.raises(RuntimeError, match=MODIFIED):
        y.sum().backward()


def test_torch_raises_where_gpugrad_raises(torch):
    tw = torch.tensor([1.0, 2.0], requires_grad=True)
    tx = torch.tensor([3.0, 4.0])
    ty = (tx * tw).sum()
    tx.copy_(torch.zeros(2))
    with pytest.raises(RuntimeError, match=MODIFIED):
        ty.backward()
