"""``Adagrad`` (Duchi et al., 2011), as ``torch.optim.Adagrad``."""
from ..creation import full_like
from .optimizer import PerParameterOptimizer


class Adagrad(PerParameterOptimizer):
    """Adagrad, with PyTorch's formulas and defaults::

        g (+= weight_decay * p);  clr = lr / (1 + (t - 1) lr_decay)
        sum += g^2;  p -= clr g / (sqrt(sum) + eps)

    As in PyTorch, every parameter's state (``step`` = 0 and ``sum`` filled with
    ``initial_accumulator_value``) exists from construction. Each step is composed of in-place
    Tensor ops (several small kernels per parameter).
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, *, maximize=False):
        for name, value in (("learning rate", lr), ("lr_decay value", lr_decay),
                            ("weight_decay value", weight_decay),
                            ("initial_accumulator_value value", initial_accumulator_value),
                            ("epsilon value", eps)):
            if not 0.0 <= value:
                raise ValueError(f"Invalid {name}: {value}")
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, eps=eps,
                                      weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      maximize=maximize))
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p] = {"step": 0, "sum": full_like(p, initial_accumulator_value)}

    def _update(self, p, group):
        state = self.state.setdefault(p, {})
        state["step"] = step = state.get("step", 0) + 1
        if "sum" not in state:  # a group added after construction: as PyTorch, the
            # constructor's value (as at construction), not one the group names itself
            state["sum"] = full_like(p, self.defaults["initial_accumulator_value"])
        grad = self._effective_grad(p, group["maximize"], group["weight_decay"])
        clr = group["lr"] / (1 + (step - 1) * group["lr_decay"])
        state["sum"].addcmul_(grad, grad, value=1)
        std = state["sum"].sqrt().add_(group["eps"])
        p.addcdiv_(grad, std, value=-clr)
