"""Graph introspection as in PyTorch: grad_fn.name(), next_functions with AccumulateGrad nodes
for leaves and (None, 0) for inputs without grad, and gg.autograd.grad/backward's arguments."""
import inspect

import pytest

import gpugrad as gg


def _structure(fn, depth=3):
    """(name, [children]) of a grad_fn graph, AccumulateGrad and None included."""
    if fn is None:
        return None
    if depth == 0:
        return fn.name()
    return (fn.name(), [(_structure(child, depth - 1), i) for child, i in fn.next_functions])


@pytest.mark.parametrize("build", [
    lambda g, x, w: (x * w + 2.0).exp(),
    lambda g, x, w: (x / w - x).sum(),
    lambda g, x, w: (x * 2).mean(),
])
def test_next_functions_match_pytorch(device, torch, build):
    x = gg.ones(3, device=device, requires_grad=True)
    w = gg.ones(3, device=device)
    tx = torch.ones(3, requires_grad=True)
    tw = torch.ones(3)
    assert _structure(build(gg, x, w).grad_fn) == _structure(build(torch, tx, tw).grad_fn)


def test_accumulate_grad_holds_the_leaf():
    x = gg.ones(2, requires_grad=True)
    y = x * x
    (a, i), (b, j) = y.grad_fn.next_functions
    assert a.variable is x and b.variable is x and a == b and (i, j) == (0, 0)
    assert a.name() == "torch::autograd::AccumulateGrad" and a.next_functions == ()


def test_names_have_pytorch_suffix():
    x = gg.ones(2, requires_grad=True)
    assert (x * 2).grad_fn.name() == "MulBackward0"
    assert repr((x + 1).grad_fn) == "<AddBackward0>"


def test_grad_and_backward_take_pytorchs_arguments():
    params = inspect.signature(gg.autograd.grad).parameters
    assert {"outputs", "inputs", "grad_outputs", "retain_graph", "create_graph",
            "allow_unused"} <= set(params)
    assert {"tensors", "grad_tensors", "retain_graph", "create_graph"} <= set(
        inspect.signature(gg.autograd.backward).parameters)
    x = gg.ones(2, requires_grad=True)
    unused = gg.ones(2, requires_grad=True)
    y = x * x
    gx, gu = gg.autograd.grad([y], [x, unused], grad_outputs=[gg.ones(2)], retain_graph=True,
                              create_graph=True, allow_unused=True)
    assert gx.tolist() == [2.0, 2.0] and gu is None and gx.requires_grad
    gg.autograd.backward([y.sum()], retain_graph=True)
    gg.autograd.backward(y, grad_tensors=gg.ones(2))
    assert x.grad.tolist() == [4.0, 4.0]
