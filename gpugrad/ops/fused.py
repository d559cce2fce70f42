"""Fused training ops, each one kernel on a GPU: bias + activation, softmax cross-entropy.

Each backend implements the fused primitives (``bias_act``, ``softmax_cross_entropy`` and their
backwards); the ``cuda`` backend runs them as the custom kernels in ``kernels/``. Their backward
passes are themselves ops with backwards, so second derivatives still work.
"""
from .. import creation
from ..engine.function import Function
from ..tensor import Tensor


class BiasAct(Function):
    """``act(x + bias)`` for a 2-D ``x`` and 1-D ``bias``; act in identity/relu/tanh/sigmoid."""

    autocast = "lower_precision_fp"

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

    def backward_arrays(self, grad):
        if self.next_nodes[1] is None:
            return self.backend.bias_act_backward(grad, self._out, self.act), None
        # both gradients from one fused primitive (the bias gradient summed as grad_x is
        # written, not read back)
        return self.backend.bias_act_grads(grad, self._out, self.act)

    def backward(self, grad):
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
        if act == "relu":  # as the forward: 0 where out <= 0, the gradient elsewhere (NaN too)
            return grad.masked_fill(out <= 0, 0.0), None
        if act == "tanh":
            return grad * (1.0 - out * out), grad * grad_out * (-2.0 * out)
        return grad * (out * (1.0 - out)), grad * grad_out * (1.0 - 2.0 * out)  # sigmoid


class SoftmaxCrossEntropy(Function):
    """Softmax cross-entropy of 2-D logits against int64 targets: per row
    ``logsumexp(logits) - logits[target]`` (0 where the target is ``ignore_index``), then their
    mean over the rows not ignored or their sum (``reduction``) in the same op, so the
    reduction's backward is folded into the one backward kernel.

    The mean is ``sum / count`` of one reduction of the fused kernel's (2, N) losses and
    counted-row flags, divided on the device: the host never reads the targets (NaN when every
    row is ignored, as in PyTorch). A target outside [0, C) other than ``ignore_index`` raises
    IndexError on cpu and sim; on cuda it gives NaN (a kernel cannot raise)."""

    autocast = "float32"

    save_inputs = True

    def forward(self, logits, target, reduction="none", ignore_index=-100):
        if logits.ndim != 2 or target.ndim != 1 or target.shape[0] != logits.shape[0]:
            raise RuntimeError(
                f"cross_entropy: expected logits of shape (N, C) and integer targets of shape "
                f"(N,), got {tuple(logits.shape)} and {tuple(target.shape)}"
            )
        backend = self.backend
        rows, lse = backend.softmax_cross_entropy(logits, target, ignore_index)
        self.saved = lse
        self.reduction = reduction
        self.ignore_index = ignore_index
        self.count = None
        # (i, ...) indexes a view on every backend, a 0-d one too (no copy kernel)
        losses = backend.getitem(rows, (0, Ellipsis))
        if reduction == "none":
            return losses
        if reduction == "sum":
            return backend.reduce("sum", losses)
        totals = backend.reduce("sum", rows, axis=1)  # (loss sum, counted rows): one kernel
        self.count = backend.getitem(totals, (1, Ellipsis))
        return backend.binary("div", backend.getitem(totals, (0, Ellipsis)), self.count)

    def backward(self, grad):
        logits, target = self.inputs
        lse = Tensor._make(self.saved, self.backend, False)
        count = None if self.count is None else Tensor._make(self.count, self.backend, False)
        return SoftmaxCrossEntropyGrad.apply(logits, target, lse, grad, count,
                                             ignore_index=self.ignore_index), None

    def backward_arrays(self, grad):
        logits, target = self.inputs
        return self.backend.softmax_cross_entropy_backward(
            logits._data, target._data, self.saved, grad,
            1 if self.count is None else self.count, self.ignore_index), None


class SoftmaxCrossEntropyGrad(Function):
    """``(softmax(logits) - onehot(target)) * (grad_rows / count)[:, None]`` in one pass, zero
    on rows whose target is ``ignore_index``; ``grad_rows`` is per row (N,) or one value for all
    rows (0-d), ``count`` a mean's 0-d count of rows not ignored (read on the device) or None
    (no division)."""

    save_inputs = True

    def forward(self, logits, target, lse, grad_rows, count=None, ignore_index=-100):
        self.ignore_index = ignore_index
        return self.backend.softmax_cross_entropy_backward(
            logits, target, lse, grad_rows, 1 if count is None else count, ignore_index)

    def backward(self, grad):
        logits, target, _, grad_rows, count = self.inputs
        ignored = target == self.ignore_index
        p = logits.softmax(dim=1)
        scale = grad_rows / count if count is not None else grad_rows
        # per row, 0 where ignored (masked, not multiplied: every row ignored makes it inf)
        scale = (scale * (~ignored).to(scale.dtype)).masked_fill(ignored, 0.0)
        grad_logits = scale.unsqueeze(1) * p * (grad - (grad * p).sum(dim=1, keepdim=True))
        # d/d(scale_r) of sum_j G_rj (p_rj - onehot_rj)
        safe = target.masked_fill(ignored, 0)
        picked = grad[_arange_like(target, grad.shape[0]), safe]
        per_row = (grad * p).sum(dim=1) - picked
        if count is not None:
            per_row = per_row / count
        grad_rows_grad = per_row.masked_fill(ignored, 0.0)
        if grad_rows.ndim == 0:
            grad_rows_grad = grad_rows_grad.sum()
        return grad_logits, None, None, grad_rows_grad, None


def _arange_like(target, n):
    return creation.arange(n, device=target.device)
