"""``Adam`` and ``AdamW`` (decoupled weight decay), with PyTorch's formulas and defaults."""
from .optimizer import Optimizer


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015), as ``torch.optim.Adam``::

        g (+= weight_decay * p);  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
        p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)

    Each step is one fused ``adam_step`` per device over all parameters.
    """

    _decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False, maximize=False):
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if eps < 0.0:
            raise ValueError(f"Invalid epsilon value: {eps}")
        for i, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"Invalid beta parameter at index {i}: {beta}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if amsgrad:
            raise NotImplementedError("amsgrad is not supported by gpugrad's fused Adam; use "
                                      "amsgrad=False")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, amsgrad=False,
                                      maximize=maximize))

    def step(self, closure=None):
        """Update every parameter that has a gradient; returns ``closure()``'s loss if given."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self._state_tensor(p, "exp_avg")
                    self._state_tensor(p, "exp_avg_sq")
                    state = self.state[p]
                    state["step"] = state.get("step", 0) + 1
            beta1, beta2 = group["betas"]
            # Parameters that skipped steps (no grad) have their own step count: one call each.
            for params in self._buckets(group["params"], key=lambda p: self.state[p]["step"]):
                states = [self.state[p] for p in params]
                params[0]._backend.adam_step(
                    [p._data for p in params], [p.grad._data for p in params],
                    [s["exp_avg"]._data for s in states], [s["exp_avg_sq"]._data for s in states],
                    states[0]["step"], group["lr"], beta1, beta2, group["eps"],
                    group["weight_decay"], self._decoupled, maximize=group["maximize"])
                for p in params:
                    p._bump_version()  # updated in place
        return loss


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter, 2019), as ``torch.optim.AdamW``:
    ``p *= 1 - lr * weight_decay`` before the Adam update. The default decay is 0.01."""

    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, maximize=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize)
