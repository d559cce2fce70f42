"""What each single-kernel primitive launches on the modeled GPU, known before anything runs.

``_modeled(name, *args)`` (results.py) calls the function ``name`` here with a primitive's
arguments (NumPy arrays, or MetaArrays on a shape-only device, and Python numbers) and gets
``(kernel, reads, result_bytes, info)``: the modeled kernel's name (what ``costmodel.spec``
costs), the operands it reads, the bytes of the array it writes and the ``info`` its spec needs.
The bytes come from the operands' shapes and dtypes alone (``shapes.py``), so the device memory
is reserved, or ``OutOfMemoryError`` raised, before the cpu backend's method of the same name
computes the values.

Views launch nothing, and the primitives that write in place or launch several kernels
(``setitem_``, ``copy_``, ``index_add``, the multi-output fused kernels, transfers) say what they
launch where they are defined: backend.py, fused.py, transfers.py.
"""
import numpy as np

from ... import dtypes
from ..base import BINARY_OPS, BITWISE_OPS, COMPARE_OPS, LOGICAL_OPS, REDUCE_OPS, UNARY_OPS, im2col_shape
from ..cpu.numpy_ops import GG_DTYPE
from . import shapes
from .meta_array import MetaArray

_UNARY_KERNEL = {op: f"unary:{op}" for op in UNARY_OPS + ("bitwise_not",)}
_BINARY_KERNEL = {op: f"binary:{op}" for op in BINARY_OPS + COMPARE_OPS + LOGICAL_OPS +
                  BITWISE_OPS}
_REDUCE_KERNEL = {op: f"reduce:{op}" for op in REDUCE_OPS}
_BOOL_RESULT = frozenset(COMPARE_OPS + LOGICAL_OPS)
_FLOAT_RESULT = dtypes.FLOAT_RESULT_OPS
_ARRAYS = (np.ndarray, MetaArray)  # the arrays of a computing and of a shape-only device
_numel = shapes.numel


def _shape(x):
    return x.shape if type(x) in _ARRAYS else ()  # a Python number broadcasts as a 0-d array


def _itemsize(dtype, a, b):
    """Bytes per element of an elementwise result in gg ``dtype``, or (None) in operand ``a``'s
    dtype (``b``'s where ``a`` is a number)."""
    if dtype is not None:
        return dtype.itemsize
    return (a if type(a) in _ARRAYS else b).itemsize


# ---- creation ------------------------------------------------------------------------------
def full(shape, value, dtype):
    return "full", (), _numel(shape) * dtype.itemsize, None


def arange(start, stop, step, dtype):
    return "arange", (), shapes.arange_length(start, stop, step) * dtype.itemsize, None


def random(kind, shape, dtype, seed):
    return "random", (), _numel(shape) * dtype.itemsize, None


def randint(low, high, shape, seed):
    return "random", (), _numel(shape) * 8, None  # int64


def from_host(a, dtype=None):
    """``from_host`` of an array already on the device: a copy, or a cast, by a kernel."""
    return "copy" if dtype is None else "cast", (a,), copy_bytes(a, dtype), None


def copy_bytes(a, dtype=None):
    """The bytes of array ``a`` copied into ``dtype`` (None: its own), by a kernel or upload."""
    return a.nbytes if dtype is None else a.size * dtypes.as_dtype(dtype).itemsize


# ---- elementwise ---------------------------------------------------------------------------
def unary(op, a, dtype=None):
    if dtype is None:  # the operand's, or the default float for exp, log... of integers
        dtype = dtypes.unary_result_type(op, GG_DTYPE[a.dtype]) if op in _FLOAT_RESULT else \
            a.dtype
    return _UNARY_KERNEL[op], (a,), a.size * dtype.itemsize, None


def binary(op, a, b, dtype=None):
    if type(a) in _ARRAYS and (type(b) not in _ARRAYS or b.shape == a.shape):
        numel = a.size  # the common cases: no broadcasting
    else:
        numel = _numel(shapes.broadcast(_shape(a), _shape(b)))
    itemsize = 1 if op in _BOOL_RESULT else _itemsize(dtype, a, b)
    return _BINARY_KERNEL[op], (a, b), numel * itemsize, None


def where(cond, a, b, dtype=None):
    numel = _numel(shapes.broadcast(cond.shape, _shape(a), _shape(b)))
    return "where", (cond, a, b), numel * _itemsize(dtype, a, b), None


def cast(a, dtype):
    return "cast", (a,), a.size * dtype.itemsize, None


# ---- reductions and matmul -----------------------------------------------------------------
def reduce(op, a, axis=None, keepdims=False):
    nbytes = _numel(shapes.reduce(a.shape, axis, keepdims)) * \
        shapes.reduce_dtype(op, a.dtype).itemsize
    return _REDUCE_KERNEL[op], (a,), nbytes, {"axis": axis}


def scan(op, a, axis):
    """cumsum/cumprod/cummax/cummin: one kernel writing ``a``'s shape (costmodel's ``scan:``)."""
    nbytes = a.size * shapes.reduce_dtype(op, a.dtype).itemsize
    return f"scan:{op}", (a,), nbytes, {"axis": axis}


def sort_bytes(a):
    """The bytes of ``sort``'s two results: the values (``a``'s dtype) and int64 indices."""
    return a.nbytes, a.size * 8


def matmul(a, b):
    return "matmul", (a, b), _numel(shapes.matmul(a.shape, b.shape)) * a.itemsize, None


# ---- layout --------------------------------------------------------------------------------
def reshape(a, shape):
    """A reshape that cannot be a view: a copy into the new shape."""
    return "copy", (a,), a.nbytes, None


def contiguous(a):
    return "copy", (a,), a.nbytes, None


def concatenate(arrays, axis):
    dtype = arrays[0].dtype
    if any(x.dtype != dtype for x in arrays):
        dtype = np.result_type(*[x.dtype for x in arrays])
    numel = _numel(shapes.concatenate([x.shape for x in arrays], axis))
    return "copy", arrays, numel * dtype.itemsize, None


def getitem(a, index):
    """Advanced indexing (basic indexing is a view): a gather reading the index arrays too."""
    numel = _numel(shapes.getitem(a.shape, index))
    return "getitem", [a] + index_arrays(index), numel * a.itemsize, None


def index_arrays(index):
    """The index arrays of a NumPy index tuple (every kernel indexing with them reads them)."""
    return [i for i in index if type(i) in _ARRAYS]


# ---- sliding windows: kernels/im2col.cu, one launch each -----------------------------------
def im2col(a, kernel, stride, padding, dilation, pad_value=0.0):
    """One thread per column entry (a dense input: the cuda backend copies a strided one)."""
    nbytes = _numel(im2col_shape(a.shape, kernel, stride, padding, dilation)) * a.itemsize
    return "im2col", (a,), nbytes, None


def col2im(cols, shape, kernel, stride, padding, dilation):
    """One thread per image element, adding the column entries that cover it."""
    return "col2im", (cols,), _numel(shape) * cols.itemsize, None


def max_pool2d_bytes(a, kernel, stride, padding, dilation):
    """The bytes of ``max_pool2d``'s two results: the maxima (``a``'s dtype), int64 indices."""
    windows = _numel(im2col_shape(a.shape, kernel, stride, padding, dilation)) // \
        (kernel[0] * kernel[1])
    return windows * a.itemsize, windows * 8


def max_pool2d_backward(grad, indices, shape, kernel, stride, padding, dilation):
    """One thread per image element, adding the gradients of the windows that chose it."""
    return "max_pool2d_backward", (grad, indices), _numel(shape) * grad.itemsize, None


# ---- fused kernels of one launch -----------------------------------------------------------
def bias_act(x, bias, act):
    itemsize = np.result_type(x, bias).itemsize if x.dtype != bias.dtype else x.itemsize
    numel = _numel(shapes.broadcast(x.shape, bias.shape))
    return "bias_act", (x, bias), numel * itemsize, {"act": act}


def bias_act_backward(grad_out, out, act):
    return "bias_act_backward", (grad_out, out), grad_out.nbytes, {"act": act}


def softmax_cross_entropy_backward(logits, target, lse, grad_rows, divisor=1, ignore_index=-100):
    reads = (logits, target, lse, grad_rows, divisor, ignore_index)  # a count array or a number
    return "softmax_cross_entropy_backward", reads, logits.nbytes, None
