"""PyTorch's linear-algebra long tail built from products and reductions: ``trace``, ``cross``,
``kron``, ``inner``, ``tensordot``, ``cdist``, ``dist``, ``renorm``, ``matrix_power``, ``cov``
and ``corrcoef``.

Each composes ``matmul``, broadcasting arithmetic, ``norm`` and the reductions, so gradients,
every device and the simulator's costs are those ops' own.
"""
import operator

from . import creation
from .ops.broadcast import broadcast_shapes, normalize_dims
from .tensor import Tensor
from .tensor_api import tensor_method
from .tensor_shape_methods import cat


def _tensor_arg(other, op_name, argument="other", position=1):
    if not isinstance(other, Tensor):
        raise TypeError(f"{op_name}(): argument '{argument}' (position {position}) must be "
                        f"Tensor, not {type(other).__name__}")
    return other


@tensor_method("trace")
def trace(self):
    """The sum of the main diagonal of a 2-d tensor."""
    if self.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {self.ndim}")
    return self.diagonal().sum()


def cross_along(a, b, dim, op_name):
    """The cross product of 3-vectors along ``dim`` (``None``: the first dim of size 3) of
    ``a`` and ``b`` broadcast together."""
    _tensor_arg(b, op_name)
    if a.ndim != b.ndim:
        raise RuntimeError(f"{op_name}: inputs must have the same number of dimensions.")
    shape = broadcast_shapes(op_name, a.shape, b.shape)
    a, b = a.expand(shape), b.expand(shape)
    if dim is None:
        dim = next((i for i, s in enumerate(shape) if s == 3), None)
        if dim is None:
            raise RuntimeError("no dimension of size 3 in input")
    d = normalize_dims(dim, len(shape), op_name)[0]
    if shape[d] != 3:
        raise RuntimeError(f"{op_name}: inputs dimension {dim} must have length 3. Got "
                           f"{a.shape[d]} and {b.shape[d]}")
    x0, x1, x2 = (a.narrow(d, i, 1) for i in range(3))
    y0, y1, y2 = (b.narrow(d, i, 1) for i in range(3))
    return cat([x1 * y2 - x2 * y1, x2 * y0 - x0 * y2, x0 * y1 - x1 * y0], d)


@tensor_method("cross")
def cross(self, other, dim=None):
    """The cross product of 3-vectors along ``dim`` (by default the first dim of size 3); the
    two tensors broadcast together."""
    return cross_along(self, other, dim, "linalg.cross")


@tensor_method("kron")
def kron(self, other):
    """The Kronecker product: every entry of self times all of ``other``, as blocks (the
    shorter shape padded with leading ones)."""
    _tensor_arg(other, "kron")
    ndim = max(self.ndim, other.ndim)
    shape_a = (1,) * (ndim - self.ndim) + self.shape
    shape_b = (1,) * (ndim - other.ndim) + other.shape
    # interleaved dims (a0, 1, a1, 1...) * (1, b0, 1, b1...) broadcast to (a0, b0, a1, b1...)
    a = self.reshape(tuple(x for s in shape_a for x in (s, 1)))
    b = other.reshape(tuple(x for s in shape_b for x in (1, s)))
    return (a * b).reshape(tuple(p * q for p, q in zip(shape_a, shape_b)))


@tensor_method("inner")
def inner(self, other):
    """Products summed over the last dim of both (the dot product of vectors; for higher
    ranks, of every pair of last-dim vectors); a 0-d operand multiplies."""
    _tensor_arg(other, "inner")
    if self.ndim == 0 or other.ndim == 0:
        return self * other
    if self.shape[-1] != other.shape[-1]:
        raise RuntimeError(f"inner() the last dimension must match on both input tensors but "
                           f"got shapes {list(self.shape)} and {list(other.shape)}")
    return tensordot(self, other, dims=([-1], [-1]))


def tensordot(a, b, dims=2, out=None):
    """Products summed over ``dims`` of ``a`` and ``b``: an int ``n`` (the last ``n`` of ``a``
    with the first ``n`` of ``b``) or two lists of dims; the result has ``a``'s other dims then
    ``b``'s."""
    if out is not None:
        raise TypeError("tensordot(out=...) is not supported: use the returned tensor")
    _tensor_arg(b, "tensordot", "b")
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        dims_a, dims_b = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        dims_a, dims_b = ([d] if isinstance(d, int) else list(d) for d in dims)
    if len(dims_a) != len(dims_b):
        raise RuntimeError("both dimension lists should have same length")
    dims_a = [normalize_dims(d, a.ndim, "tensordot")[0] for d in dims_a]
    dims_b = [normalize_dims(d, b.ndim, "tensordot")[0] for d in dims_b]
    for da, db in zip(dims_a, dims_b):
        if a.shape[da] != b.shape[db]:
            raise RuntimeError(f"contracted dimensions need to match, but first has size "
                               f"{a.shape[da]} in dim {da} and second has size {b.shape[db]} "
                               f"in dim {db}")
    free_a = [d for d in range(a.ndim) if d not in dims_a]
    free_b = [d for d in range(b.ndim) if d not in dims_b]
    size = 1
    for d in dims_a:
        size *= a.shape[d]
    left = a.permute(*free_a, *dims_a).reshape(-1, size)
    right = b.permute(*dims_b, *free_b).reshape(size, -1)
    return (left @ right).reshape(tuple(a.shape[d] for d in free_a) +
                                  tuple(b.shape[d] for d in free_b))


def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """The ``p``-norm distance between each row of ``x1`` (``(..., P, M)``) and each row of
    ``x2`` (``(..., R, M)``): ``(..., P, R)``. ``compute_mode`` is accepted and ignored: the
    distances are always computed directly from the differences (PyTorch's matmul shortcut
    for ``p=2`` trades accuracy for speed). Gradients are 0 at a zero distance, as PyTorch's."""
    _tensor_arg(x2, "cdist", "x2")
    if x1.ndim < 2 or x2.ndim < 2:
        raise RuntimeError(f"cdist only supports at least 2D tensors, X1 got: {x1.ndim}D")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: "
                           f"{x1.shape[-1]} X2: {x2.shape[-1]}")
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    difference = x1.unsqueeze(-2) - x2.unsqueeze(-3)
    return difference.norm(p=p, dim=-1)


@tensor_method("dist")
def dist(self, other, p=2):
    """The ``p``-norm of ``self - other`` (broadcast), a 0-d tensor: ``norm(self - other, p)``
    with its gradients (0 at a zero distance, as PyTorch's)."""
    _tensor_arg(other, "dist")
    if not (self.dtype.is_floating_point and other.dtype.is_floating_point):
        raise RuntimeError(f"norm(): input dtype should be either floating point or complex. "
                           f"Got {(other if self.dtype.is_floating_point else self).dtype} "
                           f"instead.")
    return (self - other).norm(p=p)


@tensor_method("renorm")
def renorm(self, p, dim, maxnorm):
    """Each slice of ``self`` along ``dim`` (``self.select(dim, i)``) whose ``p``-norm exceeds
    ``maxnorm``, scaled to that norm (by ``maxnorm / (norm + 1e-7)``, as PyTorch); the others
    unchanged. Gradients flow through the norm as well, as PyTorch's."""
    if self.ndim < 2:
        raise RuntimeError(f"renorm: input needs at least 2 dimensions, got {self.ndim} "
                           f"dimensions")
    if p <= 0:
        raise RuntimeError("renorm: non-positive-norm not supported")
    if maxnorm < 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm:g}")
    (dim,) = normalize_dims(dim, self.ndim, "renorm")
    others = tuple(d for d in range(self.ndim) if d != dim)
    scaled = self.detach().norm(p=p, dim=others, keepdim=True) > maxnorm
    # the norms again, of the scaled slices only: the others (a NaN one too) pass the gradient
    # through untouched, none of it through their norm, as PyTorch's renorm_backward
    norms = self.masked_fill(~scaled, 0.0).norm(p=p, dim=others, keepdim=True)
    return self * (maxnorm / (norms + 1e-7)).where(scaled, 1.0)


@tensor_method("matrix_power")
def matrix_power(self, n):
    """Self (a square matrix, or a batch of them) multiplied by itself ``n`` times (the
    identity for ``n=0``). Negative ``n`` needs the inverse, which gpugrad does not compute."""
    n = operator.index(n)
    if self.ndim < 2 or self.shape[-1] != self.shape[-2]:
        raise RuntimeError(f"linalg.matrix_power: A must be batches of square matrices, but "
                           f"they are {self.shape[-2] if self.ndim >= 2 else 1} by "
                           f"{self.shape[-1] if self.ndim else 1} matrices")
    if n < 0:
        raise NotImplementedError("matrix_power with a negative n needs the matrix inverse, "
                                  "which gpugrad does not implement; use n >= 0")
    if n == 0:
        eye = creation.eye(self.shape[-1], dtype=self.dtype, device=self.device)
        return eye.expand(self.shape).clone()
    result, power = None, self
    while n:  # binary exponentiation: log2(n) squarings
        if n & 1:
            result = power if result is None else result @ power
        n >>= 1
        if n:
            power = power @ power
    return result if result is not self else self.clone()


@tensor_method("cov")
def cov(self, *, correction=1, fweights=None, aweights=None):
    """The covariance matrix of the variables in the rows of self (a 1-d tensor is one
    variable), its columns the observations; ``correction=1`` is Bessel's. ``fweights``
    (integer repeat counts) and ``aweights`` (importance weights) weight the observations."""
    if self.ndim > 2:
        raise RuntimeError(f"cov(): expected input to have two or fewer dimensions but got an "
                           f"input with {self.ndim} dimensions")
    x = self.reshape(1, -1) if self.ndim < 2 else self
    if not x.dtype.is_floating_point:
        x = x.float()
    observations = x.shape[1]
    weights = None
    for name, w in (("fweights", fweights), ("aweights", aweights)):
        if w is None:
            continue
        if w.ndim > 1 or w.numel() != observations:
            raise RuntimeError(f"cov(): expected {name} to have one dimension and "
                               f"{observations} elements, but got {list(w.shape)}")
        if name == "fweights" and w.dtype.is_floating_point:
            raise RuntimeError("cov(): expected fweights to have integral dtype")
        weights = w if weights is None else weights * w
    if weights is None:
        mean = x.mean(1, keepdim=True)
        total = observations
        norm = observations - correction
    else:
        weights = weights.to(x.dtype)
        total = weights.sum()
        mean = (x * weights).sum(1, keepdim=True) / total
        if aweights is None:
            norm = total - correction
        else:
            norm = total - correction * (weights * aweights).sum() / total
    if isinstance(norm, Tensor):
        norm = norm.clamp(min=0)
    else:
        norm = max(norm, 0)
    centered = x - mean
    weighted = centered if weights is None else centered * weights
    return (weighted @ centered.T / norm).squeeze()


@tensor_method("corrcoef")
def corrcoef(self):
    """The Pearson correlation coefficients of the variables in the rows of self (``cov``
    normalised by the standard deviations, clipped to [-1, 1])."""
    c = cov(self)
    if c.ndim == 0:
        return c / c
    std = c.diagonal().sqrt()
    return (c / std.unsqueeze(1) / std.unsqueeze(0)).clamp(-1, 1)
