"""PyTorch's forms of the core tensor methods (gpugrad/tensor_methods.py): ``max`` and ``min``
with a second tensor (``gg.maximum``/``gg.minimum``)."""
import pytest

import gpugrad as gg


@pytest.mark.parametrize("name,expected", [("max", [3.0, 5.0, 4.0]), ("min", [1.0, 2.0, 4.0])])
def test_max_and_min_of_two_tensors_are_elementwise(device, name, expected):
    a = gg.tensor([1.0, 5.0, 4.0], device=device, requires_grad=True)
    b = gg.tensor([3.0, 2.0, 4.0], device=device)
    for result in (getattr(gg, name)(a, b), getattr(a, name)(b), getattr(gg, name)(a, other=b)):
        assert result.tolist() == expected
    getattr(gg, name)(a, b).sum().backward()
    # the larger (smaller) of each pair takes the gradient; a tie shares it, as maximum does
    assert a.grad.tolist() == ([0.0, 1.0, 0.5] if name == "max" else [1.0, 0.0, 0.5])


def test_max_of_two_tensors_broadcasts_and_promotes():
    out = gg.max(gg.tensor([[1], [7]]), gg.tensor([2.5, 3.0]))
    assert out.dtype is gg.float32 and out.tolist() == [[2.5, 3.0], [7.0, 7.0]]


def test_max_with_other_refuses_reduction_arguments():
    a = gg.tensor([1.0, 2.0])
    with pytest.raises(TypeError, match=r"max\(\) received an invalid combination of arguments"):
        gg.max(a, a, keepdim=True)
    with pytest.raises(TypeError, match=r"min\(\) received an invalid combination of arguments"):
        gg.min(a, 0, other=a)
    with pytest.raises(TypeError, match=r"max\(\): argument 'other' \(position 1\) must be "
                                        r"Tensor, not float"):
        gg.max(a, other=2.0)
    assert gg.max(a, 0).values.item() == 2.0  # an int is still a dim
