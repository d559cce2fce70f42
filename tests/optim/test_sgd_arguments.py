"""SGD's defaults, argument checks and state, to the letter of torch.optim.SGD (each check kills a
mutant that bench/mutation.py found surviving the other optimizer tests)."""
import inspect

import pytest

import gpugrad as gg


def _param():
    p = gg.tensor([1.0, -2.0], requires_grad=True)
    p.grad = gg.tensor([0.5, 0.25])
    return p


def test_default_learning_rate_is_pytorchs():
    assert inspect.signature(gg.optim.SGD).parameters["lr"].default == 1e-3
    p = _param()
    gg.optim.SGD([p]).step()
    assert p.tolist() == pytest.approx([1.0 - 1e-3 * 0.5, -2.0 - 1e-3 * 0.25])


def test_zero_learning_rate_is_allowed_and_changes_nothing():
    p = _param()
    gg.optim.SGD([p], lr=0.0).step()
    assert p.tolist() == [1.0, -2.0]


@pytest.mark.parametrize("kwargs, message", [
    (dict(lr=-0.5), "Invalid learning rate: -0.5"),
    (dict(lr=0.1, momentum=-0.5), "Invalid momentum value: -0.5"),
    (dict(lr=0.1, weight_decay=-0.5), "Invalid weight_decay value: -0.5"),
    (dict(lr=0.1, nesterov=True), "Nesterov momentum requires a momentum and zero dampening"),
    (dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True),
     "Nesterov momentum requires a momentum and zero dampening"),
])
def test_bad_arguments_name_the_problem(kwargs, message):
    with pytest.raises(ValueError) as raised:
        gg.optim.SGD([_param()], **kwargs)
    assert str(raised.value) == message


def test_momentum_buffer_is_a_plain_tensor():
    p = _param()
    optimizer = gg.optim.SGD([p], lr=0.1, momentum=0.9)
    optimizer.step()
    buffer = optimizer.state[p]["momentum_buffer"]
    assert buffer.requires_grad is False and buffer.grad_fn is None
    assert buffer.tolist() == [0.5, 0.25]  # the first step's buffer is the gradient
