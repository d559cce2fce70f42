"""``gg.linalg``: PyTorch's ``torch.linalg`` norms on gpugrad tensors.

Built from ``Tensor.norm`` and the reductions, so gradients, devices and the sim's costs follow.
Matrix decompositions (``svd``, ``eigh``, ``solve``...) are not implemented: they raise
``NotImplementedError`` naming the function.
"""
import math

from .tensor import Tensor
from .tensor_structure_linalg import cross_along
from .tensor_structure_linalg import matrix_power as _matrix_power

_MATRIX_ORDS = ("fro", 1, -1, math.inf, -math.inf)


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    """The ``ord``-norm of ``x`` as a vector (over ``dim``, all elements by default): ``ord`` is
    any number, ``inf`` (max of absolute values) or ``-inf`` (min)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"linalg.vector_norm(): argument 'x' must be Tensor, not "
                        f"{type(x).__name__}")
    if isinstance(ord, str):
        raise RuntimeError(f"linalg.vector_norm: ord must be a number, got {ord!r}; use "
                           f"linalg.matrix_norm for 'fro'")
    if dtype is not None:
        x = x.to(dtype)
    return x.norm(p=ord, dim=dim, keepdim=keepdim)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):
    """The matrix norm of ``A`` over the two dims ``dim``: ``'fro'`` (Frobenius), ``1``/``-1``
    (max/min column sum of absolute values), ``inf``/``-inf`` (max/min row sum). ``'nuc'`` and
    ``2`` need singular values, which gpugrad does not compute."""
    if ord not in _MATRIX_ORDS:
        raise NotImplementedError(f"linalg.matrix_norm: ord={ord!r} needs singular values, which "
                                  f"gpugrad does not compute; use 'fro', 1, -1, inf or -inf")
    if A.ndim < 2:
        raise RuntimeError(f"linalg.matrix_norm: The input tensor A must have at least 2 "
                           f"dimensions, got {A.ndim}")
    if dtype is not None:
        A = A.to(dtype)
    rows, cols = (d % A.ndim for d in dim)
    if ord == "fro":
        return A.norm(p="fro", dim=(rows, cols), keepdim=keepdim)
    # ord 1 sums over rows (column sums), inf over columns (row sums); the max/min is then
    # taken over the other dim
    summed, other = (rows, cols) if ord in (1, -1) else (cols, rows)
    sums = A.abs().sum(dim=summed, keepdim=True)
    pick = sums.amax if ord > 0 else sums.amin
    result = pick(dim=other, keepdim=True)
    return result if keepdim else result.squeeze((rows, cols))


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):
    """``vector_norm`` or ``matrix_norm`` as PyTorch chooses: with ``ord=None`` the 2-norm of
    the flattened tensor (or over ``dim``); a 2-d ``dim`` or a string ``ord`` means a matrix
    norm."""
    if ord is None:
        return vector_norm(A, 2, dim=dim, keepdim=keepdim, dtype=dtype)
    if isinstance(ord, str) or (dim is None and A.ndim == 2) or \
            (isinstance(dim, (tuple, list)) and len(dim) == 2):
        return matrix_norm(A, ord, dim=(-2, -1) if dim is None else dim, keepdim=keepdim,
                           dtype=dtype)
    return vector_norm(A, ord, dim=dim, keepdim=keepdim, dtype=dtype)


def _not_implemented(name):
    def missing(*args, **kwargs):
        raise NotImplementedError(f"gg.linalg.{name} is not implemented in gpugrad; compute it "
                                  f"with NumPy on x.numpy() (no gradient) or use PyTorch")
    missing.__name__ = name
    missing.__doc__ = f"Not implemented: raises ``NotImplementedError`` (PyTorch's ``torch.linalg.{name}``)."
    return missing


svd, eigh, eig, solve, inv, det, qr, cholesky = (
    _not_implemented(n) for n in ("svd", "eigh", "eig", "solve", "inv", "det", "qr", "cholesky"))


def vecdot(x, y, *, dim=-1):
    """The dot products of the vectors along ``dim`` of ``x`` and ``y`` (broadcast together)."""
    if not isinstance(x, Tensor) or not isinstance(y, Tensor):
        raise TypeError("linalg.vecdot(): arguments 'x' and 'y' must be Tensors")
    return (x * y).sum(dim)


def cross(input, other, *, dim=-1):
    """The cross product of the 3-vectors along ``dim`` (default the last) of ``input`` and
    ``other``, broadcast together."""
    return cross_along(input, other, dim, "linalg.cross")


def matrix_power(A, n):
    """``A`` (square matrices) multiplied by itself ``n >= 0`` times; see
    ``Tensor.matrix_power``."""
    return _matrix_power(A, n)
