"""Activation functions of ``gg.nn.functional`` beyond relu/tanh/sigmoid/softmax, each composed
from differentiable Tensor ops (so every device runs them and second derivatives work), with
PyTorch's formulas and its gradients at the kinks.

``inplace=True`` (PyTorch's in-place variants) is accepted for compatibility and computed out of
place: use the returned tensor, the input is left unchanged.
"""
import math
import warnings

from ..ops.losses import Softplus
from ..tensor_methods import where

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_SQRT_HALF = math.sqrt(0.5)
# SELU's constants (Klambauer et al. 2017), as PyTorch writes them
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _in_float32(activation, input, *args):
    """``activation(input, *args)`` of a float16 or bfloat16 ``input`` computed in float32 and
    rounded once, as PyTorch's kernels compute it (step by step in bfloat16, silu(6.0) comes out
    an ulp low). (Called inside each activation, not as a decorator, which the mutation
    harness would not look through.)"""
    return activation(input.float(), *args).to(input.dtype)


def gelu(input, approximate="none"):
    """Gaussian error linear unit: ``x * Phi(x)`` with ``Phi`` the standard normal CDF
    (``0.5 * (1 + erf(x / sqrt(2)))``), or with ``approximate='tanh'`` PyTorch's
    ``0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x ** 3)))``."""
    if input.dtype.is_low_precision:
        return _in_float32(gelu, input, approximate)
    if approximate == "tanh":
        inner = (input + 0.044715 * input * input * input) * _SQRT_2_OVER_PI
        return 0.5 * input * (1.0 + inner.tanh())
    if approximate != "none":
        raise RuntimeError(f"approximate argument must be either none or tanh, got "
                           f"{approximate!r}")
    return 0.5 * input * (1.0 + (input * _SQRT_HALF).erf())


def silu(input, inplace=False):
    """Sigmoid linear unit (swish): ``x * sigmoid(x)``."""
    if input.dtype.is_low_precision:
        return _in_float32(silu, input)
    return input * input.sigmoid()


def mish(input, inplace=False):
    """``x * tanh(softplus(x))`` (Misra 2019)."""
    if input.dtype.is_low_precision:
        return _in_float32(mish, input)
    return input * Softplus.apply(input, beta=1.0, threshold=20.0).tanh()


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """``x`` where ``x > 0``, else ``negative_slope * x``; the gradient at 0 is the slope's,
    as in PyTorch."""
    return where(input > 0, input, input * negative_slope)


def elu(input, alpha=1.0, inplace=False):
    """``x`` where ``x > 0``, else ``alpha * (exp(x) - 1)``."""
    return _elu(input, alpha, 1.0)


def selu(input, inplace=False):
    """``scale * elu(x, alpha)`` with SELU's fixed ``alpha`` and ``scale``."""
    return _elu(input, SELU_ALPHA, SELU_SCALE)


def celu(input, alpha=1.0, inplace=False):
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``."""
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: alpha cannot be 0 for CELU")
    return _elu(input, alpha, 1.0, input_scale=1.0 / alpha)


def _elu(input, alpha, scale, input_scale=1.0):
    # The exponential sees min(x, 0) only, so a large positive x cannot overflow into the
    # unselected branch (whose gradient would then be 0 * inf = nan).
    if input.dtype.is_low_precision:
        return _in_float32(_elu, input, alpha, scale, input_scale)
    negative = input.masked_fill(input > 0, 0.0)
    exp_part = ((negative * input_scale).exp() - 1.0) * alpha
    out = where(input > 0, input, exp_part)
    return out * scale if scale != 1.0 else out


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """``x`` clipped to ``[min_val, max_val]``; the gradient is 0 at the bounds themselves
    (PyTorch's ``hardtanh_backward``, unlike ``clamp``)."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    if not input.dtype.is_floating_point:  # an integer tensor stays one (bounds truncated)
        return input.clamp(int(min_val), int(max_val))
    inside = (input > min_val).logical_and(input < max_val)
    return where(inside, input, input.clamp(min_val, max_val).detach())


def relu6(input, inplace=False):
    """``min(max(x, 0), 6)`` (``hardtanh(x, 0, 6)``)."""
    return hardtanh(input, 0.0, 6.0)


def hardsigmoid(input, inplace=False):
    """``relu6(x + 3) / 6``: 0 below -3, 1 above 3, linear between (gradient 1/6 strictly
    inside, as in PyTorch)."""
    return hardtanh(input, -3.0, 3.0) / 6.0 + 0.5


def hardswish(input, inplace=False):
    """``x * relu6(x + 3) / 6`` (MobileNetV3)."""
    # PyTorch's gradient: 0 below -3, 1 from 3 on, x / 3 + 0.5 strictly between
    middle = input * (input + 3.0) / 6.0
    out = where(input <= -3.0, 0.0, middle)
    return where(input >= 3.0, input, out)


def softsign(input):
    """``x / (1 + |x|)``."""
    return input / (input.abs() + 1.0)


def tanhshrink(input):
    """``x - tanh(x)``."""
    return input - input.tanh()


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """``softmax(-x)`` along ``dim`` (without one, PyTorch's implicit choice: see
    ``implicit_dim``); ``dtype`` casts the input first."""
    dim = implicit_dim("softmin", input.ndim) if dim is None else dim
    return (-input).softmax(dim=dim, dtype=dtype)


def implicit_dim(name, ndim):
    """The dim PyTorch's ``softmax``, ``log_softmax`` and ``softmin`` (and their modules) take
    when called without one, with its deprecation warning: 0 for a 0-, 1- or 3-d input (an
    unbatched vector, or a batch of sequences taken whole), else 1 (the channels)."""
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call "
                  f"to include dim=X as an argument.", UserWarning, stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1
