"""Reductions: sum, max/min (amax/amin), and the index reductions argmax/argmin."""
from ..function import Function
from .broadcast import keepdim_shape, reduction_dims
from .shape import Expand, Reshape


def _axis(dims, ndim):
    return None if len(dims) == ndim else dims


class Sum(Function):
    def forward(self, a, dim=None, keepdim=False):
        self.in_shape = a.shape
        self.keepdim = keepdim
        if dim is None:  # the common full reduction, without normalizing dims
            self.dims = tuple(range(a.ndim))
            return self.backend.reduce("sum", a, None, keepdim)
        self.dims = reduction_dims(dim, a.ndim, "sum")
        return self.backend.reduce("sum", a, _axis(self.dims, a.ndim), keepdim)

    def backward(self, grad):
        # straight to the ops: the shapes are known to be valid, so skip the methods' checks
        if not self.keepdim and len(self.dims) != len(self.in_shape):
            grad = Reshape.apply(grad, shape=keepdim_shape(self.in_shape, self.dims))
        return Expand.apply(grad, shape=self.in_shape)  # a full reduction broadcasts as is


class Mean(Function):
    """The mean over dims in one kernel (floating-point inputs; the method checks the dtype)."""

    def forward(self, a, dim=None, keepdim=False):
        self.in_shape = a.shape
        self.keepdim = keepdim
        self.dims = tuple(range(a.ndim)) if dim is None else reduction_dims(dim, a.ndim, "mean")
        count = 1
        for d in self.dims:
            count *= a.shape[d]
        self.count = count
        axis = None if dim is None else _axis(self.dims, a.ndim)
        return self.backend.reduce("mean", a, axis, keepdim)

    def backward(self, grad):
        grad = grad / self.count  # one kernel on the reduced shape, then a broadcast view
        if not self.keepdim and len(self.dims) != len(self.in_shape):
            grad = Reshape.apply(grad, shape=keepdim_shape(self.in_shape, self.dims))
        return Expand.apply(grad, shape=self.in_shape)


class _Extreme(Function):
    """amax/amin over dims; ties share the gradient evenly, as ``torch.amax`` does."""

    save_inputs = True
    op = None

    def forward(self, a, dim=None, keepdim=False):
        self.in_shape = a.shape
        self.dims = reduction_dims(dim, a.ndim, self.op)
        self.keepdim = keepdim
        if any(a.shape[d] == 0 for d in self.dims):
            raise RuntimeError(
                f"{self.op}: cannot reduce over an empty dimension of shape {tuple(a.shape)} "
                f"(the operation has no identity)"
            )
        out = self.backend.reduce(self.op, a, _axis(self.dims, a.ndim), True)
        self.saved = out
        return out if keepdim else self.backend.reshape(out, _drop(out.shape, self.dims))

    def backward(self, grad):
        from ..tensor import Tensor

        x = self.inputs[0]
        kept = Tensor._make(self.saved, self.backend, False)
        mask = (x == kept).to(grad.dtype)
        count = mask.sum(dim=self.dims, keepdim=True)
        if not self.keepdim:
            grad = grad.reshape(keepdim_shape(self.in_shape, self.dims))
        return grad * mask / count


def _drop(shape, dims):
    return tuple(s for i, s in enumerate(shape) if i not in dims)


class Amax(_Extreme):
    op = "max"


class Amin(_Extreme):
    op = "min"
