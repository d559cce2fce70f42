"""``NAdam`` (Dozat, 2016: Adam with Nesterov momentum), as ``torch.optim.NAdam``."""
from .adam import check_betas, decoupled_decay_and_grad
from .optimizer import PerParameterOptimizer


class NAdam(PerParameterOptimizer):
    """NAdam, with PyTorch's formulas and defaults::

        g (+= weight_decay * p, or p *= 1 - lr * weight_decay if decoupled_weight_decay)
        mu_t = b1 (1 - 0.96^(t momentum_decay) / 2);  mu_prod *= mu_t
        m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  d = sqrt(v / (1 - b2^t)) + eps
        p -= lr (1 - mu_t) / (1 - mu_prod) g / d + lr mu_{t+1} / (1 - mu_prod mu_{t+1}) m / d

    The state holds ``step``, ``mu_product`` (a Python float; PyTorch keeps it in a tensor of
    the default dtype), ``exp_avg`` and ``exp_avg_sq``. Each step is composed of in-place
    Tensor ops (several small kernels per parameter).
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, *, maximize=False):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        check_betas(betas)
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= momentum_decay:
            raise ValueError(f"Invalid momentum_decay value: {momentum_decay}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, momentum_decay=momentum_decay,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize))

    def _update(self, p, group):
        state = self.state.setdefault(p, {})
        state["step"] = step = state.get("step", 0) + 1
        beta1, beta2 = group["betas"]
        lr, momentum_decay = group["lr"], group["momentum_decay"]
        exp_avg = self._state_tensor(p, "exp_avg")
        exp_avg_sq = self._state_tensor(p, "exp_avg_sq")
        grad = decoupled_decay_and_grad(p, group)
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * momentum_decay))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * momentum_decay))
        state["mu_product"] = mu_product = state.get("mu_product", 1.0) * mu
        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        denom = (exp_avg_sq / (1 - beta2 ** step)).sqrt().add_(group["eps"])
        p.addcdiv_(grad, denom, value=-lr * (1.0 - mu) / (1.0 - mu_product))
        p.addcdiv_(exp_avg, denom, value=-lr * mu_next / (1.0 - mu_product * mu_next))
