"""``SGD`` with momentum, dampening, Nesterov momentum and weight decay (PyTorch's formulas)."""
from ..tensor import Tensor
from .optimizer import Optimizer


class SGD(Optimizer):
    """Stochastic gradient descent, as ``torch.optim.SGD``::

        d = g (+ weight_decay * p);  buf = momentum * buf + (1 - dampening) * d  (buf = d at first)
        d = d + momentum * buf if nesterov else buf;  p -= lr * d

    Each step is one fused ``sgd_step`` per device over all parameters.
    """

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, *, maximize=False):
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize))

    def step(self, closure=None):
        """Update every parameter that has a gradient; returns ``closure()``'s loss if given."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            momentum = group["momentum"]
            for params in self._buckets(group["params"]):
                # As in PyTorch, plain SGD keeps no state (its state dict lists no parameter).
                states = [self.state.setdefault(p, {}) if momentum else {} for p in params]
                bufs = [s.get("momentum_buffer") for s in states]
                backend = params[0]._backend
                new_bufs = backend.sgd_step(
                    [p._data for p in params], [p.grad._data for p in params],
                    [None if b is None else b._data for b in bufs], group["lr"], momentum,
                    group["dampening"], group["weight_decay"], group["nesterov"],
                    maximize=group["maximize"])
                for p in params:
                    p._bump_version()  # updated in place
                if momentum:
                    for p, state, buf, new in zip(params, states, bufs, new_bufs):
                        if buf is None:
                            state["momentum_buffer"] = Tensor._make(new, backend, False)
        return loss
