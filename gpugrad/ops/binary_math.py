"""Binary and ternary math with broadcasting: ``atan2``, the NaN-ignoring ``fmax``/``fmin``,
the floating modulus family (``fmod``, ``remainder``, ``floor_divide``) and ``lerp``, with
PyTorch's dtype rules and derivative formulas (``derivatives.yaml``), written with
differentiable ops so that second derivatives work."""
from .. import dtypes as _dtypes
from ..engine.function import Function
from .broadcast import sum_to
from .elementwise import Where, _Binary, zero_gradient
from .unary_math import Reciprocal


class Atan2(_Binary):
    """``atan2(a, b)``: the angle of the point ``(b, a)``, in ``[-pi, pi]``; integer operands give
    the default float. Gradients ``grad * b / (a² + b²)`` and ``-grad * a / (a² + b²)``, 0 at
    the origin (as PyTorch's, where the quotients would be NaN)."""

    autocast = "promote"

    save_inputs = True
    op = "atan2"
    result_dtype = staticmethod(_dtypes.default_float_for)

    def backward(self, grad):
        a, b = self.inputs
        squared = a * a + b * b
        scale = grad * Reciprocal.apply(squared)
        origin = squared == 0
        return (sum_to((scale * b).masked_fill(origin, 0.0), self.shapes[0]),
                sum_to((scale * -a).masked_fill(origin, 0.0), self.shapes[1]))


class _NanIgnoring(_Binary):
    """fmax/fmin: the larger/smaller operand, or the one that is not NaN (NaN only when both
    are). PyTorch's gradient: ``a`` takes it all where it wins, ties included, or where ``b`` is
    NaN; ``b`` takes it elsewhere."""

    save_inputs = True
    keeps_a = None  # comparison under which ``a`` is the result

    def backward(self, grad):
        a, b = self.inputs
        takes_a = a._compare(self.keeps_a, b).logical_or(b != b)
        return (sum_to(Where.apply(takes_a, grad, 0.0), self.shapes[0]),
                sum_to(Where.apply(takes_a, 0.0, grad), self.shapes[1]))


class Fmax(_NanIgnoring):
    """The larger operand, or the one that is not NaN."""

    op, keeps_a = "fmax", "ge"


class Fmin(_NanIgnoring):
    """The smaller operand, or the one that is not NaN."""

    op, keeps_a = "fmin", "le"


class Fmod(_Binary):
    """C's ``fmod(a, b)`` of floating operands: ``a - b * trunc(a / b)`` computed exactly (so
    ``fmod(1.0, 0.1)`` is 0.09999999999999995, not the 0 that formula gives in floats), with
    the sign of ``a``. Gradients ``grad`` and ``-grad * trunc(a / b)``, as PyTorch's."""

    save_inputs = True
    op = "fmod"

    def backward(self, grad):
        a, b = self.inputs
        return (sum_to(grad, self.shapes[0]),
                sum_to(-grad * self.quotient(a, b), self.shapes[1]))

    @staticmethod
    def quotient(a, b):
        return (a / b).trunc()


class Remainder(Fmod):
    """Python's ``a % b`` of floating operands, with the sign of ``b`` (``fmod`` plus ``b``
    where their signs differ). Gradients ``grad`` and ``-grad * floor_divide(a, b)``."""

    op = "remainder"

    @staticmethod
    def quotient(a, b):
        return FloorDivide.apply(a, b)


class FloorDivide(_Binary):
    """Python's ``a // b`` of floating operands, from ``fmod`` as Python and PyTorch compute
    it: ``1.0 // 0.1`` is 9.0 (``floor(1.0 / 0.1)`` rounds to 10.0), ``inf // 2.5`` NaN and
    ``-2.5 // inf`` -1.0. A zero gradient, as PyTorch's."""

    op = "floor_divide"

    def backward(self, grad):
        zero = zero_gradient(grad)
        return sum_to(zero, self.shapes[0]), sum_to(zero, self.shapes[1])


class Lerp(Function):
    """``lerp(start, end, weight)``: ``start + weight * (end - start)``, computed as PyTorch does
    so that ``weight = 1`` gives ``end`` exactly: ``end - (end - start) * (1 - weight)`` where
    ``|weight| >= 0.5``. ``weight`` is a number or a tensor; everything broadcasts and is
    computed in ``start``'s dtype (the method checks the dtypes). Gradients: ``grad * (1 - w)``,
    ``grad * w`` and, for a tensor weight, ``grad * (end - start)``. In place as ``lerp_``."""

    save_inputs = True

    def forward(self, start, end, weight):
        backend = self.backend
        dtype = backend.dtype(start)
        self.shapes = (start.shape, end.shape, getattr(weight, "shape", None))
        if self.shapes[2] is not None and backend.dtype(weight) is not dtype:
            self.input_dtypes = (None, None, backend.dtype(weight))  # a 0-d float64 weight
        diff = backend.binary("sub", end, start, dtype)
        if self.shapes[2] is None:  # a number: the branch is known here
            if abs(weight) < 0.5:
                return backend.binary("add", start, backend.binary("mul", diff, weight, dtype),
                                      dtype)
            return backend.binary("sub", end, backend.binary("mul", diff, 1 - weight, dtype),
                                  dtype)
        small = backend.binary("lt", backend.unary("abs", weight), 0.5, dtype)
        near_start = backend.binary("add", start, backend.binary("mul", weight, diff, dtype),
                                    dtype)
        one_minus = backend.binary("sub", 1, weight, dtype)
        near_end = backend.binary("sub", end, backend.binary("mul", diff, one_minus, dtype),
                                  dtype)
        return backend.where(small, near_start, near_end, dtype)

    def backward(self, grad):
        start, end, weight = self.inputs
        grad_weight = None
        if self.shapes[2] is not None:
            grad_weight = sum_to(grad * (end - start), self.shapes[2])
        return (sum_to(grad * (1 - weight), self.shapes[0]),
                sum_to(grad * weight, self.shapes[1]), grad_weight)
