"""The shape of each primitive's result, from its operands' shapes alone (no values, no memory).

The simulator reserves a result's modeled device memory *before* NumPy computes it, so a request
over the modeled capacity raises ``gg.OutOfMemoryError`` without first asking the host for the
bytes (a 10 TB tensor on an 80 GB profile fails at once instead of exhausting host RAM). These
functions follow NumPy's rules: broadcasting, reductions, ``matmul``, ``concatenate``,
``reshape``, ``arange`` and advanced indexing with int and bool index arrays. The only value
they read is a bool mask's count, which the result's size depends on. Errors they find are the
ones NumPy raises (ValueError, IndexError); what they do not check (an index out of bounds, a
matmul's inner dimensions) NumPy checks when it computes.
"""
import math
import operator

import numpy as np

from .meta_array import MetaArray

_prod = math.prod

_ARRAYS = (np.ndarray, MetaArray)  # the arrays of a computing and of a shape-only device
_BOOLS = (bool, np.bool_)  # a bool scalar index adds a dimension of 1 (True) or 0 (False)
_INT64 = np.dtype(np.int64)
_FLOAT64 = np.dtype(np.float64)


def numel(shape):
    """Elements in ``shape`` (a tuple of ints, or one int). A negative product raises
    ValueError (other negative sizes are NumPy's to refuse)."""
    n = _prod(shape) if type(shape) is tuple else _prod(as_shape(shape))
    if n < 0:
        raise ValueError(f"negative dimensions are not allowed (shape {shape})")
    return n


def as_shape(shape):
    """``shape`` as a tuple of Python ints (an int gives a 1-tuple)."""
    try:
        return (operator.index(shape),)
    except TypeError:
        return tuple(operator.index(d) for d in shape)


def broadcast(*shapes):
    """The broadcast shape of ``shapes`` (NumPy's rules), or ValueError naming them."""
    if len(shapes) == 2:  # the usual cases, quickly: equal shapes, or one a suffix (a bias)
        a, b = shapes
        if a == b or not b:
            return a
        if not a:
            return b
        if len(a) > len(b):
            if a[len(a) - len(b):] == b:
                return a
        elif b[len(b) - len(a):] == a:
            return b
    result = shapes[0]
    for shape in shapes[1:]:
        if shape == result or not shape:
            continue
        if not result:
            result = shape
            continue
        if len(shape) > len(result):
            longer, shorter = shape, result
        else:
            longer, shorter = result, shape
        lead = len(longer) - len(shorter)
        dims = list(longer)
        for i, d in enumerate(shorter):
            big = dims[lead + i]
            if d == big or d == 1:
                continue
            if big == 1:
                dims[lead + i] = d
            else:
                raise ValueError("operands could not be broadcast together with shapes "
                                 + " ".join(str(tuple(s)).replace(" ", "") for s in shapes))
        result = tuple(dims)
    return result


def reduce(shape, axis, keepdims):
    """The shape of a reduction of ``shape`` over ``axis`` (None: all; an int or a tuple)."""
    ndim = len(shape)
    if axis is None:
        return (1,) * ndim if keepdims else ()
    if ndim == 0:
        return ()
    kind = type(axis)
    if (kind is tuple or kind is list) and len(axis) == 1:
        axis = axis[0]
        kind = type(axis)
    if kind is not tuple and kind is not list:  # one axis (an int, or a NumPy integer)
        axis = operator.index(axis) % ndim
        return shape[:axis] + (1,) + shape[axis + 1:] if keepdims else \
            shape[:axis] + shape[axis + 1:]
    axes = {operator.index(a) % ndim for a in axis}
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def reduce_dtype(op, dtype):
    """The result dtype of ``backends.cpu.numpy_ops.reduce_values`` for an input of NumPy ``dtype``."""
    if op in ("argmax", "argmin") or op in ("sum", "prod") and dtype.kind in "biu":
        return _INT64
    if op == "mean" and dtype.kind in "biu":
        return _FLOAT64
    return dtype


def matmul(a_shape, b_shape):
    """The shape of NumPy ``matmul(a, b)``: 1-D operands promoted then dropped, batch dims
    broadcast. The inner dimensions are left for NumPy to check."""
    if not a_shape or not b_shape:
        raise ValueError("matmul: Input operand does not have enough dimensions")
    if len(b_shape) == 1:
        if len(a_shape) == 1:
            return ()
        return a_shape[:-1]
    if len(a_shape) == 2 and len(b_shape) == 2:
        return (a_shape[0], b_shape[1])
    tail = (b_shape[-1],)
    if len(a_shape) == 1:
        return b_shape[:-2] + tail
    return broadcast(a_shape[:-2], b_shape[:-2]) + (a_shape[-2],) + tail


def concatenate(shapes, axis):
    """The shape of ``concatenate`` of arrays of ``shapes`` along ``axis``."""
    first = shapes[0]
    axis = operator.index(axis) % len(first) if first else 0
    return first[:axis] + (sum(s[axis] for s in shapes),) + first[axis + 1:]


def reshape(size, shape):
    """``shape`` with its one ``-1`` resolved for an array of ``size`` elements."""
    shape = as_shape(shape)
    known = 1
    unknown = None
    for i, d in enumerate(shape):
        if d == -1 and unknown is None:
            unknown = i
        elif d < 0:
            raise ValueError(f"can only specify one unknown dimension (shape {shape})")
        else:
            known *= d
    if unknown is not None and known and size % known == 0:
        shape = shape[:unknown] + (size // known,) + shape[unknown + 1:]
    elif unknown is not None or known != size:
        raise ValueError(f"cannot reshape array of size {size} into shape {shape}")
    return shape


def arange_length(start, stop, step):
    """How many values ``arange(start, stop, step)`` gives."""
    if type(start) is int and type(stop) is int and type(step) is int and step:
        return len(range(start, stop, step))
    if not step:
        raise ZeroDivisionError("arange: step must not be zero")
    return max(0, math.ceil((stop - start) / step))


def getitem(shape, index):
    """The shape of ``array[index]`` for an array of ``shape`` and an index tuple holding ints,
    slices, None, Ellipsis, Python bools and NumPy int or bool arrays (NumPy's rules).

    With index arrays present, ints and bools count as advanced indices too; the advanced
    indices' broadcast shape goes where they stand if they are adjacent (nothing else between
    them), else first. A bool array stands for its ``nonzero()``: one dimension of its count.
    """
    for entry in index:  # the usual gather, quickly: integer index arrays only
        if type(entry) not in _ARRAYS or entry.dtype.kind == "b":
            break
    else:
        if index and len(index) <= len(shape):
            try:
                return broadcast(*[entry.shape for entry in index]) + tuple(shape[len(index):])
            except ValueError:
                pass  # (the general path below raises NumPy's IndexError)
    consumed = 0
    has_ellipsis = False
    for entry in index:
        if entry is None or type(entry) in _BOOLS:
            continue
        if entry is Ellipsis:
            if has_ellipsis:
                raise IndexError("an index can only have a single ellipsis ('...')")
            has_ellipsis = True
        elif type(entry) in _ARRAYS and entry.dtype == np.bool_:
            consumed += entry.ndim
        else:
            consumed += 1
    ndim = len(shape)
    if consumed > ndim:
        raise IndexError(f"too many indices for array: array is {ndim}-dimensional, but "
                         f"{consumed} were indexed")
    if not has_ellipsis:
        index = tuple(index) + (Ellipsis,)
    fancy = any(type(e) in _ARRAYS or type(e) in _BOOLS for e in index)
    basic_before, basic_after, advanced = [], [], []
    position = 0  # the array dimension the next entry consumes
    state = 0  # 0: no advanced index yet, 1: in the first run of them, 2: after it, 3: split
    for entry in index:
        kind = type(entry)
        is_advanced = fancy and (kind in _ARRAYS or kind is not slice and entry is not None
                                 and entry is not Ellipsis)
        if is_advanced:
            if kind in _BOOLS:
                advanced.append((1 if entry else 0,))
            elif kind in _ARRAYS and entry.dtype == np.bool_:
                # (a mask that does not match the dimensions it covers: NumPy raises, or for an
                # empty array accepts it, when it computes)
                advanced.append((int(np.count_nonzero(entry)),) if entry.ndim else
                                ((1,) if entry else (0,)))
                position += entry.ndim
            elif kind in _ARRAYS:
                advanced.append(entry.shape)
                position += 1
            else:  # an int: a 0-d index array
                position += 1
            if state == 0:
                state = 1
            elif state == 2:
                state = 3
            continue
        if state == 1:
            state = 2
        out = basic_before if state == 0 else basic_after
        if entry is None:
            out.append(1)
        elif entry is Ellipsis:
            span = ndim - consumed
            out.extend(shape[position:position + span])
            position += span
        elif kind is slice:
            out.append(len(range(*entry.indices(shape[position]))))
            position += 1
        else:  # an int without index arrays (or bools) drops its dimension
            position += 1
    if not fancy:
        return tuple(basic_before + basic_after)
    try:
        middle = broadcast(*advanced)
    except ValueError:
        raise IndexError("shape mismatch: indexing arrays could not be broadcast together with "
                         "shapes " + " ".join(str(s).replace(" ", "") for s in advanced)) from None
    if state == 3:  # the advanced indices are split by others: their dimensions come first
        return middle + tuple(basic_before + basic_after)
    return tuple(basic_before) + middle + tuple(basic_after)
