"""Unary math beyond ``exp``, ``log`` and ``sqrt`` (those are in ``elementwise``): the
trigonometric and hyperbolic functions and their inverses, ``log1p``, ``expm1``, ``log2``,
``log10``, ``exp2``, ``erf``, ``erfc``, ``reciprocal``, ``rsqrt``, ``logit``, ``sinc`` and the
rounding family (``floor``, ``ceil``, ``trunc``, ``round``, ``frac``).

Each op is one backend primitive (``reciprocal``, ``rsqrt``, ``logit``, ``sinc``, ``frac`` and
``round`` with ``decimals`` compose several), with PyTorch's dtype rules (integer and bool inputs give the
default float, except for rounding, which copies integers and refuses bools) and PyTorch's
derivative formulas (``tools/autograd/derivatives.yaml``), written with differentiable ops so
that second derivatives work. Rounding has a zero gradient, as in PyTorch.
"""
import math

from .. import dtypes as _dtypes
from ..engine.graph import backward_through_tensors
from .elementwise import Add, Div, Exp, Mul, _check_out, _Unary, binary_arrays, copy_of, zero_gradient

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


class _OfInput(_Unary):
    """A unary op whose gradient is ``grad * derivative(x)`` at the saved input ``x``."""

    save_inputs = True

    def backward(self, grad):
        return self.derivative(grad, self.inputs[0])

    def backward_arrays(self, grad):
        if self.derivative_arrays is None:
            return backward_through_tensors(self, grad)
        return self.derivative_arrays(self.backend, grad, self.inputs[0]._data)

    def derivative(self, grad, x):
        raise NotImplementedError

    derivative_arrays = None  # ``derivative`` on backend arrays, ``(backend, grad, x)``


class _OfOutput(_Unary):
    """A unary op whose gradient is computed from its saved output ``y``."""

    save_output = True

    def backward(self, grad):
        return self.derivative(grad, self.output())

    def backward_arrays(self, grad):
        if self.derivative_arrays is None:
            return backward_through_tensors(self, grad)
        return self.derivative_arrays(self.backend, grad, self._out)

    def derivative(self, grad, y):
        raise NotImplementedError

    derivative_arrays = None  # ``derivative`` on backend arrays, ``(backend, grad, y)``


class Sin(_OfInput):
    """``sin(x)``; gradient ``grad * cos(x)``."""

    op = "sin"

    def derivative(self, grad, x):
        return grad * Cos.apply(x)

    def derivative_arrays(self, backend, grad, x):
        return _mul(backend, grad, backend.unary("cos", x))


class Cos(_OfInput):
    """``cos(x)``; gradient ``-grad * sin(x)``."""

    op = "cos"

    def derivative(self, grad, x):
        return grad * -Sin.apply(x)

    def derivative_arrays(self, backend, grad, x):
        return _mul(backend, grad, backend.unary("neg", backend.unary("sin", x)))


class Tan(_OfOutput):
    """``tan(x)``; gradient ``grad * (1 + y²)``."""

    autocast = "gpu_float32"

    op = "tan"

    def derivative(self, grad, y):
        return grad * (y * y + 1)

    def derivative_arrays(self, backend, grad, y):
        return _mul(backend, grad, _add(backend, _mul(backend, y, y), 1))


class Asin(_OfInput):
    """``asin(x)`` (NaN outside [-1, 1]); gradient ``grad / sqrt(1 - x²)``."""

    autocast = "gpu_float32"

    op = "asin"

    def derivative(self, grad, x):
        return grad * Rsqrt.apply(1 - x * x)


class Acos(_OfInput):
    """``acos(x)`` (NaN outside [-1, 1]); gradient ``-grad / sqrt(1 - x²)``."""

    autocast = "gpu_float32"

    op = "acos"

    def derivative(self, grad, x):
        return grad * -Rsqrt.apply(1 - x * x)


class Atan(_OfInput):
    """``atan(x)``; gradient ``grad / (1 + x²)``."""

    op = "atan"

    def derivative(self, grad, x):
        return grad / (x * x + 1)

    def derivative_arrays(self, backend, grad, x):
        return _div(backend, grad, _add(backend, _mul(backend, x, x), 1))


class Sinh(_OfInput):
    """``sinh(x)``; gradient ``grad * cosh(x)``."""

    autocast = "gpu_float32"

    op = "sinh"

    def derivative(self, grad, x):
        return grad * Cosh.apply(x)

    def derivative_arrays(self, backend, grad, x):
        return _mul(backend, grad, backend.unary("cosh", x))


class Cosh(_OfInput):
    """``cosh(x)``; gradient ``grad * sinh(x)``."""

    autocast = "gpu_float32"

    op = "cosh"

    def derivative(self, grad, x):
        return grad * Sinh.apply(x)

    def derivative_arrays(self, backend, grad, x):
        return _mul(backend, grad, backend.unary("sinh", x))


class Asinh(_OfInput):
    """``asinh(x)``; gradient ``grad / sqrt(x² + 1)``."""

    op = "asinh"

    def derivative(self, grad, x):
        return grad * Rsqrt.apply(x * x + 1)


class Acosh(_OfInput):
    """``acosh(x)`` (NaN below 1); gradient ``grad / sqrt(x² - 1)``."""

    op = "acosh"

    def derivative(self, grad, x):
        return grad * Rsqrt.apply(x * x - 1)


class Atanh(_OfInput):
    """``atanh(x)`` (NaN outside [-1, 1]); gradient ``grad / (1 - x²)``."""

    op = "atanh"

    def derivative(self, grad, x):
        return grad / (1 - x * x)


class Log1p(_OfInput):
    """``log(1 + x)``, accurate near 0; gradient ``grad / (x + 1)``."""

    autocast = "gpu_float32"

    op = "log1p"

    def derivative(self, grad, x):
        return grad / (x + 1)

    def derivative_arrays(self, backend, grad, x):
        return _div(backend, grad, _add(backend, x, 1))


class Expm1(_OfOutput):
    """``exp(x) - 1``, accurate near 0; gradient ``grad * (y + 1)``."""

    autocast = "gpu_float32"

    op = "expm1"

    def derivative(self, grad, y):
        return grad * (y + 1)

    def derivative_arrays(self, backend, grad, y):
        return _mul(backend, grad, _add(backend, y, 1))


class Log2(_OfInput):
    """``log2(x)``; gradient ``grad / (x * ln 2)``."""

    autocast = "gpu_float32"

    op = "log2"

    def derivative(self, grad, x):
        return grad / (x * _LN2)

    def derivative_arrays(self, backend, grad, x):
        return _div(backend, grad, _mul(backend, x, _LN2))


class Log10(_OfInput):
    """``log10(x)``; gradient ``grad / (x * ln 10)``."""

    autocast = "gpu_float32"

    op = "log10"

    def derivative(self, grad, x):
        return grad / (x * _LN10)

    def derivative_arrays(self, backend, grad, x):
        return _div(backend, grad, _mul(backend, x, _LN10))


class Exp2(_OfOutput):
    """``2 ** x``; gradient ``grad * y * ln 2``."""

    op = "exp2"

    def derivative(self, grad, y):
        return grad * y * _LN2

    def derivative_arrays(self, backend, grad, y):
        return _mul(backend, _mul(backend, grad, y), _LN2)


class Erf(_OfInput):
    """The error function; gradient ``grad * 2 / sqrt(pi) * exp(-x²)``."""

    op = "erf"

    def derivative(self, grad, x):
        return grad * (Exp.apply(-(x * x)) * _TWO_OVER_SQRT_PI)


class Erfc(_OfInput):
    """``1 - erf(x)``, accurate in the tail; gradient ``-grad * 2 / sqrt(pi) * exp(-x²)``."""

    op = "erfc"

    def derivative(self, grad, x):
        return grad * (Exp.apply(-(x * x)) * -_TWO_OVER_SQRT_PI)


def _mul(backend, a, b):
    return binary_arrays(Mul, backend, a, b)


def _div(backend, a, b):
    return binary_arrays(Div, backend, a, b)


def _add(backend, a, b):
    return binary_arrays(Add, backend, a, b)


def _float_out(backend, a, out):
    """The floating result dtype of an op on ``a`` (the default float for integers and bools),
    checked against ``out`` when the op writes in place."""
    dtype = _dtypes.default_float_for(backend.dtype(a))
    if out is not None:
        _check_out(dtype, backend, out)
    return dtype


class Reciprocal(_OfOutput):
    """``1 / x``; gradient ``-grad * y * y``."""

    autocast = "gpu_float32"

    def forward(self, a, out=None):
        backend = self.backend
        return backend.binary("div", 1, a, _float_out(backend, a, out), out)

    def derivative(self, grad, y):
        return -grad * (y * y)

    def derivative_arrays(self, backend, grad, y):
        return _mul(backend, backend.unary("neg", grad), _mul(backend, y, y))


class Rsqrt(_OfOutput):
    """``1 / sqrt(x)`` (two kernels, the division as PyTorch's CPU kernel does it); gradient
    ``-0.5 * grad * y ** 3``."""

    autocast = "gpu_float32"

    def forward(self, a, out=None):
        backend = self.backend
        dtype = _float_out(backend, a, out)
        return backend.binary("div", 1, backend.unary("sqrt", a, dtype), dtype, out)

    def derivative(self, grad, y):
        return grad * (y * y * y) * -0.5


def _not_implemented(name, backend, a):
    return NotImplementedError(f"\"{name}\" not implemented for '{backend.dtype(a).name}': "
                               f"convert the tensor to a floating dtype first (x.float())")


class _Rounding(_Unary):
    """floor, ceil, trunc or round (``op``, to nearest, half to even): an integer tensor comes
    back as a copy (it is already whole), a bool one is refused, as in PyTorch; the gradient
    is zero."""

    def forward(self, a, out=None):
        backend = self.backend
        dtype = backend.dtype(a)
        if dtype.is_floating_point:
            return _Unary.forward(self, a, out)
        if dtype is _dtypes.bool_:
            raise _not_implemented(self.op, backend, a)
        return copy_of(backend, a, out)

    def backward(self, grad):
        return zero_gradient(grad)


class Floor(_Rounding):
    """Rounded down (toward -inf)."""

    op = "floor"


class Ceil(_Rounding):
    """Rounded up (toward +inf)."""

    op = "ceil"


class Trunc(_Rounding):
    """Rounded toward zero."""

    op = "trunc"


class Round(_Rounding):
    """``round(x, decimals)``: to ``decimals`` decimal places (negative: to tens, hundreds...),
    half to even, as PyTorch computes it: ``round(x * 10**d) / 10**d`` in ``x``'s dtype (three
    kernels; one for ``decimals=0``). Integer tensors take only ``decimals=0``."""

    op = "round"

    def forward(self, a, decimals=0, out=None):
        if decimals == 0:
            return _Rounding.forward(self, a, out)
        backend = self.backend
        dtype = backend.dtype(a)
        if not dtype.is_floating_point:
            raise _not_implemented("round", backend, a)
        if out is not None:
            _check_out(dtype, backend, out)
        scale = 10.0 ** abs(decimals)
        grow, shrink = ("mul", "div") if decimals > 0 else ("div", "mul")
        rounded = backend.unary("round", backend.binary(grow, a, scale, dtype))
        return backend.binary(shrink, rounded, scale, dtype, out)


class Frac(_Unary):
    """``x - trunc(x)`` (two kernels), keeping the sign; floating tensors only, as in PyTorch;
    the gradient passes through."""

    def forward(self, a, out=None):
        backend = self.backend
        dtype = backend.dtype(a)
        if not dtype.is_floating_point:
            raise _not_implemented("frac", backend, a)
        if out is not None:
            _check_out(dtype, backend, out)
        return backend.binary("sub", a, backend.unary("trunc", a), dtype, out)

    def backward(self, grad):
        return grad

    def backward_arrays(self, grad):
        return grad


class Logit(_Unary):
    """``log(x / (1 - x))`` of a floating ``x``, first clamped to ``[eps, 1 - eps]`` when
    ``eps`` is given. The gradient is PyTorch's ``logit_backward``, ``grad / (x (1 - x))`` at
    the unclamped ``x``: NaN outside [0, 1] (where the value is NaN too), ``grad * inf`` at 0
    and 1, and 0 outside ``[eps, 1 - eps]`` when clamped."""

    save_inputs = True
    supports_out = False

    def forward(self, a, eps=None):  # (numbers take a's dtype; float16 rounds every step,
        # as PyTorch's CPU kernel)
        backend = self.backend
        self.eps = eps
        if eps is not None:
            a = backend.binary("minimum", backend.binary("maximum", a, eps), 1.0 - eps)
        return backend.unary("log", backend.binary("div", a, backend.binary("sub", 1.0, a)))

    def backward(self, grad):
        x, eps = self.inputs[0], self.eps
        if eps is not None:
            out = grad / (x * (1.0 - x))
            return out.masked_fill((x < eps) | (x > 1.0 - eps), 0.0)
        # |x|: at x = -0.0 too the gradient is ``grad * inf``, as PyTorch's kernel gives at
        # 0 and 1 (inside [0, 1], x * (1 - x) >= 0 and |x| changes nothing)
        out = grad / (x.abs() * (1.0 - x))
        return out.masked_fill((x < 0) | (x > 1), math.nan)


class Sinc(_Unary):
    """The normalized ``sin(pi x) / (pi x)`` of a float32 or float64 ``x``, 1 at 0. The gradient is
    PyTorch's ``sinc_backward``, ``grad (pi x cos(pi x) - sin(pi x)) / (pi x^2)``, 0 where
    ``pi x^2`` is 0 (at 0, and where it underflows: the other form of the quotient rule loses
    every digit near 0)."""

    save_inputs = True
    supports_out = False

    def forward(self, a):  # (a is float32 or float64: numbers take its dtype)
        backend = self.backend
        zero = backend.binary("eq", a, 0.0)
        scaled = backend.binary("mul", backend.where(zero, 1.0, a), math.pi)  # (1: no 0 / 0)
        return backend.where(zero, 1.0, backend.binary("div", backend.unary("sin", scaled),
                                                       scaled))

    def backward(self, grad):
        x = self.inputs[0]
        scaled = x * math.pi
        squared = x * x * math.pi
        out = grad * (scaled * scaled.cos() - scaled.sin()) / squared
        return out.masked_fill(squared == 0, 0.0)
