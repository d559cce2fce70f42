"""Indexing of ``MetaArray``s (meta.py): the shape and layout NumPy gives ``a[index]``.

Basic indexing (ints, slices, None, Ellipsis) is a view with the sliced strides; advanced
indexing (index arrays) is a new array whose layout NumPy chooses as described in ``gather``.
"""
import numpy as np

from . import shapes
from .meta_array import MetaArray, c_strides, iteration_order

_ARRAYS = (MetaArray, np.ndarray)


def _shape(x):
    return x.shape if type(x) in _ARRAYS else ()


def basic_view(a, index):
    """``a[index]`` for ints, slices, None and Ellipsis: a view, as NumPy makes it."""
    shape, strides = [], []
    consumed = sum(1 for e in index if e is not None and e is not Ellipsis)
    if consumed > a.ndim:
        raise IndexError(f"too many indices for array: array is {a.ndim}-dimensional, but "
                         f"{consumed} were indexed")
    axis = 0
    for entry in index:
        if entry is None:
            shape.append(1)
            strides.append(0)
        elif entry is Ellipsis:
            span = a.ndim - consumed
            shape.extend(a.shape[axis:axis + span])
            strides.extend(a.strides[axis:axis + span])
            axis += span
            consumed = a.ndim  # a second Ellipsis spans nothing
        elif type(entry) is slice:
            start, stop, step = entry.indices(a.shape[axis])
            shape.append(len(range(start, stop, step)))
            strides.append(a.strides[axis] * step)
            axis += 1
        else:
            position = int(entry)
            size = a.shape[axis]
            if not -size <= position < size:
                raise IndexError(f"index {position} is out of bounds for axis {axis} with size "
                                 f"{size}")
            axis += 1
    shape.extend(a.shape[axis:])
    strides.extend(a.strides[axis:])
    return a.view(tuple(shape), tuple(strides))


def _is_advanced(entry):
    return type(entry) in _ARRAYS or (entry is not None and entry is not Ellipsis and
                                      type(entry) is not slice)


def gather(a, index):
    """``a[index]`` with index arrays, laid out as NumPy makes it: the indexed dimensions first
    in memory (row-major among themselves), then the others in ``a``'s memory order; seen
    where the result puts them (a transposed view when the indexed ones do not come first)."""
    shape = shapes.getitem(a.shape, index)
    advanced = [_is_advanced(e) for e in index]
    first = advanced.index(True)
    last = len(advanced) - 1 - advanced[::-1].index(True)
    adjacent = all(advanced[first:last + 1])
    consumed = sum(1 for e in index if e is not None and e is not Ellipsis)
    indexed = len(shapes.broadcast(*[(1,) if type(e) is bool else _shape(e)
                                     for e in index if _is_advanced(e)]))
    # the source axis of each other result dimension (None for a new axis), in result order
    sources, axis, before = [], 0, 0
    for position, entry in enumerate(index):
        if position == first and adjacent:
            before = len(sources)
        if entry is Ellipsis:
            span = a.ndim - consumed
            sources.extend(range(axis, axis + span))
            axis += span
        elif entry is None:
            sources.append(None)
        elif type(entry) is slice:
            sources.append(axis)
            axis += 1
        elif not (type(entry) is bool):
            axis += 1
    sources.extend(range(axis, a.ndim))
    if a.flags.c_contiguous:
        rest = list(range(len(sources)))
    else:  # the other dimensions in the source's memory order, slowest first
        rank = {src: i for i, src in enumerate(reversed(iteration_order(a.shape, (a,))))}
        rest = sorted(range(len(sources)), key=lambda i: (rank.get(sources[i], -1), i)
                      if sources[i] is not None else (-1, i))
    others = [i if i < before else i + indexed for i in range(len(sources))]
    order = list(range(before, before + indexed)) + [others[i] for i in rest]
    memory_shape = tuple(shape[i] for i in order)
    strides = [0] * len(shape)
    for dim, stride in zip(order, c_strides(memory_shape, a.itemsize)):
        strides[dim] = stride
    if before == 0:  # the indexed dimensions come first: the new array itself
        return MetaArray(shape, a.dtype, strides)
    return MetaArray(memory_shape, a.dtype).view(shape, tuple(strides))
