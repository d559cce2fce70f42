"""Stateless layers and losses (``gg.nn.functional``, usually imported as ``F``).

Every loss takes ``reduction='mean'|'sum'|'none'`` as in PyTorch, as the third positional
argument (PyTorch's deprecated ``size_average``/``reduce`` are not taken; pass ``weight`` and
``pos_weight`` by keyword). ``cross_entropy`` runs the fused softmax-cross-entropy op (one kernel
on devices that have it) and ``linear`` the fused bias + activation op, so the hot path of
training is a few kernels per layer. The other losses are ops of their own
(``gpugrad/ops/losses.py``) with PyTorch's formulas, so their values and gradients match
PyTorch's at the boundaries: zero logits, logits of +-1e4, probabilities of exactly 0 and 1.
"""
from ..engine import is_grad_enabled
from ..creation import rand_like
from ..ops import losses as _losses
from ..ops.fused import SoftmaxCrossEntropy
from ..ops.matmul import Linear as _Linear
from ..tensor import Tensor

_REDUCTIONS = ("mean", "sum", "none")
_ACTIVATIONS = (None, "identity", "relu", "tanh", "sigmoid")


# ---- activations ---------------------------------------------------------------------------
def relu(input):
    """``max(x, 0)`` elementwise."""
    return input.relu()


def tanh(input):
    """``tanh(x)`` elementwise."""
    return input.tanh()


def sigmoid(input):
    """``1 / (1 + exp(-x))`` elementwise, computed without overflow."""
    return input.sigmoid()


def softmax(input, dim=-1):
    """``exp(x) / sum(exp(x))`` along ``dim``, stable for any finite input (NaN for a slice
    whose max is infinite, as in PyTorch)."""
    return input.softmax(dim=dim)


def log_softmax(input, dim=-1):
    """``x - logsumexp(x)`` along ``dim``, stable for any finite input (NaN for a slice whose
    max is infinite, as in PyTorch)."""
    return input.log_softmax(dim=dim)


def softplus(input, beta=1.0, threshold=20.0):
    """``log(1 + exp(beta * x)) / beta`` elementwise, and ``x`` itself where
    ``beta * x > threshold`` (PyTorch's definition and gradient)."""
    return _losses.Softplus.apply(input, beta=beta, threshold=threshold)


def logsigmoid(input):
    """``log(sigmoid(x))`` elementwise, exact for any finite ``x`` (``min(x, 0) -
    log1p(exp(-|x|))``, as PyTorch)."""
    return _losses.LogSigmoid.apply(input)


def dropout(input, p=0.5, training=True):
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)``.

    The mask comes from gpugrad's generator (``gg.manual_seed``); without ``training`` this is
    the identity.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    keep = (rand_like(input) >= p).to(input.dtype)
    return input * (keep * (1.0 / (1.0 - p)))


def linear(input, weight, bias=None, activation=None):
    """``activation(input @ weight.T + bias)``; ``weight`` is (out_features, in_features).

    For 2-D input with a bias, the bias and activation run as one fused op (``bias_act``).
    """
    if activation not in _ACTIVATIONS:
        raise ValueError(f"linear: unknown activation {activation!r}; expected one of "
                         f"{_ACTIVATIONS}")
    out = _Linear.apply(input, weight)
    if bias is not None and out.ndim == 2:
        return out.bias_act(bias, activation or "identity")
    if bias is not None:
        out = out + bias
    if activation in (None, "identity"):
        return out
    return getattr(out, activation)()


# ---- losses ----------------------------------------------------------------------------------
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


def _check_class_targets(name, input, target):
    if not isinstance(target, Tensor) or target.dtype.is_floating_point or target.dtype == "bool":
        got = target.dtype if isinstance(target, Tensor) else type(target).__name__
        raise TypeError(f"{name}: expected integer class targets (int64), got {got}; "
                        f"convert with target.long()")
    if input.ndim != 2 or target.ndim != 1 or target.shape[0] != input.shape[0]:
        raise ValueError(f"{name}: expected input of shape (N, C) and target of shape (N,), got "
                         f"{input.shape} and {target.shape}")
    if target.device.type == "cpu" and target.numel():
        # A free check on the host (on a GPU it would force a sync, so it is left to the kernel).
        values = target.detach().numpy()
        low, high = int(values.min()), int(values.max())
        if low < 0 or high >= input.shape[1]:
            bad = low if low < 0 else high
            raise IndexError(f"{name}: Target {bad} is out of bounds for {input.shape[1]} classes")
    if target.dtype != "int64":
        target = target.long()
    return target


def cross_entropy(input, target, reduction="mean"):
    """Softmax cross-entropy of logits ``input`` (N, C) against integer classes ``target`` (N,).

    Computed as ``logsumexp(input) - input[target]`` in one fused op, so logits of 1e4 or more
    give finite losses and gradients.
    """
    target = _check_class_targets("cross_entropy", input, target)
    _check_reduction(reduction, "cross_entropy")
    return SoftmaxCrossEntropy.apply(input, target, reduction=reduction)  # reduced in the op


def nll_loss(input, target, reduction="mean"):
    """Negative log-likelihood of log-probabilities ``input`` (N, C) at classes ``target``."""
    target = _check_class_targets("nll_loss", input, target)
    return _reduce(-input.gather_rows(target), reduction, "nll_loss")


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
