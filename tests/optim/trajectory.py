"""A small model with a deterministic loss, built the same way in gpugrad and in PyTorch, for
comparing optimizers' (and schedules') parameter trajectories step by step in float64."""
import numpy as np

X = np.linspace(-1.0, 1.0, 15).reshape(5, 3)
Y = np.cos(np.arange(10.0)).reshape(5, 2)
# Far from the minimum, so gradients stay O(1) over the run and no optimizer divides two
# near-cancelled numbers (which would amplify rounding differences).
INITS = {"w": np.arange(6.0).reshape(3, 2) / 2 - 1.5, "b": np.array([2.0, -3.0]),
         "c": np.array([2.5, -1.5, 0.75])}


class Problem:
    """Parameters ``w``, ``b``, ``c`` and the data, as ``lib`` (gg or torch) tensors; with
    ``maximize`` the loss is negated (for optimizers run with ``maximize=True``)."""

    def __init__(self, lib, maximize=False, **device):
        self.sign = -1.0 if maximize else 1.0  # maximizing the negated loss stays bounded
        self.params = {k: lib.nn.Parameter(lib.tensor(v, dtype=lib.float64, **device))
                       for k, v in INITS.items()}
        self.x, self.y = (lib.tensor(a, dtype=lib.float64, **device) for a in (X, Y))

    def loss(self):
        """A quadratic fit plus a few nonlinear terms, with ops both libraries share."""
        w, b, c = self.params["w"], self.params["b"], self.params["c"]
        fit = ((self.x @ w + b - self.y) ** 2).sum() * 0.5
        loss = fit + (w.tanh() ** 2).sum() * 0.3 + ((c - 0.5) ** 4).sum() + (c * 0.2).exp().sum()
        return loss * self.sign

    def groups(self, group_options=None):
        """One list of parameters, or (with ``group_options``) two groups:
        ``[{"params": [w, b]}, {"params": [c], **group_options}]``."""
        p = self.params
        if group_options is None:
            return list(p.values())
        return [{"params": [p["w"], p["b"]]}, {"params": [p["c"]], **group_options}]

    def run(self, optimizer, steps, scheduler=None):
        """``steps`` optimizer steps (and scheduler steps); each step's parameters (NumPy)."""
        history = []
        for _ in range(steps):
            optimizer.zero_grad()
            self.loss().backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            history.append({k: p.detach().cpu().numpy().copy() for k, p in self.params.items()})
        return history


def assert_same_history(ours, theirs, rtol=1e-12):
    """Equal trajectories: every parameter after every step, to ``rtol`` (with an absolute
    floor of ``rtol`` times the parameter's scale, for entries crossing zero)."""
    assert len(ours) == len(theirs)
    for step, (a, b) in enumerate(zip(ours, theirs)):
        for k in a:
            scale = max(1.0, float(np.abs(b[k]).max()))
            np.testing.assert_allclose(a[k], b[k], rtol=rtol, atol=rtol * scale,
                                       err_msg=f"parameter {k} after step {step + 1}")
