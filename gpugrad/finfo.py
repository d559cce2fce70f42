"""``gg.finfo`` and ``gg.iinfo``: the numerical limits of gpugrad's dtypes, as ``torch.finfo``
and ``torch.iinfo`` report them (plain numbers, so no array library is needed); ``check_fits``
refuses a number written into a dtype that cannot hold it."""
import math

from . import dtypes as _dtypes

# name -> (bits, eps, max, tiny (smallest normal), resolution)
_FLOATS = {
    "float16": (16, 2.0 ** -10, 65504.0, 2.0 ** -14, 0.001),
    "bfloat16": (16, 2.0 ** -7, 3.3895313892515355e38, 2.0 ** -126, 0.01),
    "float32": (32, 2.0 ** -23, 3.4028234663852886e38, 2.0 ** -126, 1e-06),
    "float64": (64, 2.0 ** -52, 1.7976931348623157e308, 2.0 ** -1022, 1e-15),
}


class finfo:  # noqa: N801  (PyTorch's name)
    """The limits of a floating dtype (the default float dtype if None): ``bits``, ``eps``
    (the gap between 1 and the next value), ``max``, ``min`` (``-max``), ``tiny`` and
    ``smallest_normal`` (the smallest positive normal value), ``resolution`` (10 to the minus
    the decimal digits of precision) and ``dtype`` (its name)."""

    def __init__(self, type=None):  # noqa: A002  (PyTorch's argument name)
        dtype = _dtypes.get_default_dtype() if type is None else _dtypes.as_dtype(type)
        if not dtype.is_floating_point:
            raise TypeError("torch.finfo() requires a floating point input type. Use "
                            "torch.iinfo to handle 'torch.finfo'")
        self.bits, self.eps, self.max, self.tiny, self.resolution = _FLOATS[dtype.name]
        self.min = -self.max
        self.smallest_normal = self.tiny
        self.dtype = dtype.name

    def __eq__(self, other):
        return isinstance(other, finfo) and other.dtype == self.dtype

    def __hash__(self):
        return hash(self.dtype)

    def __repr__(self):
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, "
                f"eps={self.eps:g}, smallest_normal={self.smallest_normal:g}, "
                f"tiny={self.tiny:g}, dtype={self.dtype})")


class iinfo:  # noqa: N801  (PyTorch's name)
    """The limits of an integer dtype: ``bits``, ``min``, ``max`` and ``dtype`` (its name)."""

    def __init__(self, type):  # noqa: A002  (PyTorch's argument name)
        dtype = _dtypes.as_dtype(type)
        if dtype.is_floating_point:
            raise TypeError("torch.iinfo() requires an integer input type. Use torch.finfo to "
                            "handle 'torch.iinfo'")
        if dtype is _dtypes.bool_:
            raise TypeError("torch.bool is not supported by torch.iinfo")
        self.bits = 8 * dtype.itemsize
        if dtype.is_signed:
            self.min, self.max = -2 ** (self.bits - 1), 2 ** (self.bits - 1) - 1
        else:
            self.min, self.max = 0, 2 ** self.bits - 1
        self.dtype = dtype.name

    def __eq__(self, other):
        return isinstance(other, iinfo) and other.dtype == self.dtype

    def __hash__(self):
        return hash(self.dtype)

    def __repr__(self):
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype})"


def check_fits(value, dtype):
    """Refuse a Python number ``value`` that ``dtype`` cannot hold, where it is written into a
    tensor of ``dtype`` (``full``, ``fill_``, ``masked_fill``, ``index_fill``, ``scatter``, an
    item assignment and ``where`` into an integer dtype, ``clamp``'s bounds), as PyTorch does: a
    RuntimeError rather than a silent wrap (300 written into int8 would be 44) or an inf.

    An integer dtype holds the numbers of its range (``iinfo``); an unsigned one also negative
    integers down to minus its max, which wrap as in two's complement (-1 is 255 in uint8, as
    in PyTorch), but no negative float. A floating dtype holds ±inf, NaN and finite numbers up
    to its max; bool any number. Other objects (NumPy scalars, tensors) pass unchecked."""
    kind = type(value)
    if (kind is not int and kind is not float) or dtype is _dtypes.bool_:
        return
    if dtype.is_floating_point:
        if abs(value) <= _FLOATS[dtype.name][2] or (kind is float and not math.isfinite(value)):
            return
        limits = f"finite values up to {_FLOATS[dtype.name][2]:g} in magnitude"
    else:
        limits_of = iinfo(dtype)
        top = limits_of.max
        low = limits_of.min if dtype.is_signed else -top if kind is int else 0
        if low <= value <= top:
            return
        limits = (f"whole numbers from {low} to {top}" if dtype.is_signed else
                  f"whole numbers from 0 to {top}, and integers down to {-top}, which wrap")
    raise RuntimeError(f"value cannot be converted to type {dtype.name} without overflow: "
                       f"{value!r} does not fit ({dtype.name} holds {limits})")
