"""Loss layers, thin wrappers on ``gg.nn.functional`` with PyTorch's names and constructor
signatures (``CrossEntropyLoss(weight, ignore_index=..., label_smoothing=...)``)."""
from . import functional as F
from .module import Module


def _check_legacy(size_average, reduce):
    if size_average is not None or reduce is not None:
        raise TypeError("size_average and reduce are deprecated and not supported; use "
                        "reduction='mean'|'sum'|'none' instead")


class _Loss(Module):
    """A loss layer: ``reduction`` is ``'mean'`` (default), ``'sum'`` or ``'none'``."""

    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        super().__init__()
        _check_legacy(size_average, reduce)
        if reduction not in self._reductions:
            raise ValueError(f"{reduction!r} is not a valid value for reduction; expected one of "
                             f"{self._reductions}")
        self.reduction = reduction

    _reductions = F._REDUCTIONS

    def extra_repr(self):
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


class _WeightedLoss(_Loss):
    """A loss with a per-class ``weight`` (a buffer, saved in ``state_dict``), as PyTorch's."""

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)


class MSELoss(_Loss):
    """Mean squared error of ``(input, target)``, same shapes (``F.mse_loss``)."""

    def forward(self, input, target):
        return F.mse_loss(input, target, self.reduction)


class L1Loss(_Loss):
    """Mean absolute error of ``(input, target)``, same shapes (``F.l1_loss``)."""

    def forward(self, input, target):
        return F.l1_loss(input, target, self.reduction)


class SmoothL1Loss(_Loss):
    """Quadratic below ``beta``, linear above (``F.smooth_l1_loss``)."""

    def __init__(self, size_average=None, reduce=None, reduction="mean", beta=1.0):
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input, target):
        return F.smooth_l1_loss(input, target, self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """Quadratic below ``delta``, ``delta``-sloped linear above (``F.huber_loss``)."""

    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction=reduction)
        self.delta = delta

    def forward(self, input, target):
        return F.huber_loss(input, target, self.reduction, delta=self.delta)


class KLDivLoss(_Loss):
    """KL divergence of ``target`` from log-probabilities ``input`` (``F.kl_div``);
    ``reduction='batchmean'`` gives the true per-sample divergence."""

    _reductions = F._REDUCTIONS + ("batchmean",)

    def __init__(self, size_average=None, reduce=None, reduction="mean", log_target=False):
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input, target):
        return F.kl_div(input, target, self.reduction, log_target=self.log_target)


class CrossEntropyLoss(_WeightedLoss):
    """Softmax cross-entropy of logits against classes or class probabilities
    (``F.cross_entropy``: ``weight``, ``ignore_index``, ``label_smoothing``)."""

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None,
                 reduction="mean", label_smoothing=0.0):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, input, target):
        return F.cross_entropy(input, target, self.reduction, weight=self.weight,
                               ignore_index=self.ignore_index,
                               label_smoothing=self.label_smoothing)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of log-probabilities at classes (``F.nll_loss``: ``weight``,
    ``ignore_index``)."""

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None,
                 reduction="mean"):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return F.nll_loss(input, target, self.reduction, weight=self.weight,
                          ignore_index=self.ignore_index)


class BCELoss(_WeightedLoss):
    """Binary cross-entropy of probabilities against targets in [0, 1]; ``weight`` rescales
    each element (``F.binary_cross_entropy``)."""

    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, self.reduction, weight=self.weight)


class BCEWithLogitsLoss(_WeightedLoss):
    """Binary cross-entropy of ``sigmoid(input)`` against ``target`` in [0, 1]; ``pos_weight``
    scales the positive term, ``weight`` each element
    (``F.binary_cross_entropy_with_logits``)."""

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean",
                 pos_weight=None):
        super().__init__(weight, size_average, reduce, reduction)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, self.reduction,
                                                  pos_weight=self.pos_weight,
                                                  weight=self.weight)
