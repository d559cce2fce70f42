"""gradcheck / gradgradcheck: they pass correct gradients, catch wrong ones, and report the
worst entry (output index, input index, numerical vs analytical)."""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad.engine.function import Function
from gpugrad.gradient_check import GradcheckError, analytical_jacobians, numerical_jacobians


class WrongCube(Function):
    """x**3 whose backward is off by a factor on the last element only."""

    save_inputs = True

    def forward(self, a):
        return self.backend.binary("pow", a, 3)

    def backward(self, grad):
        (x,) = self.inputs
        scale = gg.tensor([1.0] * (x.numel() - 1) + [1.5], dtype=x.dtype, device=x.device)
        return grad * (x * x * 3.0) * scale


class WrongSecondDerivative(Function):
    """exp(x) whose backward is right in value but built from a detached output, so its own
    derivative (the second derivative of exp) comes out as 0."""

    save_output = True

    def forward(self, a):
        return self.backend.unary("exp", a)

    def backward(self, grad):
        return grad * self.output().detach()


def x64(values, device, requires_grad=True):
    return gg.tensor(values, dtype=gg.float64, device=device, requires_grad=requires_grad)


def test_passes_correct_gradients(device):
    a, b = x64([[0.3, -1.2], [2.0, 0.7]], device), x64([0.5, -0.4], device)
    assert gg.gradcheck(lambda p, q: (p @ q).tanh(), (a, b))
    assert gg.gradcheck(lambda p, q: ((p * q).sum(dim=0), p.exp()), (a, b))
    assert gg.gradgradcheck(lambda p, q: (p * q).sigmoid(), (a, b))


def test_defaults_are_pytorchs():
    import inspect

    from gpugrad.gradient_check import gradcheck, gradgradcheck

    for fn in (gradcheck, gradgradcheck):
        params = inspect.signature(fn).parameters
        assert params["eps"].default == 1e-6 and params["atol"].default == 1e-5
        assert params["rtol"].default == 1e-3 and params["raise_exception"].default is True
    assert gg.gradgradcheck is gradgradcheck and callable(gg.gradcheck)


def test_catches_a_wrong_gradient_and_names_the_worst_entry(device):
    x = x64([0.5, -1.0, 2.0], device)
    with pytest.raises(GradcheckError) as info:
        gg.gradcheck(lambda t: WrongCube.apply(t), (x,))
    message = str(info.value)
    assert isinstance(info.value, RuntimeError)
    assert "output 0 with respect to input 0" in message
    assert "d output[2] / d input[2]" in message  # the wrong entry: 3 * 2**2 = 12 vs 18
    assert "12.0000" in message and "18.0" in message
    assert not gg.gradcheck(lambda t: WrongCube.apply(t), (x,), raise_exception=False)


def test_reports_the_right_input_and_output_index(device):
    a, b = x64([1.0, 2.0], device), x64([0.5, 0.25], device)
    with pytest.raises(GradcheckError, match="output 1 with respect to input 1"):
        gg.gradcheck(lambda p, q: (p * 2, WrongCube.apply(q) + p), (a, b))


def test_gradgradcheck_catches_a_wrong_second_derivative(device):
    x = x64([0.1, -0.3], device)
    assert gg.gradcheck(lambda t: WrongSecondDerivative.apply(t), (x,))
    with pytest.raises(GradcheckError, match="gradgradcheck: Jacobian mismatch"):
        gg.gradgradcheck(lambda t: WrongSecondDerivative.apply(t), (x,))


def test_tolerances_mean_what_pytorch_means(device):
    # |analytical - numerical| <= atol + rtol * |numerical|: a 1% error passes rtol=0.02
    class Scaled(Function):
        def forward(self, a):
            return self.backend.binary("mul", a, 2.0)

        def backward(self, grad):
            return grad * 2.02

    x = x64([1.0, 2.0], device)
    assert gg.gradcheck(lambda t: Scaled.apply(t), (x,), rtol=0.02)
    assert not gg.gradcheck(lambda t: Scaled.apply(t), (x,), raise_exception=False)
    assert gg.gradcheck(lambda t: Scaled.apply(t), (x,), atol=0.05, rtol=0.0)


def test_jacobians_have_outputs_as_rows_and_inputs_as_columns(device):
    x = x64([1.0, 2.0, 3.0], device)
    fn = lambda t: t[:2] * gg.tensor([10.0, 20.0], dtype=gg.float64, device=device)  # noqa: E731
    expected = np.array([[10.0, 0.0, 0.0], [0.0, 20.0, 0.0]])
    np.testing.assert_allclose(analytical_jacobians(fn, (x,))[(0, 0)], expected)
    np.testing.assert_allclose(numerical_jacobians(fn, (x,))[(0, 0)], expected, atol=1e-6)


def test_unused_and_non_tensor_inputs(device):
    x, unused = x64([1.0], device), x64([2.0], device)
    assert gg.gradcheck(lambda a, b, k: a * k, (x, unused, 3.0))


def test_no_input_requiring_grad_is_an_error(device):
    with pytest.raises(ValueError, match="requires_grad=True"):
        gg.gradcheck(lambda t: t * 2, (x64([1.0], device, requires_grad=False),))


def test_float32_inputs_warn(device):
    x = gg.tensor([1.0, 2.0], device=device, requires_grad=True)
    with pytest.warns(UserWarning, match="float64"):
        gg.gradcheck(lambda t: t * 2, (x,), eps=1e-2)


def test_wrong_gradient_shape_is_reported(device):
    class BadShape(Function):
        def forward(self, a):
            return self.backend.reduce("sum", a, None, False)

        def backward(self, grad):
            return grad.reshape(1)

    x = x64([1.0, 2.0], device)
    with pytest.raises(GradcheckError, match=r"shape \(1,\), but the input has shape \(2,\)"):
        gg.gradcheck(lambda t: BadShape.apply(t), (x,))
