"""The rearranging methods of ``Tensor``: ``unflatten``, ``movedim``/``moveaxis``,
``swapaxes``/``swapdims``, ``select``, ``split``, ``chunk``, ``unbind``, ``repeat``, ``tile``,
``roll`` and ``flip``/``fliplr``/``flipud``, with PyTorch's signatures and errors.

Each composes the layout ops of ``ops.shape`` (reshape, permute, expand, basic indexing,
concatenation), so gradients and every device's costs come from those: the pieces of ``split``,
``chunk`` and ``unbind`` are views, as in PyTorch; ``repeat``, ``tile``, ``roll`` and ``flip``
copy.
"""
import math
import operator

from .ops import casts as CASTS
from .ops import shape as S
from .ops.broadcast import normalize_dims
from .tensor_api import tensor_method
from .tensor_shape_methods import _flat_shape, _resolve_shape, cat, transpose


def _dim(self, dim, op_name):
    return (normalize_dims(dim, self.ndim, op_name) or (0,))[0]


def _alias(name, target, doc):
    """Bind ``name`` as a method and function that calls ``target`` (PyTorch's aliases)."""
    def alias(self, *args, **kwargs):
        return target(self, *args, **kwargs)

    tensor_method(name, doc)(alias)


_alias("swapaxes", transpose, "``self.transpose(axis0, axis1)``: the two dims swapped.")
_alias("swapdims", transpose, "``self.transpose(dim0, dim1)``: the two dims swapped.")


@tensor_method("unflatten")
def unflatten(self, dim, sizes):
    """Dimension ``dim`` split into dimensions of ``sizes`` (one may be -1, inferred), whose
    product must be its size; a view when the strides allow one, as ``reshape``."""
    d = _dim(self, dim, "unflatten")
    sizes = tuple(sizes)
    if not sizes:
        raise RuntimeError("unflatten: sizes must be non-empty")
    try:
        sizes = _resolve_shape(sizes, self.shape[d])
    except RuntimeError:
        raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the "
                           f"size of dim {dim} ({self.shape[d]}) in the input tensor") from None
    return self.reshape(self.shape[:d] + sizes + self.shape[d + 1:])


@tensor_method("movedim")
def movedim(self, source, destination):
    """Dims ``source`` (an int or a tuple) moved to positions ``destination``; the other dims
    keep their order. Always a view."""
    src = (source,) if isinstance(source, int) else tuple(source)
    dst = (destination,) if isinstance(destination, int) else tuple(destination)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({list(src)} "
                           f"dims) should contain the same number of dims as destination "
                           f"({list(dst)} dims)")
    for what, dims in (("source", src), ("destination", dst)):
        normalized = [_dim(self, d, "movedim") for d in dims]
        if len(set(normalized)) != len(normalized):
            raise RuntimeError(f"movedim: repeated dim in `{what}` ({list(dims)})")
    order = [None] * self.ndim
    for s, d in zip(src, dst):
        order[_dim(self, d, "movedim")] = _dim(self, s, "movedim")
    rest = iter(d for d in range(self.ndim) if d not in order)
    return self.permute(*[next(rest) if d is None else d for d in order])


_alias("moveaxis", movedim, "``self.movedim(source, destination)``.")


@tensor_method("select")
def select(self, dim, index):
    """The slice of self at ``index`` along ``dim``, without that dim (``x[:, i]`` for dim 1):
    a view."""
    if self.ndim == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    d = _dim(self, dim, "select")
    size = self.shape[d]
    index = operator.index(index)
    if not -size <= index < size:
        raise IndexError(f"select(): index {index} out of range for tensor of size "
                         f"{list(self.shape)} at dimension {d}")
    return S.Getitem.apply(self, index=(slice(None),) * d + (index % size,))


@tensor_method("split")
def split(self, split_size_or_sections, dim=0) -> tuple:
    """Self cut along ``dim`` into pieces (views): of ``split_size_or_sections`` entries each
    (the last may be smaller) when it is an int, else of the sizes it lists (which must add up
    to the size of ``dim``). Returns a tuple; an empty ``dim`` cut by size is one empty
    piece, as in PyTorch."""
    d = _dim(_at_least_1d(self, "split"), dim, "split")
    size = self.shape[d]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step < 0 or (step == 0 and size):
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got "
                               f"dimension size of {size}")
        sizes = [min(step, size - start) for start in range(0, size, step)] if size else [0]
    else:
        sizes = [operator.index(s) for s in split_size_or_sections]
        if sum(sizes) != size or any(s < 0 for s in sizes):
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {size} "
                               f"(input tensor's size at dimension {d}), but got "
                               f"split_sizes={sizes}")
    pieces, start = [], 0
    for length in sizes:
        pieces.append(self.narrow(d, start, length))
        start += length
    return tuple(pieces)


@tensor_method("chunk")
def chunk(self, chunks, dim=0) -> tuple:
    """Self cut along ``dim`` into ``chunks`` views of ``ceil(size / chunks)`` entries (the
    last may be smaller, and there may be fewer pieces than ``chunks``, as in PyTorch; an
    empty ``dim`` gives ``chunks`` empty pieces)."""
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    d = _dim(_at_least_1d(self, "chunk"), dim, "chunk")
    if self.shape[d] == 0:
        return tuple(self.narrow(d, 0, 0) for _ in range(chunks))
    return split(self, math.ceil(self.shape[d] / chunks), d)


def _at_least_1d(self, op_name):
    if self.ndim == 0:
        raise RuntimeError(f"{op_name} expects at least a 1-dimensional tensor")
    return self


@tensor_method("unbind")
def unbind(self, dim=0) -> tuple:
    """The slices of self along ``dim``, each without that dim, as a tuple of views."""
    d = _dim(self, dim, "unbind")
    return tuple(select(self, d, i) for i in range(self.shape[d]))


@tensor_method("repeat", function=False)
def repeat(self, *sizes):
    """Self tiled ``sizes[i]`` times along each dim (``sizes`` may have more entries than self
    has dims: leading ones are new dims), a copy: ``x.repeat(2, 1)`` stacks x on itself."""
    sizes = _flat_shape(sizes)
    if len(sizes) < self.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number "
                           "of dimensions of tensor")
    shape = (1,) * (len(sizes) - self.ndim) + self.shape
    # each dim s gets a size-1 dim in front that broadcasts to its count of copies
    interleaved = tuple(x for s in shape for x in (1, s))
    expanded = tuple(x for r, s in zip(sizes, shape) for x in (r, s))
    final = tuple(r * s for r, s in zip(sizes, shape))
    if all(r == 1 for r in sizes):  # nothing to expand, but still a copy, as in PyTorch
        return CASTS.Identity.apply(self.reshape(final))
    return self.reshape(interleaved).expand(expanded).reshape(final)


@tensor_method("tile")
def tile(self, dims):
    """``repeat`` with ``dims`` padded with leading ones to self's ndim (so ``x.tile((2,))``
    of a matrix repeats its columns)."""
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    return repeat(self, (1,) * (self.ndim - len(dims)) + dims)


@tensor_method("roll")
def roll(self, shifts, dims=None):
    """Self's entries shifted cyclically by ``shifts`` along ``dims`` (ints or tuples of one
    length); with ``dims=None``, along the flattened tensor, whose shape comes back."""
    shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    if dims is None:
        if len(shifts) != 1:
            raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:0")
        return roll(self.reshape(-1), shifts, 0).reshape(self.shape)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, "
                           f"dims:{len(dims)}")
    out = self
    for shift, dim in zip(shifts, dims):
        d = _dim(self, dim, "roll")
        size = self.shape[d]
        shift = shift % size if size else 0
        if shift:
            out = cat([out.narrow(d, size - shift, shift), out.narrow(d, 0, size - shift)], d)
    return out if out is not self else CASTS.Identity.apply(self)


@tensor_method("flip")
def flip(self, *dims):
    """Self with the order of its entries reversed along ``dims`` (a copy, as in PyTorch)."""
    dims = _flat_shape(dims)
    normalized = normalize_dims(dims, self.ndim, "flip")  # (which refuses repeated dims)
    index = tuple(slice(None, None, -1) if d in normalized else slice(None)
                  for d in range(self.ndim))
    return CASTS.Identity.apply(S.Getitem.apply(self, index=index))


@tensor_method("fliplr")
def fliplr(self):
    """``self.flip(1)``: each row reversed (self must have at least 2 dims)."""
    if self.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return flip(self, 1)


@tensor_method("flipud")
def flipud(self):
    """``self.flip(0)``: the rows in reverse order (self must have at least 1 dim)."""
    if self.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return flip(self, 0)
