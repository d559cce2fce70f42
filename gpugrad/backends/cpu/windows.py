"""``im2col`` and ``col2im`` on NumPy: the sliding windows of convolution and pooling.

``im2col`` copies a strided view of the (padded) input, so NumPy's copy loop does the work;
``col2im`` adds each kernel tap's columns into a strided slice of the result, a loop over the
kh*kw taps and never over pixels. The cuda backend's kernels (``kernels/im2col.cu``) give the
same numbers: the same layout, and ``col2im`` adds the taps of each element in the same order.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..base import window_count


def _padded(a, padding, pad_value):
    """``a`` (N, C, H, W) surrounded by ``padding`` entries of ``pad_value`` (``a`` itself when
    there is no padding)."""
    (top, bottom), (left, right) = padding
    if not (top or bottom or left or right):
        return a
    n, c, h, w = a.shape
    out = np.empty((n, c, h + top + bottom, w + left + right), dtype=a.dtype)
    out.fill(pad_value)
    out[:, :, top:top + h, left:left + w] = a
    return out


def _sizes(shape, kernel, stride, padding, dilation):
    h, w = shape[2], shape[3]
    return (window_count(h, kernel[0], stride[0], *padding[0], dilation[0]),
            window_count(w, kernel[1], stride[1], *padding[1], dilation[1]))


def im2col_numpy(a, kernel, stride, padding, dilation, pad_value=0.0):
    """The contract's ``im2col`` on a NumPy array (see ``Backend.im2col``)."""
    n, c = a.shape[:2]
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    oh, ow = _sizes(a.shape, kernel, stride, padding, dilation)
    padded = _padded(a, padding, pad_value)
    span = ((kh - 1) * dh + 1, (kw - 1) * dw + 1)
    # (N, C, positions_h, positions_w, span_h, span_w): every window, as a view
    windows = sliding_window_view(padded, span, axis=(2, 3))
    windows = windows[:, :, :(oh - 1) * sh + 1:sh, :(ow - 1) * sw + 1:sw, ::dh, ::dw]
    cols = np.empty((c, kh, kw, n, oh, ow), dtype=a.dtype)
    cols[...] = windows.transpose(1, 4, 5, 0, 2, 3)
    return cols.reshape(c * kh * kw, n * oh * ow)


def col2im_numpy(cols, shape, kernel, stride, padding, dilation):
    """The contract's ``col2im`` on a NumPy array (see ``Backend.col2im``)."""
    n, c, h, w = shape
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    (top, bottom), (left, right) = padding
    oh, ow = _sizes(shape, kernel, stride, padding, dilation)
    taps = cols.reshape(c, kh, kw, n, oh, ow)
    # accumulate in the columns' (C, N, ...) order, so each tap's slice adds without a transpose
    out = np.zeros((c, n, h + top + bottom, w + left + right), dtype=cols.dtype)
    for i in range(kh):
        rows = slice(i * dh, i * dh + (oh - 1) * sh + 1, sh)
        for j in range(kw):
            out[:, :, rows, j * dw:j * dw + (ow - 1) * sw + 1:sw] += taps[:, i, j]
    return np.ascontiguousarray(out[:, :, top:top + h, left:left + w].transpose(1, 0, 2, 3))



def _first_valid_tap(out, stride, pad, dilation):
    """Per window position along one dimension: the number of its first tap inside the input
    (the taps before it read the padding)."""
    starts = np.arange(out) * stride - pad
    return np.maximum(0, -(starts // dilation))


def _tap_origin(shape, stride, padding, out):
    """(OH, OW) int64: the flat H*W index of tap (0, 0) of each window (negative or past a
    row when that tap lies in the padding: only differences to it are used)."""
    (sh, sw), (top, left) = stride, (padding[0][0], padding[1][0])
    return (np.arange(out[0])[:, None] * sh - top) * shape[3] + np.arange(out[1]) * sw - left


def max_pool2d_numpy(a, kernel, stride, padding, dilation):
    """The contract's ``max_pool2d`` on a NumPy array (see ``Backend.max_pool2d``).

    A running maximum over the kh*kw taps, each a strided view of the (-inf padded) input, so
    the work is a few vector operations per tap and nothing the size of the windows is
    materialized. The chosen tap's number only grows (a tap strictly larger than the best so
    far replaces it, so the first of tied maxima stays), which makes its update one
    ``maximum``; it starts at each window's first tap inside the input, as PyTorch's index
    does, so an all -inf window points into the input. Only when a window holds a NaN (the
    maximum propagates it) does a second pass choose its last NaN, PyTorch's rule."""
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    out = _sizes(a.shape, kernel, stride, padding, dilation)
    padded = _padded(a, padding, -np.inf)
    taps = [padded[:, :, i * dh:i * dh + (out[0] - 1) * sh + 1:sh,
                   j * dw:j * dw + (out[1] - 1) * sw + 1:sw] for i in range(kh) for j in range(kw)]
    shape = a.shape[:2] + out
    number = np.min_scalar_type(kh * kw)
    which = np.empty(shape, dtype=number)
    which[...] = (_first_valid_tap(out[0], sh, padding[0][0], dh)[:, None] * kw +
                  _first_valid_tap(out[1], sw, padding[1][0], dw))
    best = np.full(shape, -np.inf, dtype=a.dtype)
    chosen = np.empty(shape, dtype=bool)
    candidate = np.empty(shape, dtype=number)
    for k, tap in enumerate(taps):
        np.greater(tap, best, out=chosen)
        np.maximum(best, tap, out=best)
        np.multiply(chosen, number.type(k), out=candidate)
        np.maximum(which, candidate, out=which)
    if np.isnan(best).any():
        for k, tap in enumerate(taps):
            np.isnan(tap, out=chosen)
            np.multiply(chosen, number.type(k), out=candidate)
            np.maximum(which, candidate, out=which)
    offsets = np.array([i * dh * a.shape[3] + j * dw for i in range(kh) for j in range(kw)])
    index = offsets.take(which)
    index += _tap_origin(a.shape, stride, padding, out)
    return best, index


def max_pool2d_backward_numpy(grad, indices, shape, kernel, stride, padding, dilation):
    """The contract's ``max_pool2d_backward`` on NumPy arrays (see
    ``Backend.max_pool2d_backward``).

    Windows that cannot overlap (each span at most its stride) choose distinct elements, so
    the gradient is put in place by one scatter; otherwise each tap's windows add the gradient
    where they chose that tap, a loop over the kh*kw taps in (i, j) order as the cuda kernel
    adds them."""
    n, c, h, w = shape
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    planes = n * c
    if (kh - 1) * dh + 1 <= sh and (kw - 1) * dw + 1 <= sw:
        out = np.zeros(planes * h * w, dtype=grad.dtype)
        at = indices.reshape(planes, -1) + np.arange(0, planes * h * w, h * w)[:, None]
        out[at.ravel()] = grad.ravel()  # one 1-D scatter: cheaper than put_along_axis
        return out.reshape(shape)
    (top, bottom), (left, right) = padding
    oh, ow = grad.shape[2:]
    origin = _tap_origin(shape, stride, padding, (oh, ow))
    out = np.zeros((n, c, h + top + bottom, w + left + right), dtype=grad.dtype)
    zero = np.zeros((), dtype=grad.dtype)
    for i in range(kh):
        rows = slice(i * dh, i * dh + (oh - 1) * sh + 1, sh)
        for j in range(kw):
            chose = indices == origin + (i * dh * w + j * dw)
            out[:, :, rows, j * dw:j * dw + (ow - 1) * sw + 1:sw] += np.where(chose, grad, zero)
    return np.ascontiguousarray(out[:, :, top:top + h, left:left + w])
