"""``RMSprop`` (Hinton's lecture notes; centered as in Graves, 2013), as ``torch.optim.RMSprop``."""
from .optimizer import PerParameterOptimizer


class RMSprop(PerParameterOptimizer):
    """RMSprop, with PyTorch's formulas and defaults::

        g (+= weight_decay * p);  v = alpha v + (1 - alpha) g^2
        centered: g_avg = alpha g_avg + (1 - alpha) g;  avg = sqrt(v - g_avg^2) + eps
        else:     avg = sqrt(v) + eps
        momentum > 0: buf = momentum buf + g / avg;  p -= lr buf
        else:         p -= lr g / avg

    The state holds ``step``, ``square_avg`` and, when used, ``momentum_buffer`` and
    ``grad_avg``. Each step is composed of in-place Tensor ops (several small kernels per
    parameter).
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, *, maximize=False):
        for name, value in (("learning rate", lr), ("epsilon value", eps),
                            ("momentum value", momentum), ("weight_decay value", weight_decay),
                            ("alpha value", alpha)):
            if not 0.0 <= value:
                raise ValueError(f"Invalid {name}: {value}")
        super().__init__(params, dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps,
                                      centered=centered, weight_decay=weight_decay,
                                      maximize=maximize))

    def _update(self, p, group):
        state = self.state.setdefault(p, {})
        state["step"] = state.get("step", 0) + 1
        alpha, eps = group["alpha"], group["eps"]
        grad = self._effective_grad(p, group["maximize"], group["weight_decay"])
        square_avg = self._state_tensor(p, "square_avg")
        square_avg.mul_(alpha).addcmul_(grad, grad, value=1 - alpha)
        if group["centered"]:
            grad_avg = self._state_tensor(p, "grad_avg")
            grad_avg.lerp_(grad, 1 - alpha)
            avg = (square_avg - grad_avg * grad_avg).sqrt()
        else:
            avg = square_avg.sqrt()
        avg.add_(eps)
        if group["momentum"] > 0:
            buf = self._state_tensor(p, "momentum_buffer")
            buf.mul_(group["momentum"]).addcdiv_(grad, avg)
            p.add_(buf, alpha=-group["lr"])
        else:
            p.addcdiv_(grad, avg, value=-group["lr"])
