"""micrograd's small neural net over ``Value`` scalars (its ``nn.py`` API): ``Neuron``,
``Layer`` and ``MLP``, and ``mse``, the mean squared error of a list of predictions. Also
importable from ``gpugrad.value``."""
import random as _random

from .value import Value


class Module:
    """Base of Neuron/Layer/MLP: ``parameters()`` and ``zero_grad()``."""

    def zero_grad(self):
        """Set every parameter's ``grad`` to 0 (backward accumulates into leaves)."""
        for p in self.parameters():
            p.grad = 0.0

    def parameters(self):
        """The trainable Values, in a fixed order."""
        return []


class Neuron(Module):
    """``relu(w . x + b)`` (or linear with ``nonlin=False``); weights uniform in [-1, 1]."""

    def __init__(self, nin, nonlin=True, rng=None):
        rng = rng or _random
        self.w = [Value(rng.uniform(-1, 1)) for _ in range(nin)]
        self.b = Value(0.0)
        self.nonlin = nonlin

    def __call__(self, x):
        act = self.b
        for wi, xi in zip(self.w, x):
            act = act + wi * xi
        return act.relu() if self.nonlin else act

    def parameters(self):
        return self.w + [self.b]

    def __repr__(self):
        return f"{'ReLU' if self.nonlin else 'Linear'}Neuron({len(self.w)})"


class Layer(Module):
    """``nout`` neurons reading the same inputs."""

    def __init__(self, nin, nout, **kwargs):
        self.neurons = [Neuron(nin, **kwargs) for _ in range(nout)]

    def __call__(self, x):
        out = [n(x) for n in self.neurons]
        return out[0] if len(out) == 1 else out

    def parameters(self):
        return [p for n in self.neurons for p in n.parameters()]

    def __repr__(self):
        return f"Layer of [{', '.join(str(n) for n in self.neurons)}]"


class MLP(Module):
    """Layers of sizes ``nouts`` after ``nin`` inputs; ReLU between layers, linear output."""

    def __init__(self, nin, nouts, seed=None):
        rng = _random.Random(seed) if seed is not None else None
        sizes = [nin] + list(nouts)
        self.layers = [Layer(sizes[i], sizes[i + 1], nonlin=i != len(nouts) - 1, rng=rng)
                       for i in range(len(nouts))]

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]

    def __repr__(self):
        return f"MLP of [{', '.join(str(layer) for layer in self.layers)}]"


def mse(predictions, targets):
    """Mean squared error of two equal-length lists of Values or numbers."""
    predictions, targets = list(predictions), list(targets)
    if len(predictions) != len(targets) or not predictions:
        raise ValueError(f"mse: expected two non-empty lists of one length, got "
                         f"{len(predictions)} predictions and {len(targets)} targets")
    total = 0.0
    for p, t in zip(predictions, targets):
        d = p - t
        total = d * d + total
    return total / len(predictions)
