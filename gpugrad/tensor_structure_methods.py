"""PyTorch's joining and splitting long tail: ``hstack``/``vstack``/``row_stack``/
``column_stack``/``dstack``, ``tensor_split``/``hsplit``/``vsplit``/``dsplit``/
``split_with_sizes``, ``atleast_1d/2d/3d``, ``block_diag``, ``cartesian_prod``, ``meshgrid``,
``broadcast_tensors`` and ``broadcast_shapes``.

Each composes ``cat``, ``narrow``, ``reshape`` and ``expand``, so gradients, every device and
the simulator's costs are those ops' own. The pieces of the splits are views, as in PyTorch;
``meshgrid`` and ``broadcast_tensors`` return expanded views.
"""
import operator

from . import creation
from .dtypes import promote_types
from .ops.broadcast import broadcast_shapes as _broadcast_two
from .ops.broadcast import normalize_dims
from .tensor import Tensor
from .tensor_api import tensor_method
from .tensor_layout_methods import split
from .tensor_queries import Size
from .tensor_shape_methods import cat, stack


def _tensors(tensors, op_name):
    """The tensors of a call ``f(a, b)`` or ``f([a, b])``, checked to be Tensors."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op_name}(): expected Tensor as element {i} in argument 0, but "
                            f"got {type(t).__name__}")
    return tuple(tensors)


def _atleast(tensors, shape_of, op_name):
    single = len(tensors) == 1 and isinstance(tensors[0], Tensor)
    out = tuple(t.reshape(shape_of(t.shape)) for t in _tensors(tensors, op_name))
    return out[0] if single else out


def atleast_1d(*tensors):
    """Each tensor with at least 1 dim (a 0-d one becomes shape (1,)); one tensor in, one out,
    else a tuple."""
    return _atleast(tensors, lambda s: s or (1,), "atleast_1d")


def atleast_2d(*tensors):
    """Each tensor with at least 2 dims: 0-d becomes (1, 1), 1-d (n,) becomes (1, n)."""
    return _atleast(tensors, lambda s: s if len(s) >= 2 else (1,) * (2 - len(s)) + s,
                    "atleast_2d")


def atleast_3d(*tensors):
    """Each tensor with at least 3 dims: 0-d becomes (1, 1, 1), (n,) becomes (1, n, 1) and
    (m, n) becomes (m, n, 1), as in PyTorch (and NumPy)."""
    def shape(s):
        return {0: (1, 1, 1), 1: (1,) + s + (1,), 2: s + (1,)}.get(len(s), s)
    return _atleast(tensors, shape, "atleast_3d")


def _listed(tensors, op_name):
    tensors = _tensors((tensors,), op_name)
    if not tensors:
        raise RuntimeError(f"{op_name} expects a non-empty TensorList")
    return tensors


def hstack(tensors, *, out=None):
    """The tensors joined column-wise: along dim 0 for 1-d tensors, else dim 1 (0-d ones count
    as 1-d)."""
    _no_out(out, "hstack")
    tensors = atleast_1d(_listed(tensors, "hstack"))
    return cat(tensors, 0 if tensors[0].ndim == 1 else 1)


def vstack(tensors, *, out=None):
    """The tensors joined row-wise (along dim 0) after ``atleast_2d``: 1-d tensors become rows."""
    _no_out(out, "vstack")
    return cat(atleast_2d(_listed(tensors, "vstack")), 0)


def row_stack(tensors, *, out=None):
    """``vstack`` (its older name)."""
    return vstack(tensors, out=out)


def dstack(tensors, *, out=None):
    """The tensors joined depth-wise (along dim 2) after ``atleast_3d``."""
    _no_out(out, "dstack")
    return cat(atleast_3d(_listed(tensors, "dstack")), 2)


def column_stack(tensors, *, out=None):
    """The tensors joined as columns (along dim 1): 0-d and 1-d tensors become columns of
    shape (n, 1) first."""
    _no_out(out, "column_stack")
    tensors = _listed(tensors, "column_stack")
    return cat([t.reshape(t.numel(), 1) if t.ndim <= 1 else t for t in tensors], 1)


def _no_out(out, op_name):
    if out is not None:
        raise TypeError(f"{op_name}(out=...) is not supported: use the returned tensor (or "
                        f"out.copy_(result))")


# ---- splitting ------------------------------------------------------------------------------
@tensor_method("tensor_split")
def tensor_split(self, indices_or_sections, dim=0) -> tuple[Tensor, ...]:
    """Self cut along ``dim`` into views: into ``n`` nearly equal pieces for an int ``n`` (the
    first ``size % n`` one entry longer), or at the positions listed (a list, or a 1-d int
    tensor; a 0-d int tensor is a number of sections). Pieces may be empty."""
    if self.ndim == 0:
        raise RuntimeError("tensor_split expected at least a 1-dimensional tensor, but got a "
                           "tensor with 0 dims")
    if isinstance(indices_or_sections, Tensor):
        if indices_or_sections.dtype.is_floating_point or indices_or_sections.ndim > 1:
            raise RuntimeError("tensor_split expected tensor_indices_or_sections to have a long "
                               "dtype and be 0-D or 1-D")
        indices_or_sections = indices_or_sections.tolist()
    d = normalize_dims(dim, self.ndim, "tensor_split")[0]
    size = self.shape[d]
    if isinstance(indices_or_sections, (list, tuple)):
        bounds = [operator.index(i) for i in indices_or_sections]
    else:
        sections = operator.index(indices_or_sections)
        if sections <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {sections}")
        small, extra = divmod(size, sections)
        bounds, start = [], 0
        for i in range(sections - 1):
            start += small + (i < extra)
            bounds.append(start)
    pieces, start = [], 0
    for end in bounds + [size]:
        begin, stop, _ = slice(start, end).indices(size)  # Python slicing's clamping
        pieces.append(self.narrow(d, begin, max(stop - begin, 0)))
        start = end
    return tuple(pieces)


def _split_along(self, indices_or_sections, dim, op_name):
    if isinstance(indices_or_sections, int):
        size = self.shape[dim]
        if indices_or_sections == 0 or size % indices_or_sections:
            raise RuntimeError(f"torch.{op_name} attempted to split along dimension {dim}, but "
                               f"the size of the dimension {size} is not divisible by the "
                               f"split_size {indices_or_sections}!")
    return tensor_split(self, indices_or_sections, dim)


@tensor_method("hsplit")
def hsplit(self, indices_or_sections) -> tuple[Tensor, ...]:
    """``tensor_split`` along dim 1 (dim 0 for a 1-d tensor); an int must divide the size."""
    if self.ndim == 0:
        raise RuntimeError("torch.hsplit requires a tensor with at least 1 dimension, but got "
                           "a tensor with 0 dimensions!")
    return _split_along(self, indices_or_sections, 0 if self.ndim == 1 else 1, "hsplit")


@tensor_method("vsplit")
def vsplit(self, indices_or_sections) -> tuple[Tensor, ...]:
    """``tensor_split`` along dim 0 of a tensor of at least 2 dims; an int must divide the
    size."""
    if self.ndim < 2:
        raise RuntimeError(f"torch.vsplit requires a tensor with at least 2 dimension, but got "
                           f"a tensor with {self.ndim} dimensions!")
    return _split_along(self, indices_or_sections, 0, "vsplit")


@tensor_method("dsplit")
def dsplit(self, indices_or_sections) -> tuple[Tensor, ...]:
    """``tensor_split`` along dim 2 of a tensor of at least 3 dims; an int must divide the
    size."""
    if self.ndim < 3:
        raise RuntimeError(f"torch.dsplit requires a tensor with at least 3 dimension, but got "
                           f"a tensor with {self.ndim} dimensions!")
    return _split_along(self, indices_or_sections, 2, "dsplit")


@tensor_method("split_with_sizes")
def split_with_sizes(self, split_sizes, dim=0) -> tuple[Tensor, ...]:
    """``split`` with a list of sizes (which must add up to the size of ``dim``): views."""
    return split(self, list(split_sizes), dim)


# ---- grids and broadcasting -----------------------------------------------------------------
def block_diag(*tensors):
    """The block-diagonal matrix with the given tensors (0-d, 1-d as a row, or 2-d) as its
    blocks, zeros elsewhere; the dtype is the promotion of theirs."""
    blocks = []
    for i, t in enumerate(_tensors(tensors, "block_diag")):
        if t.ndim > 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer "
                               f"dimensions. Input {i} has {t.ndim} dimensions")
        blocks.append(t.reshape((1,) * (2 - t.ndim) + t.shape))
    if not blocks:
        return creation.empty(1, 0)
    dtype = blocks[0].dtype
    for b in blocks[1:]:
        dtype = promote_types(dtype, b.dtype)
    width = sum(b.shape[1] for b in blocks)
    rows, left = [], 0
    for b in blocks:
        rows_, cols = b.shape
        pad = dict(dtype=dtype, device=b.device)
        rows.append(cat([creation.zeros(rows_, left, **pad), b.to(dtype),
                         creation.zeros(rows_, width - left - cols, **pad)], 1))
        left += cols
    return cat(rows, 0)


def meshgrid(*tensors, indexing=None):
    """Coordinate grids from 1-d tensors: with ``indexing='ij'`` (the default, as PyTorch's)
    grid ``i`` varies along dim ``i``; with ``'xy'`` the first two dims are swapped (NumPy's
    Cartesian order). Returns a tuple of expanded views."""
    tensors = _tensors(tensors, "meshgrid")
    if indexing not in (None, "ij", "xy"):
        raise RuntimeError(f"torch.meshgrid: indexing must be one of \"xy\" or \"ij\", but "
                           f"received: {indexing}")
    for t in tensors:
        if t.ndim > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list "
                               f"but got: {t.ndim}D tensor")
    swap = indexing == "xy" and len(tensors) >= 2
    order = [1, 0] + list(range(2, len(tensors))) if swap else list(range(len(tensors)))
    ordered = [tensors[i].reshape(-1) for i in order]
    shape = tuple(t.shape[0] for t in ordered)
    grids = []
    for i, t in enumerate(ordered):
        lay = [1] * len(ordered)
        lay[i] = -1
        grids.append(t.reshape(lay).expand(shape))
    return tuple(grids[order.index(i)] for i in range(len(tensors)))


def cartesian_prod(*tensors):
    """The Cartesian product of 1-d tensors as rows of a ``(n1 * n2 * ..., k)`` tensor (one
    tensor comes back as is), in ``itertools.product``'s order."""
    tensors = _tensors(tensors, "cartesian_prod")
    for t in tensors:
        if t.ndim != 1:
            raise RuntimeError(f"Expect a 1D vector, but got shape {list(t.shape)}")
    if len(tensors) == 1:
        return tensors[0]
    return stack([g.reshape(-1) for g in meshgrid(*tensors, indexing="ij")], 1)


def broadcast_shapes(*shapes):
    """The shape the given shapes (tuples, or ints for 1-d shapes) broadcast to, as a
    ``gg.Size``; raises when they do not broadcast."""
    out = ()
    for shape in shapes:
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        try:
            out = _broadcast_two("broadcast_shapes", out, shape)
        except RuntimeError:
            raise RuntimeError("Shape mismatch: objects cannot be broadcast to a single "
                               "shape.") from None
    return Size(out)


def broadcast_tensors(*tensors):
    """The tensors expanded to their common broadcast shape (views), as a tuple."""
    tensors = _tensors(tensors, "broadcast_tensors")
    shape = tuple(broadcast_shapes(*(t.shape for t in tensors)))
    return tuple(t.expand(shape) for t in tensors)
