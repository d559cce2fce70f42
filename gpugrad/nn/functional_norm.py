"""Normalization functions of ``gg.nn.functional``: ``batch_norm``, ``layer_norm``,
``group_norm`` and ``normalize``, with PyTorch's signatures and formulas.

Each is composed of differentiable reductions and elementwise ops (mean, biased variance,
``(x - mean) / sqrt(var + eps)``), so gradients of any order flow through the batch
statistics and every device runs them.
"""
from ..engine import no_grad


def _normalized(input, dims, eps):
    """``(input - mean) / sqrt(var + eps)`` over ``dims`` (biased variance), and the mean and
    variance with those dims kept."""
    mean = input.mean(dim=dims, keepdim=True)
    var = input.var(dim=dims, correction=0, keepdim=True)
    return (input - mean) / (var + eps).sqrt(), mean, var


def _affine(out, weight, bias, shape):
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Normalize each channel (dimension 1) of ``input`` (N, C, ...) over the batch and any
    spatial dimensions, then scale by ``weight`` and shift by ``bias`` (per channel).

    With ``training`` the batch's statistics are used, and ``running_mean`` /
    ``running_var`` (when given) are updated in place:
    ``running = (1 - momentum) * running + momentum * batch_stat``, the variance unbiased
    (``N / (N - 1)``) as in PyTorch. Otherwise the running statistics normalize.
    """
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected an input of shape (N, C, ...), got "
                         f"{input.ndim}-D input of size {list(input.shape)}")
    channels = input.shape[1]
    shape = (1, channels) + (1,) * (input.ndim - 2)
    for name, stat in (("running_mean", running_mean), ("running_var", running_var),
                       ("weight", weight), ("bias", bias)):
        if stat is not None and stat.numel() != channels:
            raise RuntimeError(f"batch_norm: {name} should contain {channels} elements not "
                               f"{stat.numel()}")
    if not training:
        if running_mean is None or running_var is None:
            raise RuntimeError("batch_norm: running_mean and running_var must be defined in "
                               "evaluation mode (training=False)")
        out = (input - running_mean.reshape(shape)) / (running_var.reshape(shape) + eps).sqrt()
        return _affine(out, weight, bias, shape)
    count = input.numel() // channels if channels else 0
    if count == 0:  # an empty batch: nothing to normalize, the running stats stay (PyTorch's)
        return _affine(input.clone(), weight, bias, shape)
    if count == 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input "
                         f"size {list(input.shape)}")
    dims = (0,) + tuple(range(2, input.ndim))
    out, mean, var = _normalized(input, dims, eps)
    with no_grad():
        if running_mean is not None:
            running_mean.mul_(1.0 - momentum).add_(mean.detach().reshape(channels) * momentum)
        if running_var is not None:
            unbiased = var.detach().reshape(channels) * (momentum * count / (count - 1))
            running_var.mul_(1.0 - momentum).add_(unbiased)
    return _affine(out, weight, bias, shape)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalize over the last ``len(normalized_shape)`` dimensions (which must equal
    ``normalized_shape``), then scale by ``weight`` and shift by ``bias`` (both of
    ``normalized_shape``)."""
    normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else \
        tuple(normalized_shape)
    k = len(normalized_shape)
    if k == 0 or input.shape[input.ndim - k:] != normalized_shape or input.ndim < k:
        raise RuntimeError(f"Given normalized_shape={list(normalized_shape)}, expected input "
                           f"with shape [*, {', '.join(map(str, normalized_shape))}], but got "
                           f"input of size{list(input.shape)}")
    out, _, _ = _normalized(input, tuple(range(input.ndim - k, input.ndim)), eps)
    return _affine(out, weight, bias, normalized_shape)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Split the channels (dimension 1) of ``input`` (N, C, ...) into ``num_groups`` groups
    and normalize each group of each sample over its channels and spatial positions, then
    scale by ``weight`` and shift by ``bias`` (per channel)."""
    if input.ndim < 2:
        raise RuntimeError(f"group_norm: expected an input of shape (N, C, ...), got "
                           f"{list(input.shape)}")
    batch, channels = input.shape[:2]
    if num_groups <= 0 or channels % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by "
                           f"num_groups, but got input of shape {list(input.shape)} and "
                           f"num_groups={num_groups}")
    grouped = input.reshape(batch, num_groups, -1)
    out, _, _ = _normalized(grouped, (2,), eps)
    shape = (1, channels) + (1,) * (input.ndim - 2)
    return _affine(out.reshape(input.shape), weight, bias, shape)


def normalize(input, p=2.0, dim=1, eps=1e-12):
    """``input / max(norm_p(input, dim), eps)``: unit ``p``-norm slices along ``dim``."""
    return input / input.norm(p, dim=dim, keepdim=True).clamp(min=eps)
