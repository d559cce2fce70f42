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
