"""``Function.apply``, the dispatch path of every op: device checks and their message, autocast,
views whose base was written in place, saved-tensor version checks and their messages, freeing
what forward saved, and the ``AccumulateGrad`` view of a leaf."""
import pytest

import gpugrad as gg
from gpugrad.engine import Function, function as engine_function
from gpugrad.engine.function import AccumulateGrad


def leaf(values, device="cpu"):
    return gg.tensor(values, dtype=gg.float64, device=device, requires_grad=True)


def test_operands_on_two_devices_raise_pytorch_error_naming_both_and_the_op():
    a = gg.tensor([1.0, 2.0])
    b = gg.tensor([1.0, 2.0], device="sim")
    with pytest.raises(RuntimeError) as info:
        a * b
    assert str(info.value) == (
        "Expected all tensors to be on the same device, but found at least two devices, cpu "
        "and sim:0 (in Mul). Move them to one device first, e.g. b = b.to(\"cpu\")")
    with pytest.raises(RuntimeError, match=r"sim:0 and cpu \(in Add\).*b.to\(\"sim:0\"\)"):
        b + a


def test_autocast_casts_inputs_of_ops_with_a_policy_only():
    a = gg.tensor([[1.0, 2.0], [3.0, 4.0]])
    with gg.autocast("cpu", dtype=gg.float16):  # float16: no ml_dtypes import (bfloat16)
        product = a @ a
        total = a + a
    assert product.dtype == gg.float16 and product.tolist() == [[7.0, 10.0], [15.0, 22.0]]
    assert total.dtype == gg.float32 and total.tolist() == [[2.0, 4.0], [6.0, 8.0]]


def test_autocast_keeps_keyword_parameters_of_the_op():
    a = gg.tensor([[1.0, 2.0], [3.0, 4.0]])
    with gg.autocast("cpu", dtype=gg.float16):
        out = gg.nn.functional.linear(a, a, bias=gg.tensor([1.0, -1.0]))
    assert out.dtype == gg.float16 and out.tolist() == [[6.0, 10.0], [12.0, 24.0]]


def test_view_of_a_base_written_in_place_carries_the_in_place_gradient():
    x = leaf([1.0, 2.0])
    b = x.clone()
    v = b[0:1]
    b.mul_(3)  # v sees the multiplication, and so must its gradient
    (v * 1).sum().backward()
    assert x.grad.tolist() == [3.0, 0.0]


def test_view_of_an_unchanged_base_keeps_its_history():
    x = leaf([1.0, 2.0])
    b = x * 2
    v = b[1:2]
    (v * v).sum().backward()
    assert x.grad.tolist() == [0.0, 16.0]


def test_register_hook_on_a_leaf_made_by_an_op_without_grad():
    t = gg.tensor([1.0, 2.0]) * 2
    t.requires_grad_()
    seen = []
    t.register_hook(lambda g: seen.append(g.tolist()))
    (t * 3).sum().backward()
    assert seen == [[3.0, 3.0]] and t.grad.tolist() == [3.0, 3.0]


def test_saved_input_written_in_place_message():
    x = leaf([1.0, 2.0])
    c = x * 1
    z = c * c
    c.add_(1)
    expect_modified_error(z.sum(), "MulBackward0")


def expect_modified_error(loss, op):
    """``loss.backward()`` raises PyTorch's in-place error for a [2]-element float64 tensor
    saved by ``op`` at version 0 and now at version 1."""
    with pytest.raises(RuntimeError) as info:
        loss.backward()
    assert str(info.value).startswith(
        "one of the variables needed for gradient computation has been modified by an inplace "
        f"operation: [gpugrad.float64 [2]], which is input or output of {op}, is at "
        "version 1; expected version 0 instead.")


def test_saved_input_written_twice_after_an_earlier_write():
    x = leaf([1.0, 2.0])
    c = x * 1
    c.add_(1)  # version 1 when z saves it
    z = c * 3.0
    c.add_(1)
    c.add_(1)
    with pytest.raises(RuntimeError, match=r"is at version 3; expected version 1 instead"):
        z.sum().backward()


def test_saved_output_written_in_place_message():
    x = leaf([1.0, 2.0])
    y = x.exp()
    with gg.no_grad():
        y.add_(1)
    expect_modified_error(y.sum(), "ExpBackward0")


def test_output_of_an_op_shares_the_version_counter():
    x = leaf([1.0, 2.0])
    y = x.exp()
    out = y.grad_fn.output()
    assert out.grad_fn is y.grad_fn and out.tolist() == y.tolist()
    with gg.no_grad():
        y.add_(1)
    assert out._version == y._version == 1


def test_output_after_backward_freed_it_raises():
    x = leaf([1.0, 2.0])
    y = x.exp()
    y.sum().backward()
    with pytest.raises(RuntimeError, match=r"^Trying to backward through the graph a second "
                                           r"time.*retain_graph=True"):
        y.grad_fn.output()


def test_backward_twice_through_an_op_that_saved_only_its_output():
    x = leaf([0.0, 1.0])
    y = x.exp()
    y.sum().backward()
    with pytest.raises(RuntimeError, match="a second time"):
        y.sum().backward()


class SavesArrays(Function):
    """x * 2 that keeps an extra array in ``self.saved`` (and neither inputs nor output)."""

    def forward(self, a):
        self.saved = self.backend.full((1,), 2.0, self.backend.dtype(a))
        return self.backend.binary("mul", a, self.saved)

    def backward(self, grad):
        assert self.saved is not None
        return grad * 2.0


def test_backward_twice_through_an_op_that_saved_only_arrays():
    x = leaf([1.0, 2.0])
    y = SavesArrays.apply(x)
    y.sum().backward(retain_graph=True)
    y.sum().backward()
    assert x.grad.tolist() == [4.0, 4.0]
    with pytest.raises(RuntimeError, match="a second time"):
        y.sum().backward()


def test_accumulate_grad_views_of_a_leaf():
    x, w = leaf([1.0]), leaf([2.0])
    (ax, _), (aw, _) = (x * w).grad_fn.next_functions
    (ax2, _), _ = (x * w).grad_fn.next_functions
    assert ax.variable is x and aw.variable is w
    assert ax == ax2 and hash(ax) == hash(ax2)
    assert ax != aw and not (ax == aw)
    assert hash(ax) != hash(aw)
    assert ax != x  # only another view of the same leaf is equal
    assert len({ax, ax2, aw}) == 2
    assert repr(ax) == "<AccumulateGrad>" and ax.name() == "torch::autograd::AccumulateGrad"


def test_binding_the_tensor_type_makes_ops_and_gradients_of_it():
    engine_function.bind_tensor_type(gg.Tensor)  # what importing gpugrad did: no change
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    assert type(y) is gg.Tensor
    y.backward()
    assert type(x.grad) is gg.Tensor and x.grad.tolist() == [2.0, 4.0]
