"""softmax, log_softmax and logsumexp along dims, stable for any finite input (the max is
subtracted first), with PyTorch's values and gradients at infinite entries.

softmax and log_softmax shift by the max as PyTorch's CPU kernels do, so a slice whose max is
infinite (all -inf, or any +inf) gives NaN, as in PyTorch; of float16 and bfloat16 they compute
in float32 and round once, as PyTorch's kernels accumulate (two cast kernels more). logsumexp
shifts only where the max is finite, as PyTorch does: all -inf gives -inf, a +inf entry gives
inf.
"""
import math

from ..engine.function import Function
from .broadcast import keepdim_shape, reduction_dims
from .elementwise import Mul, Sub, binary_arrays, in_float32


def _shifted(backend, a, dim):
    if a.shape[dim] == 0:  # an empty slice has no max (and nothing to shift)
        return a
    return backend.binary("sub", a, backend.reduce("max", a, dim, True))


class Softmax(Function):
    autocast = "gpu_float32"
    save_output = True

    def forward(self, a, dim=-1):
        self.dim = dim
        return in_float32(self.backend, a, self._softmax)

    def _softmax(self, a):
        e = self.backend.unary("exp", _shifted(self.backend, a, self.dim))
        return self.backend.binary("div", e, self.backend.reduce("sum", e, self.dim, True))

    def backward(self, grad):
        y = self.output()
        return y * (grad - (grad * y).sum(dim=self.dim, keepdim=True))

    def backward_arrays(self, grad):
        backend, y = self.backend, self._out
        dot = backend.reduce("sum", binary_arrays(Mul, backend, grad, y), self.dim, True)
        return binary_arrays(Mul, backend, y, binary_arrays(Sub, backend, grad, dot))


class LogSoftmax(Function):
    autocast = "gpu_float32"
    save_output = True

    def forward(self, a, dim=-1):
        self.dim = dim
        return in_float32(self.backend, a, self._log_softmax)

    def _log_softmax(self, a):
        b, dim = self.backend, self.dim
        shifted = _shifted(b, a, dim)
        lse = b.unary("log", b.reduce("sum", b.unary("exp", shifted), dim, True))
        return b.binary("sub", shifted, lse)

    def backward(self, grad):
        y = self.output()
        return grad - y.exp() * grad.sum(dim=self.dim, keepdim=True)

    def backward_arrays(self, grad):
        backend = self.backend
        total = backend.reduce("sum", grad, self.dim, True)
        spread = binary_arrays(Mul, backend, backend.unary("exp", self._out), total)
        return binary_arrays(Sub, backend, grad, spread)


class LogSumExp(Function):
    """``log(sum(exp(x), dims))`` (PyTorch's ``logsumexp``): shifted by the max over ``dims``
    where that max is finite. The gradient is PyTorch's ``logsumexp_backward``,
    ``grad * exp(x - result)`` (NaN at the infinite entries of a slice whose result is
    infinite, as in PyTorch)."""

    save_inputs = True
    save_output = True

    def forward(self, a, dim=None, keepdim=False):
        backend = self.backend
        self.in_shape, self.keepdim = a.shape, keepdim
        self.dims = dims = reduction_dims(dim, a.ndim, "logsumexp")
        axis = None if len(dims) == a.ndim else dims
        if math.prod(a.shape) == 0:  # no max to take: the sum of nothing is 0, its log -inf
            return backend.unary("log", backend.reduce("sum", backend.unary("exp", a), axis,
                                                       keepdim))
        shift = backend.reduce("max", a, axis, True)
        infinite = backend.binary("eq", backend.unary("abs", shift), math.inf)
        shift = backend.where(infinite, 0.0, shift)
        total = backend.reduce("sum", backend.unary("exp", backend.binary("sub", a, shift)),
                               axis, keepdim)
        if not keepdim:
            shift = backend.reshape(shift, total.shape)
        return backend.binary("add", backend.unary("log", total), shift)

    def backward(self, grad):
        x, result = self.inputs[0], self.output()
        if not self.keepdim and x.ndim:
            shape = keepdim_shape(self.in_shape, self.dims)
            grad, result = grad.reshape(shape), result.reshape(shape)
        return grad * (x - result).exp()
