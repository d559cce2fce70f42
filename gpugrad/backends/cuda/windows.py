"""The cuda backend's sliding-window primitives, ``im2col``, ``col2im``, ``max_pool2d`` and
``max_pool2d_backward``: one launch each of kernels/im2col.cu. A convolution is then ``im2col``
and one cuBLAS GEMM (``matmul``).

``WindowLaunches`` is a mixin of ``CupyBackend`` (backend.py), which provides ``_use`` and
``_kernel``; CuPy is ``runtime.cupy``, bound when the first backend was created, so this file
imports without CuPy.
"""
import numpy as np

from ..base import im2col_shape, window_count
from . import runtime

_THREADS = 256
_MAX_BLOCKS = 65536  # the loops are grid-stride: more blocks than this only queue


def _launch_size(total):
    return (max(1, min((total + _THREADS - 1) // _THREADS, _MAX_BLOCKS)),), (_THREADS,)


def _float_dtype(name, a):
    if a.dtype not in runtime.KERNEL_SUFFIX:
        raise TypeError(f"{name}: the cuda kernels take float32 or float64 arrays, got "
                        f"{a.dtype}; convert first (x.float())")


def _geometry(shape, kernel, stride, padding, dilation):
    """The kernels' integer arguments after the array pointers."""
    n, c, h, w = shape
    oh = window_count(h, kernel[0], stride[0], padding[0][0], padding[0][1], dilation[0])
    ow = window_count(w, kernel[1], stride[1], padding[1][0], padding[1][1], dilation[1])
    return (n, c, h, w, kernel[0], kernel[1], stride[0], stride[1], padding[0][0],
            padding[1][0], dilation[0], dilation[1], oh, ow)


class WindowLaunches:
    """``im2col``, ``col2im``, ``max_pool2d`` and ``max_pool2d_backward`` (see
    ``gpugrad.backends.base.Backend``)."""

    def im2col(self, a, kernel, stride, padding, dilation, pad_value=0.0):
        _float_dtype("im2col", a)
        self._use()
        a = runtime.dense(a)
        cols = runtime.cupy.empty(im2col_shape(a.shape, kernel, stride, padding, dilation),
                                  dtype=a.dtype)
        if cols.size:
            grid, block = _launch_size(cols.size)
            self._kernel("im2col", a.dtype)(
                grid, block, (a, cols) + _geometry(a.shape, kernel, stride, padding, dilation) +
                (float(pad_value),))
        return cols

    def col2im(self, cols, shape, kernel, stride, padding, dilation):
        _float_dtype("col2im", cols)
        self._use()
        cols = runtime.dense(cols)
        img = runtime.cupy.empty(tuple(shape), dtype=cols.dtype)
        if img.size:
            grid, block = _launch_size(img.size)
            self._kernel("col2im", cols.dtype)(
                grid, block, (cols, img) + _geometry(shape, kernel, stride, padding, dilation))
        return img

    def max_pool2d(self, a, kernel, stride, padding, dilation):
        _float_dtype("max_pool2d", a)
        self._use()
        a = runtime.dense(a)
        geometry = _geometry(a.shape, kernel, stride, padding, dilation)
        shape = a.shape[:2] + geometry[-2:]
        values = runtime.cupy.empty(shape, dtype=a.dtype)
        indices = runtime.cupy.empty(shape, dtype=np.int64)
        if values.size:
            grid, block = _launch_size(values.size)
            self._kernel("max_pool2d", a.dtype)(grid, block, (a, values, indices) + geometry)
        return values, indices

    def max_pool2d_backward(self, grad, indices, shape, kernel, stride, padding, dilation):
        _float_dtype("max_pool2d_backward", grad)
        self._use()
        grad, indices = runtime.dense(grad), runtime.dense(indices)
        img = runtime.cupy.empty(tuple(shape), dtype=grad.dtype)
        if img.size:
            grid, block = _launch_size(img.size)
            self._kernel("max_pool2d_backward", grad.dtype)(
                grid, block, (grad, indices, img) + _geometry(shape, kernel, stride, padding,
                                                               dilation))
        return img
