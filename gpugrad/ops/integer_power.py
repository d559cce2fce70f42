"""Integer ``a ** b`` as PyTorch computes it, on any backend.

NumPy refuses an integer array raised to negative integers, and CuPy returns what its C code
gives; PyTorch defines the result. So ``Pow`` asks here first when both operands are integers:

- a number exponent must be 0 or more ("Integers to negative integer powers are not allowed.")
  and fit the base's dtype (``int8 ** 255``: "value cannot be converted to type int8_t without
  overflow"), as PyTorch checks it (a wider exponent would wrap silently);
- a tensor exponent may hold negative integers: ``1 ** -n`` is 1, ``(-1) ** -n`` is 1 or -1 by
  the parity of ``n``, and any other base gives 0 (integer division of 1 by ``a ** n``).
"""
from .. import dtypes as _dtypes
from ..finfo import iinfo

# PyTorch's names of the C types its messages use
_C_NAMES = {"int8": "int8_t", "uint8": "uint8_t", "int16": "int16_t", "int32": "int"}


def _is_integer(backend, x):
    """Whether ``x`` is an integer array or a Python int (bool excluded)."""
    if getattr(x, "shape", None) is None:
        return type(x) is int
    dtype = backend.dtype(x)
    return not dtype.is_floating_point and dtype is not _dtypes.bool_


def check_number_exponent(backend, a, b):
    """Raise PyTorch's error for an integer array ``a`` raised to Python int ``b`` that is
    negative or outside ``a``'s dtype."""
    if type(b) is not int or not _is_integer(backend, a):
        return
    if b < 0:
        raise RuntimeError("pow: Integers to negative integer powers are not allowed.")
    name = backend.dtype(a).name
    if name in _C_NAMES and b > iinfo(backend.dtype(a)).max:
        raise RuntimeError(f"value cannot be converted to type {_C_NAMES[name]} without "
                           f"overflow")


def needs_integer_power(backend, a, b):
    """Whether ``a ** b`` must go through ``integer_power``: ``b`` a signed integer array
    (which may hold negative exponents) and ``a`` an integer or a bool array (0 or 1)."""
    if getattr(b, "shape", None) is None or not _is_integer(backend, b) or not (
            _is_integer(backend, a) or hasattr(a, "shape") and backend.dtype(a) is _dtypes.bool_):
        return False
    return backend.dtype(b).is_signed


def integer_power(pow_forward, backend, a, b, out=None):
    """``a ** b`` for integer ``a`` and a signed integer array ``b``, PyTorch's way;
    ``pow_forward(a, b, out)`` is ``Pow``'s own forward for exponents of 0 or more."""
    negative = backend.binary("lt", b, 0)
    # |b|, in b's dtype; the dtype's minimum stays negative there, and 2 stands in for it
    # (both even: only the parity matters for a base of -1, and any other base gives 0 or 1)
    magnitude = backend.where(negative, backend.binary("sub", 0, b), b)
    magnitude = backend.where(backend.binary("lt", magnitude, 0), 2, magnitude)
    power = pow_forward(a, magnitude)
    if getattr(a, "shape", None) is None:  # a number base (so never written in place)
        return power if a in (1, -1) else backend.where(negative, 0, power)
    unit = backend.binary("logical_or", backend.binary("eq", a, 1), backend.binary("eq", a, -1))
    zero = backend.binary("logical_and", negative, backend.binary("eq", unit, False))
    # (0 is a Python int: the result keeps the power's dtype)
    return backend.where(zero, 0, power, out=out)
