"""Bitwise ops on integer and bool tensors, as in PyTorch: ``bitwise_and`` (``&``),
``bitwise_or`` (``|``), ``bitwise_xor`` (``^``), ``bitwise_not`` (``~``),
``bitwise_left_shift`` (``<<``) and ``bitwise_right_shift`` (``>>``), their in-place forms
(``and_``-style ``bitwise_and_`` and ``&=``...), the reflected operators (``6 & t``) and the
``gg.`` functions, which also take a number first (``gg.bitwise_left_shift(1, t)``).

The result has PyTorch's promoted dtype (``int8 & uint8`` is int16, ``bool & 1`` is int64). On
bool tensors ``&``, ``|``, ``^`` and ``~`` are the logical ops; floating tensors are refused, as
PyTorch refuses them, rather than read as truth values. Shifts take integer tensors only;
a shift by a negative amount or by the dtype's width or more gives 0 (``-1`` for a right shift
of a negative value), as on PyTorch's CPU. Bitwise results carry no gradient.
"""
from . import dtypes as _dtypes
from .inplace import check_cast
from .tensor import Tensor
from .tensor_api import tensor_method, write_out
from .tensor_methods import no_grad_binary

# op -> (operator symbol, its dunder's stem, PyTorch's kernel name in its error messages)
_BINARY = {"bitwise_and": ("&", "and", "bitwise_and"), "bitwise_or": ("|", "or", "bitwise_or"),
           "bitwise_xor": ("^", "xor", "bitwise_xor"),
           "bitwise_left_shift": ("<<", "lshift", "lshift"),
           "bitwise_right_shift": (">>", "rshift", "rshift")}
_SHIFTS = ("bitwise_left_shift", "bitwise_right_shift")


def _not_implemented(kernel, device, dtype):
    """PyTorch's error for a bitwise op on a dtype that has none."""
    return NotImplementedError(
        f"\"{kernel}_{device.type}\" not implemented for '{dtype.name}': bitwise ops take "
        f"integer or bool tensors (for a mask from a floating tensor compare first, e.g. "
        f"(x != 0); for truth values use logical_and/logical_or/logical_not)")


def _operand(value, op):
    """A tensor, or ``value`` as a Python number (PyTorch's TypeError otherwise)."""
    if isinstance(value, Tensor) or type(value) in (int, bool, float):
        return value
    return _dtypes.as_number(value, op)


def _bitwise(op, a, b, into=None):
    """``a op b`` (a tensor and a tensor or number, in either order), written into the tensor
    ``into`` when given (the in-place forms)."""
    a, b = _operand(a, op), _operand(b, op)
    tensor = a if isinstance(a, Tensor) else b
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{op}(): expected at least one Tensor operand, got "
                        f"{type(a).__name__} and {type(b).__name__}")

    def check_dtype(dtype):
        if into is not None:  # PyTorch checks the cast before the kernel's dtype
            check_cast(dtype, into.dtype)
        if dtype.is_floating_point or (op in _SHIFTS and dtype is _dtypes.bool_):
            raise _not_implemented(_BINARY[op][2], tensor.device, dtype)

    result = no_grad_binary(op, a, b, check_dtype)
    if into is None:
        return result
    if result.shape != into.shape:
        raise RuntimeError(f"output with shape {list(into.shape)} doesn't match the broadcast "
                           f"shape {list(result.shape)}")
    return into.copy_(result)


def _bind(op, symbol, stem):
    """``Tensor.<op>`` (also ``gg.<op>``), ``<op>_`` and the operators ``__<stem>__``,
    ``__r<stem>__`` and ``__i<stem>__``."""
    def method(self, other, *, out=None):
        return write_out(_bitwise(op, self, other), out)

    doc = (f"Elementwise ``self {symbol} other`` on integer or bool tensors, in PyTorch's "
           f"promoted dtype; also the operator ``{symbol}``. As ``gg.{op}(input, other)``, "
           f"either may be a number; ``out=`` as in PyTorch.")
    tensor_method(op, doc)(method)
    tensor_method(f"{op}_", f"``self.{op}(other)`` written into self; returns self.")(
        lambda self, other: _bitwise(op, self, other, into=self))
    setattr(Tensor, f"__{stem}__", lambda self, other: _bitwise(op, self, other))
    setattr(Tensor, f"__r{stem}__", lambda self, other: _bitwise(op, other, self))
    setattr(Tensor, f"__i{stem}__", lambda self, other: _bitwise(op, self, other, into=self))


for _op, (_symbol, _stem, _) in _BINARY.items():
    _bind(_op, _symbol, _stem)


def _invert(self):
    backend = self._backend
    if self.dtype.is_floating_point:
        raise _not_implemented("bitwise_not", self.device, self.dtype)
    return Tensor._make(backend.unary("bitwise_not", self._data), backend, False)


@tensor_method("bitwise_not")
def bitwise_not(self, *, out=None):
    """Elementwise bitwise NOT of an integer tensor (``~x == -x - 1``; ``255 - x`` for uint8),
    logical NOT of a bool one; also ``~``."""
    return write_out(_invert(self), out)


@tensor_method("bitwise_not_")
def bitwise_not_(self):
    """``self.bitwise_not()`` written into self; returns self."""
    return self.copy_(_invert(self))


def __invert__(self) -> Tensor:
    if self.dtype.is_floating_point:  # PyTorch's message for the operator
        raise TypeError("~ (operator.invert) is only implemented on integer and Boolean-type "
                        "tensors")
    return _invert(self)


setattr(Tensor, "__invert__", __invert__)
