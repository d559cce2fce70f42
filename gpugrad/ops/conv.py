"""Convolutions (``F.conv1d``, ``F.conv2d``) as im2col + one matrix product.

The input's windows become the columns of a (C/groups*kh*kw, N*OH*OW) matrix per group
(``Im2Col``: one kernel), the weight viewed as (groups, O/groups, C/groups*kh*kw) multiplies
it (one GEMM: cuBLAS on cuda), and the product is laid out as (N, O, OH, OW). Every piece is a
differentiable op, so the gradients (the input's through ``Col2Im``, the weight's as one GEMM
with the columns) and their gradients come from autograd, on every device. A 1-D convolution
is the 2-D one on a unit height.
"""
from .windows import Im2Col, as_tuple, output_size, spatial_input

_PADDING_STRINGS = ("valid", "same")


def _padding(padding, kernel, stride, dilation, dims, op):
    """((before, after), ...) per spatial dimension from an int, a tuple or 'valid'/'same'.

    'same' pads ``dilation*(kernel-1)`` in all, the odd one after, as PyTorch does."""
    if isinstance(padding, str):
        if padding not in _PADDING_STRINGS:
            raise RuntimeError(f"Invalid padding string: '{padding}' (expected 'valid' or "
                               f"'same', or an int or a tuple)")
        if padding == "valid":
            return ((0, 0),) * dims
        if any(s != 1 for s in stride):
            raise RuntimeError("padding='same' is not supported for strided convolutions")
        total = [d * (k - 1) for k, d in zip(kernel, dilation)]
        return tuple((t // 2, t - t // 2) for t in total)
    pads = as_tuple(padding, dims, "padding", op)
    if any(p < 0 for p in pads):
        raise RuntimeError("negative padding is not supported")
    return tuple((p, p) for p in pads)


def _check(input, weight, bias, stride, dilation, groups, op):
    if weight.ndim != input.ndim:
        raise RuntimeError(f"{op}: expected a {input.ndim}-D weight (out_channels, "
                           f"in_channels / groups, *kernel_size), got weight of size "
                           f"{list(weight.shape)}")
    if not isinstance(groups, int) or isinstance(groups, bool) or groups <= 0:
        raise RuntimeError(f"non-positive groups is not supported (got groups={groups!r})")
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(d <= 0 for d in dilation):
        raise RuntimeError("dilation should be greater than zero")
    out_channels = weight.shape[0]
    if out_channels % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} "
                           f"at dimension 0, but got weight of size {list(weight.shape)} "
                           f"instead")
    if input.shape[1] != weight.shape[1] * groups:
        raise RuntimeError(f"Given groups={groups}, weight of size {list(weight.shape)}, "
                           f"expected input{list(input.shape)} to have "
                           f"{weight.shape[1] * groups} channels, but got {input.shape[1]} "
                           f"channels instead")
    if bias is not None and tuple(bias.shape) != (out_channels,):
        raise RuntimeError(f"Given weight of size {list(weight.shape)}, expected bias to be "
                           f"1-dimensional with {out_channels} elements, but got bias of size "
                           f"{list(bias.shape)} instead")


def _conv2d(x, weight, bias, stride, padding, dilation, groups):
    """The convolution of a batched (N, C, H, W) ``x`` with ``padding`` as (before, after)
    pairs."""
    n, h, w = x.shape[0], x.shape[2], x.shape[3]
    out_channels, per_group, kh, kw = weight.shape
    kernel = (kh, kw)
    oh, ow = output_size(x.shape, kernel, stride, padding, dilation)
    if oh <= 0 or ow <= 0:
        raise RuntimeError(f"Calculated padded input size per channel: "
                           f"({h + sum(padding[0])} x {w + sum(padding[1])}). Kernel size: "
                           f"({(kh - 1) * dilation[0] + 1} x {(kw - 1) * dilation[1] + 1}). "
                           f"Kernel size can't be greater than actual input size")
    cols = Im2Col.apply(x, kernel=kernel, stride=stride, padding=padding, dilation=dilation)
    rows = per_group * kh * kw
    if groups == 1:
        out = weight.reshape(out_channels, rows) @ cols
    else:
        out = weight.reshape(groups, out_channels // groups, rows) @ \
            cols.reshape(groups, rows, n * oh * ow)
    out = out.reshape(out_channels, n, oh, ow)
    if bias is not None:
        # in the output's dtype: under gg.autocast the product is low precision, the bias not
        out = out + bias.reshape(out_channels, 1, 1, 1).to(out.dtype)
    return out.permute(1, 0, 2, 3).contiguous()


def convolution(input, weight, bias, stride, padding, dilation, groups, dims, op):
    """The N-d convolution behind ``conv1d`` (``dims=1``) and ``conv2d`` (``dims=2``), with
    PyTorch's argument rules and error messages."""
    x, batched = spatial_input(input, dims, op)
    stride = as_tuple(stride, dims, "stride", op)
    dilation = as_tuple(dilation, dims, "dilation", op)
    _check(x, weight, bias, stride, dilation, groups, op)
    padding = _padding(padding, tuple(weight.shape[2:]), stride, dilation, dims, op)
    if dims == 1:  # a unit height: the 2-D path, whose kernels serve both
        x, weight = x.unsqueeze(2), weight.unsqueeze(2)
        stride, dilation, padding = (1,) + stride, (1,) + dilation, ((0, 0),) + padding
    out = _conv2d(x, weight, bias, stride, padding, dilation, groups)
    if dims == 1:
        out = out.squeeze(2)
    return out if batched else out.squeeze(0)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution (cross-correlation, as PyTorch) of ``input`` (N, C, L) or (C, L) with
    ``weight`` (O, C/groups, k) and optional ``bias`` (O,), as ``torch.nn.functional.conv1d``.

    ``padding`` is an int, a 1-tuple, ``'valid'`` (none) or ``'same'`` (output as long as the
    input; stride 1 only). Runs as im2col + one GEMM; differentiable twice."""
    return convolution(input, weight, bias, stride, padding, dilation, groups, 1, "conv1d")


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation, as PyTorch) of ``input`` (N, C, H, W) or (C, H, W)
    with ``weight`` (O, C/groups, kh, kw) and optional ``bias`` (O,), as
    ``torch.nn.functional.conv2d``.

    ``stride``, ``dilation``: an int or an (h, w) pair; ``padding``: an int, a pair,
    ``'valid'`` (none) or ``'same'`` (output the input's size; stride 1 only; an odd total
    padding puts the extra row/column after, as PyTorch). ``groups`` splits the channels into
    independent convolutions. Runs as im2col + one GEMM; differentiable twice."""
    return convolution(input, weight, bias, stride, padding, dilation, groups, 2, "conv2d")
