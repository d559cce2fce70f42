"""The losses of ``gg.nn.functional``, with PyTorch's formulas and reductions.

Every loss takes ``reduction='mean'|'sum'|'none'`` as in PyTorch, as the third positional
argument (PyTorch's deprecated ``size_average``/``reduce`` are not taken; pass ``weight``,
``pos_weight``, ``ignore_index``... by keyword). ``cross_entropy`` runs the fused
softmax-cross-entropy op (one kernel on devices that have it) in the common case (2-D logits,
class targets, no weight or label smoothing); the other cases, and the other losses, are
composed of differentiable ops or are ops of their own (``gpugrad/ops/losses.py``), so their
values and gradients match PyTorch's at the boundaries.
"""
from ..creation import arange
from ..engine import is_grad_enabled
from ..ops import losses as _losses
from ..ops.fused import SoftmaxCrossEntropy
from ..tensor import Tensor
from ..tensor_methods import where

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction, name):
    if isinstance(reduction, Tensor):
        raise TypeError(f"{name}: reduction must be one of {_REDUCTIONS}, got a Tensor; "
                        f"gpugrad's third positional argument is reduction, so pass weights by "
                        f"keyword (weight=...)")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: {reduction!r} is not a valid value for reduction; expected "
                         f"one of {_REDUCTIONS}")


def _reduce(loss, reduction, name):
    _check_reduction(reduction, name)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _check_not_differentiable(name, **weights):
    """PyTorch's losses take no gradient for their weights and refuse ones that require it."""
    for arg, value in weights.items():
        if isinstance(value, Tensor) and value.requires_grad and is_grad_enabled():
            raise RuntimeError(f"The function '{name}' is not differentiable with respect to "
                               f"argument '{arg}'. This input cannot have requires_grad True.")


def _check_same_shape(name, input, target):
    if not isinstance(target, Tensor):
        raise TypeError(f"{name}: target must be a gg.Tensor, got {type(target).__name__}")
    if input.shape != target.shape:
        raise ValueError(
            f"{name}: target size {target.shape} must be the same as input size {input.shape}; "
            f"reshape one of them (e.g. target.reshape({list(input.shape)}))"
        )


# ---- regression --------------------------------------------------------------------------------
def mse_loss(input, target, reduction="mean"):
    """Mean squared error ``(input - target) ** 2``; both input and target get gradients
    (``2 * (input - target)``, over N for 'mean'), as in PyTorch."""
    _check_same_shape("mse_loss", input, target)
    _check_reduction(reduction, "mse_loss")
    return _losses.MSELoss.apply(input, target, reduction=reduction)


def l1_loss(input, target, reduction="mean"):
    """Mean absolute error ``|input - target|``: PyTorch's own composition, so the gradient at
    ``input == target`` is 0."""
    _check_same_shape("l1_loss", input, target)
    return _reduce((input - target).abs(), reduction, "l1_loss")


def smooth_l1_loss(input, target, reduction="mean", beta=1.0):
    """``0.5 * d ** 2 / beta`` where ``|d| < beta`` (``d = input - target``), else
    ``|d| - 0.5 * beta``; ``beta=0`` is ``l1_loss``."""
    _check_same_shape("smooth_l1_loss", input, target)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    if beta == 0:
        return l1_loss(input, target, reduction)
    diff = input - target
    size = diff.abs()
    loss = where(size < beta, diff * diff * (0.5 / beta), size - 0.5 * beta)
    return _reduce(loss, reduction, "smooth_l1_loss")


def huber_loss(input, target, reduction="mean", delta=1.0):
    """``0.5 * d ** 2`` where ``|d| < delta`` (``d = input - target``), else
    ``delta * (|d| - 0.5 * delta)``: ``delta * smooth_l1_loss`` with ``beta = delta``."""
    _check_same_shape("huber_loss", input, target)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    diff = input - target
    size = diff.abs()
    loss = where(size < delta, diff * diff * 0.5, (size - 0.5 * delta) * delta)
    return _reduce(loss, reduction, "huber_loss")


def kl_div(input, target, reduction="mean", log_target=False):
    """Kullback-Leibler divergence of ``target`` from log-probabilities ``input``, per element
    ``target * (log(target) - input)`` (0 where ``target`` is 0), or with ``log_target``
    ``exp(target) * (target - input)``.

    ``reduction='batchmean'`` divides the sum by the batch size ``input.shape[0]`` (the true
    KL divergence per sample); ``'mean'`` divides by the element count, as PyTorch does.
    """
    _check_same_shape("kl_div", input, target)
    if reduction != "batchmean":
        _check_reduction(reduction, "kl_div")
    if log_target:
        loss = target.exp() * (target - input)
    else:
        zero = target == 0
        log_t = target.masked_fill(zero, 1.0).log()  # xlogy: 0 * log(0) is 0
        loss = where(zero, 0.0, target * log_t) - target * input
    if reduction == "batchmean":
        return loss.sum() / input.shape[0] if input.ndim else loss.sum()
    return _reduce(loss, reduction, "kl_div")


# ---- classification ----------------------------------------------------------------------------
def _check_class_targets(name, input, target, ignore_index=None):
    """``target`` as int64 after checking it holds classes for ``input``: (N, C) against (N,),
    (N, C, d1, ...) against (N, d1, ...) or (C,) against ()."""
    if not isinstance(target, Tensor) or target.dtype.is_floating_point or target.dtype == "bool":
        got = target.dtype if isinstance(target, Tensor) else type(target).__name__
        probabilities = " or class probabilities of the input's shape" \
            if name == "cross_entropy" else ""
        raise TypeError(f"{name}: expected integer class targets (int64){probabilities}, got "
                        f"{got}; convert with target.long()")
    batched = input.ndim >= 2
    expected = (input.shape[:1] + input.shape[2:]) if batched else ()
    if input.ndim == 0 or target.shape != expected:
        raise ValueError(f"{name}: expected input of shape (N, C) and target of shape (N,), or "
                         f"(N, C, d1, ...) and (N, d1, ...); got {input.shape} and "
                         f"{target.shape}")
    classes = input.shape[1] if batched else input.shape[0]
    if target.device.type == "cpu" and target.numel():
        # A free check on the host (on a GPU it would force a sync, so it is left to the kernel).
        values = target.detach().numpy()
        if ignore_index is not None:
            values = values[values != ignore_index]
        if values.size:
            low, high = int(values.min()), int(values.max())
            if low < 0 or high >= classes:
                bad = low if low < 0 else high
                raise IndexError(f"{name}: Target {bad} is out of bounds for {classes} classes")
    if target.dtype != "int64":
        target = target.long()
    return target


def _check_class_weight(name, weight, classes):
    _check_not_differentiable(name, weight=weight)
    if weight is not None and (weight.ndim != 1 or weight.shape[0] != classes):
        raise RuntimeError(f"{name}: weight tensor should be defined either for all {classes} "
                           f"classes or no classes but got weight tensor of shape: "
                           f"{list(weight.shape)}")


def _rows(input, target):
    """``input`` as (M, C) rows of classes and ``target`` as (M,) (class dimension moved
    last), for any of the shapes ``_check_class_targets`` accepts."""
    if input.ndim == 1:
        return input.unsqueeze(0), target.reshape(1)
    if input.ndim > 2:
        order = (0,) + tuple(range(2, input.ndim)) + (1,)
        input = input.permute(*order)
    return input.reshape(-1, input.shape[-1]), target.reshape(-1)


def _class_weight_shape(input):
    """The shape that broadcasts a per-class vector against ``input`` along its class dim."""
    if input.ndim == 1:
        return (input.shape[0],)
    return (1, input.shape[1]) + (1,) * (input.ndim - 2)


def nll_loss(input, target, reduction="mean", weight=None, ignore_index=-100):
    """Negative log-likelihood of log-probabilities ``input`` (N, C) or (N, C, d1, ...) at
    classes ``target`` (N,) or (N, d1, ...), as ``torch.nn.functional.nll_loss``.

    Each element's loss is ``-weight[t] * input[t]``; targets equal to ``ignore_index``
    contribute nothing. 'mean' is PyTorch's weighted mean: the sum divided by the summed
    weights of the targets not ignored (NaN when every target is ignored).
    """
    name = "nll_loss"
    target = _check_class_targets(name, input, target, ignore_index)
    _check_reduction(reduction, name)
    _check_class_weight(name, weight, input.shape[1] if input.ndim >= 2 else input.shape[0])
    logp, flat = _rows(input, target)
    ignored = flat == ignore_index
    safe = flat.masked_fill(ignored, 0)
    picked = logp[arange(flat.shape[0], device=flat.device), safe]
    kept = (~ignored).to(picked.dtype)
    scale = kept if weight is None else weight[safe] * kept
    loss = -picked * scale
    if reduction == "none":
        return loss.reshape(target.shape)
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / scale.sum()


def cross_entropy(input, target, reduction="mean", weight=None, ignore_index=-100,
                  label_smoothing=0.0):
    """Softmax cross-entropy of logits ``input`` against ``target``, as
    ``torch.nn.functional.cross_entropy``.

    ``target`` holds classes (integers, shaped as ``nll_loss``'s; ``weight`` and
    ``ignore_index`` as there) or class probabilities (floating, ``input``'s shape).
    ``label_smoothing`` mixes the target with the uniform distribution over the C classes:
    ``(1 - s) * loss + s * mean_c(-log_softmax(input)_c)`` (each class weighted by ``weight``).

    2-D logits against classes, without weight or smoothing, run as one fused op:
    ``logsumexp(input) - input[target]``, so logits of 1e4 or more give finite losses and
    gradients; it honours ``ignore_index`` on every device without reading the targets on the
    host (a 'mean' divides by the count of rows not ignored on the device). On cpu and sim a
    target outside [0, C) that is not ``ignore_index`` raises IndexError; on cuda (a kernel
    cannot raise, and checking would wait for the device) its loss, and so the mean, is NaN.
    """
    name = "cross_entropy"
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    _check_reduction(reduction, name)
    if isinstance(target, Tensor) and target.dtype.is_floating_point and \
            target.shape == input.shape:
        return _cross_entropy_soft(input, target, reduction, weight, label_smoothing)
    target = _check_class_targets(name, input, target, ignore_index)
    if weight is None and label_smoothing == 0 and input.ndim == 2:
        return SoftmaxCrossEntropy.apply(input, target, reduction=reduction,
                                         ignore_index=ignore_index)  # reduced in the op
    class_dim = 1 if input.ndim >= 2 else 0
    logp = input.log_softmax(dim=class_dim)
    nll = nll_loss(logp, target, reduction, weight=weight, ignore_index=ignore_index)
    if label_smoothing == 0:
        return nll
    weighted = logp if weight is None else logp * weight.reshape(_class_weight_shape(input))
    ignored = target == ignore_index
    smooth = (-weighted.sum(dim=class_dim)).masked_fill(ignored, 0.0)
    if reduction == "sum":
        smooth = smooth.sum()
    elif reduction == "mean":
        kept = (~ignored).to(smooth.dtype)
        if weight is not None:
            kept = weight[target.masked_fill(ignored, 0)] * kept
        smooth = smooth.sum() / kept.sum()
    return nll * (1.0 - label_smoothing) + smooth * (label_smoothing / logp.shape[class_dim])


def _cross_entropy_soft(input, target, reduction, weight, label_smoothing):
    """Cross-entropy against class probabilities ``target`` (``input``'s shape); 'mean'
    averages over the batch elements (every position but the class dimension)."""
    name = "cross_entropy"
    class_dim = 1 if input.ndim >= 2 else 0
    classes = input.shape[class_dim]
    _check_class_weight(name, weight, classes)
    if label_smoothing > 0:
        target = target * (1.0 - label_smoothing) + label_smoothing / classes
    product = input.log_softmax(dim=class_dim) * target
    if weight is not None:
        product = product * weight.reshape(_class_weight_shape(input))
    return _reduce(-product.sum(dim=class_dim), reduction, name)


def binary_cross_entropy_with_logits(input, target, reduction="mean", pos_weight=None,
                                     weight=None):
    """Binary cross-entropy of ``sigmoid(input)`` against ``target`` (PyTorch's formula):
    ``(1 - t) * x - (1 + (pos_weight - 1) * t) * log_sigmoid(x)``, times ``weight``.

    Stable for any finite logit (``log_sigmoid`` never overflows; logits of +-1e4 give exact
    losses). ``pos_weight`` (a number or a tensor broadcast against the target, e.g. one per
    class) multiplies the loss of positive targets; ``weight`` (broadcast) rescales each
    element. The input's gradient is ``sigmoid(x) - t`` (``0.5 - t`` at a zero logit), the
    target's ``-x``; neither weight gets one (one that requires grad is refused, as in PyTorch).
    """
    name = "binary_cross_entropy_with_logits"
    _check_same_shape(name, input, target)
    _check_reduction(reduction, name)
    _check_not_differentiable(name, weight=weight, pos_weight=pos_weight)
    return _losses.BCEWithLogits.apply(input, target, weight, pos_weight, reduction=reduction)


def binary_cross_entropy(input, target, reduction="mean", weight=None):
    """Binary cross-entropy of probabilities ``input`` against ``target``, both in [0, 1]:
    ``-(t * log(p) + (1 - t) * log(1 - p))`` times ``weight`` (broadcast), with each log
    clamped at -100 as in PyTorch, so probabilities of exactly 0 and 1 give finite losses.

    The input's gradient is PyTorch's ``(p - t) / max((1 - p) * p, 1e-12)``, finite at 0 and
    1; the target's is ``-logit(p)``. On the cpu an input or target outside [0, 1] (or NaN)
    raises, as in PyTorch (elsewhere that check would wait for the device, so it is skipped).
    Prefer ``binary_cross_entropy_with_logits``, which is exact for any logit.
    """
    name = "binary_cross_entropy"
    _check_same_shape(name, input, target)
    _check_reduction(reduction, name)
    _check_not_differentiable(name, weight=weight)
    if input.device.type == "cpu":
        for what, tensor in (("input", input), ("target", target)):
            values = tensor.detach().numpy()
            if values.size and not ((values >= 0) & (values <= 1)).all():
                raise RuntimeError(f"{name}: all elements of {what} should be between 0 and 1")
    return _losses.BCE.apply(input, target, weight, reduction=reduction)
