"""``Value``: a scalar with autograd, compatible with micrograd's API.

``Value`` holds one Python number (``data``) and its gradient (``grad``). Each op records its
operands (``_prev``, a set, as in micrograd) and, for speed, the *local* derivative of its
result with respect to each operand, computed once in forward. ``backward()`` orders the graph
with the engine's iterative ``gpugrad.autograd.topological_order`` (so a chain a million deep
works) and applies the chain rule: ``child.grad += local * node.grad``.

A number operand (``a * 2``) is folded into the op rather than wrapped in a Value, so ``_prev``
holds only Values. micrograd's extension point still works: build ``Value(data, (a, b), "op")`` and assign
``out._backward = fn``; ``backward()`` then calls ``fn()`` for that node.

``Neuron``, ``Layer`` and ``MLP`` are micrograd's small neural net over Values, and ``mse`` is
the mean squared error of a list of predictions.
"""
import math
import operator
import random as _random

from .autograd import gc_paused, topological_order

_children_of = operator.attrgetter("_children")


def _exp(x):
    try:
        return math.exp(x)
    except OverflowError:  # as NumPy/PyTorch: inf, not an error
        return math.inf


def _log(x):
    if x > 0:
        return math.log(x)
    return -math.inf if x == 0 else math.nan


class Value:
    """A scalar with a gradient: ``a = Value(2.0); (a * a).backward(); a.grad == 4.0``."""

    __slots__ = ("data", "grad", "_children", "_local", "_op", "__weakref__")

    def __init__(self, data, _children=(), _op="", _local=None):
        self.data = data
        self.grad = 0.0
        self._children = _children if type(_children) is tuple else tuple(_children)
        # How backward reaches the operands: a tuple of local derivatives d(self)/d(child)
        # (built-in ops), a function (micrograd-style ``_backward`` assigned by the user), or
        # None (a leaf, or a custom op without a backward).
        self._local = _local
        self._op = _op

    # ---- micrograd's attributes ------------------------------------------------------------
    @property
    def _prev(self):
        """The operands this value was computed from, as a set (micrograd's ``_prev``)."""
        return set(self._children)

    @property
    def _backward(self):
        """Add this node's contribution to its operands' gradients (micrograd's ``_backward``)."""
        local = self._local
        if local is None:
            return _noop
        return self._propagate if type(local) is tuple else local

    @_backward.setter
    def _backward(self, fn):
        self._local = fn  # backward() now calls fn for this node

    def _propagate(self):
        g = self.grad
        for child, local in zip(self._children, self._local):
            child.grad += local * g

    # ---- arithmetic ------------------------------------------------------------------------
    def __add__(self, other):
        if isinstance(other, Value):
            return Value(self.data + other.data, (self, other), "+", (1.0, 1.0))
        return Value(self.data + _number(other, "+"), (self,), "+", (1.0,))

    def __mul__(self, other):
        if isinstance(other, Value):
            return Value(self.data * other.data, (self, other), "*", (other.data, self.data))
        other = _number(other, "*")
        return Value(self.data * other, (self,), "*", (other,))

    def __sub__(self, other):
        if isinstance(other, Value):
            return Value(self.data - other.data, (self, other), "-", (1.0, -1.0))
        return Value(self.data - _number(other, "-"), (self,), "-", (1.0,))

    def __truediv__(self, other):
        if isinstance(other, Value):
            b = other.data
            return Value(self.data / b, (self, other), "/", (1.0 / b, -self.data / (b * b)))
        other = _number(other, "/")
        return Value(self.data / other, (self,), "/", (1.0 / other,))

    def __pow__(self, other):
        a = self.data
        if isinstance(other, Value):
            b = other.data
            out = a ** b
            # d(a**b)/db = a**b * log(a), taken as 0 at a == 0 (as PyTorch does)
            db = out * math.log(a) if a > 0 else (0.0 if a == 0 else math.nan)
            return Value(out, (self, other), "**", (b * a ** (b - 1), db))
        b = _number(other, "**")
        return Value(a ** b, (self,), f"**{b}", (b * a ** (b - 1) if b else 0.0,))

    def __radd__(self, other):
        return Value(_number(other, "+") + self.data, (self,), "+", (1.0,))

    def __rmul__(self, other):
        other = _number(other, "*")
        return Value(other * self.data, (self,), "*", (other,))

    def __rsub__(self, other):
        return Value(_number(other, "-") - self.data, (self,), "-", (-1.0,))

    def __rtruediv__(self, other):
        other = _number(other, "/")
        b = self.data
        return Value(other / b, (self,), "/", (-other / (b * b),))

    def __rpow__(self, other):
        other = _number(other, "**")
        out = other ** self.data
        db = out * math.log(other) if other > 0 else (0.0 if other == 0 else math.nan)
        return Value(out, (self,), "**", (db,))

    def __neg__(self):
        return Value(-self.data, (self,), "neg", (-1.0,))

    def __pos__(self):
        return self

    # ---- functions ---------------------------------------------------------------------------
    def exp(self):
        """``e ** data`` (inf on overflow, as NumPy); local derivative exp(x)."""
        out = _exp(self.data)
        return Value(out, (self,), "exp", (out,))

    def log(self):
        """Natural log (-inf at 0, nan below, as NumPy); local derivative 1/x."""
        x = self.data
        return Value(_log(x), (self,), "log", (1.0 / x if x else math.inf,))

    def tanh(self):
        """``tanh(data)``; local derivative 1 - tanh(x)**2."""
        t = math.tanh(self.data)
        return Value(t, (self,), "tanh", (1.0 - t * t,))

    def relu(self):
        """``max(data, 0)``; local derivative 1 for x > 0, else 0 (0 at x == 0, as PyTorch)."""
        x = self.data
        return Value(x if x > 0 else 0.0, (self,), "ReLU", (1.0 if x > 0 else 0.0,))

    def sigmoid(self):
        """``1 / (1 + exp(-data))``; local derivative s * (1 - s)."""
        s = 0.5 * (1.0 + math.tanh(0.5 * self.data))  # never overflows, unlike 1/(1+exp(-x))
        return Value(s, (self,), "sigmoid", (s * (1.0 - s),))

    # ---- autograd ----------------------------------------------------------------------------
    def backward(self):
        """Fill ``grad`` of every value this one depends on with d(self)/d(value).

        Leaves accumulate (call ``model.zero_grad()`` between steps, as in micrograd); gradients of
        intermediate values are recomputed from zero on each call.
        """
        with gc_paused():
            self._backward_pass()

    def _backward_pass(self):
        topo = topological_order((self,), _children_of)
        for v in topo:
            if v._children:
                v.grad = 0.0
        self.grad = 1.0
        for v in reversed(topo):
            local = v._local
            if local is None:  # a leaf
                continue
            if type(local) is not tuple:  # a custom op's assigned _backward
                local()
                continue
            g = v.grad
            children = v._children
            if len(children) == 2:
                a, b = children
                la, lb = local
                a.grad += la * g
                b.grad += lb * g
            else:
                children[0].grad += local[0] * g

    def __repr__(self):
        return f"Value(data={self.data}, grad={self.grad})"


def _noop():
    pass


def _number(x, op):
    if isinstance(x, (int, float)):
        return x
    try:
        return float(x)
    except (TypeError, ValueError):
        raise TypeError(
            f"unsupported operand for {op}: Value and {type(x).__name__} (use a number or a Value)"
        ) from None


# ---- a small neural net over Values (micrograd's nn.py API) ----------------------------------
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


__all__ = ["Value", "Neuron", "Layer", "MLP", "Module", "mse"]
