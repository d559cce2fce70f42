"""Arrays without values: what a shape-only sim device (``compute=False``) holds.

A ``MetaArray`` has everything the simulator's model reads from a NumPy array (shape, dtype,
strides, contiguity flags, whether it is a view) and no buffer at all, so a program of any size
can be planned in a few kilobytes of host memory. Its layout is the one NumPy would give the same
result (``result_strides`` follows NumPy's iterator for elementwise results), because the model
reads it: whether a copy is a plain copy or a transposing one, whether a reshape is a view.

Reading a value raises ``ValuesNotComputedError``.
"""
from typing import NamedTuple


class ValuesNotComputedError(RuntimeError):
    """A value was read from a sim device configured with ``compute=False`` (shape-only
    planning), which models time and memory but computes no values."""


def values_error(device, what):
    """The ``ValuesNotComputedError`` for reading ``what`` on ``device``."""
    return ValuesNotComputedError(
        f"{what} needs the values of a {device} tensor, but {device} was configured with "
        f"compute=False for planning: it models kernels, time and memory from shapes alone and "
        f"computes no values. To get values, configure it with "
        f"gg.sim.configure('{device}', compute=True) (the default) and run the program again")


class Flags(NamedTuple):
    """The contiguity flags NumPy reports (``ndarray.flags``) that the model reads."""
    c_contiguous: bool
    f_contiguous: bool


def c_strides(shape, itemsize):
    """Row-major strides in bytes (NumPy's, also for shapes with a 0: zeros are skipped)."""
    strides = []
    step = itemsize
    for size in reversed(shape):
        strides.append(step)
        if size:
            step *= size
    return tuple(reversed(strides))


def flags_of(shape, strides, itemsize):
    """NumPy's contiguity flags for ``shape`` and ``strides`` (dimensions of 1 are ignored; an
    empty array is contiguous both ways)."""
    if 0 in shape:
        return Flags(True, True)
    c = f = True
    step = itemsize
    for size, stride in zip(reversed(shape), reversed(strides)):
        if size != 1:
            if stride != step:
                c = False
                break
            step *= size
    step = itemsize
    for size, stride in zip(shape, strides):
        if size != 1:
            if stride != step:
                f = False
                break
            step *= size
    return Flags(c, f)


class MetaArray:
    """An array's shape, dtype and layout, without values (see the module docstring).

    ``base`` is the array it is a view of (None when it owns its memory), as in NumPy.
    """

    __slots__ = ("shape", "dtype", "strides", "base", "ndim", "size", "itemsize", "nbytes",
                 "flags")

    def __init__(self, shape, dtype, strides=None, base=None):
        self.shape = shape = tuple(shape)
        self.dtype = dtype
        self.itemsize = itemsize = dtype.itemsize
        self.strides = strides = c_strides(shape, itemsize) if strides is None else \
            tuple(strides)
        self.base = base
        self.ndim = len(shape)
        size = 1
        for d in shape:
            size *= d
        self.size = size
        self.nbytes = size * itemsize
        self.flags = flags_of(shape, strides, itemsize)

    def view(self, shape, strides):
        """A view of this array's memory in ``shape`` and ``strides`` (bytes)."""
        return MetaArray(shape, self.dtype, strides, self if self.base is None else self.base)

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of unsized object")
        return self.shape[0]

    def __array__(self, *args, **kwargs):
        raise ValuesNotComputedError(
            "this array of a sim device configured with compute=False has no values (it was "
            "made for planning); configure the device with compute=True to compute values")

    def __repr__(self):
        return f"MetaArray(shape={self.shape}, dtype={self.dtype}, strides={self.strides})"


def meta_of(array):
    """A ``MetaArray`` with ``array``'s shape, dtype and layout (a NumPy or Meta array)."""
    if type(array) is MetaArray:
        return array
    return MetaArray(array.shape, array.dtype, array.strides)


def stable_axis_sort(perm, per_operand):
    """NumPy's stable insertion sort of axes (``npyiter_find_best_axis_ordering``,
    ``PyArray_CreateMultiSortedStridePerm``), in place on ``perm``: ``per_operand`` holds, per
    operand, a key for each axis (None: that operand has no opinion about the axis). An axis
    moves ahead of an earlier one only when every operand with an opinion on both has a larger
    key for the earlier one; when operands disagree, the order given wins."""
    for i0 in range(1, len(perm)):
        j0 = perm[i0]
        insert_at = i0
        for i1 in range(i0 - 1, -1, -1):
            j1 = perm[i1]
            opinions = [keys[j1] > keys[j0] for keys in per_operand
                        if keys[j0] is not None and keys[j1] is not None]
            if not opinions:
                continue
            if not all(opinions):
                break
            insert_at = i1
        if insert_at != i0:
            del perm[i0]
            perm.insert(insert_at, j0)
    return perm


def _axis_strides(shape, operand):
    """An operand's stride (absolute, bytes) along each axis of the broadcast ``shape``; None
    where it is broadcast or has size 1 (no opinion about the order, as NumPy's iterator sees
    it)."""
    ndim = len(shape)
    op_shape, op_strides = operand.shape, operand.strides
    strides = [None] * ndim
    lead = ndim - len(op_shape)
    for i, size in enumerate(op_shape):
        if size != 1 and op_strides[i]:
            strides[lead + i] = abs(op_strides[i])
    return strides


def iteration_order(shape, operands):
    """The axes of ``shape``, fastest first, in the order NumPy's iterator (``order='K'``)
    visits them for ``operands`` (arrays broadcast to ``shape``): by stride, row-major order
    winning disagreements."""
    per_operand = [_axis_strides(shape, op) for op in operands if op.ndim]
    return stable_axis_sort(list(range(len(shape) - 1, -1, -1)), per_operand)


def strides_in_order(shape, itemsize, order):
    """Dense strides of ``shape`` with its axes laid out in ``order`` (fastest first)."""
    strides = [0] * len(shape)
    step = itemsize
    for axis in order:
        strides[axis] = step
        if shape[axis]:
            step *= shape[axis]
    return tuple(strides)


def result_strides(shape, itemsize, operands):
    """The strides NumPy gives a new result of ``shape`` computed from ``operands`` (an
    elementwise ufunc, ``astype``, ``where``, a scan): their memory order (``order='K'``),
    row-major when they are."""
    if len(shape) < 2 or all(op.flags.c_contiguous for op in operands):
        return c_strides(shape, itemsize)
    return strides_in_order(shape, itemsize, iteration_order(shape, operands))
