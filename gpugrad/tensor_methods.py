"""The op methods of ``Tensor``: operators, math, comparisons, reductions and fused ops.

Each method is a thin front on an op in ``gpugrad.ops``, where forward and backward live. Shape
ops, indexing and joining are in ``tensor_shape_methods``.
"""
from . import dtypes as _dtypes
from .backends.base import ACTIVATIONS
from .engine.function import devices_differ_error
from .ops import elementwise as E
from .ops import selection as SEL
from .ops import fused as F
from .ops import matmul as M
from .ops import reduce as R
from .ops import softmax as SM
from .ops.broadcast import broadcast_shapes, normalize_dims, reduction_dims
from .tensor import ReductionResult, Tensor, as_tensor_like
from .tensor_api import tensor_argument, tensor_method, write_out
from .tensor_reduction_methods import reduced_in


_method = tensor_method


# ---- arithmetic operators -------------------------------------------------------------------
def _binary(op, reverse=False):
    # op.apply is looked up per call: a profiler that times Function.apply sees operators too
    if reverse:
        return lambda self, other: op.apply(other, self)
    return lambda self, other: op.apply(self, other)


_BROADCAST = "; ``other`` is a tensor or a number, broadcast as in PyTorch."
for _name, _op, _sym in (("add", E.Add, "+"), ("sub", E.Sub, "-"), ("mul", E.Mul, "*"),
                         ("div", E.Div, "/"), ("pow", E.Pow, "**")):
    _method(f"__{_name}__", f"``self {_sym} other``.")(_binary(_op))
    _method(f"__r{_name}__", f"``other {_sym} self``.")(_binary(_op, reverse=True))
    if _name not in ("add", "sub"):  # those two also take alpha=, below
        _method(_name, f"Elementwise ``self {_sym} other``{_BROADCAST} ``out=`` takes a "
                f"tensor to write the result into.")(
            (lambda op: lambda self, other, *, out=None: write_out(op.apply(self, other), out))(
                _op))


@_method("add")
def add(self, other, *, alpha=1, out=None):
    """Elementwise ``self + alpha * other``; ``other`` is a tensor or a number, broadcast as in
    PyTorch. ``out=`` takes a tensor to write the result into."""
    return write_out(E.Add.apply(self, other if alpha == 1 else other * alpha), out)


@_method("sub")
def sub(self, other, *, alpha=1, out=None):
    """Elementwise ``self - alpha * other``; ``other`` is a tensor or a number, broadcast as in
    PyTorch. ``out=`` takes a tensor to write the result into."""
    return write_out(E.Sub.apply(self, other if alpha == 1 else other * alpha), out)


Tensor.__truediv__ = Tensor.__div__
Tensor.__rtruediv__ = Tensor.__rdiv__
Tensor.true_divide = Tensor.div
Tensor.subtract, Tensor.multiply = Tensor.sub, Tensor.mul


@_method("neg")
def neg(self):
    """``-self``, elementwise."""
    return E.Neg.apply(self)


Tensor.__neg__ = neg


@_method("__pos__")
def pos(self):
    """``+self``: self itself."""
    return self


@_method("matmul")
def matmul(self, other, *, out=None):
    """The matrix product ``self @ other``, with PyTorch's rules for 1-d and batched operands;
    both must have one dtype (as in PyTorch, matmul does not promote). ``out=`` takes a tensor
    to write the result into."""
    return write_out(M.Matmul.apply(self, tensor_argument(other, "matmul")), out)


@_method("__matmul__")
def matmul_operator(self, other):
    """``self @ other``."""
    if not isinstance(other, Tensor):
        return NotImplemented  # Python then raises "unsupported operand type(s) for @"
    return M.Matmul.apply(self, other)


@_method("__rmatmul__")
def rmatmul(self, other):
    """``other @ self``."""
    if not isinstance(other, Tensor):
        return NotImplemented
    return M.Matmul.apply(other, self)


# ---- elementwise math -----------------------------------------------------------------------
for _name, _op, _doc in (("exp", E.Exp, "``e ** self``"), ("log", E.Log, "The natural logarithm"),
                         ("sqrt", E.Sqrt, "The square root"), ("abs", E.Abs, "The absolute value"),
                         ("tanh", E.Tanh, "The hyperbolic tangent"),
                         ("relu", E.Relu, "``max(self, 0)``"),
                         ("sigmoid", E.Sigmoid, "``1 / (1 + exp(-self))``")):
    _method(_name, f"{_doc}, elementwise.")((lambda op: lambda self: op.apply(self))(_op))
Tensor.__abs__ = Tensor.abs


@_method("square")
def square(self):
    """``self * self``, elementwise (``self ** 2``: a bool tensor gives int64, as in PyTorch)."""
    if self.dtype is _dtypes.bool_:
        return E.Pow.apply(self, 2)
    return E.Mul.apply(self, self)


@_method("sign")
def sign(self):
    """-1, 0 or 1 by sign (a bool tensor stays itself); its gradient is zero, as PyTorch's."""
    return E.Sign.apply(self)


@_method("maximum")
def maximum(self, other):
    """The larger of ``self`` and ``other``, elementwise (broadcast)."""
    return SEL.Maximum.apply(self, other)


@_method("minimum")
def minimum(self, other):
    """The smaller of ``self`` and ``other``, elementwise (broadcast)."""
    return SEL.Minimum.apply(self, other)


@_method("clamp")
def clamp(self, min=None, max=None):
    """Limit values to ``[min, max]`` (``clip`` is an alias).

    Bounds are numbers or tensors (broadcast); either may be None, not both. With number bounds
    the gradient passes where ``min <= self <= max``, as in PyTorch.
    """
    if min is None and max is None:
        raise RuntimeError("clamp: at least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):  # tensor bounds, positionally
        return SEL.Clamp.apply(self, min, max)
    return SEL.Clamp.apply(self, min=min, max=max)


Tensor.clip = clamp


@_method("where")
def where_method(self, condition, other):
    """``self`` where ``condition`` (a bool tensor) holds, else ``other``, as
    ``torch.Tensor.where``."""
    return where(condition, self, other)


def where(condition, input=None, other=None):
    """``input`` where ``condition`` is true, else ``other``; both may be numbers. With
    ``condition`` alone, ``condition.nonzero(as_tuple=True)`` (the coordinates where it holds)."""
    if input is None and other is None:
        return condition.nonzero(as_tuple=True)
    like = next(t for t in (condition, input, other) if isinstance(t, Tensor))
    if not isinstance(condition, Tensor):
        condition = as_tensor_like(condition, like)
    if condition.dtype is not _dtypes.bool_:
        raise TypeError(f"where expected condition to be a bool tensor, got {condition.dtype}")
    return E.Where.apply(condition, input, other)


# ---- comparisons (no gradient) --------------------------------------------------------------
def no_grad_binary(op, a, b, check_dtype=None):
    """``a op b`` as a tensor with no history (comparisons, logical and bitwise ops): ``a`` and
    ``b`` are tensors or numbers (at least one a tensor, in either order), computed in PyTorch's
    promoted dtype, which ``check_dtype(dtype)`` may refuse first."""
    tensor = a if isinstance(a, Tensor) else b
    backend = tensor._backend
    if isinstance(a, Tensor) and isinstance(b, Tensor) and a._backend is not b._backend:
        raise devices_differ_error(op, a.device, b.device)
    data_a, data_b = getattr(a, "_data", a), getattr(b, "_data", b)
    dtype = E.promoted_dtype(backend, data_a, data_b)
    if check_dtype is not None:
        check_dtype(dtype)
    try:
        data = backend.binary(op, data_a, data_b, dtype)
    except ValueError:
        broadcast_shapes(op, getattr(a, "shape", ()), getattr(b, "shape", ()))
        raise
    return Tensor._make(data, backend, False)


@_method("_compare")
def _compare(self, op, other):
    if not (isinstance(other, Tensor) or type(other) is float or type(other) is int or
            type(other) is bool):
        other = _dtypes.as_number(other, op)
    return no_grad_binary(op, self, other)  # compared in PyTorch's common dtype


def _compare_operator(op):
    """``self <op> other`` for Python's operator: NotImplemented for an operand that is neither
    a tensor nor a number, so Python decides, as for PyTorch's (``t == None`` is False,
    ``t in [None, 3]`` works, ``t < None`` is a TypeError)."""
    def compare(self, other) -> Tensor:
        if not (isinstance(other, Tensor) or type(other) in (float, int, bool)):
            try:
                _dtypes.scalar_dtype(other)
            except TypeError:
                return NotImplemented
        return self._compare(op, other)
    compare.__name__ = f"__{op}__"
    return compare


for _name, _sym in (("eq", "=="), ("ne", "!="), ("lt", "<"), ("le", "<="), ("gt", ">"),
                   ("ge", ">=")):
    _method(_name, f"Elementwise ``self {_sym} other`` as a bool tensor (no gradient).")(
        (lambda op: lambda self, other: self._compare(op, other))(_name))
    setattr(Tensor, f"__{_name}__", _compare_operator(_name))


@_method("logical_and")
def logical_and(self, other):
    """Elementwise ``self and other`` (nonzero is true), as a bool tensor (``&`` is
    ``bitwise_and``, the same on bool tensors)."""
    return self._compare("logical_and", other)


@_method("logical_or")
def logical_or(self, other):
    """Elementwise ``self or other`` (nonzero is true), as a bool tensor (``|`` is
    ``bitwise_or``, the same on bool tensors)."""
    return self._compare("logical_or", other)


@_method("logical_not")
def logical_not(self):
    """Elementwise ``not self`` (true where self is zero), as a bool tensor (``~`` is
    ``bitwise_not``, the same on bool tensors)."""
    return self._compare("eq", False)


# &, |, ^, ~, << and >> are the bitwise ops: tensor_bitwise_methods.py


# any, all, count_nonzero, prod, the scans and sorting: tensor_reduction_methods.py


# ---- reductions -----------------------------------------------------------------------------
@_method("sum")
def sum_(self, dim=None, keepdim=False, *, dtype=None):
    """Sum over ``dim`` (an int, a tuple, or None for all). Bool and integer tensors give
    int64; ``dtype`` casts the input first, and the result stays in it (as in PyTorch)."""
    if dtype is None:
        return R.Sum.apply(self, dim=dim, keepdim=keepdim)
    return reduced_in(dtype, self, lambda x: R.Sum.apply(x, dim=dim, keepdim=keepdim))


@_method("mean")
def mean(self, dim=None, keepdim=False, *, dtype=None):
    """The mean over ``dim`` (an int, a tuple, or None for all); floating-point tensors only,
    or a floating ``dtype`` that the input is cast to first."""
    if dtype is not None:
        dtype = _dtypes.as_dtype(dtype)
        if not dtype.is_floating_point:
            raise RuntimeError(f"mean(): could not infer output dtype. Optional dtype must be "
                               f"either a floating point or complex dtype. Got: {dtype}")
        return reduced_in(dtype, self, lambda x: mean(x, dim, keepdim))
    if not self.dtype.is_floating_point:
        raise RuntimeError(f"mean(): input dtype should be floating point, got {self.dtype}")
    return R.Mean.apply(self, dim=dim, keepdim=keepdim)


def _moment(self, op, name, dim, unbiased, keepdim, correction):
    if not self.dtype.is_floating_point:
        raise RuntimeError(f"{name}(): input dtype should be floating point, got {self.dtype}")
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    count = 1
    for d in reduction_dims(dim, self.ndim, name):
        count *= self.shape[d]
    if count - correction <= 0:
        import warnings

        warnings.warn(f"{name}(): degrees of freedom is <= 0. Correction should be strictly "
                      f"less than the reduction factor (input numel divided by output numel).",
                      UserWarning, stacklevel=3)
    return op.apply(self, dim=dim, correction=correction, keepdim=keepdim)


@_method("var")
def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """The variance over ``dim`` (None for all), dividing by ``max(N - correction, 0)``.

    ``correction`` is 1 by default (Bessel's, as in PyTorch); ``unbiased=False`` means 0. A
    constant slice has a variance of exactly 0 except in a reduction to a single value, which
    (as PyTorch's CPU) is centered on the rounded mean.
    """
    return _moment(self, R.Var, "var", dim, unbiased, keepdim, correction)


@_method("std")
def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """The square root of ``var`` with the same arguments (``correction`` 1 by default); its
    gradient is 0 where the result is 0, as in PyTorch."""
    return _moment(self, R.Std, "std", dim, unbiased, keepdim, correction)


@_method("norm")
def norm(self, p="fro", dim=None, keepdim=False, dtype=None):
    """The vector ``p``-norm over ``dim`` (an int, a tuple, or None for all), as
    ``torch.Tensor.norm``: ``sum(|x| ** p) ** (1 / p)``; ``dtype`` casts the input first and is
    the result's dtype.

    ``p`` is ``'fro'`` or 2 (the default, the Euclidean norm; ``'fro'`` over at most 2 dims),
    1, ``inf`` (the largest ``|x|``), ``-inf`` (the smallest), 0 (the number of nonzeros, no
    gradient) or any other float. Gradients are PyTorch's: 0 at a zero norm for ``p >= 1``, and
    ties of the inf-norm share the gradient evenly.
    """
    if isinstance(p, str):
        if p == "nuc":
            raise NotImplementedError("norm: the nuclear norm (p='nuc') needs an SVD, which "
                                      "gpugrad does not have")
        if p != "fro":
            raise RuntimeError(f"linalg.matrix_norm: Order {p} not supported.")
        if dim is not None and not isinstance(dim, int) and len(dim) > 2:
            raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got "
                               f"{' '.join(str(d) for d in dim)}")
        p = 2.0
    if dtype is not None:
        return reduced_in(dtype, self, lambda x: norm(x, p, dim, keepdim))
    p = 2.0 if p is None else float(p)
    if not self.dtype.is_floating_point:
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as "
                           f"input. Got {self.dtype}")
    if (p < 0 or p == float("inf")) and any(
            self.shape[d] == 0 for d in reduction_dims(dim, self.ndim, "norm")):
        raise RuntimeError(f"linalg.vector_norm cannot compute the {p:g} norm on an empty "
                           f"tensor because the operation does not have an identity")
    return R.Norm.apply(self, p=p, dim=dim, keepdim=keepdim)


@_method("amax")
def amax(self, dim=None, keepdim=False):
    """The largest value over ``dim`` (an int, a tuple, or None for all); values only."""
    return R.Amax.apply(self, dim=dim, keepdim=keepdim)


@_method("amin")
def amin(self, dim=None, keepdim=False):
    """The smallest value over ``dim`` (an int, a tuple, or None for all); values only."""
    return R.Amin.apply(self, dim=dim, keepdim=keepdim)


def _index_reduce(self, op, dim, keepdim):
    if dim is None:
        data = self._backend.reduce(op, self._data, None, False)
    else:
        dims = normalize_dims(dim, self.ndim, op)  # () for dim 0 or -1 of a 0-d tensor: index 0
        data = self._backend.reduce(op, self._data, dims[0] if dims else None, keepdim)
    return Tensor._make(data, self._backend, False)


@_method("argmax")
def argmax(self, dim=None, keepdim=False):
    """The index of the largest value along ``dim`` (into the flattened tensor if None)."""
    return _index_reduce(self, "argmax", dim, keepdim)


@_method("argmin")
def argmin(self, dim=None, keepdim=False):
    """The index of the smallest value along ``dim`` (into the flattened tensor if None)."""
    return _index_reduce(self, "argmin", dim, keepdim)


def _extreme(self, name, dim, keepdim):
    if dim is None:  # ties (or NaNs) share the gradient evenly
        return (R.MaxAll if name == "max" else R.MinAll).apply(self)
    dims = normalize_dims(dim, self.ndim, name)  # () for dim 0 or -1 of a 0-d tensor
    if dims and self.shape[dims[0]] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {dims[0]} to have non-zero size.")
    indices = _index_reduce(self, "arg" + name, dim, keepdim)
    along = R.MaxAlong if name == "max" else R.MinAlong
    values = along.apply(self, indices, dim=dims[0] if dims else 0, keepdim=keepdim)
    return ReductionResult(values, indices)


@_method("max")
def max_(self, dim=None, keepdim=False, *, other=None) -> Tensor | ReductionResult:
    """The largest value (0-d); with ``dim``, a ``(values, indices)`` named tuple, as in
    PyTorch. Without ``dim`` ties share the gradient evenly; with it, the entry at ``indices``
    (the first largest, or the first NaN) takes it all. With a tensor in place of ``dim``
    (``gg.max(a, b)``, or ``other=b``), ``gg.maximum(a, b)``."""
    if isinstance(dim, Tensor) or other is not None:
        return self.maximum(_other_extreme("max", dim, keepdim, other))
    return _extreme(self, "max", dim, keepdim)


@_method("min")
def min_(self, dim=None, keepdim=False, *, other=None) -> Tensor | ReductionResult:
    """The smallest value (0-d); with ``dim``, a ``(values, indices)`` named tuple, as in
    PyTorch. Without ``dim`` ties share the gradient evenly; with it, the entry at ``indices``
    (the first smallest, or the first NaN) takes it all. With a tensor in place of ``dim``
    (``gg.min(a, b)``, or ``other=b``), ``gg.minimum(a, b)``."""
    if isinstance(dim, Tensor) or other is not None:
        return self.minimum(_other_extreme("min", dim, keepdim, other))
    return _extreme(self, "min", dim, keepdim)


def _other_extreme(name, dim, keepdim, other):
    """The tensor of ``gg.max(input, other)``, refusing the reduction's arguments beside it."""
    if other is not None and dim is not None or keepdim is not False:
        raise TypeError(f"{name}() received an invalid combination of arguments: the "
                        f"elementwise form takes (input, other), without dim or keepdim")
    other = dim if other is None else other
    return tensor_argument(other, name)


@_method("logsumexp")
def logsumexp(self, dim, keepdim=False):
    """``log(sum(exp(self), dim))`` over ``dim`` (an int or a tuple), computed stably as
    PyTorch does: shifted by the max where the max is finite, so a slice of all -inf gives -inf
    and one holding +inf gives inf. Integer tensors are computed in the default float dtype."""
    if not self.dtype.is_floating_point:
        self = self.to(_dtypes.default_float_for(self.dtype))
    return SM.LogSumExp.apply(self, dim=dim, keepdim=keepdim)


@_method("softmax")
def softmax(self, dim=-1, dtype=None):
    """``exp(self)`` normalized to sum to 1 along ``dim``, shifted by the max as PyTorch does
    (so a slice whose max is infinite gives NaN, as in PyTorch); ``dtype`` casts the input
    first (``softmax(x, -1, dtype=gg.float32)`` of a float16 ``x``).

    ``dim`` defaults to -1 (PyTorch requires it). An integer or bool ``self`` (which PyTorch
    refuses) computes in the default float dtype.
    """
    if dtype is None and not self.dtype.is_floating_point:
        dtype = _dtypes.get_default_dtype()
    if dtype is not None:
        return reduced_in(dtype, self, lambda x: softmax(x, dim))
    if self.ndim == 0:  # one element along the only "dim"
        return self.reshape(1).softmax(dim).reshape(())
    return SM.Softmax.apply(self, dim=normalize_dims(dim, self.ndim, "softmax")[0])


@_method("log_softmax")
def log_softmax(self, dim=-1, dtype=None):
    """``log(softmax(self, dim))``, computed stably as PyTorch does (NaN for a slice whose max
    is infinite); ``dim`` defaults to -1 (PyTorch requires it); ``dtype`` casts the input
    first. An integer or bool ``self`` computes in the default float dtype, as ``softmax``."""
    if dtype is None and not self.dtype.is_floating_point:  # (one dtype for every step)
        dtype = _dtypes.get_default_dtype()
    if dtype is not None:
        return reduced_in(dtype, self, lambda x: log_softmax(x, dim))
    if self.ndim == 0:
        return self.reshape(1).log_softmax(dim).reshape(())
    return SM.LogSoftmax.apply(self, dim=normalize_dims(dim, self.ndim, "log_softmax")[0])


# ---- fused ops ------------------------------------------------------------------------------
@_method("bias_act", function=False)
def bias_act(self, bias, act="identity"):
    """``act(self + bias)`` in one fused kernel (identity, relu, tanh or sigmoid)."""
    if act not in ACTIVATIONS:
        raise ValueError(f"bias_act: unknown activation {act!r}; expected one of {ACTIVATIONS}")
    return F.BiasAct.apply(self, bias, act=act)
