"""The op methods of ``Tensor``: operators, math, reductions, shape ops and indexing.

Each method is a thin front on an op in ``gpugrad.ops``, where forward and backward live.
"""
import operator

from . import dtypes as _dtypes
from .function import devices_differ_error
from .ops import elementwise as E
from .ops import fused as F
from .ops import matmul as M
from .ops import reduce as R
from .ops import shape as S
from .ops import softmax as SM
from .ops.broadcast import normalize_dims, reduction_dims
from .tensor import ReductionResult, Tensor, as_tensor_like


def _method(name):
    def bind(fn):
        fn.__name__ = name
        fn.__qualname__ = f"Tensor.{name}"
        setattr(Tensor, name, fn)
        return fn

    return bind


# ---- arithmetic operators -------------------------------------------------------------------
def _binary(op, reverse=False):
    apply = op.apply
    if reverse:
        return lambda self, other: apply(other, self)
    return lambda self, other: apply(self, other)


for _name, _op in (("add", E.Add), ("sub", E.Sub), ("mul", E.Mul), ("div", E.Div),
                   ("pow", E.Pow)):
    setattr(Tensor, f"__{_name}__", _binary(_op))
    setattr(Tensor, f"__r{_name}__", _binary(_op, reverse=True))
    setattr(Tensor, _name, _binary(_op))
Tensor.__truediv__ = Tensor.__div__
Tensor.__rtruediv__ = Tensor.__rdiv__
Tensor.true_divide = Tensor.div
Tensor.subtract, Tensor.multiply = Tensor.sub, Tensor.mul
Tensor.__neg__ = Tensor.neg = lambda self: E.Neg.apply(self)
Tensor.__pos__ = lambda self: self
Tensor.__matmul__ = Tensor.matmul = lambda self, other: M.Matmul.apply(self, other)
Tensor.__rmatmul__ = lambda self, other: M.Matmul.apply(other, self)
Tensor.__abs__ = lambda self: E.Abs.apply(self)

# ---- elementwise math -----------------------------------------------------------------------
for _name, _op in (("exp", E.Exp), ("log", E.Log), ("sqrt", E.Sqrt), ("abs", E.Abs),
                   ("tanh", E.Tanh), ("relu", E.Relu), ("sigmoid", E.Sigmoid)):
    setattr(Tensor, _name, (lambda op: lambda self: op.apply(self))(_op))


@_method("square")
def square(self):
    return E.Mul.apply(self, self)


@_method("sign")
def sign(self):
    """-1, 0 or 1 by sign; carries no gradient."""
    return Tensor._make(self._backend.unary("sign", self._data), self._backend, False)


@_method("maximum")
def maximum(self, other):
    return E.Maximum.apply(self, other)


@_method("minimum")
def minimum(self, other):
    return E.Minimum.apply(self, other)


@_method("clamp")
def clamp(self, min=None, max=None):
    """Limit values to ``[min, max]`` (either may be None)."""
    if min is None and max is None:
        raise RuntimeError("clamp: at least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):  # tensor bounds: elementwise ops
        out = self if min is None else E.Maximum.apply(self, min)
        return out if max is None else E.Minimum.apply(out, max)
    return E.Clamp.apply(self, min=min, max=max)


Tensor.clip = clamp


@_method("where")
def where_method(self, condition, other):
    """``self`` where ``condition`` holds, else ``other`` (as ``torch.Tensor.where``)."""
    return where(condition, self, other)


def where(condition, input, other):
    """``input`` where ``condition`` is true, else ``other``; both may be numbers."""
    like = next(t for t in (condition, input, other) if isinstance(t, Tensor))
    if not isinstance(condition, Tensor):
        condition = as_tensor_like(condition, like)
    if condition.dtype is not _dtypes.bool_:
        raise TypeError(f"where expected condition to be a bool tensor, got {condition.dtype}")
    return E.Where.apply(condition, input, other)


# ---- comparisons (no gradient) --------------------------------------------------------------
@_method("_compare")
def _compare(self, op, other):
    if isinstance(other, Tensor):
        if other._backend is not self._backend:
            raise devices_differ_error(op, self.device, other.device)
        other = other._data
    try:
        data = self._backend.binary(op, self._data, other)
    except ValueError:
        from .ops.broadcast import broadcast_shapes

        broadcast_shapes(op, self.shape, getattr(other, "shape", ()))
        raise
    return Tensor._make(data, self._backend, False)


for _name in ("eq", "ne", "lt", "le", "gt", "ge"):
    _fn = (lambda op: lambda self, other: self._compare(op, other))(_name)
    setattr(Tensor, _name, _fn)
    setattr(Tensor, f"__{_name}__", _fn)
Tensor.logical_and = lambda self, other: self._compare("logical_and", other)
Tensor.logical_or = lambda self, other: self._compare("logical_or", other)
Tensor.__and__ = Tensor.logical_and
Tensor.__or__ = Tensor.logical_or
Tensor.__invert__ = Tensor.logical_not = lambda self: self._compare("eq", False)


@_method("any")
def any_(self):
    return self.bool().sum() > 0


@_method("all")
def all_(self):
    return self.bool().logical_not().sum() == 0


# ---- reductions -----------------------------------------------------------------------------
@_method("sum")
def sum_(self, dim=None, keepdim=False):
    """Sum over ``dim`` (an int, a tuple, or None for all)."""
    return R.Sum.apply(self, dim=dim, keepdim=keepdim)


def _count(self, dim):
    n = 1
    for d in reduction_dims(dim, self.ndim):
        n *= self.shape[d]
    return n


@_method("mean")
def mean(self, dim=None, keepdim=False):
    if not self.dtype.is_floating_point:
        raise RuntimeError(f"mean(): input dtype should be floating point, got {self.dtype}")
    return R.Sum.apply(self, dim=dim, keepdim=keepdim) / _count(self, dim)


@_method("var")
def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Variance with Bessel's ``correction`` (1 by default, as PyTorch; ``unbiased=False``
    means 0)."""
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    centered = self - self.mean(dim=dim, keepdim=True)
    return (centered * centered).sum(dim=dim, keepdim=keepdim) / max(_count(self, dim) - correction, 0)


@_method("std")
def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return self.var(dim, unbiased, keepdim, correction=correction).sqrt()


@_method("amax")
def amax(self, dim=None, keepdim=False):
    return R.Amax.apply(self, dim=dim, keepdim=keepdim)


@_method("amin")
def amin(self, dim=None, keepdim=False):
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
    return _index_reduce(self, "argmax", dim, keepdim)


@_method("argmin")
def argmin(self, dim=None, keepdim=False):
    return _index_reduce(self, "argmin", dim, keepdim)


@_method("max")
def max_(self, dim=None, keepdim=False):
    """The largest value; with ``dim``, a ``(values, indices)`` pair, as in PyTorch."""
    if dim is None:
        return R.Amax.apply(self)
    return ReductionResult(R.Amax.apply(self, dim=dim, keepdim=keepdim),
                           _index_reduce(self, "argmax", dim, keepdim))


@_method("min")
def min_(self, dim=None, keepdim=False):
    """The smallest value; with ``dim``, a ``(values, indices)`` pair, as in PyTorch."""
    if dim is None:
        return R.Amin.apply(self)
    return ReductionResult(R.Amin.apply(self, dim=dim, keepdim=keepdim),
                           _index_reduce(self, "argmin", dim, keepdim))


@_method("logsumexp")
def logsumexp(self, dim, keepdim=False):
    shift = self.detach().amax(dim=dim, keepdim=True)
    out = (self - shift).exp().sum(dim=dim, keepdim=True).log() + shift
    return out if keepdim else out.squeeze(dim)


@_method("softmax")
def softmax(self, dim=-1):
    if self.ndim == 0:  # one element along the only "dim"
        return self.reshape(1).softmax(dim).reshape(())
    return SM.Softmax.apply(self, dim=normalize_dims(dim, self.ndim, "softmax")[0])


@_method("log_softmax")
def log_softmax(self, dim=-1):
    if self.ndim == 0:
        return self.reshape(1).log_softmax(dim).reshape(())
    return SM.LogSoftmax.apply(self, dim=normalize_dims(dim, self.ndim, "log_softmax")[0])


# ---- shape ops ------------------------------------------------------------------------------
@_method("reshape")
def reshape(self, *shape):
    shape = _resolve_shape(_flat_shape(shape), self.numel())
    if shape == self.shape:
        return self
    return S.Reshape.apply(self, shape=shape)


Tensor.view = reshape


def _flat_shape(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def _resolve_shape(shape, numel):
    known = 1
    unknown = None
    for i, s in enumerate(shape):
        if s == -1:
            if unknown is not None:
                raise RuntimeError("only one dimension can be inferred (-1) in a shape")
            unknown = i
        elif not isinstance(s, int) or s < 0:
            raise RuntimeError(f"invalid shape dimension {s!r} in {shape}")
        else:
            known *= s
    if unknown is not None:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape = shape[:unknown] + (numel // known,) + shape[unknown + 1:]
    elif known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


@_method("permute")
def permute(self, *dims):
    dims = _flat_shape(dims)
    if sorted(d % max(self.ndim, 1) for d in dims) != list(range(self.ndim)):
        raise RuntimeError(f"permute: dims {dims} are not a permutation of {self.ndim} dims")
    return S.Permute.apply(self, axes=tuple(d % self.ndim for d in dims))


@_method("transpose")
def transpose(self, dim0, dim1):
    if self.ndim == 0:  # dims 0 and -1 name the one "dim" of a 0-d tensor, as in PyTorch
        normalize_dims((dim0, dim1), 0, "transpose")
        return self
    axes = list(range(self.ndim))
    d0, d1 = (normalize_dims(d, self.ndim, "transpose")[0] for d in (dim0, dim1))
    axes[d0], axes[d1] = axes[d1], axes[d0]
    return S.Permute.apply(self, axes=tuple(axes))


Tensor.swapaxes = transpose


def _t(self):
    if self.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {self.ndim}D")
    return self if self.ndim < 2 else self.transpose(0, 1)


Tensor.t = _t
Tensor.T = property(lambda self: self if self.ndim < 2 else self.permute(*reversed(range(self.ndim))),
                    doc="The tensor with all dimensions reversed.")


def _mT(self):
    if self.ndim == 1:
        raise RuntimeError("tensor.mT is only supported on matrices or batches of matrices. Got 1-D tensor.")
    return self.transpose(-2, -1) if self.ndim else self


Tensor.mT = property(_mT, doc="The last two dimensions swapped (batched matrix transpose).")


@_method("unsqueeze")
def unsqueeze(self, dim):
    ndim = self.ndim + 1
    if not -ndim <= dim < ndim:
        raise IndexError(f"unsqueeze: Dimension out of range (expected to be in range of "
                         f"[{-ndim}, {ndim - 1}], but got {dim})")
    dim %= ndim
    return self.reshape(self.shape[:dim] + (1,) + self.shape[dim:])


@_method("squeeze")
def squeeze(self, dim=None):
    if dim is None:
        dims = {i for i, s in enumerate(self.shape) if s == 1}
    else:
        dims = {d for d in normalize_dims(dim, self.ndim, "squeeze") if self.shape[d] == 1}
    return self.reshape(tuple(s for i, s in enumerate(self.shape) if i not in dims))


@_method("flatten")
def flatten(self, start_dim=0, end_dim=-1):
    if self.ndim == 0:
        return self.reshape(1)
    start = start_dim % self.ndim
    end = end_dim % self.ndim
    middle = 1
    for s in self.shape[start:end + 1]:
        middle *= s
    return self.reshape(self.shape[:start] + (middle,) + self.shape[end + 1:])


@_method("expand")
def expand(self, *shape):
    shape = _flat_shape(shape)
    lead = len(shape) - self.ndim
    if lead < 0:
        raise RuntimeError(f"expand: the number of sizes provided ({len(shape)}) must be greater "
                           f"or equal to the number of dimensions in the tensor ({self.ndim})")
    shape = tuple(self.shape[i - lead] if s == -1 else s for i, s in enumerate(shape))
    for i, s in enumerate(self.shape):
        if s != 1 and s != shape[i + lead]:
            raise RuntimeError(f"expand: the expanded size of the tensor ({shape[i + lead]}) must "
                               f"match the existing size ({s}) at non-singleton dimension {i}. "
                               f"Target sizes: {list(shape)}.  Tensor sizes: {list(self.shape)}")
    if shape == self.shape:
        return self
    return S.Expand.apply(self, shape=shape)


@_method("expand_as")
def expand_as(self, other):
    return self.expand(other.shape)


@_method("broadcast_to")
def broadcast_to(self, shape):
    return self.expand(shape)


# ---- indexing -------------------------------------------------------------------------------
def _index_entry(entry, backend):
    if isinstance(entry, Tensor):
        if entry._backend is not backend:
            raise devices_differ_error("indexing", backend.device, entry.device)
        if entry.dtype.is_floating_point:
            raise IndexError("tensors used as indices must be long, int or bool tensors")
        return entry._data
    if isinstance(entry, (list, tuple)) or getattr(entry, "ndim", 0):  # lists, NumPy arrays
        return backend.from_host(entry)
    if entry is None or entry is Ellipsis or isinstance(entry, (slice, bool)):
        return entry  # (a bool adds a dimension, as in NumPy and PyTorch; it is no 0 or 1)
    try:
        return operator.index(entry)
    except TypeError:
        raise IndexError(
            f"only integers, slices, None, ..., and integer or bool tensors are valid indices "
            f"(got {type(entry).__name__})"
        ) from None


def _index_tuple(self, index):
    if not isinstance(index, tuple):
        index = (index,)
    return tuple(_index_entry(i, self._backend) for i in index)


@_method("__getitem__")
def getitem(self, index):
    return S.Getitem.apply(self, index=_index_tuple(self, index))


@_method("__setitem__")
def setitem(self, index, value):
    """``self[index] = value``: a number or a tensor broadcast to ``self[index]``'s shape.
    Recorded for autograd as in PyTorch (see ``ops.shape.setitem``)."""
    S.setitem(self, _index_tuple(self, index), value)


@_method("__iter__")
def iter_(self):
    if self.ndim == 0:
        raise TypeError("iteration over a 0-d tensor")
    return (self[i] for i in range(self.shape[0]))


@_method("gather_rows")
def gather_rows(self, index):
    """``self[arange(n), index]``: one entry per row (used by losses)."""
    from .creation import arange

    return self[arange(self.shape[0], device=self.device), index]


# ---- fused ops ------------------------------------------------------------------------------
@_method("bias_act")
def bias_act(self, bias, act="identity"):
    """``act(self + bias)`` in one fused kernel (identity, relu, tanh or sigmoid)."""
    from .backends.base import ACTIVATIONS

    if act not in ACTIVATIONS:
        raise ValueError(f"bias_act: unknown activation {act!r}; expected one of {ACTIVATIONS}")
    return F.BiasAct.apply(self, bias, act=act)


# ---- joining --------------------------------------------------------------------------------
def cat(tensors, dim=0):
    """Concatenate tensors along an existing dimension."""
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("cat expects a non-empty list of tensors")
    for i, t in enumerate(tensors):
        if t.ndim == 0:
            raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be concatenated; "
                               f"use stack, or unsqueeze it first")
    first = tensors[0]
    d = normalize_dims(dim, first.ndim, "cat")[0]
    for i, t in enumerate(tensors[1:], 1):
        if t.ndim != first.ndim or any(a != b for j, (a, b) in enumerate(zip(t.shape, first.shape))
                                       if j != d):
            raise RuntimeError(
                f"cat: sizes of tensors must match except in dimension {d}: tensor 0 has shape "
                f"{first.shape} and tensor {i} has shape {t.shape}"
            )
    return S.Cat.apply(*tensors, dim=d)


def stack(tensors, dim=0):
    """Join tensors of one shape along a new dimension."""
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty list of tensors")
    shape = tensors[0].shape
    for i, t in enumerate(tensors):
        if t.shape != shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {shape} at "
                               f"entry 0 and {t.shape} at entry {i}")
    return cat([t.unsqueeze(dim) for t in tensors], dim=dim)
