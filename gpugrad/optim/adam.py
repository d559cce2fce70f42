"""``Adam`` and ``AdamW`` (decoupled weight decay), with PyTorch's formulas and defaults."""
import math

from ..engine import no_grad
from .optimizer import Optimizer


def check_betas(betas):
    """PyTorch's check of Adam-style ``betas``: each in ``[0, 1)``."""
    for i, beta in enumerate(betas):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {beta}")


def decoupled_decay_and_grad(p, group):
    """Apply the group's weight decay the Adam family's way and return the gradient to use:
    decoupled (``p *= 1 - lr * weight_decay``, in place) when ``group["decoupled_weight_decay"]``,
    else as an L2 term of the gradient; the gradient is negated for ``maximize``."""
    weight_decay = group["weight_decay"]
    if group["decoupled_weight_decay"]:
        if weight_decay:
            p.mul_(1 - group["lr"] * weight_decay)
        weight_decay = 0
    return Optimizer._effective_grad(p, group["maximize"], weight_decay)


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015), as ``torch.optim.Adam``::

        g (+= weight_decay * p, or p *= 1 - lr * weight_decay if decoupled_weight_decay)
        m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  (amsgrad: v_max = max(v_max, v))
        p -= lr / (1 - b1^t) * m / (sqrt(v or v_max) / sqrt(1 - b2^t) + eps)

    Without ``amsgrad``, each step is one fused ``adam_step`` per device over all parameters.
    With ``amsgrad=True`` the fused kernel does not apply (it has no running maximum), so the
    step falls back to in-place Tensor ops, several small kernels per parameter; the state
    then also holds ``max_exp_avg_sq``.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False, *, maximize=False, decoupled_weight_decay=False):
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if eps < 0.0:
            raise ValueError(f"Invalid epsilon value: {eps}")
        check_betas(betas)
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize,
                                      decoupled_weight_decay=decoupled_weight_decay))

    def step(self, closure=None):
        """Update every parameter that has a gradient; returns ``closure()``'s loss if given."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self._state_tensor(p, "exp_avg")
                    self._state_tensor(p, "exp_avg_sq")
                    if group["amsgrad"]:
                        self._state_tensor(p, "max_exp_avg_sq")
                    state = self.state[p]
                    state["step"] = state.get("step", 0) + 1
            if group["amsgrad"]:
                with no_grad():
                    for p in self._params_with_grad(group):
                        self._amsgrad_update(p, group)
            else:
                self._fused_update(group)
        return loss

    def _fused_update(self, group):
        beta1, beta2 = group["betas"]
        # Parameters that skipped steps (no grad) have their own step count: one call each.
        for params in self._buckets(group["params"], key=lambda p: self.state[p]["step"]):
            states = [self.state[p] for p in params]
            params[0]._backend.adam_step(
                [p._data for p in params], [p.grad._data for p in params],
                [s["exp_avg"]._data for s in states], [s["exp_avg_sq"]._data for s in states],
                states[0]["step"], group["lr"], beta1, beta2, group["eps"],
                group["weight_decay"], group["decoupled_weight_decay"],
                maximize=group["maximize"])
            for p in params:
                p._bump_version()  # updated in place

    def _amsgrad_update(self, p, group):
        """PyTorch's single-tensor AMSGrad update of ``p``, with in-place Tensor ops."""
        state = self.state[p]
        beta1, beta2 = group["betas"]
        lr, step = group["lr"], state["step"]
        grad = decoupled_decay_and_grad(p, group)
        exp_avg, exp_avg_sq, max_sq = (state["exp_avg"], state["exp_avg_sq"],
                                       state["max_exp_avg_sq"])
        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        max_sq.copy_(max_sq.maximum(exp_avg_sq))
        bias_correction2_sqrt = math.sqrt(1 - beta2 ** step)
        denom = (max_sq.sqrt() / bias_correction2_sqrt).add_(group["eps"])
        p.addcdiv_(exp_avg, denom, value=-lr / (1 - beta1 ** step))


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter, 2019), as ``torch.optim.AdamW``:
    ``p *= 1 - lr * weight_decay`` before the Adam update. The default decay is 0.01.
    ``amsgrad=True`` runs composed Tensor ops instead of the fused step (see ``Adam``)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize, decoupled_weight_decay=True)
