"""Elementwise ops with broadcasting: arithmetic, unary math, activations, where.

Result dtypes follow PyTorch's promotion (``gpugrad.dtypes``), decided here from the operands'
dtypes and classes before the backend computes, so they do not depend on NumPy's own rules.
"""
from .. import dtypes as _dtypes
from ..finfo import check_fits
from ..engine.function import Function
from .. import tensor as _tensor
from ..engine.graph import backward_through_tensors
from .broadcast import SAME_SHAPE, broadcast_shapes, checked_binary, sum_to, sum_to_array
from .fused import BiasActGrad
from .integer_power import check_number_exponent, integer_power, needs_integer_power

_scalar_dtype = _dtypes.scalar_dtype
_binary_result_type = _dtypes.binary_result_type


def promoted_of(backend, *operands):
    """PyTorch's result dtype of an op on several operands (arrays, numbers or None)."""
    groups = ([], [], [])
    for x in operands:
        if x is None:
            continue
        if getattr(x, "shape", None) is None:
            groups[2].append(_scalar_dtype(x))
        else:
            groups[0 if x.ndim else 1].append(backend.dtype(x))
    return _dtypes.result_type_of(*groups)


def promoted_dtype(backend, a, b):
    """PyTorch's result dtype of ``a op b`` (backend arrays or numbers)."""
    if type(a) is float or type(a) is int or type(a) is bool:
        da, ca = _scalar_dtype(a), 0
    else:
        da, ca = backend.dtype(a), 2 if a.ndim else 1
    if type(b) is float:  # the common ``x * 0.5``
        if da.is_floating_point and ca:
            return da
        db, cb = _dtypes.DEFAULT_FLOAT, 0
    elif type(b) is int or type(b) is bool:
        db, cb = _scalar_dtype(b), 0
    else:
        db = backend.dtype(b)
        if db is da:
            return da
        cb = 2 if b.ndim else 1
    return _binary_result_type(da, ca, db, cb)


def data_of(x):
    """A saved input's backend array (a number stays itself)."""
    return getattr(x, "_data", x)


def binary_arrays(op_class, backend, a, b):
    """What ``op_class.apply(a, b)`` computes, on backend arrays or numbers and in the same
    dtype, without a Function: the products of the ops' ``backward_arrays``."""
    result_dtype = op_class.result_dtype
    if getattr(a, "shape", None) is not None and getattr(b, "shape", None) is not None \
            and a.dtype is b.dtype:
        dtype = None if result_dtype is None else result_dtype(backend.dtype(a))
    else:
        dtype = promoted_dtype(backend, a, b)
        if result_dtype is not None:
            dtype = result_dtype(dtype)
    return backend.binary(op_class.op, a, b, dtype)


def where_arrays(backend, cond, a, b):
    """What ``Where.apply(cond, a, b)`` computes, on arrays (or numbers for ``a``, ``b``)."""
    return backend.where(cond, a, b, promoted_dtype(backend, a, b))


# what a binary op records of its operands' shapes when no gradient needs a reduction (the
# common case): shared constants, so the graph keeps no shape tuples per op
_BOTH_SAME = (SAME_SHAPE, SAME_SHAPE)
_NUMBER_AND_SAME = (None, SAME_SHAPE)
_SAME_AND_NUMBER = (SAME_SHAPE, None)


class _Binary(Function):
    """A broadcasting binary op; ``op`` names the backend primitive. Operands may be numbers,
    whose ``shapes`` entry is None (they get no gradient). The result dtype is PyTorch's
    promotion of the operands (``result_dtype`` adjusts it per op); an operand of another float
    dtype gets its gradient back in its own dtype (``input_dtypes``, read by the engine)."""

    op = None
    result_dtype = None  # a function adjusting the promoted dtype (true division: a float)
    supports_out = True

    def forward(self, a, b, out=None):
        backend = self.backend
        shape_a, shape_b = getattr(a, "shape", None), getattr(b, "shape", None)
        if shape_a is not None and shape_b is not None:
            self.shapes = _BOTH_SAME if shape_a == shape_b else (shape_a, shape_b)
            if a.dtype is b.dtype and out is None:  # one dtype (the common case): it stays
                dtype = None if self.result_dtype is None else \
                    self.result_dtype(backend.dtype(a))
            else:
                dtype = backend.dtype(a)
                other = backend.dtype(b)
                if other is not dtype:
                    self.input_dtypes = (dtype, other)
                    dtype = _binary_result_type(dtype, 2 if a.ndim else 1, other,
                                                2 if b.ndim else 1)
                if self.result_dtype is not None:
                    dtype = self.result_dtype(dtype)
        else:
            self.shapes = _NUMBER_AND_SAME if shape_a is None else _SAME_AND_NUMBER
            dtype = promoted_dtype(backend, a, b)
            if self.result_dtype is not None:
                dtype = self.result_dtype(dtype)
        if out is not None:
            _check_out(dtype, backend, out)
        try:
            return backend.binary(self.op, a, b, dtype, out)
        except ValueError:  # name the op and both shapes (checked only on failure: hot path)
            return checked_binary(backend, self.op, a, b, dtype, out)
        except TypeError:  # NumPy refuses the dtypes (bool - bool): say it as PyTorch does
            raise self.type_error(promoted_dtype(backend, a, b)) from None

    def type_error(self, dtype):
        return TypeError(f"{self.op}: not supported for {dtype.name} operands")


def _check_out(dtype, backend, out):
    """An in-place op writes into ``out``: the result's dtype must fit (PyTorch's canCast)."""
    target = backend.dtype(out)
    if not _dtypes.can_cast(dtype, target):
        raise RuntimeError(f"result type {dtype.name} can't be cast to the desired output type "
                           f"{target.name}")


class Add(_Binary):
    op = "add"

    def backward(self, grad):
        return sum_to(grad, self.shapes[0]), sum_to(grad, self.shapes[1])

    def backward_arrays(self, grad):
        shapes, (na, nb) = self.shapes, self.next_nodes
        if shapes is _BOTH_SAME:  # operands of the output's shape: the gradient passes as is
            return None if na is None else grad, None if nb is None else grad
        backend, (sa, sb) = self.backend, shapes
        return (None if na is None else sum_to_array(backend, grad, sa),
                None if nb is None else sum_to_array(backend, grad, sb))


def is_bool_operand(backend, x):
    """Whether ``x`` (a backend array or a number) is a bool tensor's array or a Python bool."""
    kind = type(x)
    return kind is bool or kind is not int and kind is not float and \
        backend.dtype(x) is _dtypes.bool_


class Sub(_Binary):
    """``a - b``; PyTorch refuses a bool operand (a tensor or ``True``) rather than compute
    ``1 - mask`` in integers."""
    op = "sub"

    def forward(self, a, b, out=None):
        # (an array's dtype is the array library's, compared with bool's directly: the hot
        # path; a number has none, and its default () is never a dtype)
        bool_array = _dtypes.bool_.native
        bool_a = type(a) is bool or getattr(a, "dtype", ()) is bool_array
        bool_b = type(b) is bool or getattr(b, "dtype", ()) is bool_array
        if bool_a and bool_b:
            raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not "
                               "supported. Use the `^` or `logical_xor()` operator instead.")
        if bool_a or bool_b:
            raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not "
                               "supported. If you are trying to invert a mask, use the `~` or "
                               "`logical_not()` operator instead.")
        return _Binary.forward(self, a, b, out)

    def backward(self, grad):
        gb = None if self.shapes[1] is None else sum_to(-grad, self.shapes[1])
        return sum_to(grad, self.shapes[0]), gb

    def backward_arrays(self, grad):
        backend, (sa, sb), (na, nb) = self.backend, self.shapes, self.next_nodes
        gb = None if nb is None else sum_to_array(backend, backend.unary("neg", grad), sb)
        return (None if na is None else sum_to_array(backend, grad, sa)), gb


class Mul(_Binary):
    save_inputs = True
    op = "mul"

    def backward(self, grad):
        a, b = self.inputs
        ga = None if self.shapes[0] is None else sum_to(grad * b, self.shapes[0])
        gb = None if self.shapes[1] is None else sum_to(grad * a, self.shapes[1])
        return ga, gb

    def backward_arrays(self, grad):
        a, b = self.inputs
        backend, (na, nb) = self.backend, self.next_nodes
        ga = gb = None
        if self.shapes is _BOTH_SAME:  # two tensors of the output's shape: no reduction
            ad, bd = a._data, b._data
            if grad.dtype is ad.dtype and grad.dtype is bd.dtype:  # and no promotion
                binary = backend.binary
                return (None if na is None else binary("mul", grad, bd),
                        None if nb is None else binary("mul", grad, ad))
        sa, sb = self.shapes
        if na is not None:
            ga = sum_to_array(backend, binary_arrays(Mul, backend, grad, data_of(b)), sa)
        if nb is not None:
            gb = sum_to_array(backend, binary_arrays(Mul, backend, grad, data_of(a)), sb)
        return ga, gb


class Div(_Binary):
    """True division: integer and bool operands give the default float, as in PyTorch."""

    save_inputs = True
    op = "div"
    result_dtype = staticmethod(_dtypes.default_float_for)

    def backward(self, grad):
        a, b = self.inputs
        ga = None if self.shapes[0] is None else sum_to(grad / b, self.shapes[0])
        gb = None if self.shapes[1] is None else sum_to(-grad * a / (b * b), self.shapes[1])
        return ga, gb

    def backward_arrays(self, grad):
        a, b = data_of(self.inputs[0]), data_of(self.inputs[1])
        backend, (sa, sb), (na, nb) = self.backend, self.shapes, self.next_nodes
        ga = gb = None
        if na is not None:
            ga = sum_to_array(backend, binary_arrays(Div, backend, grad, b), sa)
        if nb is not None:
            scaled = binary_arrays(Mul, backend, backend.unary("neg", grad), a)
            gb = binary_arrays(Div, backend, scaled, binary_arrays(Mul, backend, b, b))
            gb = sum_to_array(backend, gb, sb)
        return ga, gb


class Pow(_Binary):
    """``a ** b`` with PyTorch's gradients (``pow_backward``, ``pow_backward_self``,
    ``pow_backward_exponent``): a number exponent of 0 gives the base a zero gradient, a tensor
    exponent gives 0 where it is 0; the exponent's gradient ``grad * a ** b * log(a)`` takes
    ``a ** b * log(a)`` as 0 where ``a == 0`` and ``b >= 0`` (so it is -inf at ``0 ** -1``).
    The output is not saved (``x **= 0.5; x **= w`` works, as in PyTorch): the exponent's
    gradient recomputes ``a ** b``."""

    autocast = "gpu_float32"

    save_inputs = True

    op = "pow"

    def forward(self, a, b, out=None):
        backend = self.backend
        if is_bool_operand(backend, a):
            if type(b) is bool:  # a bool result, as PyTorch's: mask ** True is the mask, and
                # mask ** False all true (x ** 0): the mask or not b (bools have no gradient)
                return backend.binary("logical_or", a, not b, None, out)
            if is_bool_operand(backend, b):
                raise NotImplementedError("\"pow\" not implemented for 'bool': convert the base "
                                          "first, e.g. x.long() ** y")
        if needs_integer_power(backend, a, b):  # negative integer exponents: PyTorch's results
            if out is not None:  # (bool_tensor.pow_(int_tensor): int64 can't go into bool)
                _check_out(promoted_dtype(backend, a, b), backend, out)
            return integer_power(super().forward, backend, a, b, out)
        check_number_exponent(backend, a, b)
        return super().forward(a, b, out)

    def backward(self, grad):
        a, b = self.inputs
        ga = gb = None
        if self.shapes[0] is not None:
            if self.shapes[1] is None:  # x ** number
                if b == 0:  # zeros, whatever grad holds (NaN and inf included)
                    ga = _tensor.Tensor._make(self.backend.full(a.shape, 0.0, a.dtype), self.backend,
                                      False)
                elif b == 1:
                    ga = grad
                elif b == 2:
                    ga = grad * (a * 2.0)
                else:
                    ga = grad * (b * a ** (b - 1))
            else:
                ga = Where.apply(b == 0, 0.0, grad * (b * a ** (b - 1)))
            ga = sum_to(ga, self.shapes[0])
        if self.shapes[1] is not None:
            base = _tensor.as_tensor_like(a, b)  # a number base becomes a 0-d tensor
            zero_base = (base == 0).logical_and(b >= 0)
            gb = grad * Where.apply(zero_base, 0.0, base ** b * base.log())
            gb = sum_to(gb, self.shapes[1])
        return ga, gb

    def backward_arrays(self, grad):
        if self.shapes[1] is not None:  # a tensor exponent: the rarer case, on Tensors
            return backward_through_tensors(self, grad)
        a, b = self.inputs[0]._data, self.inputs[1]
        backend = self.backend
        if b == 0:
            ga = backend.full(a.shape, 0.0, backend.dtype(a))
        elif b == 1:
            ga = grad
        elif b == 2:
            ga = binary_arrays(Mul, backend, grad, binary_arrays(Mul, backend, a, 2.0))
        else:
            power = binary_arrays(Pow, backend, a, b - 1)
            ga = binary_arrays(Mul, backend, grad, binary_arrays(Mul, backend, b, power))
        return sum_to_array(backend, ga, self.shapes[0]), None


class _Unary(Function):
    """An elementwise op of one tensor; ``op`` names the backend primitive. Integer and bool
    inputs give the default float for ``exp``, ``log`` and the like (PyTorch's rule)."""

    op = None
    supports_out = True

    def forward(self, a, out=None):
        if out is None:
            return self.backend.unary(self.op, a)
        backend = self.backend
        _check_out(_dtypes.unary_result_type(self.op, backend.dtype(a)), backend, out)
        return backend.unary(self.op, a, None, out)


class Neg(_Unary):
    op = "neg"

    def forward(self, a, out=None):
        try:
            if out is None:
                return self.backend.unary("neg", a)
            return _Unary.forward(self, a, out)
        except TypeError:  # NumPy refuses to negate bools; say it as PyTorch does
            if self.backend.dtype(a) is _dtypes.bool_:
                raise RuntimeError("Negation, the `-` operator, on a bool tensor is not "
                                   "supported. If you are trying to invert a mask, use the `~` "
                                   "or `logical_not()` operator instead.") from None
            raise

    def backward(self, grad):
        return -grad

    def backward_arrays(self, grad):
        return self.backend.unary("neg", grad)


class Exp(_Unary):
    autocast = "gpu_float32"
    save_output = True
    op = "exp"

    def backward(self, grad):
        return grad * self.output()

    def backward_arrays(self, grad):
        return binary_arrays(Mul, self.backend, grad, self._out)


class Log(_Unary):
    autocast = "gpu_float32"
    save_inputs = True
    op = "log"

    def backward(self, grad):
        return grad / self.inputs[0]

    def backward_arrays(self, grad):
        return binary_arrays(Div, self.backend, grad, self.inputs[0]._data)


def zero_gradient(grad):
    """The gradient PyTorch gives through a piecewise-constant op (sign, floor, round...):
    zeros of ``grad``'s shape and dtype (not None: the input's ``.grad`` becomes zeros)."""
    backend = grad._backend
    return _tensor.Tensor._make(backend.full(grad.shape, 0, grad.dtype), backend, False)


def copy_of(backend, a, out=None):
    """``a`` itself as an op's result (a dense copy, or written into ``out``): what
    ``sign`` of a bool and ``floor``, ``round``... of an integer tensor give."""
    if out is None:
        return backend.contiguous(a)
    backend.copy_(out, a)
    return out


class Sign(_Unary):
    """-1, 0 or 1 by sign (a bool tensor stays itself); its gradient is zero, as PyTorch's
    (``sign_`` in place)."""

    op = "sign"

    def forward(self, a, out=None):
        if self.backend.dtype(a) is _dtypes.bool_:
            return copy_of(self.backend, a, out)
        return _Unary.forward(self, a, out)

    def backward(self, grad):
        return zero_gradient(grad)


class Sqrt(_Unary):
    """``sqrt(a)``; gradient ``grad / (2 * sqrt(a))`` as PyTorch (inf at 0, -inf at -0.0)."""

    save_output = True
    op = "sqrt"

    def backward(self, grad):
        return grad / (self.output() * 2.0)

    def backward_arrays(self, grad):
        backend = self.backend
        return binary_arrays(Div, backend, grad, binary_arrays(Mul, backend, self._out, 2.0))


class Abs(_Unary):
    """``|a|``; gradient ``grad * sgn(a)``, 0 at 0 and at NaN, as PyTorch."""

    save_inputs = True
    op = "abs"

    def backward(self, grad):
        return grad * Abs.sgn(self.inputs[0])

    @staticmethod
    def sgn(x):
        """PyTorch's ``sgn`` of a real tensor (no gradient): -1, 0 or 1, and 0 at NaN (where
        the backends' ``sign`` gives NaN)."""
        return Where.apply(x != x, 0.0, x.sign())


class _Activation(_Unary):
    """tanh, relu or sigmoid (``op``). Backward is one kernel, bias_act's gradient from the
    saved output, instead of three elementwise ops; that kernel has its own backward."""

    save_output = True

    def backward(self, grad):
        return BiasActGrad.apply(grad, self.output(), act=self.op)

    def backward_arrays(self, grad):
        return self.backend.bias_act_backward(grad, self._out, self.op)


class Tanh(_Activation):
    op = "tanh"


class Relu(_Activation):
    op = "relu"


class Sigmoid(_Activation):
    op = "sigmoid"


def in_float32(backend, a, compute):
    """``compute(a)``, of a float16 or bfloat16 ``a`` computed in float32 and rounded once, as
    PyTorch's kernels accumulate low precision (softmax, var, std)."""
    dtype = backend.dtype(a)
    if not dtype.is_low_precision:
        return compute(a)
    return backend.cast(compute(backend.cast(a, _dtypes.float32)), dtype)


class Where(Function):
    """``where(cond, a, b)``; ``cond`` is a bool tensor and never gets a gradient."""

    save_inputs = True

    def forward(self, cond, a, b):
        self.shapes = (getattr(a, "shape", None), getattr(b, "shape", None))
        backend = self.backend
        dtype = promoted_dtype(backend, a, b)  # where(c, 1.0, 0.0) is float32, as in PyTorch
        if self.shapes[0] is not None and self.shapes[1] is not None:
            da, db = backend.dtype(a), backend.dtype(b)
            if da is not db:
                self.input_dtypes = (None, da, db)
        elif not dtype.is_floating_point:  # (a float overflows to inf, as in PyTorch's)
            check_fits(a, dtype)  # (numbers only: a tensor passes)
            check_fits(b, dtype)
        try:
            return backend.where(cond, a, b, dtype)
        except ValueError:
            shape = broadcast_shapes("where", cond.shape, self.shapes[0] or ())
            broadcast_shapes("where", shape, self.shapes[1] or ())
            raise

    def backward(self, grad):
        cond = self.inputs[0]
        ga = None if self.shapes[0] is None else sum_to(Where.apply(cond, grad, 0.0), self.shapes[0])
        gb = None if self.shapes[1] is None else sum_to(Where.apply(cond, 0.0, grad), self.shapes[1])
        return None, ga, gb

    def backward_arrays(self, grad):
        cond, backend = self.inputs[0]._data, self.backend
        _, na, nb = self.next_nodes
        ga = gb = None
        if na is not None:
            ga = sum_to_array(backend, where_arrays(backend, cond, grad, 0.0), self.shapes[0])
        if nb is not None:
            gb = sum_to_array(backend, where_arrays(backend, cond, 0.0, grad), self.shapes[1])
        return None, ga, gb
