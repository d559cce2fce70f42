"""``MetaBackend``: the backend contract on ``MetaArray``s, for a shape-only sim device.

A sim device configured with ``compute=False`` uses this backend where it would use the cpu
backend: every primitive checks its operands and returns ``MetaArray``s of the result's shape,
dtype and layout, and allocates no host buffer of the result's size. The sim around it models
kernels, time and memory exactly as with values (backend.py), so a plan of a program gives the
same ``gg.sim.stats`` as running it.

How each result is known without values:

- shapes come from ``shapes.py`` (the rules the sim already uses to reserve memory first);
- dtypes come from the cpu backend itself, run on one-element stand-ins of the operands (so
  promotion, PyTorch's result dtypes and the errors for unsupported dtypes are the cpu's own);
- layouts are NumPy's: views get their strides (reshape, permute, broadcast, basic indexing);
  elementwise results, casts and reductions keep their operands' memory order as NumPy's
  iterator does (``meta_array.result_strides``); advanced indexing puts the indexed dimensions
  first in memory, as NumPy does; everything else is row-major.

Nothing that depends on values can be known: reading values, boolean masks (whose result size
is a count of values) and checks of index values (bounds, cross-entropy targets) are not
made; the sim raises ``ValuesNotComputedError`` where a value is needed.
"""
import numpy as np

from ..base import Backend, im2col_shape, view_strides, window_count
from ..cpu.backend import NumpyBackend
from ..cpu.numpy_ops import GG_DTYPE, basic_view_index, host_array, numpy_dtype
from . import shapes
from .meta_indexing import basic_view, gather
from .meta_array import MetaArray, c_strides, iteration_order, meta_of, result_strides, \
    stable_axis_sort, strides_in_order, values_error

_INT64 = np.dtype(np.int64)
_ARRAYS = (MetaArray, np.ndarray)


def _stand_in(x):
    """A one-element NumPy array of ``x``'s dtype and number of dimensions (numbers pass)."""
    if type(x) in _ARRAYS:
        return np.ones((1,) * x.ndim, x.dtype)
    return x


def _arrays(*operands):
    return [x for x in operands if type(x) in _ARRAYS]


def _elementwise(shape, dtype, operands):
    """A new result of ``shape`` and ``dtype`` computed elementwise from ``operands``."""
    return MetaArray(shape, dtype, result_strides(shape, dtype.itemsize, _arrays(*operands)))


def _shape(x):
    return x.shape if type(x) in _ARRAYS else ()


class MetaBackend(Backend):
    """The contract on ``MetaArray``s: results' shapes, dtypes and layouts, no values."""

    def __init__(self, device):
        self.device = device
        self.values = NumpyBackend(device)  # result dtypes, from one-element stand-ins

    # ---- host <-> device ---------------------------------------------------------------
    def from_host(self, data, dtype=None):
        if type(data) in _ARRAYS:  # a new array in the data's memory order (np.array's 'K')
            result = host_array(_stand_in(data), dtype).dtype
            return _elementwise(data.shape, result, (data,))
        return meta_of(host_array(data, dtype))  # lists and numbers: the user's small data

    def to_host(self, a):
        raise values_error(self.device, "reading values")

    def dtype(self, a):
        return GG_DTYPE[a.dtype]

    # ---- creation ------------------------------------------------------------------------
    def full(self, shape, value, dtype):
        return MetaArray(shapes.as_shape(shape), numpy_dtype(dtype))

    def arange(self, start, stop, step, dtype):
        return MetaArray((shapes.arange_length(start, stop, step),), numpy_dtype(dtype))

    def random(self, kind, shape, dtype, seed, out=None):
        return out if out is not None else MetaArray(shapes.as_shape(shape), numpy_dtype(dtype))

    def randint(self, low, high, shape, seed):
        return MetaArray(shapes.as_shape(shape), _INT64)

    # ---- elementwise ---------------------------------------------------------------------
    def unary(self, op, a, dtype=None, out=None):
        probe = self.values.unary(op, _stand_in(a), dtype, _stand_in(out) if out is not None
                                  else None)
        return out if out is not None else _elementwise(a.shape, probe.dtype, (a,))

    def binary(self, op, a, b, dtype=None, out=None):
        shape = shapes.broadcast(_shape(a), _shape(b))
        probe = self.values.binary(op, _stand_in(a), _stand_in(b), dtype,
                                   _stand_in(out) if out is not None else None)
        return out if out is not None else _elementwise(shape, probe.dtype, (a, b))

    def where(self, cond, a, b, dtype=None, out=None):
        shape = shapes.broadcast(cond.shape, _shape(a), _shape(b))
        probe = self.values.where(_stand_in(cond), _stand_in(a), _stand_in(b), dtype,
                                  _stand_in(out) if out is not None else None)
        return out if out is not None else _elementwise(shape, probe.dtype, (cond, a, b))

    def cast(self, a, dtype):
        return _elementwise(a.shape, numpy_dtype(dtype), (a,))

    # ---- reductions and matmul -----------------------------------------------------------
    def reduce(self, op, a, axis=None, keepdims=False):
        dtype = self.values.reduce(op, _stand_in(a), axis, keepdims).dtype
        shape = shapes.reduce(a.shape, axis, keepdims)
        if op in ("argmax", "argmin") or axis is None or a.flags.c_contiguous:
            return MetaArray(shape, dtype)  # (NumPy's argmax writes a new row-major array)
        # the kept axes in the input's memory order, as NumPy's reduction allocates them
        kept = shapes.reduce(a.shape, axis, True)
        strides = strides_in_order(kept, dtype.itemsize, iteration_order(a.shape, (a,)))
        if not keepdims:
            strides = _drop_reduced(strides, a.shape, axis)
        return MetaArray(shape, dtype, strides)

    def scan(self, op, a, axis):
        dtype = self.values.scan(op, _stand_in(a), axis).dtype
        return _elementwise(a.shape, dtype, (a,))

    def sort(self, a, axis, descending=False):
        self.values.sort(_stand_in(a), axis, descending)  # (checks the axis and dtype)
        return MetaArray(a.shape, a.dtype), MetaArray(a.shape, _INT64)

    def matmul(self, a, b):
        shape = shapes.matmul(a.shape, b.shape)
        inner_a = a.shape[-1]
        inner_b = b.shape[-2] if b.ndim > 1 else b.shape[0]
        if inner_a != inner_b:
            raise ValueError(f"matmul: Input operand 1 has a mismatch in its core dimension 0, "
                             f"with gufunc signature (n?,k),(k,m?)->(n?,m?) (size {inner_b} is "
                             f"different from {inner_a})")
        dtype = self.values.matmul(_stand_in(a), _stand_in(b)).dtype
        batch = len(shape) - (a.ndim > 1) - (b.ndim > 1)
        if batch < 2 or a.flags.c_contiguous and b.flags.c_contiguous:
            return MetaArray(shape, dtype)
        # each matrix row-major; the batch dimensions in the operands' memory order
        loops = [MetaArray(x.shape[:-2], x.dtype, x.strides[:-2]) for x in (a, b) if x.ndim > 2]
        core = c_strides(shape[batch:], dtype.itemsize)
        step = dtype.itemsize * shapes.numel(shape[batch:])
        return MetaArray(shape, dtype, strides_in_order(shape[:batch], step, iteration_order(
            shape[:batch], loops)) + core)

    # ---- layout --------------------------------------------------------------------------
    def reshape(self, a, shape):
        shape = shapes.reshape(a.size, shape)
        if a.flags.c_contiguous:
            return a.view(shape, c_strides(shape, a.itemsize))
        elements = view_strides(a.shape, tuple(s // a.itemsize for s in a.strides), shape)
        if elements is not None:
            return a.view(shape, tuple(s * a.itemsize for s in elements))
        # NumPy copies into a new row-major array and returns a view of that copy
        return MetaArray(shape, a.dtype).view(shape, c_strides(shape, a.itemsize))

    def permute(self, a, axes):
        axes = tuple(int(x) % a.ndim for x in axes) if a.ndim else tuple(axes)
        if sorted(axes) != list(range(a.ndim)):
            raise ValueError("axes don't match array")
        return a.view(tuple(a.shape[x] for x in axes), tuple(a.strides[x] for x in axes))

    def broadcast_to(self, a, shape, view=False):
        shape = shapes.as_shape(shape)
        if shapes.broadcast(a.shape, shape) != shape or len(shape) < a.ndim:
            raise ValueError(f"operands could not be broadcast together with remapped shapes "
                             f"[original->remapped]: {a.shape} and requested shape {shape}")
        lead = len(shape) - a.ndim
        strides = [0] * lead + [0 if size != d else s for size, d, s in
                                zip(a.shape, shape[lead:], a.strides)]
        return a.view(shape, strides)

    def contiguous(self, a):
        return MetaArray(a.shape, a.dtype)

    def concatenate(self, arrays, axis):
        shape = shapes.concatenate([x.shape for x in arrays], axis)
        dtype = self.values.concatenate([_stand_in(x) for x in arrays], axis).dtype
        if all(x.flags.c_contiguous for x in arrays) or len(shape) < 2:
            return MetaArray(shape, dtype)
        return MetaArray(shape, dtype, strides_in_order(shape, dtype.itemsize,
                                                         _concatenation_order(arrays)))

    # ---- gather / scatter ----------------------------------------------------------------
    def getitem(self, a, index):
        if not any(type(e) in _ARRAYS or type(e) is bool for e in index):
            return basic_view(a, basic_view_index(index))
        return gather(a, index)

    def index_add(self, shape, index, values, dtype):
        return MetaArray(shapes.as_shape(shape), numpy_dtype(dtype))

    def setitem_(self, a, index, value):
        selected = shapes.getitem(a.shape, index)
        if shapes.broadcast(selected, _shape(value)) != selected:
            raise ValueError(f"could not broadcast input array from shape {_shape(value)} into "
                             f"shape {selected}")

    def copy_(self, dst, src):
        if shapes.broadcast(dst.shape, _shape(src)) != dst.shape:
            raise ValueError(f"could not broadcast input array from shape {_shape(src)} into "
                             f"shape {dst.shape}")

    # ---- sliding windows -----------------------------------------------------------------
    def im2col(self, a, kernel, stride, padding, dilation, pad_value=0.0):
        shape = im2col_shape(a.shape, kernel, stride, padding, dilation)
        return MetaArray(shape, a.dtype).view(shape, c_strides(shape, a.itemsize))

    def col2im(self, cols, shape, kernel, stride, padding, dilation):
        out = MetaArray(shapes.as_shape(shape), cols.dtype)
        n, c = shape[:2]
        unpadded = not any(padding[0]) and not any(padding[1])
        # NumPy's ascontiguousarray keeps (as a view) a transpose that is already dense
        return out.view(out.shape, out.strides) if unpadded and (n == 1 or c == 1) else out

    def max_pool2d(self, a, kernel, stride, padding, dilation):
        shape = a.shape[:2] + tuple(
            window_count(a.shape[2 + i], kernel[i], stride[i], *padding[i], dilation[i])
            for i in range(2))
        return MetaArray(shape, a.dtype), MetaArray(shape, _INT64)

    def max_pool2d_backward(self, grad, indices, shape, kernel, stride, padding, dilation):
        shape = shapes.as_shape(shape)
        out = MetaArray(shape, grad.dtype)
        (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
        apart = (kh - 1) * dh + 1 <= sh and (kw - 1) * dw + 1 <= sw
        padded = any(padding[0]) or any(padding[1])
        return out if not apart and padded else out.view(shape, out.strides)

    # ---- fused kernels -------------------------------------------------------------------
    def bias_act(self, x, bias, act):
        shape = shapes.broadcast(x.shape, bias.shape)
        dtype = self.values.bias_act(_stand_in(x), _stand_in(bias), act).dtype
        return _elementwise(shape, dtype, (x, bias))

    def bias_act_backward(self, grad_out, out, act):
        dtype = self.values.bias_act_backward(_stand_in(grad_out), _stand_in(out), act).dtype
        if act == "identity":  # ndarray.copy(): row-major
            return MetaArray(grad_out.shape, dtype)
        return _elementwise(shapes.broadcast(grad_out.shape, out.shape), dtype, (grad_out, out))

    def bias_act_grads(self, grad_out, out, act):
        grad = self.bias_act_backward(grad_out, out, act)
        return grad, self.reduce("sum", grad, 0)

    def softmax_cross_entropy(self, logits, target, ignore_index=-100):
        rows, lse = self.values.softmax_cross_entropy(
            _stand_in(logits), np.zeros((1,), target.dtype), ignore_index)
        n = logits.shape[0]
        return MetaArray((2, n), rows.dtype), MetaArray((n,), lse.dtype)

    def softmax_cross_entropy_backward(self, logits, target, lse, grad_rows, divisor=1,
                                       ignore_index=-100):
        return _elementwise(logits.shape, logits.dtype, (logits,))

    def sgd_step(self, params, grads, bufs, lr, momentum, dampening, weight_decay, nesterov,
                 maximize=False):
        new = []
        for p, g, buf in zip(params, grads, bufs):
            if buf is None and momentum:  # np.array(d_p, copy=True): d_p's memory order
                buf = _elementwise(g.shape, g.dtype, (g, p) if weight_decay else (g,))
            new.append(buf)
        return new

    def adam_step(self, params, grads, exp_avgs, exp_avg_sqs, step, lr, beta1, beta2, eps,
                  weight_decay, decoupled, maximize=False):
        """In place: nothing to compute."""

    def describe(self):
        return f"{self.device}: shape-only (compute=False)"


def _concatenation_order(arrays):
    """The axes of a concatenation's result, fastest first, as NumPy lays it out: its inputs'
    memory order (``PyArray_CreateMultiSortedStridePerm``: slowest first by stride, where an
    input with size 1 on an axis gives no opinion and row-major order wins disagreements)."""
    per_input = [[-abs(stride) if size != 1 else None for size, stride in zip(x.shape, x.strides)]
                 for x in arrays]
    return stable_axis_sort(list(range(arrays[0].ndim)), per_input)[::-1]


def _drop_reduced(strides, shape, axis):
    """The strides of a kept-dims reduction result without its reduced axes."""
    ndim = len(shape)
    axes = range(ndim) if axis is None else \
        {int(x) % ndim for x in (axis if isinstance(axis, (tuple, list)) else (axis,))}
    return tuple(s for i, s in enumerate(strides) if i not in axes)
