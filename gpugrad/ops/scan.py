"""Cumulative scans along a dim: cumsum, cumprod, cummax and cummin, with PyTorch's gradients.

``cumprod``'s gradient is exact where the input holds zeros (one or several per slice): once
backward is not itself being differentiated it is PyTorch's O(n) rule around each slice's first
zero; under ``create_graph`` it is the O(n^2) product of the others, a polynomial in the input,
so its own gradient is exact too.
"""
from ..dtypes import int64
from ..engine.function import Function
from ..engine.grad_mode import modes
from ..tensor import Tensor
from .elementwise import Where
from .shape import Getitem
from .sort import gathered


def reverse(t, dim):
    """``t`` reversed along ``dim`` (>= 0): a view (a negative stride), differentiable."""
    return Getitem.apply(t, index=(slice(None),) * dim + (slice(None, None, -1),))


def reverse_cumsum(t, dim):
    """``out[i] = sum(t[j] for j >= i)`` along ``dim``: cumsum's adjoint."""
    return reverse(Cumsum.apply(reverse(t, dim), dim=dim), dim)


class Cumsum(Function):
    """The running sum along ``dim``; bool and integers give int64."""

    autocast = "gpu_float32"

    def forward(self, a, dim=0):
        self.dim = dim
        return self.backend.scan("sum", a, dim)

    def backward(self, grad):
        return reverse_cumsum(grad, self.dim)


class Cumprod(Function):
    """The running product along ``dim``; bool and integers give int64."""

    autocast = "gpu_float32"

    save_inputs = True
    save_output = True

    def forward(self, a, dim=0):
        self.dim = dim
        return self.backend.scan("prod", a, dim)

    def backward(self, grad):
        x, dim = self.inputs[0], self.dim
        if modes.grad_enabled:
            return _others_product_grad(x, grad, dim)
        # PyTorch's cumprod_backward: before a slice's first zero, sum(grad * out) from here on
        # over x; at the first zero, the same with that zero taken as 1; after it, 0
        zero = x == 0
        zeros_so_far = Cumsum.apply(zero, dim=dim)
        before = zeros_so_far == 0
        first = zero.logical_and(zeros_so_far == 1)
        clean = reverse_cumsum(grad * self.output(), dim) / Where.apply(before, x, 1.0)
        skipped = Cumprod.apply(Where.apply(first, 1.0, x), dim=dim)
        at_zero = reverse_cumsum(grad * skipped, dim)
        return Where.apply(before, clean, Where.apply(first, at_zero, 0.0))


def _others_product_grad(x, grad, dim):
    """``grad_k = sum(grad_j * prod(x_i for i <= j, i != k) for j >= k)`` along ``dim``, as an
    O(n^2) polynomial in ``x`` (differentiable again, zeros included)."""
    x, grad = x.transpose(dim, -1), grad.transpose(dim, -1)
    n, backend = x.shape[-1], x._backend
    positions = backend.arange(0, n, 1, int64)
    rows = backend.reshape(positions, (n, 1))
    cols = backend.reshape(positions, (1, n))
    diagonal = Tensor._make(backend.binary("eq", rows, cols), backend, False)
    later = Tensor._make(backend.binary("ge", cols, rows), backend, False)  # j >= k
    # row k: x with x_k taken as 1, so its running product skips x_k
    skip_one = Cumprod.apply(Where.apply(diagonal, 1.0, x.unsqueeze(-2)), dim=x.ndim)
    terms = Where.apply(later, skip_one * grad.unsqueeze(-2), 0.0)
    return terms.sum(dim=-1).transpose(dim, -1)


def cum_extreme(x, op, dim):
    """``(values, indices)`` of ``cummax`` (``op`` "max") or ``cummin`` along ``dim``
    (normalized; ``x`` at least 1-d). The index is PyTorch's: the last position holding the
    running extreme (``>=``/``<=`` take ties), or the last NaN once one was seen. The gradient
    goes to that position."""
    backend = x._backend
    values = backend.scan(op, x._data, dim)
    along = tuple(x.shape[dim] if i == dim else 1 for i in range(x.ndim))
    positions = backend.reshape(backend.arange(0, x.shape[dim], 1, int64), along)
    # a position whose value is the running extreme (or NaN) is where the index moves to
    moved = backend.binary("logical_or", backend.binary("eq", x._data, values),
                           backend.binary("ne", x._data, x._data))
    indices = backend.scan("max", backend.where(moved, positions, 0, int64), dim)
    return gathered(x, values, indices, dim)
