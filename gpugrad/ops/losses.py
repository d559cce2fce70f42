"""Losses and their logistic building blocks, each one op with PyTorch's forward and backward
formulas, so values and gradients match PyTorch at the boundaries (zero logits, logits of
+-1e4 or +-inf, probabilities of exactly 0 and 1):

- ``Softplus``, ``LogSigmoid``: PyTorch's CPU kernels (``softplus``, ``log_sigmoid``).
- ``MSELoss``: ``mse_loss`` and ``mse_loss_backward`` (the target's gradient is the same
  formula with the operands swapped).
- ``BCEWithLogits``: ``binary_cross_entropy_with_logits`` (``log_sigmoid`` based) and its
  ``_backward`` / ``_target_backward`` (``sigmoid(x) - t`` at the input, ``-x`` at the target).
- ``BCE``: ``binary_cross_entropy`` (logs clamped at -100) and its backward (dividing by
  ``max((1 - p) * p, 1e-12)``), whose target gradient is ``-logit(p)``.

A loss op reduces in its forward (``reduction`` 'none', 'mean' or 'sum') and, as PyTorch,
divides its gradient by the element count at the end for 'mean'. ``weight`` and ``pos_weight``
get no gradient (PyTorch does not differentiate them either).
"""
import math

from ..engine.function import Function
from .broadcast import sum_to
from .broadcast import sum_to_array
from .elementwise import Mul, Sub, Where, binary_arrays, data_of, in_float32
from .selection import Maximum

# PyTorch's ``EPSILON`` of binary_cross_entropy_backward: 1e-12 stored as a float32
BCE_EPSILON = 9.999999960041972e-13


def _reduced(backend, loss, reduction):
    if reduction == "none":
        return loss
    return backend.reduce("mean" if reduction == "mean" else "sum", loss)


def _shape(x):
    return getattr(x, "shape", None)


class Softplus(Function):
    """``log(1 + exp(beta * x)) / beta``, or ``x`` where ``beta * x > threshold`` (PyTorch's
    ``softplus``). Gradient ``grad * z / (z + 1)`` with ``z = exp(beta * x)``, or ``grad`` above
    the threshold."""

    autocast = "gpu_float32"

    save_inputs = True

    def forward(self, a, beta=1.0, threshold=20.0):
        backend = self.backend
        self.beta, self.threshold = beta, threshold
        dtype = backend.dtype(a)
        if not dtype.is_floating_point:  # PyTorch has no integer softplus
            raise NotImplementedError(f"\"softplus\" not implemented for '{dtype.name}': "
                                      f"convert the input to a floating dtype first (x.float())")
        # (float16 and bfloat16 in float32, rounded once, as PyTorch: exp(11.25) passes
        # float16's largest number below the threshold)
        return in_float32(backend, a, self._softplus)

    def _softplus(self, a):
        # (a is float32 or float64 here, which a Python number beside it leaves as it is)
        backend, beta = self.backend, self.beta
        scaled = backend.binary("mul", a, beta)
        soft = backend.binary("div", backend.unary("log1p", backend.unary("exp", scaled)), beta)
        return backend.where(backend.binary("gt", scaled, self.threshold), a, soft)

    def backward(self, grad):
        x = self.inputs[0]
        if x.dtype.is_low_precision:  # (in float16, z / (z + 1) is inf / inf from x = 11.1)
            return self._gradient(x.float(), grad.float()).to(x.dtype)
        return self._gradient(x, grad)

    def _gradient(self, x, grad):
        scaled = x * self.beta
        z = scaled.exp()
        return Where.apply(scaled > self.threshold, grad, grad * z / (z + 1.0))


class LogSigmoid(Function):
    """``log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|))``, exact for any finite ``x`` (PyTorch's
    ``log_sigmoid``). Gradient ``sigmoid(-x)``, computed from ``z = exp(-|x|)`` as PyTorch."""

    save_inputs = True

    def forward(self, a):
        return _log_sigmoid(self.backend, a)

    def backward(self, grad):
        x = self.inputs[0]
        z = (-x.abs()).exp()
        share = z / (z + 1.0)
        return grad * Where.apply(x < 0, 1.0 - share, share)


def _log_sigmoid(backend, a):
    tail = backend.unary("log1p", backend.unary("exp", backend.unary("neg",
                                                                     backend.unary("abs", a))))
    return backend.binary("sub", backend.binary("minimum", a, 0.0), tail)


class MSELoss(Function):
    """``(x - t) ** 2``, reduced. Gradients ``norm * (x - t) * grad`` and
    ``norm * (t - x) * grad``, ``norm`` being ``2 / N`` for 'mean' and 2 otherwise."""

    autocast = "float32"
    backward_name = "MseLossBackward0"

    save_inputs = True

    def forward(self, a, t, reduction="mean"):
        backend = self.backend
        self.reduction, self.shapes = reduction, (_shape(a), _shape(t))
        diff = backend.binary("sub", a, t)
        loss = backend.binary("mul", diff, diff)
        self.count = math.prod(loss.shape)
        return _reduced(backend, loss, reduction)

    def backward(self, grad):
        x, t = self.inputs
        norm = 2.0 / self.count if self.reduction == "mean" else 2.0
        gx = gt = None
        if self.next_nodes[0] is not None:
            gx = sum_to((x - t) * norm * grad, self.shapes[0])
        if self.next_nodes[1] is not None:
            gt = sum_to((t - x) * norm * grad, self.shapes[1])
        return gx, gt

    def backward_arrays(self, grad):
        backend = self.backend
        x, t = data_of(self.inputs[0]), data_of(self.inputs[1])
        norm = 2.0 / self.count if self.reduction == "mean" else 2.0
        grads = []
        for node, first, second, shape in ((self.next_nodes[0], x, t, self.shapes[0]),
                                           (self.next_nodes[1], t, x, self.shapes[1])):
            if node is None:
                grads.append(None)
                continue
            diff = binary_arrays(Sub, backend, first, second)
            g = binary_arrays(Mul, backend, binary_arrays(Mul, backend, diff, norm), grad)
            grads.append(sum_to_array(backend, g, shape))
        return tuple(grads)


class BCEWithLogits(Function):
    """``(1 - t) * x - log_weight * log_sigmoid(x)``, times ``weight``, reduced;
    ``log_weight = 1 + (pos_weight - 1) * t`` (1 without ``pos_weight``). Either weight may be
    None, a number or a tensor that broadcasts.

    Gradients (PyTorch): at the input ``(sigmoid(x) - t) * grad``, or with ``pos_weight``
    ``((pos_weight * t + 1 - t) * sigmoid(x) - pos_weight * t) * grad``; at the target
    ``-x * grad``, or ``(log_sigmoid(-x) - log_sigmoid(x) * pos_weight) * grad``; each times
    ``weight``, and divided by N for 'mean'. At ``x = 0`` the input's gradient is ``0.5 - t``.
    """

    autocast = "float32"
    backward_name = "BinaryCrossEntropyWithLogitsBackward0"

    save_inputs = True

    def forward(self, x, t, weight=None, pos_weight=None, reduction="mean"):
        backend = self.backend
        self.reduction, self.shapes = reduction, (_shape(x), _shape(t))
        log_sig = _log_sigmoid(backend, x)
        if pos_weight is not None:
            excess = pos_weight - 1.0 if _shape(pos_weight) is None else \
                backend.binary("sub", pos_weight, 1.0)
            log_weight = backend.binary("add", backend.binary("mul", excess, t), 1.0)
            log_sig = backend.binary("mul", log_sig, log_weight)
        loss = backend.binary("sub", backend.binary("mul", backend.binary("sub", 1.0, t), x),
                              log_sig)
        if weight is not None:
            loss = backend.binary("mul", loss, weight)
        self.count = math.prod(loss.shape)
        return _reduced(backend, loss, reduction)

    def backward(self, grad):
        x, t, weight, pos_weight = self.inputs
        gx = gt = None
        if self.next_nodes[0] is not None:
            if pos_weight is None:
                gx = x.sigmoid() - t
            else:
                positive = pos_weight * t
                gx = (positive + 1.0 - t) * x.sigmoid() - positive
            gx = sum_to(self._finish(gx * grad, weight), self.shapes[0])
        if self.next_nodes[1] is not None:
            if pos_weight is None:
                gt = -x * grad
            else:
                gt = (LogSigmoid.apply(-x) - LogSigmoid.apply(x) * pos_weight) * grad
            gt = sum_to(self._finish(gt, weight), self.shapes[1])
        return gx, gt, None, None

    def _finish(self, g, weight):
        if weight is not None:
            g = g * weight
        return g / self.count if self.reduction == "mean" else g


class BCE(Function):
    """``(t - 1) * max(log1p(-p), -100) - t * max(log(p), -100)``, times ``weight``, reduced
    (PyTorch's ``binary_cross_entropy``; the caller checks that ``p`` and ``t`` lie in [0, 1]).

    Gradients (PyTorch): at the input ``grad * (p - t) / max((1 - p) * p, 1e-12)`` (PyTorch's
    1e-12, rounded to float32), finite at ``p`` of exactly 0 and 1; at the target
    ``-logit(p) * grad`` (infinite there); each times ``weight``, and divided by N for 'mean'.
    """

    autocast = "gpu_banned"
    backward_name = "BinaryCrossEntropyBackward0"

    save_inputs = True

    def forward(self, p, t, weight=None, reduction="mean"):
        backend = self.backend
        self.reduction, self.shapes = reduction, (_shape(p), _shape(t))
        log_q = backend.binary("maximum", backend.unary("log1p", backend.unary("neg", p)), -100.0)
        log_p = backend.binary("maximum", backend.unary("log", p), -100.0)
        loss = backend.binary("sub", backend.binary("mul", backend.binary("sub", t, 1.0), log_q),
                              backend.binary("mul", t, log_p))
        if weight is not None:
            loss = backend.binary("mul", loss, weight)
        self.count = math.prod(loss.shape)
        return _reduced(backend, loss, reduction)

    def backward(self, grad):
        p, t, weight = self.inputs
        gp = gt = None
        if self.next_nodes[0] is not None:
            gp = grad * (p - t) / Maximum.apply((1.0 - p) * p, BCE_EPSILON)
            gp = sum_to(self._finish(gp, weight), self.shapes[0])
        if self.next_nodes[1] is not None:
            gt = -(p / (1.0 - p)).log() * grad
            gt = sum_to(self._finish(gt, weight), self.shapes[1])
        return gp, gt, None

    _finish = BCEWithLogits._finish
