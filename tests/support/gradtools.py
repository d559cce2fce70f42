"""Checks shared by the op tests: gradcheck/gradgradcheck on float64 inputs, and the PyTorch
oracle (forward values and gradients). Each op test describes its op once as an ``OpCase``."""
from dataclasses import dataclass, field

import numpy as np

import gpugrad as gg


@dataclass
class OpCase:
    """One op under test: ``fn(*tensors)`` in gpugrad, ``torch_fn(*tensors)`` in PyTorch.

    ``inputs`` are NumPy arrays (made float64 tensors that require grad); ``second_order``
    says whether to run gradgradcheck (False for ops whose second derivative is a kink).
    """

    name: str
    fn: object
    torch_fn: object
    inputs: list = field(default_factory=list)
    second_order: bool = True
    atol: float = 1e-10

    def __str__(self):
        return self.name


def same_names_case(name, fn, inputs, **options):
    """An ``OpCase`` for an op spelled alike in both libraries: ``fn(lib, *tensors)`` runs with
    ``lib`` gpugrad for the op and PyTorch for the oracle."""
    return OpCase(name, lambda *xs: fn(gg, *xs), lambda *xs: fn(__import__("torch"), *xs),
                  inputs, **options)


def ids(cases):
    return [c.name for c in cases]


def gg_inputs(arrays, device, requires_grad=True):
    return [gg.tensor(a, dtype=gg.float64, device=device, requires_grad=requires_grad)
            for a in arrays]


def torch_inputs(torch, arrays):
    return [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]


def assert_close(actual, expected, atol=1e-10, rtol=1e-7, what="values"):
    """``actual`` (a gpugrad Tensor or array-like) matches ``expected`` in shape and value."""
    if isinstance(actual, gg.Tensor):
        actual = actual.detach().cpu().numpy()
    if hasattr(expected, "detach"):
        expected = expected.detach().numpy()
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    np.testing.assert_allclose(actual, expected, atol=atol, rtol=rtol, err_msg=what)


def check_gradcheck(case, device):
    """First (and, unless disabled, second) derivatives agree with finite differences."""
    xs = gg_inputs(case.inputs, device)
    assert gg.gradcheck(case.fn, xs)
    if case.second_order:
        assert gg.gradgradcheck(case.fn, xs)


def check_against_torch(case, device, torch, seed=0):
    """Forward values and the gradients of a random weighting of the output match PyTorch."""
    xs = gg_inputs(case.inputs, device)
    ts = torch_inputs(torch, case.inputs)
    out, expected = case.fn(*xs), case.torch_fn(*ts)
    assert str(out.device) == str(gg.Device(device))
    assert_close(out, expected, atol=case.atol, what=f"{case.name} forward")
    weights = np.random.default_rng(seed).standard_normal(tuple(expected.shape))
    (out * gg.tensor(weights, dtype=gg.float64, device=device)).sum().backward()
    (expected * torch.tensor(weights)).sum().backward()
    for i, (x, t) in enumerate(zip(xs, ts)):
        expected_grad = t.grad if t.grad is not None else torch.zeros_like(t)
        got = x.grad if x.grad is not None else gg.zeros_like(x)
        assert got.device == x.device and got.dtype == x.dtype
        assert_close(got, expected_grad, atol=case.atol, what=f"{case.name} grad of input {i}")


def op_tests(cases):
    """The two standard tests of a list of OpCases, each parametrized over the cases (and, by
    the ``device`` fixture, over devices): ``test_gradcheck, test_matches_torch = op_tests(C)``."""
    import pytest

    parametrize = pytest.mark.parametrize("case", cases, ids=ids(cases))

    @parametrize
    def test_gradcheck(case, device):
        check_gradcheck(case, device)

    @parametrize
    def test_matches_torch(case, device, torch):
        check_against_torch(case, device, torch)

    return test_gradcheck, test_matches_torch
