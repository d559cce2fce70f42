"""Pooling (``F.max_pool1d/2d``, ``F.avg_pool1d/2d``, ``F.adaptive_avg_pool1d/2d``), with
first and second derivatives on every device.

Max pooling is one backend kernel each way: ``Backend.max_pool2d`` gives each window's maximum
and the flat index of the element it chose (the first largest tap, so the gradient goes to one
input element as in PyTorch, even among ties: after a ReLU, zeros tie often; these are also
``return_indices``), and ``Backend.max_pool2d_backward`` adds the gradient back at those indices.
Average pooling takes each channel's windows with ``Im2Col`` (the channels as a batch of one, so
the columns come out as (N, C, kh*kw, OH*OW) with no transpose), sums and divides by each
window's count. ``ceil_mode`` is extra padding after the input. Adaptive average pooling is two
products with averaging matrices, since its windows differ in size.
"""
from ..creation import tensor
from ..engine.function import Function
from ..tensor import Tensor
from .windows import Im2Col, as_tuple, spatial_input


def _pool_size(size, kernel, pad, stride, dilation, ceil_mode):
    """PyTorch's ``pooling_output_shape``: windows along one dimension; with ``ceil_mode`` a
    last partial window counts if it starts inside the input or the left padding."""
    span = size + 2 * pad - dilation * (kernel - 1) - 1
    out = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


class _Geometry:
    """The windows of one pooling call: kernel, stride, dilation, (before, after) padding per
    spatial dimension (``after`` grown for ``ceil_mode``) and the output size."""

    def __init__(self, input, kernel_size, stride, padding, dilation, ceil_mode, dims, op):
        self.kernel = as_tuple(kernel_size, dims, "kernel_size", op)
        self.stride = self.kernel if stride is None or stride == [] or stride == () else \
            as_tuple(stride, dims, "stride", op)
        self.pads = as_tuple(padding, dims, "padding", op)
        self.dilation = as_tuple(dilation, dims, "dilation", op)
        for values, message in ((self.kernel, "kernel size should be greater than zero"),
                                (self.stride, "stride should not be zero"),
                                (self.dilation, "dilation should be greater than zero")):
            if any(v <= 0 for v in values):
                raise RuntimeError(f"{message}, but got kernel_size={self.kernel}, "
                                   f"stride={self.stride}, dilation={self.dilation} ({op})")
        sizes = input.shape[-dims:]
        self.out = tuple(_pool_size(s, k, p, st, d, ceil_mode) for s, k, p, st, d in
                         zip(sizes, self.kernel, self.pads, self.stride, self.dilation))
        if any(o <= 0 for o in self.out):
            given = "x".join(map(str, input.shape[-dims - 1:]))
            raise RuntimeError(f"Given input size: ({given}). Calculated output size: "
                               f"({input.shape[-dims - 1]}x"
                               f"{'x'.join(map(str, self.out))}). Output size is too small")
        self.padding = tuple(
            (p, max(0, (o - 1) * st + d * (k - 1) + 1 - s - 2 * p) + p) for s, k, p, st, d, o in
            zip(sizes, self.kernel, self.pads, self.stride, self.dilation, self.out))
        if dims == 1:  # a unit height: the 2-D windows
            self.kernel, self.stride, self.dilation = ((1,) + self.kernel, (1,) + self.stride,
                                                       (1,) + self.dilation)
            self.padding, self.out = ((0, 0),) + self.padding, (1,) + self.out

    def columns(self, x, pad_value):
        """``x``'s windows as (N, C, taps, positions)."""
        n, c, h, w = x.shape
        cols = Im2Col.apply(x.reshape(1, n * c, h, w), kernel=self.kernel, stride=self.stride,
                            padding=self.padding, dilation=self.dilation, pad_value=pad_value)
        return cols.reshape(n, c, self.kernel[0] * self.kernel[1], self.out[0] * self.out[1])


def _as_2d(input, dims, op):
    """(the input as a batched 4-D tensor, whether it had a batch dimension)."""
    x, batched = spatial_input(input, dims, op)
    if not x.dtype.is_floating_point:
        raise RuntimeError(f"\"{op}\" not implemented for '{x.dtype}': pool a floating-point "
                           f"tensor (x.float())")
    return (x.unsqueeze(2) if dims == 1 else x), batched


def _result(out, geometry, dims, batched):
    """(N, C, positions) laid out as the input was: (N, C, *out), unbatched without N."""
    out = out.reshape(out.shape[0], out.shape[1], *geometry.out[2 - dims:])
    return out if batched else out.squeeze(0)


def _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, dims,
              op):
    x, batched = _as_2d(input, dims, op)
    geometry = _Geometry(input, kernel_size, stride, padding, dilation, ceil_mode, dims, op)
    kernel = geometry.kernel[2 - dims:]
    for k, p, d in zip(kernel, geometry.pads, geometry.dilation[2 - dims:]):
        if p > (d * (k - 1) + 1) // 2:
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got "
                               f"pad={p}, kernel_size={k} and dilation={d}")
    values, indices = x._backend.max_pool2d(x._data, geometry.kernel, geometry.stride,
                                            geometry.padding, geometry.dilation)
    out = MaxPool.apply(x, values=values, indices=indices, geometry=geometry)
    out = out if batched else out.squeeze(0)
    if dims == 1:
        out = out.squeeze(-2)
    if not return_indices:
        return out
    index = Tensor._make(indices, x._backend, False)
    index = index if batched else index.squeeze(0)
    return out, (index.squeeze(-2) if dims == 1 else index)


class MaxPool(Function):
    """``values``, the window maxima of ``x`` (N, C, H, W) that ``Backend.max_pool2d`` computed
    beside their flat H*W ``indices``, as a differentiable op of ``x``: the gradient goes to
    each window's chosen element (``MaxPoolScatter``)."""

    def forward(self, x, values=None, indices=None, geometry=None):
        self.shape, self.indices, self.geometry = x.shape, indices, geometry
        return values

    def backward(self, grad):
        return MaxPoolScatter.apply(grad, indices=self.indices, shape=self.shape,
                                    geometry=self.geometry)


class MaxPoolScatter(Function):
    """The gradient of max pooling: ``grad`` (N, C, OH, OW) added into a zero (N, C, H, W)
    array at each window's chosen element (``Backend.max_pool2d_backward``). Linear in
    ``grad``; its own gradient gathers at the same indices."""

    def forward(self, grad, indices=None, shape=None, geometry=None):
        self.indices = indices
        g = geometry
        return self.backend.max_pool2d_backward(grad, indices, shape, g.kernel, g.stride,
                                                g.padding, g.dilation)

    def backward(self, grad):
        n, c, oh, ow = self.indices.shape
        index = Tensor._make(self.indices, self.backend, False).reshape(n, c, oh * ow)
        return grad.reshape(n, c, -1).gather(2, index).reshape(n, c, oh, ow)


def _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override, dims, op):
    x, batched = _as_2d(input, dims, op)
    geometry = _Geometry(input, kernel_size, stride, padding, 1, ceil_mode, dims, op)
    kernel = geometry.kernel[2 - dims:]
    if any(p > k // 2 for k, p in zip(kernel, geometry.pads)):
        raise RuntimeError(f"pad should be smaller than or equal to half of kernel size, but "
                           f"got padding={geometry.pads}, kernel_size={kernel}")
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    cols = geometry.columns(x, 0.0)
    total = cols.sum(dim=2)
    if divisor_override is not None:
        out = total / divisor_override
    else:
        counts = _window_counts(x.shape, geometry, count_include_pad)
        if all(c == counts[0] for c in counts):
            out = total / counts[0]
        else:
            out = total / tensor(counts, dtype=x.dtype, device=x.device)
    return _result(out, geometry, dims, batched)


def _window_counts(shape, g, count_include_pad):
    """Each output position's divisor, as PyTorch's ``avg_pool2d`` counts it: the window's
    extent clipped to the padded input (or, without ``count_include_pad``, to the input)."""
    per_dim = []
    for size, k, s, (pad, _), out in zip(shape[2:], g.kernel, g.stride, g.padding, g.out):
        counts = []
        for o in range(out):
            start = o * s - pad
            end = min(start + k, size + pad)
            counts.append(end - start if count_include_pad else
                          min(end, size) - max(start, 0))
        per_dim.append(counts)
    return [a * b for a in per_dim[0] for b in per_dim[1]]


def _adaptive_matrix(size, out, like):
    """The (out, size) matrix averaging PyTorch's adaptive windows: row ``i`` covers
    ``[floor(i*size/out), ceil((i+1)*size/out))``."""
    rows = []
    for i in range(out):
        start, end = (i * size) // out, -((-(i + 1) * size) // out)
        rows.append([1.0 / (end - start) if start <= j < end else 0.0 for j in range(size)])
    return tensor(rows, dtype=like.dtype, device=like.device)


def _adaptive_avg_pool(input, output_size, dims, op):
    x, batched = spatial_input(input, dims, op)
    if not x.dtype.is_floating_point:
        raise RuntimeError(f"\"{op}\" not implemented for '{x.dtype}': pool a floating-point "
                           f"tensor (x.float())")
    sizes = x.shape[2:]
    if isinstance(output_size, int) or output_size is None:
        output_size = (output_size,) * dims
    if len(output_size) != dims:  # (checked before zip, which would drop the extra sizes)
        raise RuntimeError(f"{op}: output_size must be {dims}")
    output_size = tuple(s if o is None else o for s, o in zip(sizes, output_size))
    if any(not isinstance(o, int) or o <= 0 for o in output_size):
        raise ValueError(f"{op}: output_size must be a positive int or a tuple of {dims} "
                         f"positive ints (None keeps a size), got {output_size!r}")
    if any(s == 0 for s in sizes):
        raise RuntimeError(f"{op}(): Expected input to have non-zero size for non-batch "
                           f"dimensions, but input has sizes {list(input.shape)}")
    if all(o == 1 for o in output_size):  # global average pooling: one reduction
        out = x.mean(dim=tuple(range(2, x.ndim)), keepdim=True)
    else:
        out = x @ _adaptive_matrix(sizes[-1], output_size[-1], x).mT
        if dims == 2:
            out = _adaptive_matrix(sizes[0], output_size[0], x) @ out
    return out if batched else out.squeeze(0)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """The largest value of each window of ``input`` (N, C, L) or (C, L), as
    ``torch.nn.functional.max_pool1d``; ``stride`` defaults to ``kernel_size``, padding counts
    as -inf. With ``return_indices``, also each maximum's index along L (int64)."""
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
                     1, "max_pool1d")


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """The largest value of each window of ``input`` (N, C, H, W) or (C, H, W), as
    ``torch.nn.functional.max_pool2d``. ``stride`` defaults to ``kernel_size``; padding counts
    as -inf (at most half the effective kernel); ``ceil_mode`` keeps a last partial window.
    The gradient goes to the first largest element of each window. With ``return_indices``,
    also each maximum's index in its flattened H*W plane (int64, no gradient)."""
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
                     2, "max_pool2d")


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """The mean of each window of ``input`` (N, C, L) or (C, L), as
    ``torch.nn.functional.avg_pool1d`` (see ``avg_pool2d``)."""
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, None,
                     1, "avg_pool1d")


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """The mean of each window of ``input`` (N, C, H, W) or (C, H, W), as
    ``torch.nn.functional.avg_pool2d``. ``stride`` defaults to ``kernel_size``; zero padding
    counts in the divisor when ``count_include_pad`` (the default), and never the part of a
    ``ceil_mode`` window past the padding; ``divisor_override`` replaces the divisor."""
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override, 2, "avg_pool2d")


def adaptive_avg_pool1d(input, output_size):
    """Average pooling of ``input`` (N, C, L) or (C, L) to ``output_size`` positions with
    PyTorch's adaptive windows, as ``torch.nn.functional.adaptive_avg_pool1d``."""
    return _adaptive_avg_pool(input, output_size, 1, "adaptive_avg_pool1d")


def adaptive_avg_pool2d(input, output_size):
    """Average pooling of ``input`` (N, C, H, W) or (C, H, W) to ``output_size`` (an int, or
    an (h, w) pair whose None entries keep the input's size) with PyTorch's adaptive windows
    (``[floor(i*H/h), ceil((i+1)*H/h))``), as ``torch.nn.functional.adaptive_avg_pool2d``."""
    return _adaptive_avg_pool(input, output_size, 2, "adaptive_avg_pool2d")
