"""``Value``: a scalar with autograd, compatible with micrograd's API.

``Value`` holds one Python number (``data``) and its gradient (``grad``). Each op records its
operands and, for speed, the *local* derivative of its result with respect to each, computed
once in forward. ``backward()`` orders the graph with the engine's iterative
``gpugrad.autograd.topological_order`` (so a chain a million deep works) and applies the chain
rule: ``operand.grad += local * node.grad``.

A node is one object and nothing else: operands and local derivatives sit in its own slots, not
in tuples, closures or sets (micrograd's ``_prev`` set is built when asked for). Each object the
cyclic garbage collector tracks adds to every collection while the graph is alive: one per node
here, seven in micrograd (the node, its set, its closure, the closure's cells and their tuple).
Nodes reference only their operands, never themselves or their consumers, so a graph holds no
reference cycle and reference counting frees it as soon as its root is dropped.

A number operand (``a * 2``) is folded into the op rather than wrapped in a Value, so the
operands are only Values. micrograd's extension point still works: build
``Value(data, (a, b), "op")`` and assign ``out._backward = fn``; ``backward()`` then calls
``fn()`` for that node.

Special values follow IEEE 754, as Python's ``math`` module and PyTorch's float64 tensors do,
values and gradients alike: no op raises ``ZeroDivisionError`` or ``OverflowError`` or returns a
complex number. Division by zero follows IEEE, as PyTorch does: ``1 / Value(0.0)`` is inf,
``-1 / Value(0.0)`` is -inf, ``Value(0.0) / Value(0.0)`` is nan. ``0 ** 0.5`` is 0.0 with gradient
inf; ``0 ** -1`` is inf (``(-0.0) ** -1`` is -inf); a negative base to a non-integer power is nan;
overflow is ±inf; ``x ** 0`` is 1 with gradient 0 for every ``x``, 0 and nan included;
``d(a ** b)/db`` is ``a ** b * log(a)``, taken as 0 where ``a == 0`` and ``b >= 0``. The normal
path is plain Python arithmetic (ints stay ints where Python keeps them); only an op that would
raise, or give a complex number, takes the IEEE path. (``pow`` is C's ``pow``, like ``math.pow``
and ``torch.pow`` with a tensor exponent; PyTorch's ``t ** 0.5`` takes ``sqrt`` instead, which
differs at -0.0 and -inf.)

``Neuron``, ``Layer``, ``MLP`` and ``mse`` at the end are micrograd's small neural net (its
``nn.py``) over Values.
"""
import math
import random as _random
import operator

from .engine import gc_paused, topological_order

_new = object.__new__
_operands_of = operator.attrgetter("_a", "_b")  # a node's parents (None: none there)
_JOIN = ((), None)  # the ``_db`` of a node that only links a custom node to its 3rd+ operands


def _exp(x):
    try:
        return math.exp(x)
    except OverflowError:  # as NumPy/PyTorch: inf, not an error (0 for an int far below range)
        return math.inf if x > 0 else 0.0


def _log(x):
    if x > 0:
        return math.log(x)
    return -math.inf if x == 0 else math.nan


# ---- the IEEE 754 path: ops call these only where plain Python arithmetic raised ---------------
def _float(x):
    """``float(x)``, or ±inf for an int too large for a float."""
    try:
        return float(x)
    except OverflowError:
        return math.inf if x > 0 else -math.inf


def _div(x, y):
    """``x / y`` as IEEE 754 divides, never raising: ±inf for a nonzero ``x`` over ±0 (the sign of
    the zero counts), nan for 0/0 and nan/0."""
    try:
        return x / y
    except ZeroDivisionError:
        x = _float(x)
        if x != x or x == 0:
            return math.nan
        return math.copysign(math.inf, x) * math.copysign(1.0, y)
    except OverflowError:  # an int too large for a float
        return _div(_float(x), _float(y))


def _pow(a, b):
    """``a ** b`` as C's ``pow`` (IEEE 754 / C99 Annex F, as ``math.pow``), never raising: ±0 to a
    negative power is inf (-inf for -0.0 to an odd integer power), a negative base to a non-integer
    power is nan (never complex), overflow is ±inf. Python's result (an int for ints) otherwise."""
    try:
        r = a ** b
    except ArithmeticError:  # ZeroDivisionError (0 ** negative) or OverflowError
        pass
    else:
        return math.nan if type(r) is complex else r
    a, b = _float(a), _float(b)
    try:
        return math.pow(a, b)
    except ValueError:  # a pole: 0 ** negative
        if a == 0:
            return math.copysign(math.inf, a) if b % 2 == 1 else math.inf
        return math.nan
    except OverflowError:  # negative only for a negative base to an odd integer power
        return -math.inf if a < 0 and b % 2 == 1 else math.inf


def _pow_grads(a, b):
    """``(a ** b, d/da, d/db)`` on the IEEE path, as PyTorch's pow and its backward compute them:
    d/da = b * a ** (b - 1), 0 where b == 0; d/db = a ** b * log(a), 0 where a == 0 and b >= 0
    (so -inf for 0 ** negative, and nan for a negative or nan base)."""
    out = _pow(a, b)
    da = _float(b) * _float(_pow(a, b - 1)) if b else 0.0
    db = 0.0 if a == 0 and b >= 0 else _float(out) * _log(a)
    return out, da, db

class Value:
    """A scalar with a gradient: ``a = Value(2.0); (a * a).backward(); a.grad == 4.0``.

    Special values follow IEEE 754, as PyTorch's float64 tensors do, in values and gradients:
    division by zero gives ±inf (nan for 0/0) rather than ``ZeroDivisionError``, overflow gives
    ±inf, a negative base to a non-integer power gives nan, and no op raises or returns a complex.
    """

    # ``_a``/``_b``: the operands (None where absent); ``_da``/``_db``: d(self)/d(operand).
    # A node built with ``Value(data, children, op)`` (micrograd's custom op) keeps
    # ``(children, backward function or None)`` in ``_db`` instead, and ``_a``/``_b`` link its
    # operands for the graph walk (a third or later operand through linking nodes).
    __slots__ = ("data", "grad", "_a", "_b", "_da", "_db", "_op", "__weakref__")

    def __init__(self, data, _children=(), _op=""):
        self.data = data
        self.grad = 0.0
        self._op = _op
        self._da = None
        if _children:
            children = tuple(_children)
            self._a = children[0]
            self._b = _linked(children[1:])
            self._db = (children, None)
        else:
            self._a = self._b = self._db = None

    # ---- micrograd's attributes ------------------------------------------------------------
    @property
    def _children(self):
        """The operands this value was computed from, in order, as a tuple."""
        db = self._db
        if type(db) is tuple:
            return db[0]
        a = self._a
        if a is None:
            return ()
        return (a,) if db is None else (a, self._b)

    @property
    def _prev(self):
        """The operands this value was computed from, as a set (micrograd's ``_prev``)."""
        return set(self._children)

    @property
    def _backward(self):
        """Add this node's contribution to its operands' gradients (micrograd's ``_backward``)."""
        db = self._db
        if type(db) is tuple:
            return db[1] or _noop
        return _noop if self._a is None else self._propagate

    @_backward.setter
    def _backward(self, fn):
        self._db = (self._children, fn)  # backward() now calls fn for this node

    def _propagate(self):
        g = self.grad
        self._a.grad += self._da * g
        if self._db is not None:
            self._b.grad += self._db * g

    # ---- arithmetic ------------------------------------------------------------------------
    def __add__(self, other):
        if isinstance(other, Value):
            return _node(self.data + other.data, "+", self, 1.0, other, 1.0)
        return _node(self.data + _number(other, "+"), "+", self, 1.0)

    def __mul__(self, other):
        if isinstance(other, Value):
            return _node(self.data * other.data, "*", self, other.data, other, self.data)
        other = _number(other, "*")
        return _node(self.data * other, "*", self, other)

    def __sub__(self, other):
        if isinstance(other, Value):
            return _node(self.data - other.data, "-", self, 1.0, other, -1.0)
        return _node(self.data - _number(other, "-"), "-", self, 1.0)

    # / and ** try plain Python arithmetic (free when nothing is raised) and take the IEEE path
    # (_div, _pow_grads) only where Python raises or would give a complex number.
    def __truediv__(self, other):
        a = self.data
        if isinstance(other, Value):
            b = other.data
            try:
                out = a / b
                # d/db = -(a/b)/b, as PyTorch computes it (no b*b to underflow)
                return _node(out, "/", self, 1.0 / b, other, -out / b)
            except ArithmeticError:  # b == 0: ±inf or nan
                out = _div(a, b)
                return _node(out, "/", self, _div(1.0, b), other, -_div(out, b))
        other = _number(other, "/")
        try:
            return _node(a / other, "/", self, 1.0 / other)
        except ArithmeticError:
            return _node(_div(a, other), "/", self, _div(1.0, other))

    def __pow__(self, other):
        a = self.data
        if isinstance(other, Value):
            b = other.data
            if a > 0:  # the common case: a real result and a finite log(a)
                try:
                    out = a ** b
                    return _node(out, "**", self, b * a ** (b - 1), other, out * math.log(a))
                except ArithmeticError:  # overflow
                    pass
            out, da, db = _pow_grads(a, b)
            return _node(out, "**", self, da, other, db)
        b = _number(other, "**")
        try:
            out = a ** b
            if out.__class__ is not complex:  # complex: a negative base to a non-integer power
                # x ** 0 has gradient 0 for every x, as in PyTorch
                return _node(out, f"**{b}", self, b * a ** (b - 1) if b else 0.0)
        except ArithmeticError:  # 0 ** negative, overflow
            pass
        out, local, _ = _pow_grads(a, b)
        return _node(out, f"**{b}", self, local)

    def __radd__(self, other):
        return _node(_number(other, "+") + self.data, "+", self, 1.0)

    def __rmul__(self, other):
        other = _number(other, "*")
        return _node(other * self.data, "*", self, other)

    def __rsub__(self, other):
        return _node(_number(other, "-") - self.data, "-", self, -1.0)

    def __rtruediv__(self, other):
        other = _number(other, "/")
        b = self.data
        try:
            out = other / b
            return _node(out, "/", self, -out / b)
        except ArithmeticError:  # b == 0
            out = _div(other, b)
            return _node(out, "/", self, -_div(out, b))

    def __rpow__(self, other):
        a = _number(other, "**")
        b = self.data
        if a > 0:
            try:
                out = a ** b
                return _node(out, "**", self, out * math.log(a))
            except ArithmeticError:  # overflow
                pass
        out, _, db = _pow_grads(a, b)
        return _node(out, "**", self, db)

    def __neg__(self):
        return _node(-self.data, "neg", self, -1.0)

    def __pos__(self):
        return self

    # ---- functions ---------------------------------------------------------------------------
    def exp(self):
        """``e ** data`` (inf on overflow, as NumPy); local derivative exp(x)."""
        out = _exp(self.data)
        return _node(out, "exp", self, out)

    def log(self):
        """Natural log (-inf at 0, nan below, as NumPy); local derivative 1/x (±inf at ±0)."""
        x = self.data
        try:
            local = 1.0 / x
        except ArithmeticError:
            local = _div(1.0, x)
        return _node(_log(x), "log", self, local)

    def tanh(self):
        """``tanh(data)``; local derivative 1 - tanh(x)**2."""
        t = math.tanh(self.data)
        return _node(t, "tanh", self, 1.0 - t * t)

    def relu(self):
        """``max(data, 0)``; local derivative 0 for x <= 0, else 1 (as PyTorch: 0 at x == 0;
        nan stays nan, with derivative 1)."""
        x = self.data
        return _node(0.0 if x <= 0 else x, "ReLU", self, 0.0 if x <= 0 else 1.0)

    def sigmoid(self):
        """``1 / (1 + exp(-data))``, as PyTorch computes it (so the left tail keeps its relative
        precision: sigmoid(-400) is 1.9e-174, not 0); local derivative s * (1 - s)."""
        try:
            s = 1.0 / (1.0 + math.exp(-self.data))
        except OverflowError:  # exp(-x) beyond the float range: x below -709.78 (or a huge int)
            s = 0.0 if self.data < 0 else 1.0
        return _node(s, "sigmoid", self, s * (1.0 - s))

    # ---- autograd ----------------------------------------------------------------------------
    def backward(self):
        """Fill ``grad`` of every value this one depends on with d(self)/d(value).

        Leaves accumulate (call ``model.zero_grad()`` between steps, as in micrograd); gradients of
        intermediate values are recomputed from zero on each call.
        """
        with gc_paused():
            self._backward_pass()

    def _backward_pass(self):
        topo = topological_order((self,), _operands_of)
        for v in topo:
            if v._a is not None:
                v.grad = 0.0
        self.grad = 1.0
        for v in reversed(topo):
            db = v._db
            if db is None:  # a leaf, or an op of one operand
                a = v._a
                if a is not None:
                    a.grad += v._da * v.grad
            elif type(db) is tuple:  # a custom node: its assigned _backward, if any
                if db[1] is not None:
                    db[1]()
            else:
                g = v.grad
                v._a.grad += v._da * g
                v._b.grad += db * g

    def __repr__(self):
        return f"Value(data={self.data}, grad={self.grad})"


def _node(data, op, a, da, b=None, db=None):
    """The result of a built-in op: ``data``, with operand ``a`` (and ``b``) and the local
    derivative(s) ``da`` (and ``db``)."""
    v = _new(Value)
    v.data = data
    v.grad = 0.0
    v._op = op
    v._a = a
    v._da = da
    v._b = b
    v._db = db
    return v


def _linked(operands):
    """The ``_b`` of a custom node: its second operand, or a chain of linking nodes (skipped
    by backward) that reaches every operand after the first; None for none."""
    if not operands:
        return None
    node = operands[-1]
    for operand in reversed(operands[:-1]):
        node = _node(0.0, "", operand, None, node, _JOIN)
    return node


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


# ---- micrograd's small neural net (its nn.py), over Values ---------------------------------
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
