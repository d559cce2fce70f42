"""The fixed-rank matrix products of ``Tensor``: ``mm``, ``bmm``, ``mv``, ``dot``/``vdot``,
``outer``/``ger`` and the fused-looking ``addmm``, ``addmv``, ``baddbmm``, with PyTorch's
signatures and its errors for operands of the wrong rank or shape (``matmul``, which accepts
every rank, is in ``tensor_methods``).

Each checks its operands and runs ``ops.matmul.Matmul`` (or, for ``outer``, a broadcast
multiply), so gradients and every device's costs are matmul's own.
"""
from .ops import matmul as M
from .tensor_api import tensor_argument, tensor_method




@tensor_method("mm")
def mm(self, mat2):
    """The matrix product of two 2-d tensors, ``(n, m) @ (m, p) -> (n, p)`` (no broadcasting:
    use ``matmul`` for other ranks). Both must have one dtype."""
    tensor_argument(mat2, "mm", "mat2")
    if self.ndim != 2:
        raise RuntimeError("self must be a matrix")
    if mat2.ndim != 2:
        raise RuntimeError("mat2 must be a matrix")
    if self.shape[1] != mat2.shape[0]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({self.shape[0]}x"
                           f"{self.shape[1]} and {mat2.shape[0]}x{mat2.shape[1]})")
    return M.Matmul.apply(self, mat2)


@tensor_method("bmm")
def bmm(self, mat2):
    """Batched matrix products of two 3-d tensors, ``(b, n, m) @ (b, m, p) -> (b, n, p)``, one
    batch size for both (no broadcasting: use ``matmul``)."""
    tensor_argument(mat2, "bmm", "mat2")
    if self.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor")
    if mat2.ndim != 3:
        raise RuntimeError("batch2 must be a 3D tensor")
    if mat2.shape[:2] != (self.shape[0], self.shape[2]):
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{self.shape[0]}, {self.shape[2]}] but got: "
                           f"[{mat2.shape[0]}, {mat2.shape[1]}].")
    return M.Matmul.apply(self, mat2)


@tensor_method("mv")
def mv(self, vec):
    """The product of a 2-d tensor and a 1-d one, ``(n, m) @ (m,) -> (n,)``."""
    tensor_argument(vec, "mv", "vec")
    if self.ndim != 2 or vec.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got 1, {self.ndim}, {vec.ndim}")
    if self.shape[1] != vec.shape[0]:
        raise RuntimeError(f"size mismatch, got input ({self.shape[0]}), mat ({self.shape[0]}x"
                           f"{self.shape[1]}), vec ({vec.shape[0]})")
    return M.Matmul.apply(self, vec)


@tensor_method("dot")
def dot(self, tensor):
    """The inner product of two 1-d tensors of one size and dtype, a 0-d tensor."""
    tensor_argument(tensor, "dot", "tensor")
    if self.ndim != 1 or tensor.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {self.ndim}D and {tensor.ndim}D tensors")
    if self.shape != tensor.shape:
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{self.shape[0]}] and src "
                           f"[{tensor.shape[0]}] to have the same number of elements, but got "
                           f"{self.shape[0]} and {tensor.shape[0]} elements respectively")
    if self.dtype is not tensor.dtype:
        raise RuntimeError(f"dot : expected both vectors to have same dtype, but found "
                           f"{self.dtype.name} and {tensor.dtype.name}")
    return M.Matmul.apply(self, tensor)


@tensor_method("vdot")
def vdot(self, other):
    """``dot`` (gpugrad has no complex dtypes, whose first operand vdot would conjugate)."""
    return dot(self, other)


@tensor_method("outer")
def outer(self, vec2):
    """The outer product of two 1-d tensors, ``out[i, j] = self[i] * vec2[j]`` (dtypes promote,
    as in PyTorch)."""
    tensor_argument(vec2, "outer", "vec2")
    for name, vec in (("self", self), ("vec2", vec2)):
        if vec.ndim != 1:
            raise RuntimeError(f"outer: Expected 1-D argument {name}, but got {vec.ndim}-D")
    return self.reshape(-1, 1) * vec2.reshape(1, -1)


@tensor_method("ger")
def ger(self, vec2):
    """``outer`` (PyTorch's older name)."""
    return outer(self, vec2)


def _scaled_sum(input, product, beta, alpha):
    """``beta * input + alpha * product``, ``input`` broadcast to the product's shape; with
    ``beta=0`` input is ignored (its nan and inf too), as in PyTorch."""
    out = product if alpha == 1 else product * alpha
    input = input.expand(product.shape)
    if beta == 0:
        return out
    return out + (input if beta == 1 else input * beta)


@tensor_method("addmm")
def addmm(self, mat1, mat2, *, beta=1, alpha=1):
    """``beta * self + alpha * (mat1 @ mat2)`` for 2-d ``mat1`` and ``mat2``; self broadcasts
    to the product's shape (a bias row, say)."""
    return _scaled_sum(self, mm(tensor_argument(mat1, "addmm", "mat1"), mat2), beta, alpha)


@tensor_method("addmv")
def addmv(self, mat, vec, *, beta=1, alpha=1):
    """``beta * self + alpha * (mat @ vec)`` for a 2-d ``mat`` and a 1-d ``vec``."""
    return _scaled_sum(self, mv(tensor_argument(mat, "addmv", "mat"), vec), beta, alpha)


@tensor_method("baddbmm")
def baddbmm(self, batch1, batch2, *, beta=1, alpha=1):
    """``beta * self + alpha * bmm(batch1, batch2)`` for 3-d batches."""
    batch1 = tensor_argument(batch1, "baddbmm", "batch1")
    return _scaled_sum(self, bmm(batch1, batch2), beta, alpha)
