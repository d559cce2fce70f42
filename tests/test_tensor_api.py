"""Every op is one function serving both ``x.op()`` and ``gg.op(x)``, under PyTorch's names."""
import pytest

import gpugrad as gg
from gpugrad.tensor_api import FUNCTIONS


def test_each_function_is_the_method_itself():
    assert {"matmul", "relu", "sum", "mean", "exp", "reshape", "transpose"} <= set(FUNCTIONS)
    for name, fn in FUNCTIONS.items():
        if name in ("where", "cat", "stack"):  # PyTorch's functions take other arguments
            continue
        assert getattr(gg, name) is fn is getattr(gg.Tensor, name), name


def test_functions_take_pytorch_arguments():
    x = gg.tensor([[1.0, -2.0], [3.0, 4.0]])
    assert gg.sum(x, dim=1, keepdim=True).tolist() == [[-1.0], [7.0]]
    assert gg.relu(x).tolist() == [[1.0, 0.0], [3.0, 4.0]]
    assert gg.matmul(x, x).tolist() == (x @ x).tolist()


def test_every_function_is_one_pytorch_has(torch):
    # methods PyTorch has only as methods (x.view) are marked function=False
    assert sorted(n for n in FUNCTIONS if not hasattr(torch, n)) == []


def test_device_is_pytorchs_constructor():
    assert gg.device("cuda:0") == gg.Device("cuda:0")
    assert isinstance(gg.device("cpu"), gg.Device)
    with pytest.raises(gg.InvalidDeviceError):
        gg.device("tpu")


def test_out_argument_writes_into_the_given_tensor():
    a, b = gg.tensor([[1.0, 2.0], [3.0, 4.0]]), gg.tensor([[0.5, 0.0], [1.0, 2.0]])
    out = gg.zeros(2, 2)
    assert gg.matmul(a, b, out=out) is out and out.tolist() == (a @ b).tolist()
    assert gg.mul(a, b, out=out) is out and out.tolist() == (a * b).tolist()
    assert gg.add(a, b, alpha=2).tolist() == (a + 2 * b).tolist()
    assert gg.sub(a, b, alpha=0.5).tolist() == (a - 0.5 * b).tolist()
    with pytest.raises(RuntimeError, match="does not resize"):
        gg.mul(a, b, out=gg.zeros(3))
    with pytest.raises(RuntimeError, match="don't support automatic differentiation"):
        gg.mul(a.requires_grad_(), b, out=gg.zeros(2, 2))


def test_names_left_out_on_purpose_say_what_to_use_instead():
    with pytest.raises(AttributeError, match="runs eagerly"):
        gg.compile
    with pytest.raises(AttributeError, match="no complex dtypes"):
        gg.complex64
    with pytest.raises(AttributeError, match="has no attribute 'no_such_name'$"):
        gg.no_such_name
