"""PyTorch's elementwise long tail as ``Tensor`` methods and ``gg`` functions: ``remainder``,
``fmod``, ``floor_divide``, ``divide(rounding_mode=)``, ``logaddexp``, ``xlogy``, ``logit``,
``sinc``, ``hypot``, ``copysign``, ``nan_to_num``, ``float_power``..., their in-place forms,
the in-place comparisons (``eq_``, ``logical_and_``...) and PyTorch's alias names (``greater``,
``multiply``, ``sgn``...).

Each op is composed of existing differentiable ops, so gradients, the simulator's costs and
every device come from those ops; the in-place forms write the composed result through
``copy_`` (``inplace_result``).
"""
import math

from . import dtypes as _dtypes
from .engine import is_grad_enabled, no_grad
from .finfo import finfo
from .custom_function import Function as _CustomFunction
from .inplace import check_cast
from .ops import binary_math as BM
from .ops import unary_math as UM
from .tensor import Tensor, as_tensor_like
from .tensor_api import FUNCTIONS, tensor_argument, tensor_method, write_out


def result_type(tensor, other):
    """The dtype PyTorch gives ``tensor op other`` (each a tensor or a number), as
    ``torch.result_type``: tensors with dimensions outrank 0-d tensors, which outrank numbers,
    unless a lower class holds a higher category (bool < integer < floating)."""
    groups = ([], [], [])
    for x in (tensor, other):
        if isinstance(x, Tensor):
            groups[0 if x.ndim else 1].append(x.dtype)
        else:
            groups[2].append(_dtypes.scalar_dtype(x))
    return _dtypes.result_type_of(*groups)


def can_cast(from_, to):
    """Whether PyTorch's casting rules allow ``from_`` into ``to`` (dtypes), as
    ``torch.can_cast``: not into a lower category (float into integer, integer into bool)."""
    return _dtypes.can_cast(_dtypes.as_dtype(from_), _dtypes.as_dtype(to))


def inplace_result(self, fn, *args, **kwargs):
    """``fn(self, *args, **kwargs)`` written into self through ``copy_``; returns self. The op
    runs on a clone of self when autograd records, so the values it saved are not the ones
    overwritten; PyTorch's dtype (no float into an integer tensor) and shape checks apply."""
    recording = is_grad_enabled() and (self.requires_grad or any(
        isinstance(x, Tensor) and x.requires_grad for x in args))
    source = self.clone() if recording else self
    result = fn(source, *args, **kwargs)
    check_cast(result.dtype, self.dtype)
    if result.shape != self.shape:
        raise RuntimeError(f"output with shape {list(self.shape)} doesn't match the broadcast "
                           f"shape {list(result.shape)}")
    return self.copy_(result)


def _inplace_of(name):
    """Bind ``<name>_``: ``self.<name>(...)`` written into self."""
    fn = getattr(Tensor, name)
    tensor_method(f"{name}_", f"``self.{name}(...)`` written into self; returns self.")(
        lambda self, *args, **kwargs: inplace_result(self, fn, *args, **kwargs))


def _floating(x):
    """``x`` as a floating tensor (integer and bool tensors in the default float dtype)."""
    return x if x.dtype.is_floating_point else x.to(_dtypes.default_float_for(x.dtype))


def _tensor(x, like):
    return x if isinstance(x, Tensor) else as_tensor_like(x, like)


def _floating_pair(self, other):
    """``self`` and ``other`` (a tensor or number) as tensors of their floating result dtype:
    PyTorch's promoted dtype (``float16`` beside an integer stays float16), or the default
    float where both are integer or bool."""
    dtype = _dtypes.default_float_for(result_type(self, other))
    a = self.to(dtype)
    return a, _tensor(other, a).to(dtype)  # (a number joins as a tensor of that dtype)


# ---- integer-aware division -----------------------------------------------------------------
def _rounded_quotient(self, other, rounding, kernel):
    """``self / other`` rounded by ``rounding`` ("floor" or "trunc") in PyTorch's result dtype.
    Integer quotients are computed in float64 (exact below 2**53) and raise PyTorch's
    ``ZeroDivisionError`` for a zero divisor; bools are refused, naming PyTorch's ``kernel``."""
    dtype = result_type(self, other)
    if dtype is _dtypes.bool_:
        raise NotImplementedError(f"\"{kernel}_{self.device.type}\" not implemented for 'bool': "
                                  f"convert the operands first, e.g. x.long()")
    if dtype.is_floating_point:
        if rounding == "floor":
            return BM.FloorDivide.apply(self, other)
        return (self / other).trunc()
    if (other == 0).any() if isinstance(other, Tensor) else other == 0:
        raise RuntimeError("ZeroDivisionError")
    wide = self.to(_dtypes.float64) / (other.to(_dtypes.float64)
                                       if isinstance(other, Tensor) else other)
    return (wide.floor() if rounding == "floor" else wide.trunc()).to(dtype)


@tensor_method("divide")
def divide(self, other, *, rounding_mode=None, out=None):
    """``self / other`` (broadcast); ``rounding_mode`` None (true division), ``"trunc"``
    (toward zero) or ``"floor"`` (down), the last two in PyTorch's promoted dtype (integers
    stay integers) with a zero gradient. ``div`` and ``true_divide`` are the same op."""
    if rounding_mode is None:
        return write_out(self / other, out)
    if rounding_mode not in ("trunc", "floor"):
        raise RuntimeError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' "
                           f"but found '{rounding_mode}'")
    return write_out(_rounded_quotient(self, other, rounding_mode, f"div_{rounding_mode}"), out)


tensor_method("div", divide.__doc__)(
    lambda self, other, *, rounding_mode=None, out=None:
    divide(self, other, rounding_mode=rounding_mode, out=out))


_true_divide_ = Tensor.div_  # tensor_inplace_methods' div_: true division in place


@tensor_method("div_")
def div_(self, other, *, rounding_mode=None):
    """``self.div(other, rounding_mode=rounding_mode)`` written into self (``divide_`` is
    the same); returns self."""
    if rounding_mode is None:
        return _true_divide_(self, other)
    return inplace_result(self, divide, other, rounding_mode=rounding_mode)


Tensor.divide_ = div_


@tensor_method("true_divide")
def true_divide(self, other, *, out=None):
    """``self / other`` (broadcast), always true division (``div`` without rounding)."""
    return write_out(self / other, out)


def _modulus(self, other, rounding, kernel):
    """``self - other * rounded(self / other)``: for floats C's ``fmod`` (trunc) or Python's
    modulus (floor), each one exact op; integers from their exact quotient, a bool tensor
    operand (beside an integer one) counting as 0 or 1 in the result's dtype."""
    dtype = result_type(self, other)
    if dtype.is_floating_point:
        return (BM.Fmod if rounding == "trunc" else BM.Remainder).apply(self, other)
    quotient = _rounded_quotient(self, other, rounding, kernel)
    if self.dtype is _dtypes.bool_:
        self = self.to(quotient.dtype)
    if isinstance(other, Tensor) and other.dtype is _dtypes.bool_:
        other = other.to(quotient.dtype)
    return self - other * quotient


@tensor_method("floor_divide")
def floor_divide(self, other, *, out=None):
    """``self / other`` rounded down (broadcast), in PyTorch's promoted dtype; zero gradient."""
    return write_out(_rounded_quotient(self, other, "floor", "div_floor"), out)


@tensor_method("remainder")
def remainder(self, other, *, out=None):
    """``self - other * floor(self / other)``: Python's modulus, with the sign of ``other``.
    Gradients: 1 for self, ``-floor(self / other)`` for other, as in PyTorch."""
    return write_out(_modulus(self, other, "floor", "remainder"), out)


@tensor_method("fmod")
def fmod(self, other, *, out=None):
    """``self - other * trunc(self / other)``: C's ``fmod``, with the sign of ``self``."""
    return write_out(_modulus(self, other, "trunc", "fmod"), out)


# ---- exponentials and logarithms -------------------------------------------------------------
@tensor_method("logaddexp")
def logaddexp(self, other):
    """``log(exp(self) + exp(other))`` (broadcast), computed without overflow; two equal
    infinities give that infinity."""
    a, b = _floating_pair(self, other)
    if a.dtype.is_low_precision:  # computed in float32 and rounded once, as PyTorch
        return logaddexp(a.float(), b.float()).to(a.dtype)
    gap = a - b
    gap = gap.masked_fill(gap.isnan() & ~(a.isnan() | b.isnan()), 0.0)  # inf - inf
    return a.maximum(b) + (-gap.abs()).exp().log1p()


@tensor_method("logaddexp2")
def logaddexp2(self, other):
    """``log2(2 ** self + 2 ** other)`` (broadcast), computed without overflow."""
    ln2 = math.log(2.0)
    a, b = _floating_pair(self, other)
    if a.dtype.is_low_precision:
        return logaddexp2(a.float(), b.float()).to(a.dtype)
    return logaddexp(a * ln2, b * ln2) / ln2


@tensor_method("xlogy")
def xlogy(self, other):
    """``self * log(other)``, 0 where ``self`` is 0 (unless ``other`` is NaN); ``other`` may
    be a number. Integer inputs give the default float."""
    x, other = _floating_pair(self, other)
    if x.dtype.is_low_precision:
        return xlogy(x.float(), other.float()).to(x.dtype)
    return _Xlogy.apply(x, other)


class _Xlogy(_CustomFunction):
    """xlogy with PyTorch's derivatives: ``grad * log(y)`` for x (0 only where x is 0 and
    y <= 0: at x = 0 it is still log y), and ``grad * x / y`` for y (NaN at x = y = 0)."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        zero = (x == 0) & ~y.isnan()
        return x * y.where(~zero, 1).log()  # log(1): no 0 * -inf

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        grad_x = xlogy(grad, y).masked_fill((x == 0) & (y <= 0), 0.0) \
            if ctx.needs_input_grad[0] else None
        return grad_x, grad * x / y if ctx.needs_input_grad[1] else None


@tensor_method("logit")
def logit(self, eps=None):
    """``log(self / (1 - self))``; with ``eps``, self is first clamped to ``[eps, 1 - eps]``
    (zero gradient outside)."""
    return UM.Logit.apply(_floating(self), eps=None if eps is None else float(eps))


# ---- trigonometry and geometry ---------------------------------------------------------------
@tensor_method("sinc")
def sinc(self):
    """The normalized sinc ``sin(pi x) / (pi x)``, 1 at 0."""
    x = _floating(self)
    if x.dtype.is_low_precision:  # computed in float32 and rounded once, as PyTorch
        return sinc(x.to(_dtypes.float32)).to(x.dtype)
    return UM.Sinc.apply(x)


@tensor_method("hypot")
def hypot(self, other):
    """``sqrt(self ** 2 + other ** 2)``, elementwise (broadcast); floating tensors only."""
    tensor_argument(other, "hypot")
    dtype = result_type(self, other)
    if not dtype.is_floating_point:  # (one floating operand is enough, as in PyTorch)
        raise RuntimeError(f"\"hypot_cpu\" not implemented for '{dtype.name}'")
    a, b = self.to(dtype), other.to(dtype)
    if dtype.is_low_precision:  # computed in float32 and rounded once, as PyTorch
        return hypot(a.float(), b.float()).to(dtype)
    # an infinite leg makes the hypotenuse infinite, even with a NaN other leg (C's hypot)
    return (a * a + b * b).sqrt().masked_fill(a.isinf() | b.isinf(), math.inf)


@tensor_method("deg2rad")
def deg2rad(self):
    """Degrees to radians (integer tensors give the default float)."""
    return _floating(self) * (math.pi / 180.0)


@tensor_method("rad2deg")
def rad2deg(self):
    """Radians to degrees (integer tensors give the default float)."""
    return _floating(self) * (180.0 / math.pi)


# ---- signs -----------------------------------------------------------------------------------
@tensor_method("signbit")
def signbit(self):
    """True where the sign bit is set (negative numbers and -0.0), as a bool tensor."""
    if not self.dtype.is_signed:
        return self != self  # all False, of self's shape
    negative = self < 0
    if self.dtype.is_floating_point:
        negative = negative | ((self == 0) & ((1 / self) < 0))  # -0.0: 1 / -0.0 is -inf
    return negative


@tensor_method("copysign")
def copysign(self, other):
    """``|self|`` with the sign (bit) of ``other`` (a tensor or number), broadcast; floating
    result. Gradient: as PyTorch, none flows to ``other``."""
    dtype = _dtypes.default_float_for(result_type(self, other))
    magnitude = self.to(dtype).abs()
    return magnitude.where(~signbit(_tensor(other, self)), -magnitude)


@tensor_method("heaviside")
def heaviside(self, values):
    """The step function: 0 where self < 0, 1 where self > 0, ``values`` (broadcast) where
    self == 0; self and values must share a dtype. Not differentiable, as in PyTorch."""
    tensor_argument(values, "heaviside", "values")
    if values.dtype is not self.dtype:
        raise RuntimeError("heaviside is not yet implemented for tensors with different dtypes")
    with no_grad():
        return (self > 0).to(self.dtype).where(self != 0, values)


@tensor_method("sgn")
def sgn(self):
    """The sign of each element (-1, 0 or 1; 0 for NaN, as PyTorch), with a zero gradient."""
    sign = self.sign()
    return sign.masked_fill(sign.isnan(), 0) if self.dtype.is_floating_point else sign


@tensor_method("positive")
def positive(self):
    """``self`` itself (``+self``); bool tensors are refused, as in PyTorch."""
    if self.dtype is _dtypes.bool_:
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return self


# ---- cleaning and powers ---------------------------------------------------------------------
@tensor_method("nan_to_num")
def nan_to_num(self, nan=0.0, posinf=None, neginf=None, *, out=None):
    """NaN replaced by ``nan``, +inf by ``posinf`` and -inf by ``neginf`` (by default the
    dtype's largest and smallest finite values); integer tensors come back unchanged. No
    gradient flows to the replaced elements."""
    if not self.dtype.is_floating_point:
        return write_out(self.clone(), out)
    largest = finfo(self.dtype).max
    posinf = largest if posinf is None else posinf
    neginf = -largest if neginf is None else neginf
    result = (self.masked_fill(self.isnan(), nan).masked_fill(self == math.inf, posinf)
              .masked_fill(self == -math.inf, neginf))
    return write_out(result, out)


@tensor_method("float_power")
def float_power(self, exponent):
    """``self ** exponent`` computed in float64 (both operands are cast), as PyTorch."""
    base = self.to(_dtypes.float64)
    if isinstance(exponent, Tensor):
        exponent = exponent.to(_dtypes.float64)
    return base ** exponent


@tensor_method("float_power_")
def float_power_(self, exponent):
    """``self.float_power(exponent)`` written into self, which must be float64; returns
    self."""
    if self.dtype is not _dtypes.float64:
        raise RuntimeError(f"the base given to float_power_ has dtype "
                           f"{self.dtype.name.capitalize()} but the operation's result requires "
                           f"dtype Double")
    return inplace_result(self, float_power, exponent)


# ---- ternary and logical ---------------------------------------------------------------------
@tensor_method("addcmul")
def addcmul(self, tensor1, tensor2, *, value=1):
    """``self + value * tensor1 * tensor2`` (broadcast)."""
    product = tensor1 * tensor2
    return self + (product if value == 1 else product * value)


@tensor_method("addcdiv")
def addcdiv(self, tensor1, tensor2, *, value=1):
    """``self + value * tensor1 / tensor2`` (broadcast); integer ``tensor1``/``tensor2`` are
    refused, as in PyTorch."""
    if not (tensor1.dtype.is_floating_point or tensor2.dtype.is_floating_point):
        raise RuntimeError("Integer division with addcdiv is no longer supported, and in a "
                           "future release addcdiv will perform a true division of tensor1 and "
                           "tensor2. The historic addcdiv behavior can be implemented as "
                           "(input + value * torch.trunc(tensor1 / tensor2)).to(input.dtype) "
                           "for integer inputs and as (input + value * tensor1 / tensor2) for "
                           "float inputs. The future addcdiv behavior is just the latter "
                           "implementation: (input + value * tensor1 / tensor2), for all dtypes.")
    quotient = tensor1 / tensor2
    return self + (quotient if value == 1 else quotient * value)


@tensor_method("logical_xor")
def logical_xor(self, other):
    """Elementwise ``bool(self) != bool(other)`` (nonzero is true), as a bool tensor."""
    return (self != 0).ne(_tensor(other, self) != 0)


# ---- in-place forms and alias names ----------------------------------------------------------
for _name in ("remainder", "fmod", "floor_divide", "nan_to_num", "xlogy", "hypot", "copysign",
              "heaviside", "sgn", "logit", "sinc", "deg2rad", "rad2deg", "eq", "ne", "lt", "le",
              "gt", "ge", "logical_and", "logical_or", "logical_not", "logical_xor",
              "true_divide", "cumsum", "cumprod"):
    _inplace_of(_name)
for _alias, _name in (("greater", "gt"), ("greater_equal", "ge"), ("less", "lt"),
                      ("less_equal", "le"), ("not_equal", "ne"), ("multiply", "mul"),
                      ("subtract", "sub")):
    setattr(Tensor, _alias, getattr(Tensor, _name))
    FUNCTIONS[_alias] = getattr(Tensor, _name)
    if hasattr(Tensor, f"{_name}_"):
        setattr(Tensor, f"{_alias}_", getattr(Tensor, f"{_name}_"))
for _name in ("clone", "detach"):  # torch.clone(x), torch.detach(x)
    FUNCTIONS[_name] = getattr(Tensor, _name)
Tensor.__mod__ = lambda self, other: remainder(self, other)
Tensor.__floordiv__ = lambda self, other: floor_divide(self, other)
Tensor.__rmod__ = lambda self, other: remainder(as_tensor_like(other, self), self)
Tensor.__rfloordiv__ = lambda self, other: floor_divide(as_tensor_like(other, self), self)
Tensor.__imod__ = lambda self, other: self.remainder_(other)
Tensor.__ifloordiv__ = lambda self, other: self.floor_divide_(other)
