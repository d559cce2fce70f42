"""gg.autograd.Function in PyTorch's form (static forward/backward with a ctx): gradients,
double backward, ctx features and errors, checked on every device and against the same
torch.autograd.Function; gpugrad's own op protocol keeps working beside it."""
import numpy as np
import pytest

import gpugrad as gg
from support.gradtools import assert_close


def _functions(base):
    """The same custom Functions for gpugrad (``base`` = gg.autograd.Function) or PyTorch."""

    class Exp(base):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)  # an output: double backward goes through it again
            return y

        @staticmethod
        def backward(ctx, grad):
            (y,) = ctx.saved_tensors
            return grad * y

    class MulAdd(base):
        @staticmethod
        def forward(ctx, x, y, alpha):
            ctx.save_for_backward(x, y)
            ctx.alpha = alpha
            return x * y + alpha * x

        @staticmethod
        def backward(ctx, grad):
            x, y = ctx.saved_tensors
            gx = grad * (y + ctx.alpha) if ctx.needs_input_grad[0] else None
            gy = grad * x if ctx.needs_input_grad[1] else None
            return gx, gy, None

    class SinCos(base):  # two outputs
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.sin(), x.cos()

        @staticmethod
        def backward(ctx, gs, gc):
            (x,) = ctx.saved_tensors
            return gs * x.cos() - gc * x.sin()

    class Cube(base):  # PyTorch 2's split form
        @staticmethod
        def forward(x):
            return x * x * x

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(inputs[0])

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * 3 * x * x

    return {"Exp": (Exp, lambda a, b: Exp.apply(a)),
            "MulAdd": (MulAdd, lambda a, b: MulAdd.apply(a, b, 0.5)),
            "SinCos": (SinCos, lambda a, b: SinCos.apply(a)[0] * SinCos.apply(b)[1]),
            "Cube": (Cube, lambda a, b: Cube.apply(a) + b)}


CASES = sorted(_functions(gg.autograd.Function))
RNG = np.random.default_rng(0)
A, B = RNG.standard_normal((2, 3)), RNG.standard_normal((2, 3))


@pytest.mark.parametrize("name", CASES)
def test_gradcheck_and_gradgradcheck(device, name):
    _, fn = _functions(gg.autograd.Function)[name]
    xs = [gg.tensor(v, dtype=gg.float64, device=device, requires_grad=True) for v in (A, B)]
    assert gg.gradcheck(fn, xs)
    assert gg.gradgradcheck(fn, xs)


@pytest.mark.parametrize("name", CASES)
def test_matches_torch_function(device, torch, name):
    _, fn = _functions(gg.autograd.Function)[name]
    _, tfn = _functions(torch.autograd.Function)[name]
    xs = [gg.tensor(v, dtype=gg.float64, device=device, requires_grad=True) for v in (A, B)]
    ts = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (A, B)]
    out, tout = fn(*xs), tfn(*ts)
    assert_close(out, tout)
    gx = gg.grad(out.sum(), xs, create_graph=True, allow_unused=True)
    tgx = torch.autograd.grad(tout.sum(), ts, create_graph=True, allow_unused=True)
    for g, tg in zip(gx, tgx):
        assert (g is None) == (tg is None)
        if g is not None:
            assert_close(g, tg, what="gradient")
    # second derivatives through the custom backward
    used = [(g, x) for g, x in zip(gx, xs) if g is not None and g.requires_grad]
    tused = [(g, x) for g, x in zip(tgx, ts) if g is not None and g.requires_grad]
    if used:
        gg2 = gg.grad(sum(g.sum() for g, _ in used), xs, allow_unused=True)
        tg2 = torch.autograd.grad(sum(g.sum() for g, _ in tused), ts, allow_unused=True)
        for g, tg in zip(gg2, tg2):
            if tg is None:
                assert g is None or not g.abs().sum().item()
            else:
                assert_close(g, tg, what="second derivative")


def test_grad_fn_is_the_ctx_and_named_as_pytorch(device):
    Exp, _ = _functions(gg.autograd.Function)["Exp"]
    x = gg.randn(3, device=device, requires_grad=True)
    y = Exp.apply(x)
    assert y.grad_fn.name() == "ExpBackward" and type(y.grad_fn).__name__ == "ExpBackward"
    (node, index), = y.grad_fn.next_functions
    assert node.variable is x and index == 0
    assert y.grad_fn.saved_tensors[0].grad_fn is y.grad_fn  # a saved output keeps its node


def test_several_outputs_share_one_node_and_zeros_are_materialized(device):
    seen = []

    class Split(gg.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            return x[:k] * 2, x[k:] * 3, "label"  # a non-tensor output too

        @staticmethod
        def backward(ctx, ga, gb, gl):
            seen.append((ga, gb, gl))
            return gg.cat([ga * 2, gb * 3]), None

    x = gg.ones(4, device=device, requires_grad=True)
    a, b, label = Split.apply(x, 1)
    assert label == "label" and a.grad_fn.name() == b.grad_fn.name() == "SplitBackward"
    a.sum().backward()
    ga, gb, gl = seen[-1]
    assert gb.tolist() == [0.0, 0.0, 0.0] and gl is None  # materialized zeros; None for text
    assert x.grad.tolist() == [2.0, 0.0, 0.0, 0.0]
    z = a.sum() + b.sum()
    assert [i for _, i in z.grad_fn.next_functions[0][0].next_functions] == [0]
    x.grad = None
    (a.sum() + 2 * b.sum()).backward()
    assert x.grad.tolist() == [2.0, 6.0, 6.0, 6.0]  # both outputs' gradients met in one call


def test_set_materialize_grads_false_passes_none(device):
    class Two(gg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return x * 1, x * 2

        @staticmethod
        def backward(ctx, g1, g2):
            assert g2 is None
            return g1

    x = gg.ones(2, device=device, requires_grad=True)
    Two.apply(x)[0].sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]


def test_mark_non_differentiable_and_integer_outputs(device):
    class SortValues(gg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            idx = x.argmax(dim=0, keepdim=True)
            mask = x > 0
            ctx.mark_non_differentiable(mask)
            return x * 2, idx, mask

        @staticmethod
        def backward(ctx, g, gi, gm):
            return g * 2

    x = gg.tensor([1.0, -2.0, 3.0], device=device, requires_grad=True)
    y, idx, mask = SortValues.apply(x)
    assert y.requires_grad and not idx.requires_grad and not mask.requires_grad
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0, 2.0]


def test_forward_runs_without_recording_and_no_grad_skips_the_node(device):
    class Probe(gg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            inner = x * 2
            assert inner.grad_fn is None and not gg.is_grad_enabled()
            return inner

        @staticmethod
        def backward(ctx, grad):
            return grad * 2

    x = gg.ones(2, device=device, requires_grad=True)
    assert Probe.apply(x).grad_fn.name() == "ProbeBackward"
    with gg.no_grad():
        assert Probe.apply(x).grad_fn is None
    assert Probe.apply(x.detach()).grad_fn is None


def test_returning_an_input_leaves_the_input_untouched(device):
    class Ident(gg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, grad):
            return grad * 5

    x = gg.ones(2, device=device, requires_grad=True)
    y = Ident.apply(x)
    assert y is not x and x.is_leaf and y.grad_fn is not None
    y.sum().backward()
    assert x.grad.tolist() == [5.0, 5.0]


def test_saved_tensor_written_in_place_raises(device):
    class Mul(gg.autograd.Function):
        @staticmethod
        def forward(ctx, x, y):
            ctx.save_for_backward(x, y)
            return x * y

        @staticmethod
        def backward(ctx, grad):
            x, y = ctx.saved_tensors
            return grad * y, grad * x

    x = gg.ones(2, device=device, requires_grad=True)
    y = gg.ones(2, device=device)
    z = Mul.apply(x, y)
    y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def test_saved_tensors_are_freed_after_backward(device):
    Exp, _ = _functions(gg.autograd.Function)["Exp"]
    x = gg.ones(2, device=device, requires_grad=True)
    y = Exp.apply(x).sum()
    y.backward(retain_graph=True)
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


@pytest.mark.parametrize("result, message", [
    (lambda g: (g, g), "incorrect number of gradients"),
    (lambda g: g.sum(dim=0), "invalid gradient at index 0"),
])
def test_bad_backward_results_raise_as_pytorch(result, message):
    class Bad(gg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, grad):
            return result(grad)

    x = gg.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match=message):
        Bad.apply(x).sum().backward()


def test_gradient_for_a_non_tensor_argument_raises():
    class Scale(gg.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            return x * k

        @staticmethod
        def backward(ctx, grad):
            return grad * 2, grad

    x = gg.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="different than None at position 2"):
        Scale.apply(x, 2.0).sum().backward()


def test_broadcast_gradient_is_summed_and_cast_to_the_input():
    class Plus(gg.autograd.Function):
        @staticmethod
        def forward(ctx, x, bias):
            return x + bias

        @staticmethod
        def backward(ctx, grad):
            return grad, grad.double()  # bias's gradient as broadcast, in another dtype

    x = gg.ones(4, 3, requires_grad=True)
    bias = gg.zeros(3, requires_grad=True)
    Plus.apply(x, bias).sum().backward()
    assert bias.grad.dtype is gg.float32 and bias.grad.tolist() == [4.0, 4.0, 4.0]


def test_once_differentiable_refuses_double_backward():
    from gpugrad.autograd.function import once_differentiable

    class Square(gg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @once_differentiable
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return 2 * grad * x

    x = gg.tensor([3.0], requires_grad=True)
    v = gg.ones(1, requires_grad=True)  # as in PyTorch, only gradients that require grad count
    (g,) = gg.grad(Square.apply(x), [x], grad_outputs=v, create_graph=True)
    assert g.tolist() == [6.0]
    with pytest.raises(RuntimeError, match="once_differentiable"):
        g.sum().backward()


def test_mark_dirty_names_the_alternative():
    class Inplace(gg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, grad):
            return grad

    with pytest.raises(RuntimeError, match="mark_dirty is not supported.*clone"):
        Inplace.apply(gg.ones(2, requires_grad=True))
