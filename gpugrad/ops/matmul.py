"""Matrix product with NumPy/PyTorch rules: 1-D, 2-D and batched (broadcast) operands."""
import math

from ..engine.function import Function
from ..engine.graph import backward_through_tensors
from .broadcast import sum_to, sum_to_array


def _matmul_shape_error(sa, sb):
    return RuntimeError(
        f"matmul: shapes {tuple(sa)} and {tuple(sb)} cannot be multiplied: the inner dimensions "
        f"differ ({sa[-1]} vs {sb[-2] if len(sb) > 1 else sb[0]}); the last dimension of the first "
        f"operand must equal the {'second-to-last' if len(sb) > 1 else 'only'} dimension of the second"
    )


def _rows_of(shape):
    """``shape`` as a matrix of its last dimension's rows: (prod(shape[:-1]), shape[-1])."""
    return (math.prod(shape[:-1]), shape[-1])


def _same_dtype(backend, a, b, names):
    """matmul and linear do not promote (as in PyTorch): mixed dtypes are an error."""
    da, db = backend.dtype(a), backend.dtype(b)
    if da is not db:
        raise RuntimeError(f"expected {names} to have the same dtype, but got: {da.name} != "
                           f"{db.name}; convert one first, e.g. b.to(a.dtype)")


class Matmul(Function):
    autocast = "lower_precision_fp"
    save_inputs = True

    def forward(self, a, b):
        sa, sb = a.shape, b.shape
        _same_dtype(self.backend, a, b, "m1 and m2")
        if not sa or not sb:
            raise RuntimeError(
                f"matmul: both arguments need at least 1 dimension, got shapes {sa} and {sb}"
            )
        if sa[-1] != (sb[-2] if len(sb) > 1 else sb[0]):
            raise _matmul_shape_error(sa, sb)
        try:
            return self.backend.matmul(a, b)
        except ValueError:
            raise RuntimeError(
                f"matmul: batch dimensions of shapes {sa} and {sb} cannot be broadcast together"
            ) from None

    def backward(self, grad):
        a, b = self.inputs
        if a.ndim == 1 and b.ndim == 1:
            return grad * b, grad * a
        if a.ndim == 1:
            ga = (grad.unsqueeze(-2) @ b.mT).squeeze(-2)
            gb = a.unsqueeze(-1) @ grad.unsqueeze(-2)
        elif b.ndim == 1:
            ga = grad.unsqueeze(-1) @ b.unsqueeze(-2)
            gb = (a.mT @ grad.unsqueeze(-1)).squeeze(-1)
        else:
            # skip the product for an input outside the graph (a network's first-layer input):
            # on a GPU it is a full matmul that nobody reads
            ga = grad @ b.mT if self.next_nodes[0] is not None else None
            gb = a.mT @ grad if self.next_nodes[1] is not None else None
        return (None if ga is None else sum_to(ga, a.shape),
                None if gb is None else sum_to(gb, b.shape))

    def backward_arrays(self, grad):
        a, b = self.inputs[0]._data, self.inputs[1]._data
        if a.ndim < 2 or b.ndim < 2:  # vector operands: the rarer case, on Tensors
            return backward_through_tensors(self, grad)
        backend = self.backend
        ga = gb = None
        if self.next_nodes[0] is not None:
            ga = sum_to_array(backend, backend.matmul(grad, _mT(backend, b)), a.shape)
        if self.next_nodes[1] is not None:
            gb = sum_to_array(backend, backend.matmul(_mT(backend, a), grad), b.shape)
        return ga, gb


def _mT(backend, a):
    """The last two dimensions of ``a`` swapped (a view), as ``Tensor.mT``."""
    axes = list(range(a.ndim))
    axes[-2], axes[-1] = axes[-1], axes[-2]
    return backend.permute(a, tuple(axes))


class Linear(Function):
    """``x @ weight.T`` for ``weight`` of shape (out, in), as ``torch.nn.functional.linear``.

    Its own op (not matmul of a transposed view) so that the weight's gradient comes out as
    ``grad.T @ x``, already in the weight's (out, in) layout: the engine then keeps it as
    ``.grad`` with no transposing copy, one kernel fewer per layer on a GPU.
    """

    autocast = "lower_precision_fp"

    save_inputs = True

    def forward(self, x, weight):
        _same_dtype(self.backend, x, weight, "input and weight")
        if x.ndim == 0 or weight.ndim != 2 or x.shape[-1] != weight.shape[1]:
            raise RuntimeError(
                f"linear: input of shape {tuple(x.shape)} does not match weight of shape "
                f"{tuple(weight.shape)}: the last input dimension must equal in_features="
                f"{weight.shape[1] if weight.ndim == 2 else '?'}"
            )
        return self.backend.matmul(x, self.backend.permute(weight, (1, 0)))

    def backward(self, grad):
        x, weight = self.inputs
        gx = grad @ weight if self.next_nodes[0] is not None else None
        gw = None
        if self.next_nodes[1] is not None:
            if x.ndim == 1:
                gw = grad.unsqueeze(1) @ x.unsqueeze(0)
            else:
                gw = grad.reshape(-1, grad.shape[-1]).mT @ x.reshape(-1, x.shape[-1])
        return gx, gw

    def backward_arrays(self, grad):
        backend = self.backend
        g = grad
        gx = gw = None
        if self.next_nodes[0] is not None:
            gx = backend.matmul(g, self.inputs[1]._data)
        if self.next_nodes[1] is not None:
            a = self.inputs[0]._data
            if a.ndim == 1:
                g2, a2 = backend.reshape(g, (g.shape[0], 1)), backend.reshape(a, (1, a.shape[0]))
            else:
                g2 = g if g.ndim == 2 else backend.reshape(g, _rows_of(g.shape))
                a2 = a if a.ndim == 2 else backend.reshape(a, _rows_of(a.shape))
                g2 = backend.permute(g2, (1, 0))
            gw = backend.matmul(g2, a2)
        return gx, gw
