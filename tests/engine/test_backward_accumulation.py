"""How backward sums and stores gradients: roots given twice, gradients meeting in different
dtypes, several contributions to one node, nodes that get no gradient, ``.grad`` that never
aliases a tensor the user holds, retained and captured gradients, and tensor hooks."""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad.engine import Function


def leaf(values, dtype=gg.float64, device="cpu"):
    return gg.tensor(values, dtype=dtype, device=device, requires_grad=True)


@pytest.mark.parametrize("create_graph", [False, True])
def test_a_root_given_twice_gets_the_sum_of_its_gradients(create_graph, device):
    x = leaf([1.0, 2.0], device=device)
    y = x * 3.0
    g1 = gg.tensor([1.0, 10.0], dtype=gg.float64, device=device)
    g2 = gg.tensor([100.0, 1000.0], dtype=gg.float64, device=device)
    gg.autograd.backward([y, y], [g1, g2], create_graph=create_graph)
    assert x.grad.tolist() == [303.0, 3030.0]
    assert x.grad.device == x.device
    assert x.grad.requires_grad is False  # nothing in the sum requires grad


def test_a_root_given_twice_to_grad():
    x = leaf([1.0, 2.0])
    y = x * x
    (g,) = gg.grad([y, y], x, [gg.ones(2, dtype=gg.float64), gg.full((2,), 2.0,
                                                                     dtype=gg.float64)])
    assert g.tolist() == [6.0, 12.0]


class GradIn(Function):
    """Identity whose backward returns the gradient in a fixed dtype (an op computing its
    gradient in another precision than its input's)."""
    grad_dtype = gg.float64

    def forward(self, a):
        return self.backend.binary("mul", a, 1.0)

    def backward(self, grad):
        return grad.to(self.grad_dtype)

    def backward_arrays(self, grad):
        return self.backend.cast(grad, self.grad_dtype)


class GradIn32(GradIn):
    grad_dtype = gg.float32


@pytest.mark.parametrize("shape", [(2,), ()])
@pytest.mark.parametrize("first, second", [(GradIn32, GradIn), (GradIn, GradIn32)])
def test_gradients_meeting_in_two_dtypes_add_in_the_promoted_dtype(shape, first, second):
    x = gg.full(shape, 1.5, dtype=gg.float32).requires_grad_()
    # the first input of an op finishes first: ``first`` adds its gradient before ``second``
    loss = first.apply(x).sum() + second.apply(x).sum() * 2.0
    loss.backward()
    assert x.grad.dtype == gg.float64
    assert np.asarray(x.grad.tolist()).tolist() == np.full(shape, 3.0).tolist()


def test_three_contributions_the_last_in_a_wider_dtype():
    x = gg.tensor([1.0, 2.0], dtype=gg.float32, requires_grad=True)
    loss = (GradIn32.apply(x).sum() + GradIn32.apply(x).sum() * 2.0) + \
        GradIn.apply(x).sum() * 4.0
    loss.backward()
    assert x.grad.dtype == gg.float64 and x.grad.tolist() == [7.0, 7.0]


def test_many_contributions_to_one_node_sum_exactly(device):
    x = leaf([1.0, 2.0], device=device)
    terms = [x * float(k) for k in range(1, 6)]
    loss = terms[0]
    for t in terms[1:]:
        loss = loss + t
    loss.sum().backward()
    assert x.grad.tolist() == [15.0, 15.0]


class NoGradFor(Function):
    """Passes ``a`` through; gives no gradient to ``a`` (a non-differentiable output)."""

    def forward(self, a):
        return self.backend.binary("mul", a, 1.0)

    def backward(self, grad):
        return None


class FirstOnly(Function):
    """a + b whose backward gives a gradient to ``b`` only."""

    def forward(self, a, b):
        return self.backend.binary("add", a, b)

    def backward(self, grad):
        return None, grad


def test_node_reached_without_a_gradient_gets_none_and_backward_goes_on():
    x, w = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    u = x * 2.0  # reached through FirstOnly, but its gradient is None
    v = w * 3.0
    FirstOnly.apply(u, v).sum().backward()
    assert x.grad is None
    assert w.grad.tolist() == [3.0, 3.0]


@pytest.mark.parametrize("none_first", [False, True])
def test_a_none_gradient_next_to_a_real_one(none_first):
    x = leaf([1.0, 2.0])
    a, b = x * 2.0, NoGradFor.apply(x)
    loss = (b + a) if none_first else (a + b)
    loss.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]


def test_leaf_grad_does_not_alias_the_root_gradient():
    x = leaf([1.0, 2.0])
    g = gg.tensor([5.0, 6.0], dtype=gg.float64)
    x.backward(g)
    assert x.grad.tolist() == [5.0, 6.0] and x.grad.requires_grad is False
    g.add_(1.0)
    assert x.grad.tolist() == [5.0, 6.0]
    x.grad.mul_(2.0)
    assert g.tolist() == [6.0, 7.0]


def test_leaf_grad_does_not_alias_a_tensor_a_hook_returned():
    x = leaf([1.0, 2.0])
    replacement = gg.tensor([7.0, 8.0], dtype=gg.float64)
    x.register_hook(lambda g: replacement)
    (x * 2.0).sum().backward()
    assert x.grad.tolist() == [7.0, 8.0]
    replacement.add_(1.0)
    assert x.grad.tolist() == [7.0, 8.0]


def test_retained_grad_does_not_alias_the_root_gradient():
    x = leaf([1.0, 2.0])
    y = x * 2.0
    y.retain_grad()
    g = gg.tensor([5.0, 6.0], dtype=gg.float64)
    y.backward(g)
    assert y.grad.tolist() == [5.0, 6.0] and y.grad.requires_grad is False
    g.add_(1.0)
    assert y.grad.tolist() == [5.0, 6.0]
    assert x.grad.tolist() == [10.0, 12.0]


def test_retained_grad_accumulates_over_passes():
    x = leaf([1.0, 2.0])
    y = x * 2.0
    y.retain_grad()
    (y * y).sum().backward(retain_graph=True)
    (y * y).sum().backward()
    assert y.grad.tolist() == [8.0, 16.0]


def test_gg_grad_through_a_hooked_intermediate_that_is_not_an_input():
    x = leaf([1.0, 2.0])
    y = x * 2.0
    seen = []
    y.register_hook(lambda g: seen.append(g.tolist()))
    (gx,) = gg.grad((y * y).sum(), x)
    assert seen == [[4.0, 8.0]] and gx.tolist() == [8.0, 16.0]
    assert x.grad is None and y.grad is None


def test_gg_grad_of_an_intermediate_and_a_leaf():
    x = leaf([1.0, 2.0])
    y = x * 2.0
    gy, gx = gg.grad((y * y).sum(), [y, x])
    assert gy.tolist() == [4.0, 8.0] and gx.tolist() == [8.0, 16.0]
    assert gy.requires_grad is False and gx.requires_grad is False


def test_create_graph_through_a_hooked_intermediate():
    x = leaf([1.0, 2.0])
    y = x * x
    y.register_hook(lambda g: g * 3.0)
    y.retain_grad()
    (y * 1.0).sum().backward(create_graph=True)
    assert x.grad.tolist() == [6.0, 12.0] and x.grad.requires_grad
    assert y.grad.tolist() == [3.0, 3.0]
    (gx2,) = gg.grad(x.grad.sum(), x)
    assert gx2.tolist() == [6.0, 6.0]


def test_create_graph_accumulates_into_an_existing_grad():
    x = leaf([1.0, 2.0])
    (x * x).sum().backward(create_graph=True)
    (x * x * x).sum().backward(create_graph=True)
    assert x.grad.tolist() == [5.0, 16.0]
    (g2,) = gg.grad(x.grad.sum(), x)
    assert g2.tolist() == [8.0, 14.0]


def test_create_graph_with_mixed_dtype_ops():
    x = gg.tensor([1.0, 2.0], dtype=gg.float32, requires_grad=True)
    s = gg.tensor(3.0, dtype=gg.float64)  # needs no gradient
    (gx,) = gg.grad((x * s).sum(), x, create_graph=True)
    assert gx.dtype == gg.float32 and gx.tolist() == [3.0, 3.0]
    (gw,) = gg.grad(gg.where(x > 1.5, x * x, s).sum(), x, create_graph=True)
    assert gw.dtype == gg.float32 and gw.tolist() == [0.0, 4.0]
    (gww,) = gg.grad(gw.sum(), x)
    assert gww.tolist() == [0.0, 2.0]


def test_leaf_gradients_of_mixed_dtype_ops_have_the_leaf_dtype():
    x = gg.tensor([1.0, 2.0], dtype=gg.float32, requires_grad=True)
    s = gg.tensor(3.0, dtype=gg.float64, requires_grad=True)
    (x * s).sum().backward()
    assert x.grad.dtype == gg.float32 and x.grad.tolist() == [3.0, 3.0]
    assert s.grad.dtype == gg.float64 and s.grad.tolist() == 3.0


class CustomSquare(gg.autograd.Function):
    seen = []

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return a * a

    @staticmethod
    def backward(ctx, grad):
        CustomSquare.seen.append(grad.requires_grad)
        (a,) = ctx.saved_tensors
        return grad * 2 * a


def test_custom_function_backward_gets_a_gradient_that_needs_no_grad():
    CustomSquare.seen.clear()
    x = leaf([1.0, 2.0])
    CustomSquare.apply(x).sum().backward()
    assert CustomSquare.seen == [False] and x.grad.tolist() == [2.0, 4.0]


class SecondOnly(Function):
    """a + b whose backward gives a gradient to ``a`` only."""

    def forward(self, a, b):
        return self.backend.binary("add", a, b)

    def backward(self, grad):
        return grad, None


def test_backward_goes_on_past_a_node_visited_first_without_a_gradient():
    x, w = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    u = x * 2.0
    v = w * 3.0  # the later input: visited right after the op, and its gradient is None
    SecondOnly.apply(u, v).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]
    assert w.grad is None


@pytest.mark.parametrize("wide_at", [0, 1, 2])
def test_three_contributions_one_in_a_wider_dtype(wide_at):
    x = gg.tensor([1.0, 2.0], dtype=gg.float32, requires_grad=True)
    ops = [GradIn32, GradIn32, GradIn32]
    ops[wide_at] = GradIn
    a, b, c = (op.apply(x).sum() * float(2 ** k) for k, op in enumerate(ops))
    (a + (b + c)).backward()
    assert x.grad.dtype == gg.float64 and x.grad.tolist() == [7.0, 7.0]
    x.grad = None
    a, b, c = (op.apply(x).sum() * float(2 ** k) for k, op in enumerate(ops))
    ((a + b) + c).backward()
    assert x.grad.dtype == gg.float64 and x.grad.tolist() == [7.0, 7.0]


def test_second_derivative_through_a_hooked_intermediate():
    x = leaf([1.0, 2.0])
    y = x * x
    y.register_hook(lambda g: g)  # its gradient 2y depends on x: the graph must keep that
    (gx,) = gg.grad((y * y).sum(), x, create_graph=True)
    assert gx.tolist() == [4.0, 32.0]  # 4 x^3
    (gxx,) = gg.grad(gx.sum(), x)
    assert gxx.tolist() == [12.0, 48.0]  # 12 x^2


def test_second_derivative_through_a_retained_intermediate():
    x = leaf([1.0, 2.0])
    y = x * x
    y.retain_grad()
    (y * y).sum().backward(create_graph=True)
    assert y.grad.tolist() == [2.0, 8.0]
    (gxx,) = gg.grad(x.grad.sum(), x)
    assert gxx.tolist() == [12.0, 48.0]


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("weight_grad", [False, True])
def test_lerp_with_a_float64_weight(create_graph, weight_grad):
    # the op computes in float64 for the weight only: start and end keep float32 gradients
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    e = gg.tensor([3.0, 6.0], requires_grad=True)
    w = gg.tensor(0.25, dtype=gg.float64, requires_grad=weight_grad)
    inputs = [x, e, w] if weight_grad else [x, e]
    grads = gg.grad(gg.lerp(x, e, w).sum(), inputs, create_graph=create_graph)
    assert grads[0].dtype == gg.float32 and grads[0].tolist() == [0.75, 0.75]
    assert grads[1].dtype == gg.float32 and grads[1].tolist() == [0.25, 0.25]
    if weight_grad:
        assert grads[2].dtype == gg.float64 and grads[2].tolist() == 6.0


@pytest.mark.parametrize("create_graph", [False, True])
def test_clamp_by_a_float64_bound_that_needs_no_gradient(create_graph):
    x = gg.tensor([0.0, 2.0, 5.0], requires_grad=True)
    lo = gg.tensor([1.0, 1.0, 1.0], dtype=gg.float64)
    out = gg.clamp(x, min=lo)
    (gx,) = gg.grad(out.sum(), x, create_graph=create_graph)
    assert gx.dtype == gg.float32 and gx.tolist() == [0.0, 1.0, 1.0]


# ---- create_graph=True stores a copy, as PyTorch does -------------------------------------
def test_create_graph_grad_does_not_alias_the_root_gradient():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    g = gg.tensor([4.0, 4.0])
    (x * 1).backward(g, create_graph=True)
    g.add_(1)  # PyTorch's x.grad stays [4, 4]
    assert x.grad.tolist() == [4.0, 4.0]


def test_create_graph_grad_does_not_alias_a_hook_result():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    replacement = gg.tensor([7.0, 7.0])
    y = x * 2
    y.register_hook(lambda grad: replacement)
    y.retain_grad()
    y.sum().backward(create_graph=True)
    replacement.add_(1)
    assert y.grad.tolist() == [7.0, 7.0]
    assert x.grad.tolist() == [14.0, 14.0]


def test_create_graph_grad_stays_differentiable():
    x = gg.tensor([1.0, 2.0], dtype=gg.float64, requires_grad=True)
    (x ** 3).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    (second,) = gg.grad(x.grad.sum(), x)
    assert second.tolist() == [6.0, 12.0]  # d/dx 3x^2
