"""Small paths of the ops that other tests leave out: the casts' gradients on the
``create_graph`` path, the bool-operand errors of ``-`` and ``**``, and ``SAME_SHAPE``'s repr."""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad.ops.broadcast import SAME_SHAPE


@pytest.mark.parametrize("create_graph", [False, True], ids=["arrays", "create_graph"])
@pytest.mark.parametrize("source,target", [(gg.float32, gg.float64), (gg.float64, gg.float32),
                                           (gg.float32, gg.bfloat16)],
                         ids=["up", "down", "to_bfloat16"])
def test_dtype_cast_gradient_comes_back_in_the_source_dtype(source, target, create_graph, device):
    x = gg.tensor([0.5, -1.25, 2.0], dtype=source, device=device, requires_grad=True)
    y = x.to(target)
    assert y.dtype is target
    (y * gg.tensor([3.0, 0.5, -2.0], dtype=target, device=device)).sum().backward(
        create_graph=create_graph)
    assert x.grad.dtype is source and x.grad.device == x.device
    np.testing.assert_array_equal(x.grad.numpy(), np.array([3.0, 0.5, -2.0], dtype=source.name))


def test_dtype_cast_double_backward(device):
    x = gg.tensor([0.5, -1.5], dtype=gg.float32, device=device, requires_grad=True)
    y = (x.to(gg.float64) ** 3).sum()
    (gx,) = gg.autograd.grad(y, (x,), create_graph=True)  # 3 x², in float32
    assert gx.dtype is gg.float32
    gx.sum().backward()                                    # 6 x
    assert x.grad.dtype is gg.float32
    np.testing.assert_allclose(x.grad.numpy(), [3.0, -9.0])


@pytest.mark.parametrize("create_graph", [False, True], ids=["arrays", "create_graph"])
@pytest.mark.parametrize("source,target", [("cpu", "sim"), ("sim", "cpu")])
def test_device_copy_gradient_comes_back_to_the_source_device(source, target, create_graph):
    x = gg.tensor([1.0, 2.0, -3.0], device=source, requires_grad=True)
    y = x.to(target)
    assert y.device.type == target
    (y * y).sum().backward(create_graph=create_graph)
    assert x.grad.device.type == source and x.grad.device == x.device
    np.testing.assert_array_equal(x.grad.detach().numpy(), [2.0, 4.0, -6.0])
    if create_graph:  # the gradient is itself differentiable, back on the source device
        assert x.grad.requires_grad


@pytest.mark.parametrize("left,right", [
    (lambda d: gg.tensor([True, False], device=d), lambda d: gg.tensor([True, True], device=d)),
    (lambda d: gg.tensor([True, False], device=d), lambda d: True),
    (lambda d: False, lambda d: gg.tensor([True, False], device=d)),
], ids=["tensors", "tensor_number", "number_tensor"])
def test_bool_subtraction_is_refused_with_torchs_message(left, right, device):
    with pytest.raises(RuntimeError) as info:
        left(device) - right(device)
    assert str(info.value) == ("Subtraction, the `-` operator, with two bool tensors is not "
                               "supported. Use the `^` or `logical_xor()` operator instead.")


def test_bool_subtraction_message_is_torchs(torch):
    with pytest.raises(RuntimeError) as info:
        torch.tensor([True]) - torch.tensor([False])
    with pytest.raises(RuntimeError) as ours:
        gg.tensor([True]) - gg.tensor([False])
    assert str(ours.value) == str(info.value)


def test_bool_power_of_bool_tensor_is_refused(device):
    """PyTorch refuses it too (NotImplementedError: "pow" not implemented for 'Bool')."""
    with pytest.raises(NotImplementedError) as info:
        True ** gg.tensor([True, False], device=device)
    assert str(info.value) == ("\"pow\" not implemented for 'bool': convert the base first, "
                               "e.g. x.long() ** y")
    # a bool tensor to a Python bool is PyTorch's bool: the mask itself, or all true (x ** 0)
    mask = gg.tensor([True, False], device=device)
    assert (mask ** True).dtype is gg.bool and (mask ** True).tolist() == [True, False]
    assert (mask ** False).tolist() == [True, True]
    assert mask.pow_(False) is mask and mask.tolist() == [True, True]


def test_same_shape_marker_repr():
    assert repr(SAME_SHAPE) == "SAME_SHAPE" and str(SAME_SHAPE) == "SAME_SHAPE"
