"""Adagrad, Adam/AdamW, NAdam and RMSprop: defaults, the boundaries and messages of their argument
checks, and options against PyTorch (each check kills a mutant that bench/mutation.py found
surviving the other optimizer tests)."""
import inspect

import numpy as np
import pytest

import gpugrad as gg

GRADS = [[0.5, -1.5, 2.0], [-0.25, 1.0, 0.75], [1.25, 0.5, -2.0]]
START = [1.0, -2.0, 0.5]


@pytest.fixture
def torch64(torch):
    """PyTorch with float64 as the default dtype (NAdam keeps ``mu_product`` in a tensor of the
    default dtype; gpugrad in a Python float)."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield torch
    torch.set_default_dtype(previous)


def _trajectory(lib, name, steps=3, **kwargs):
    p = lib.nn.Parameter(lib.tensor(START, dtype=lib.float64))
    opt = getattr(lib.optim, name)([p], **kwargs)
    out = []
    for grad in GRADS[:steps]:
        p.grad = lib.tensor(grad, dtype=lib.float64)
        opt.step()
        out.append(p.detach().numpy().copy())
    return np.array(out)


def _assert_as_torch(torch, name, **kwargs):
    ours, theirs = _trajectory(gg, name, **kwargs), _trajectory(torch, name, **kwargs)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)
    assert not np.allclose(ours[-1], START)


@pytest.mark.parametrize("name, kwargs, message", [
    ("Adagrad", dict(lr=-0.5), "Invalid learning rate: -0.5"),
    ("Adagrad", dict(lr_decay=-1), "Invalid lr_decay value: -1"),
    ("Adagrad", dict(weight_decay=-2), "Invalid weight_decay value: -2"),
    ("Adagrad", dict(initial_accumulator_value=-3), "Invalid initial_accumulator_value value: -3"),
    ("Adagrad", dict(eps=-4), "Invalid epsilon value: -4"),
    ("Adam", dict(lr=-0.5), "Invalid learning rate: -0.5"),
    ("Adam", dict(eps=-1e-8), "Invalid epsilon value: -1e-08"),
    ("Adam", dict(weight_decay=-0.1), "Invalid weight_decay value: -0.1"),
    ("Adam", dict(betas=(0.9, 1.0)), "Invalid beta parameter at index 1: 1.0"),
    ("NAdam", dict(lr=-0.5), "Invalid learning rate: -0.5"),
    ("NAdam", dict(eps=-1e-8), "Invalid epsilon value: -1e-08"),
    ("NAdam", dict(weight_decay=-0.1), "Invalid weight_decay value: -0.1"),
    ("NAdam", dict(momentum_decay=-0.1), "Invalid momentum_decay value: -0.1"),
    ("RMSprop", dict(lr=-0.5), "Invalid learning rate: -0.5"),
    ("RMSprop", dict(eps=-1e-8), "Invalid epsilon value: -1e-08"),
    ("RMSprop", dict(weight_decay=-0.1), "Invalid weight_decay value: -0.1"),
    ("RMSprop", dict(momentum=-0.1), "Invalid momentum value: -0.1"),
    ("RMSprop", dict(alpha=-0.1), "Invalid alpha value: -0.1"),
])
def test_invalid_arguments_raise_pytorchs_message(name, kwargs, message):
    p = gg.tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match="^" + message.replace(".", r"\.") + "$"):
        getattr(gg.optim, name)([p], **kwargs)


@pytest.mark.parametrize("name, kwargs", [
    ("Adam", dict(lr=0.0)), ("Adam", dict(eps=0.0)), ("Adam", dict(betas=(0.0, 0.0))),
    ("NAdam", dict(lr=0.0)), ("NAdam", dict(eps=0.0)), ("NAdam", dict(momentum_decay=0.0)),
    ("NAdam", dict(betas=(0.0, 0.5))),
])
def test_zero_is_a_valid_boundary_as_in_pytorch(torch64, name, kwargs):
    ours = _trajectory(gg, name, **kwargs)
    np.testing.assert_allclose(ours, _trajectory(torch64, name, **kwargs), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", ["Adam", "AdamW"])
def test_default_learning_rate_is_pytorchs(torch, name):
    ours = inspect.signature(getattr(gg.optim, name)).parameters["lr"].default
    assert ours == inspect.signature(getattr(torch.optim, name)).parameters["lr"].default
    _assert_as_torch(torch, name)


@pytest.mark.parametrize("name, kwargs", [
    ("AdamW", dict(lr=0.1, maximize=True)),
    ("AdamW", dict(lr=0.1, maximize=True, amsgrad=True, weight_decay=0.2)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.3, initial_accumulator_value=0.7, eps=1e-3)),
    ("Adagrad", dict(lr=0.1, weight_decay=0.2, maximize=True)),
])
def test_options_match_pytorch(torch, name, kwargs):
    _assert_as_torch(torch, name, **kwargs)


@pytest.mark.parametrize("added", [{}, {"lr": 0.05, "initial_accumulator_value": 2.0}],
                         ids=["defaults", "own-value"])
def test_adagrad_group_added_later_matches_pytorch(torch64, added):
    """A group added after construction gets its state on its first step: ``step`` from 0 and
    ``sum`` filled with the constructor's ``initial_accumulator_value``, as in PyTorch (which
    uses ``defaults`` there, as at construction, even when the group names its own)."""
    def run(lib):
        params = [lib.nn.Parameter(lib.tensor(START, dtype=lib.float64)) for _ in range(3)]
        opt = lib.optim.Adagrad([params[0]], lr=0.1, lr_decay=0.5, initial_accumulator_value=0.3)
        opt.add_param_group({"params": [params[1]], **added})
        opt.add_param_group({"params": [params[2]]})
        for grad in GRADS:
            for p in params:
                p.grad = lib.tensor(grad, dtype=lib.float64)
            opt.step()
        return np.array([p.detach().numpy() for p in params])

    ours, theirs = run(gg), run(torch64)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)
    assert not np.allclose(ours[1], START)


def test_nadam_decoupled_weight_decay_matches_pytorch(torch64):
    _assert_as_torch(torch64, "NAdam", lr=0.05, weight_decay=0.3, decoupled_weight_decay=True,
                     momentum_decay=0.01)
