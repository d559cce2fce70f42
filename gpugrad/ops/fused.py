"""Fused training ops, each one kernel on a GPU: bias + activation, softmax cross-entropy.

Each backend implements the fused primitives (``bias_act``, ``softmax_cross_entropy`` and their
backwards); the ``cuda`` backend runs them as the custom kernels in ``kernels/``. Their backward
passes are themselves ops with backwards, so second derivatives still work.
"""
from .. import creation
from .. import engine as _engine
from ..engine.function import Function
from ..tensor import Tensor


class BiasAct(Function):
    """``act(x + bias)`` for a 2-D ``x`` and 1-D ``bias``; act in identity/relu/tanh/sigmoid."""

    save_output = True

    def forward(self, x, bias, act="identity"):
        if x.ndim != 2 or bias.ndim != 1 or bias.shape[0] != x.shape[1]:
            raise RuntimeError(
                f"bias_act: expected x of shape (N, F) and bias of shape (F,), got "
                f"{tuple(x.shape)} and {tuple(bias.shape)}"
            )
        if self.backend.dtype(x) is not self.backend.dtype(bias):
            raise RuntimeError(f"bias_act: x and bias must have the same dtype, got "
                               f"{self.backend.dtype(x).name} and "
                               f"{self.backend.dtype(bias).name}; convert one first")
        self.act = act
        return self.backend.bias_act(x, bias, act)

    def backward(self, grad):
        if not _engine.modes.grad_enabled and self.next_nodes[1] is not None:
            # no graph of the backward is recorded: both gradients from one fused primitive
            # (the bias gradient summed as grad_x is written, not read back)
            grad_x, grad_bias = self.backend.bias_act_grads(grad._data, self._out, self.act)
            return (Tensor._make(grad_x, self.backend, False),
                    Tensor._make(grad_bias, self.backend, False))
        grad_pre = BiasActGrad.apply(grad, self.output(), act=self.act)
        if self.next_nodes[1] is None:
            return grad_pre, None
        return grad_pre, grad_pre.sum(dim=0)


class BiasActGrad(Function):
    """The gradient of ``act(x + bias)`` with respect to x, from the saved output ``out``."""

    save_inputs = True

    def forward(self, grad_out, out, act="identity"):
        self.act = act
        return self.backend.bias_act_backward(grad_out, out, act)

    def backward(self, grad):
        grad_out, out = self.inputs
        act = self.act
        if act == "identity":
            return grad, None
        if act == "relu":
            return grad * (out > 0), None
        if act == "tanh":
            return grad * (1.0 - out * out), grad * grad_out * (-2.0 * out)
        return grad * (out * (1.0 - out)), grad * grad_out * (1.0 - 2.0 * out)  # sigmoid


class SoftmaxCrossEntropy(Function):
    """Softmax cross-entropy of 2-D logits against int64 targets: per row
    ``logsumexp(logits) - logits[target]``, then their mean or sum (``reduction``) in the same op,
    so the reduction's backward is folded into the one backward kernel."""

    save_inputs = True

    def forward(self, logits, target, reduction="none"):
        if logits.ndim != 2 or target.ndim != 1 or target.shape[0] != logits.shape[0]:
            raise RuntimeError(
                f"cross_entropy: expected logits of shape (N, C) and integer targets of shape "
                f"(N,), got {tuple(logits.shape)} and {tuple(target.shape)}"
            )
        loss_rows, lse = self.backend.softmax_cross_entropy(logits, target)
        self.saved = lse
        self.reduction = reduction
        if reduction == "none":
            return loss_rows
        return self.backend.reduce("mean" if reduction == "mean" else "sum", loss_rows)

    def backward(self, grad):
        logits, target = self.inputs
        lse = Tensor._make(self.saved, self.backend, False)
        divisor = logits.shape[0] if self.reduction == "mean" else 1
        return SoftmaxCrossEntropyGrad.apply(logits, target, lse, grad, divisor=divisor), None


class SoftmaxCrossEntropyGrad(Function):
    """``(softmax(logits) - onehot(target)) * (grad_rows / divisor)[:, None]`` in one pass;
    ``grad_rows`` is per row (N,) or one value for all rows (0-d)."""

    save_inputs = True

    def forward(self, logits, target, lse, grad_rows, divisor=1):
        self.divisor = divisor
        return self.backend.softmax_cross_entropy_backward(logits, target, lse, grad_rows,
                                                           divisor)

    def backward(self, grad):
        logits, target, _, grad_rows = self.inputs
        divisor = self.divisor
        p = logits.softmax(dim=1)
        scale = grad_rows / divisor if divisor != 1 else grad_rows
        if scale.ndim:
            scale = scale.unsqueeze(1)
        grad_logits = scale * p * (grad - (grad * p).sum(dim=1, keepdim=True))
        # d/d(scale_r) of sum_j G_rj (p_rj - onehot_rj)
        picked = grad[_arange_like(target, grad.shape[0]), target]
        per_row = (grad * p).sum(dim=1) - picked
        grad_rows_grad = per_row / divisor if divisor != 1 else per_row
        if grad_rows.ndim == 0:
            grad_rows_grad = grad_rows_grad.sum()
        return grad_logits, None, None, grad_rows_grad


def _arange_like(target, n):
    return creation.arange(n, device=target.device)
