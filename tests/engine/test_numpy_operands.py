"""NumPy operands of an op, as PyTorch takes them: a NumPy scalar promotes as a Python number of
its category, a NumPy array as a tensor of its dtype on the tensor operand's device; anything
else is a TypeError naming the op and the operand's type."""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad.engine import Function


def test_numpy_array_operand_is_a_tensor_of_its_dtype(device):
    t = gg.tensor([1, 2], device=device)  # int64
    out = t * np.array([0.5, 2.0], dtype=np.float32)
    assert isinstance(out, gg.Tensor) and out.device == t.device
    assert out.dtype == gg.float32  # tensor-tensor promotion, not a Python float's
    assert out.tolist() == [0.5, 4.0]
    assert out.requires_grad is False


def test_numpy_array_operand_joins_the_graph_without_a_gradient(device):
    x = gg.tensor([1.0, 2.0], dtype=gg.float64, device=device, requires_grad=True)
    out = x * np.array([3.0, 5.0])
    assert out.requires_grad and out.grad_fn.name() == "MulBackward0"
    out.sum().backward()
    assert x.grad.tolist() == [3.0, 5.0]


def test_numpy_array_operand_first_and_tensor_second():
    x = gg.tensor([1.0, 2.0], dtype=gg.float64, requires_grad=True)
    out = gg.add(np.array([10.0, 20.0]), x)
    assert out.tolist() == [11.0, 22.0]
    out.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]


@pytest.mark.parametrize("scalar, expected_dtype, expected", [
    (np.float64(2.5), gg.float32, [2.5, 5.0]),  # a float: the tensor's float dtype (default)
    (np.float32(2.5), gg.float32, [2.5, 5.0]),
    (np.int64(3), gg.int64, [3, 6]),
    (np.int8(3), gg.int64, [3, 6]),  # an int of any width keeps the tensor's int64
    (np.bool_(True), gg.int64, [1, 2]),
])
def test_numpy_scalar_operand_promotes_as_a_python_number(scalar, expected_dtype, expected):
    t = gg.tensor([1, 2])
    out = t * scalar
    assert out.dtype == expected_dtype and out.tolist() == expected


def test_numpy_scalar_keeps_a_low_precision_float_tensor_dtype():
    h = gg.tensor([1.0, 2.0], dtype=gg.float16)
    out = h * np.float64(3.0)  # a Python float does not promote float16
    assert out.dtype == gg.float16 and out.tolist() == [3.0, 6.0]


def test_numpy_scalar_with_grad_gives_the_scalar_as_gradient_factor():
    x = gg.tensor([1.0, 2.0], dtype=gg.float64, requires_grad=True)
    (x * np.float32(4.0)).sum().backward()
    assert x.grad.tolist() == [4.0, 4.0] and x.grad.dtype == gg.float64


@pytest.mark.parametrize("bad, name", [("x", "str"), ([1.0], "list"), (object(), "object")])
def test_other_operands_raise_a_type_error_naming_op_and_type(bad, name):
    t = gg.tensor([1.0, 2.0])
    with pytest.raises(TypeError) as info:
        t * bad
    assert str(info.value) == f"mul(): argument 'other' must be Tensor or Number, not {name}"


def test_type_error_names_the_op_in_lower_case():
    t = gg.tensor([1.0, 2.0])
    with pytest.raises(TypeError, match=r"^add\(\): argument 'other' must be Tensor or Number, "
                                        r"not str$"):
        t + "x"


def test_python_bool_operand(device):
    t = gg.tensor([1, 2], device=device)
    out = t * True
    assert out.dtype == gg.int64 and out.tolist() == [1, 2]


def test_numpy_array_operand_with_keyword_parameters():
    t = gg.tensor([1.0, 2.0])
    assert t.add(np.array([1.0, 2.0]), alpha=2).tolist() == [3.0, 6.0]
    assert t.sub(np.array([1.0, 2.0]), alpha=2).tolist() == [-1.0, -2.0]


def test_only_numpy_arrays_and_no_tensor_is_a_type_error():
    with pytest.raises(TypeError, match=r"^add\(\): argument 'other' must be Tensor or Number, "
                                        r"not ndarray$"):
        gg.add(np.array([1.0]), np.array([2.0]))


def test_op_sees_a_numpy_array_operand_as_a_tensor_that_needs_no_grad():
    from gpugrad.engine import hooks
    seen = []
    handle = hooks.register_forward_hook(lambda fn, inputs, out: seen.append(inputs))
    try:
        x = gg.tensor([1.0, 2.0], dtype=gg.float64, requires_grad=True)
        x * np.array([3.0, 4.0])
    finally:
        handle.remove()
    (inputs,) = seen
    assert inputs[0] is x
    assert isinstance(inputs[1], gg.Tensor) and inputs[1].requires_grad is False
    assert inputs[1].tolist() == [3.0, 4.0] and inputs[1].device == x.device



class ScaledAdd(Function):
    """a + b * scale: an op with a keyword parameter."""

    def forward(self, a, b, scale=1.0):
        return self.backend.binary("add", a, self.backend.binary("mul", b, scale))

    def backward(self, grad):
        return grad, None


def test_numpy_operand_of_an_op_with_keyword_parameters():
    t = gg.tensor([1.0, 2.0], dtype=gg.float64)
    assert ScaledAdd.apply(t, np.array([1.0, 2.0]), scale=10.0).tolist() == [11.0, 22.0]
    assert ScaledAdd.apply(t, np.float64(3.0), scale=10.0).tolist() == [31.0, 32.0]
