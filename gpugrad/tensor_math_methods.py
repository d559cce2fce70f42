"""The elementwise math methods of ``Tensor`` beyond arithmetic (``sin``, ``floor``, ``erf``,
``atan2``, ``lerp``, ``isnan``...), each also the function ``gg.<name>``, with their in-place
forms (``sin_``, ``floor_``...) and PyTorch's aliases (``arcsin``, ``fix``, ``clip``...).

Each method is a thin front on an op in ``gpugrad.ops.unary_math`` or ``ops.binary_math``,
where forward and backward live; the in-place forms run the same op through
``inplace.apply_inplace``.
"""
from . import dtypes as _dtypes
from .inplace import apply_inplace
from .ops import binary_math as BM
from .ops import unary_math as U
from .tensor import Tensor
from .tensor_api import FUNCTIONS, tensor_argument, tensor_method

_FLOAT = " (integer and bool tensors give the default float)"

# name -> (op, what it computes); each also has an in-place form ``<name>_``
_UNARY = {
    "sin": (U.Sin, "The sine"), "cos": (U.Cos, "The cosine"), "tan": (U.Tan, "The tangent"),
    "asin": (U.Asin, "The arcsine"), "acos": (U.Acos, "The arccosine"),
    "atan": (U.Atan, "The arctangent"), "sinh": (U.Sinh, "The hyperbolic sine"),
    "cosh": (U.Cosh, "The hyperbolic cosine"), "asinh": (U.Asinh, "The inverse hyperbolic sine"),
    "acosh": (U.Acosh, "The inverse hyperbolic cosine"),
    "atanh": (U.Atanh, "The inverse hyperbolic tangent"),
    "log1p": (U.Log1p, "``log(1 + self)``, accurate near 0,"),
    "expm1": (U.Expm1, "``exp(self) - 1``, accurate near 0,"),
    "log2": (U.Log2, "The base-2 logarithm"), "log10": (U.Log10, "The base-10 logarithm"),
    "exp2": (U.Exp2, "``2 ** self``"), "erf": (U.Erf, "The error function"),
    "erfc": (U.Erfc, "The complementary error function ``1 - erf(self)``"),
    "reciprocal": (U.Reciprocal, "``1 / self``"), "rsqrt": (U.Rsqrt, "``1 / sqrt(self)``"),
}
_ROUNDING = {"floor": (U.Floor, "rounded down"), "ceil": (U.Ceil, "rounded up"),
             "trunc": (U.Trunc, "rounded toward zero")}


def _unary(op):
    return lambda self: op.apply(self)


def _unary_(op):
    return lambda self: apply_inplace(op, self)


for _name, (_op, _what) in _UNARY.items():
    tensor_method(_name, f"{_what} of each element{_FLOAT}.")(_unary(_op))
    tensor_method(f"{_name}_", f"``self.{_name}()`` written into self; returns self.")(
        _unary_(_op))
for _name, (_op, _what) in _ROUNDING.items():
    tensor_method(_name, f"Each element {_what}; integer tensors come back unchanged (a "
                         f"copy). The gradient is zero, as in PyTorch.")(_unary(_op))
    tensor_method(f"{_name}_", f"``self.{_name}()`` written into self; returns self.")(
        _unary_(_op))


@tensor_method("round")
def round_(self, *, decimals=0):
    """Each element rounded to the nearest integer, half to even (``round(2.5)`` is 2), or to
    ``decimals`` decimal places (negative: to tens, hundreds...) as PyTorch computes it. The
    gradient is zero."""
    return U.Round.apply(self, decimals=decimals)


@tensor_method("round_")
def round_inplace(self, *, decimals=0):
    """``self.round(decimals=decimals)`` written into self; returns self."""
    return apply_inplace(U.Round, self, decimals=decimals)


@tensor_method("frac")
def frac(self):
    """The fractional part ``self - trunc(self)`` (with self's sign); floating tensors only.
    The gradient passes through unchanged."""
    return U.Frac.apply(self)


@tensor_method("frac_")
def frac_(self):
    """``self.frac()`` written into self; returns self."""
    return apply_inplace(U.Frac, self)


# ---- classification (bool results, no gradient) ---------------------------------------------
def _bool_result(self, data):
    return Tensor._make(data, self._backend, False)


def _constant(self, value):
    """A bool tensor of self's shape holding ``value``: what isnan/isinf/isfinite give for an
    integer or bool tensor, whose elements are all finite."""
    return _bool_result(self, self._backend.full(self.shape, value, _dtypes.bool_))


@tensor_method("isnan")
def isnan(self):
    """True where an element is NaN, as a bool tensor (no gradient)."""
    if not self.dtype.is_floating_point:
        return _constant(self, False)
    return _bool_result(self, self._backend.binary("ne", self._data, self._data))


@tensor_method("isinf")
def isinf(self):
    """True where an element is +inf or -inf, as a bool tensor (no gradient)."""
    if not self.dtype.is_floating_point:
        return _constant(self, False)
    backend = self._backend
    return _bool_result(self, backend.binary("eq", backend.unary("abs", self._data),
                                             float("inf")))


@tensor_method("isfinite")
def isfinite(self):
    """True where an element is neither NaN nor infinite, as a bool tensor (no gradient)."""
    if not self.dtype.is_floating_point:
        return _constant(self, True)
    backend = self._backend
    # x - x is 0 for every finite x and NaN for NaN and both infinities
    return _bool_result(self, backend.binary("eq", backend.binary("sub", self._data,
                                                                  self._data), 0.0))


# ---- binary and ternary ----------------------------------------------------------------------
@tensor_method("atan2")
def atan2(self, other):
    """The angle of the point ``(other, self)`` in radians, in ``[-pi, pi]``, elementwise
    (broadcast); ``other`` is a tensor. Integer tensors give the default float."""
    return BM.Atan2.apply(self, tensor_argument(other, "atan2"))


@tensor_method("atan2_")
def atan2_(self, other):
    """``self.atan2(other)`` written into self; returns self."""
    return apply_inplace(BM.Atan2, self, tensor_argument(other, "atan2_"))


@tensor_method("fmax")
def fmax(self, other):
    """The larger of ``self`` and ``other`` (a tensor, broadcast), ignoring NaN: the other
    value where one is NaN, NaN only where both are (``maximum`` propagates NaN)."""
    return BM.Fmax.apply(self, tensor_argument(other, "fmax"))


@tensor_method("fmin")
def fmin(self, other):
    """The smaller of ``self`` and ``other`` (a tensor, broadcast), ignoring NaN: the other
    value where one is NaN, NaN only where both are (``minimum`` propagates NaN)."""
    return BM.Fmin.apply(self, tensor_argument(other, "fmin"))


def _lerp_operands(self, end, weight):
    """PyTorch's checks of lerp's operands: ``end`` a tensor of self's dtype, ``weight`` a
    number or a floating tensor of self's dtype (a 0-d one may be another float)."""
    tensor_argument(end, "lerp", "end")
    if end.dtype is not self.dtype:
        raise RuntimeError(f"expected dtype {self.dtype.name} for `end` but got dtype "
                           f"{end.dtype.name}")
    if isinstance(weight, Tensor):
        if weight.dtype is not self.dtype and (weight.ndim or
                                               not weight.dtype.is_floating_point):
            raise RuntimeError(f"expected dtype {self.dtype.name} for `weight` but got dtype "
                               f"{weight.dtype.name}")
    else:
        weight = _dtypes.as_number(weight, "lerp")
    return end, weight


@tensor_method("lerp")
def lerp(self, end, weight):
    """``self + weight * (end - self)``, elementwise (broadcast), exact at ``weight = 1``;
    ``weight`` is a number or a tensor, ``end`` a tensor of self's dtype."""
    return BM.Lerp.apply(self, *_lerp_operands(self, end, weight))


@tensor_method("lerp_")
def lerp_(self, end, weight):
    """``self.lerp(end, weight)`` written into self; returns self."""
    return apply_inplace(BM.Lerp, self, *_lerp_operands(self, end, weight))


@tensor_method("clamp_min")
def clamp_min(self, min):
    """``self.clamp(min=min)``."""
    return self.clamp(min=min)


@tensor_method("clamp_max")
def clamp_max(self, max):
    """``self.clamp(max=max)``."""
    return self.clamp(max=max)


# ---- PyTorch's other names -------------------------------------------------------------------
def _alias(alias, name):
    """``Tensor.<alias>`` (and ``gg.<alias>``, where ``name`` is a function) is ``name``."""
    fn = getattr(Tensor, name)
    setattr(Tensor, alias, fn)
    if name in FUNCTIONS:
        FUNCTIONS[alias] = fn


for _alias_name, _name in (("arcsin", "asin"), ("arccos", "acos"), ("arctan", "atan"),
                           ("arcsinh", "asinh"), ("arccosh", "acosh"), ("arctanh", "atanh"),
                           ("arctan2", "atan2"), ("fix", "trunc"), ("clip", "clamp"),
                           ("negative", "neg"), ("absolute", "abs")):
    _alias(_alias_name, _name)
    if hasattr(Tensor, f"{_name}_") and not hasattr(Tensor, f"{_alias_name}_"):
        _alias(f"{_alias_name}_", f"{_name}_")
