"""Resampling functions of ``gg.nn.functional``: ``pad`` and ``interpolate``.

Both are gathers along one dimension at a time (``x[..., index]``, whose gradient scatter-adds
back) plus concatenation and weighted sums, so they run on every device and differentiate to
any order. The indices and weights are computed on the host from the shapes alone.
"""
import math

from ..creation import full, tensor
from ..ops.pool import adaptive_avg_pool1d, adaptive_avg_pool2d
from ..tensor_shape_methods import cat

_PAD_MODES = ("constant", "reflect", "replicate", "circular")
_INTERPOLATE_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "area")


def _along(input, dim, index):
    """``input`` indexed by the list ``index`` along ``dim``."""
    positions = tensor(index, dtype="int64", device=input.device)
    return input[(slice(None),) * dim + (positions,)]


# ---- pad -------------------------------------------------------------------------------------
def pad(input, pad, mode="constant", value=None):
    """Pad (or, with negative sizes, crop) the last ``len(pad) // 2`` dimensions:
    ``pad = (left, right)`` for the last dimension, then ``(top, bottom)`` for the one before...

    ``mode`` is ``'constant'`` (fill with ``value``, 0 by default), ``'reflect'`` (mirror
    without repeating the edge), ``'replicate'`` (repeat the edge) or ``'circular'`` (wrap
    around); the last three pad at most the last 3 dimensions, as in PyTorch.
    """
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    dims = len(pad) // 2
    if dims > input.ndim:
        raise RuntimeError("Padding length should be less than or equal to two times the "
                           "input dimension but got padding length "
                           f"{len(pad)} and input of dimension {input.ndim}")
    if mode not in _PAD_MODES:
        raise NotImplementedError(f"pad: mode {mode!r} is not supported; use one of "
                                  f"{_PAD_MODES}")
    if mode != "constant":
        if value is not None and value != 0:
            raise RuntimeError(f"Padding mode \"{mode}\" doesn't take in value argument")
        if dims > 3 or input.ndim < dims + 1:
            raise NotImplementedError(f"pad: mode {mode!r} pads 1 to 3 trailing dimensions of "
                                      f"an input with a batch or channel dimension before them "
                                      f"(got padding length {len(pad)} for a {input.ndim}-D "
                                      f"input)")
    out = input
    for i in range(dims):
        dim = input.ndim - 1 - i
        before, after = pad[2 * i], pad[2 * i + 1]
        if mode == "constant":
            out = _pad_constant(out, dim, before, after, 0 if value is None else value)
        else:
            out = _along(out, dim, _pad_index(mode, out.shape[dim], before, after))
    return out


def _pad_constant(input, dim, before, after, value):
    size = input.shape[dim]
    if before + size + after < 0:
        raise RuntimeError(f"pad: the padding of dimension {dim} ({before}, {after}) would "
                           f"leave a negative size from {size}")
    if before < 0 or after < 0:  # negative padding crops
        start = max(-before, 0)
        input = input.narrow(dim, start, size - start - max(-after, 0))

    def block(count):
        shape = input.shape[:dim] + (count,) + input.shape[dim + 1:]
        return full(shape, value, dtype=input.dtype, device=input.device)

    parts = ([block(before)] if before > 0 else []) + [input] + \
        ([block(after)] if after > 0 else [])
    # PyTorch's pad never returns (a view of) its input, even when nothing is added
    return input.clone() if len(parts) == 1 else cat(parts, dim=dim)


def _pad_index(mode, size, before, after):
    """The source position of each output position of a non-constant pad."""
    if mode == "reflect" and (before >= size or after >= size):
        raise RuntimeError(f"Argument #4: Padding size should be less than the corresponding "
                           f"input dimension, but got: padding ({before}, {after}) at dimension "
                           f"of size {size}")
    if size == 0:
        raise RuntimeError(f"pad: mode {mode!r} cannot pad an empty dimension")
    if mode == "circular":  # crop first, then wrap what is kept around, as PyTorch does
        start = max(-before, 0)
        kept = size - start - max(-after, 0)
        if kept < 0:
            raise RuntimeError(f"pad: the padding ({before}, {after}) would leave a negative "
                               f"size from {size}")
        if before > kept or after > kept:  # (PyTorch's result there is undefined)
            raise RuntimeError(f"Padding value causes wrapping around more than once: "
                               f"({before}, {after}) around the {kept} entries kept of {size}")
        return [start + i % kept for i in range(-max(before, 0), kept + max(after, 0))]
    index = []
    for i in range(-before, size + after):
        if mode == "replicate":
            index.append(min(max(i, 0), size - 1))
        else:  # reflect about the edges, which are not repeated
            j = -i if i < 0 else i
            index.append(2 * (size - 1) - j if j >= size else j)
    return index


# ---- interpolate -----------------------------------------------------------------------------
def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize the spatial dimensions of a 3-D (N, C, L) or 4-D (N, C, H, W) input to ``size``
    or by ``scale_factor`` (one of the two), as ``torch.nn.functional.interpolate``.

    ``mode`` is ``'nearest'`` (PyTorch's: source ``floor(i * scale)``), ``'nearest-exact'``,
    ``'linear'`` (3-D), ``'bilinear'`` (4-D) or ``'area'`` (the adaptive average pool to the
    output size, as PyTorch's); for linear and bilinear ``align_corners`` chooses whether the
    corner pixels' centres (True) or edges (False, the default) line up.
    """
    spatial = input.ndim - 2
    if spatial not in (1, 2):
        raise NotImplementedError(f"interpolate: gpugrad resizes 3-D (N, C, L) and 4-D "
                                  f"(N, C, H, W) inputs, got a {input.ndim}-D input")
    if mode not in _INTERPOLATE_MODES:
        raise NotImplementedError(f"interpolate: mode {mode!r} is not supported; use one of "
                                  f"{_INTERPOLATE_MODES}")
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported")
    linear = mode in ("linear", "bilinear")
    if linear and (mode == "linear") != (spatial == 1):
        raise NotImplementedError(f"Got {input.ndim}D input, but {mode} mode needs "
                                  f"{3 if mode == 'linear' else 4}D input")
    if align_corners is not None and not linear:
        raise ValueError("align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear | bicubic | trilinear")
    sizes, scales = _output_sizes(input, size, scale_factor, recompute_scale_factor, spatial)
    if min(input.shape[2:] + sizes) <= 0:
        names = ("H", "W")[-spatial:]
        joint = " and " if spatial == 1 else " "  # PyTorch's words, per rank
        raise RuntimeError(f"Input and output sizes should be greater than 0, but got input "
                           f"({_named(names, input.shape[2:])}){joint}output "
                           f"({_named(names, sizes)})")
    if mode == "area":
        return adaptive_avg_pool1d(input, sizes[0]) if spatial == 1 else \
            adaptive_avg_pool2d(input, tuple(sizes))
    out = input
    for k in range(spatial):
        dim = 2 + k
        in_size, out_size = input.shape[dim], sizes[k]
        if linear:
            out = _linear_along(out, dim, in_size, out_size, scales[k], bool(align_corners))
        else:
            scale = _scale(in_size, out_size, scales[k])
            offset = 0.5 if mode == "nearest-exact" else 0.0
            index = [min(int(math.floor((i + offset) * scale)), in_size - 1)
                     for i in range(out_size)]
            out = _along(out, dim, index)
    return out


def _named(names, sizes):
    return ", ".join(f"{name}: {n}" for name, n in zip(names, sizes))


def _output_sizes(input, size, scale_factor, recompute_scale_factor, spatial):
    """The output's spatial sizes and, per dimension, the scale factor given (or None)."""
    if (size is None) == (scale_factor is None):
        raise ValueError("only one of size or scale_factor should be defined"
                         if size is not None else "either size or scale_factor should be defined")
    if size is not None:
        sizes = (size,) * spatial if isinstance(size, int) else tuple(size)
        if len(sizes) != spatial:
            raise ValueError(f"Input and output must have the same number of spatial "
                             f"dimensions, but got input with spatial dimensions of "
                             f"{list(input.shape[2:])} and output size of {list(sizes)}.")
        return tuple(int(s) for s in sizes), (None,) * spatial
    factors = (scale_factor,) * spatial if isinstance(scale_factor, (int, float)) else \
        tuple(scale_factor)
    if len(factors) != spatial:
        raise ValueError(f"Input and scale_factor must have the same number of spatial "
                         f"dimensions, but got input with spatial dimensions of "
                         f"{list(input.shape[2:])} and scale_factor of shape {list(factors)}.")
    sizes = tuple(int(math.floor(input.shape[2 + k] * float(f))) for k, f in enumerate(factors))
    kept = (None,) * spatial if recompute_scale_factor else tuple(float(f) for f in factors)
    return sizes, kept


def _scale(in_size, out_size, scale_factor):
    """PyTorch's source step per output position: ``1 / scale_factor`` when one was given
    (and not recomputed), else ``in_size / out_size``."""
    if scale_factor is not None and scale_factor > 0:
        return 1.0 / scale_factor
    return in_size / out_size if out_size else 0.0


def _linear_along(input, dim, in_size, out_size, scale_factor, align_corners):
    """Linear interpolation along ``dim``: each output mixes its two nearest inputs."""
    if align_corners:
        step = (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
    else:
        step = _scale(in_size, out_size, scale_factor)
    low, high, frac = [], [], []
    for i in range(out_size):
        source = i * step if align_corners else max((i + 0.5) * step - 0.5, 0.0)
        j = min(int(source), in_size - 1)
        low.append(j)
        high.append(j + 1 if j < in_size - 1 else j)
        frac.append(source - j)
    shape = (out_size,) + (1,) * (input.ndim - 1 - dim)
    weight = tensor(frac, dtype=input.dtype, device=input.device).reshape(shape)
    return _along(input, dim, low) * (1.0 - weight) + _along(input, dim, high) * weight
