"""Anomaly detection: the first op (forward) or gradient (backward) holding NaN/inf raises an
AnomalyError naming the op, its inputs' shapes and devices, and the user's line."""
import math

import numpy as np
import pytest

import gpugrad as gg
from gpugrad import autograd
from gpugrad.anomaly import AnomalyError, detect_anomaly

# NumPy warns about log(0), 0/0 and overflow; here they are the point.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def _raised(fn):
    with pytest.raises(AnomalyError) as info:
        fn()
    err = info.value
    assert isinstance(err, RuntimeError)
    return err, str(err)


def test_log_of_zero_forward(device):
    x = gg.tensor([0.0, 1.0, 2.0], device=device, requires_grad=True)
    with gg.autograd.detect_anomaly():
        err, text = _raised(lambda: x.log())  # <- the log line
    assert err.op == "Log" and err.phase == "forward"
    assert "Function 'Log' returned inf" in text and "1 inf of 3 values" in text
    assert "shape (3,)" in text and f"on {gg.Device(device)}" in text
    assert __file__ in text and "# <- the log line" in text
    assert err.site.filename == __file__ and err.site.function == "<lambda>"


def test_zero_divided_by_zero(device):
    a = gg.zeros(2, 3, device=device)
    b = gg.ones(3, device=device)
    with gg.autograd.detect_anomaly():
        with pytest.raises(AnomalyError, match=r"(?s)'Div' returned nan.*input 0: float32 "
                                               r"tensor of shape \(2, 3\).*input 1: float32 "
                                               r"tensor of shape \(3,\)"):
            a / (b - 1.0)


def test_exp_overflow_in_float32_but_not_float64(device):
    with gg.autograd.detect_anomaly():
        big64 = gg.tensor([100.0], dtype=gg.float64, device=device)
        assert math.isfinite(big64.exp().item())  # e^100 fits a float64
        err, text = _raised(lambda: big64.float().exp())
    assert err.op == "Exp" and "float32 tensor of shape (1,)" in text


def test_nan_only_in_backward(device):
    x = gg.tensor([0.0, 4.0], device=device, requires_grad=True)
    with gg.autograd.detect_anomaly():
        y = x.sqrt().sum()  # <- the sqrt line: sqrt(0) = 0 is fine, its slope 1/(2*sqrt(0)) is not
        assert y.item() == 2.0
        err, text = _raised(y.backward)
    assert err.op == "SqrtBackward0" and err.phase == "backward"
    assert "'SqrtBackward0' returned inf values in its 0th output" in text
    assert "forward input 0: float32 tensor of shape (2,)" in text
    assert f"on {gg.Device(device)}" in text and "# <- the sqrt line" in text
    assert x.grad is None, "the error stops backward before it writes .grad"


def test_backward_names_graph_built_before_detection():
    x = gg.tensor([0.0], requires_grad=True)
    y = x.sqrt().sum()  # recorded with detection off: no creation line is known
    with gg.autograd.detect_anomaly():
        err, text = _raised(y.backward)
    assert err.site is None and "before anomaly detection was enabled" in text


def test_input_that_already_held_nan_is_pointed_out():
    x = gg.tensor([float("nan"), 1.0])
    with gg.autograd.detect_anomaly():
        _, text = _raised(lambda: x * 2)
    assert "input 0: float32 tensor of shape (2,) on cpu  <- already held NaN/inf" in text
    assert "input 1: the number 2" in text


def test_nan_made_in_a_user_hook_points_at_the_hook():
    x = gg.tensor([1.0], requires_grad=True)
    x.register_hook(lambda g: g * float("nan"))  # <- the hook line
    with gg.autograd.detect_anomaly():
        err, text = _raised(lambda: (x * 3).sum().backward())
    assert err.op == "Mul" and "# <- the hook line" in text


def test_context_manager_restores_flag_even_on_error():
    assert autograd.is_anomaly_enabled() is False
    with pytest.raises(AnomalyError):
        with detect_anomaly():
            assert gg.anomaly.is_anomaly_enabled()
            gg.tensor([-1.0]).log()
    assert autograd.is_anomaly_enabled() is False
    with detect_anomaly():
        with detect_anomaly(check_nan=False):
            assert not gg.anomaly.is_anomaly_check_nan_enabled()
        assert gg.anomaly.is_anomaly_check_nan_enabled()
    assert not gg.anomaly.is_anomaly_enabled()


def test_decorator_with_and_without_parentheses():
    @gg.autograd.detect_anomaly()
    def with_parens(x):
        assert autograd.is_anomaly_enabled()
        return x.log()

    @detect_anomaly
    def bare(x):
        return (x - x) / (x - x)  # <- bare decorator line

    assert with_parens.__name__ == "with_parens"
    with pytest.raises(AnomalyError, match="'Log' returned inf"):
        with_parens(gg.tensor([0.0]))
    err, text = _raised(lambda: bare(gg.tensor([3.0])))
    assert err.op == "Div" and "# <- bare decorator line" in text
    assert autograd.is_anomaly_enabled() is False
    assert with_parens(gg.tensor([1.0])).item() == 0.0


def test_check_nan_false_records_sites_without_raising():
    x = gg.tensor([0.0], requires_grad=True)
    with detect_anomaly(check_nan=False):
        y = x.log()
    assert y.item() == -math.inf
    assert y.grad_fn._anomaly_site.filename == __file__


def test_detection_off_lets_nan_and_inf_through(device):
    assert autograd.is_anomaly_enabled() is False
    x = gg.tensor([0.0, 1.0], device=device, requires_grad=True)
    z = gg.zeros(1, device=device)
    np.testing.assert_array_equal(x.log().detach().numpy(), [-np.inf, 0.0])
    assert np.isnan((z / z).item())
    assert gg.tensor([100.0], device=device).exp().item() == math.inf
    x.sqrt().sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [np.inf, 0.5])
    assert not hasattr(x.sqrt().grad_fn, "_anomaly_site"), "nothing is recorded when off"


def test_finite_program_runs_unchanged_under_detection(device, rng):
    a = rng.standard_normal((4, 3))
    w = gg.tensor(a, dtype=gg.float64, device=device, requires_grad=True)
    with detect_anomaly():
        loss = (w.tanh() * w).sum()
        loss.backward()
        also = gg.grad((w * w).sum(), w, create_graph=True)[0]
        also.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), np.tanh(a) + a * (1 - np.tanh(a) ** 2) + 2,
                               rtol=1e-12)


def test_op_inside_an_nn_module_names_the_user_line_and_the_library_frame(device):
    model = gg.nn.Linear(3, 2, device=device)
    with gg.no_grad():
        model.weight.fill_(1e30)
    x = gg.tensor([[1e30, 1.0, 1.0]], device=device)
    with detect_anomaly():
        err, text = _raised(lambda: model(x))  # <- the model call
    assert err.op == "Linear" and "shape (1, 3)" in text and "shape (2, 3)" in text
    assert err.site.filename == __file__ and "# <- the model call" in text
    assert err.site.library.startswith("gpugrad/nn/")
