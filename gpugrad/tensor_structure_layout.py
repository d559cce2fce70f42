"""PyTorch's layout long tail: ``rot90``, ``ravel``, ``reshape_as``, ``Tensor.unfold``,
``repeat_interleave``, ``sum_to_size`` and the in-place shape forms ``unsqueeze_``,
``squeeze_``, ``t_``, ``transpose_``, ``swapaxes_``/``swapdims_``, ``tril_`` and ``triu_``.

Each composes ``flip``, ``transpose``, ``reshape``, ``expand``, indexing and the reductions, so
gradients, every device and the simulator's costs are those ops' own.
"""
import operator

from . import creation
from . import dtypes as _dtypes
from . import engine as _engine
from .inplace import LEAF_MESSAGE
from .ops import indexing as I
from .ops.broadcast import normalize_dims
from .tensor import Tensor
from .tensor_api import tensor_method
from .tensor_layout_methods import flip
from .tensor_shape_methods import _flat_shape


def _dim(self, dim, op_name):
    return (normalize_dims(dim, self.ndim, op_name) or (0,))[0]


@tensor_method("rot90")
def rot90(self, k=1, dims=(0, 1)):
    """Self rotated by ``k`` quarter turns in the plane of ``dims``, from the first dim towards
    the second (a copy)."""
    dims = tuple(dims)
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if self.ndim < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {self.ndim}")
    d0, d1 = (_dim(self, d, "rot90") for d in dims)
    if d0 == d1:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {d0} and "
                           f"dim1 = {d1}")
    k %= 4
    if k == 1:
        return flip(self, d1).transpose(d0, d1)
    if k == 2:
        return flip(self, d0, d1)
    if k == 3:
        return flip(self, d0).transpose(d0, d1)
    return self.clone()


@tensor_method("ravel")
def ravel(self):
    """Self flattened to 1-d (a view when the strides allow one, as ``reshape``)."""
    return self.reshape(-1)


@tensor_method("reshape_as", function=False)
def reshape_as(self, other):
    """``self.reshape(other.shape)``."""
    return self.reshape(other.shape)


@tensor_method("unfold", function=False)
def unfold(self, dimension, size, step):
    """Every window of ``size`` entries along ``dimension``, ``step`` apart, as a new last
    dim: dim ``dimension`` becomes the number of windows ``(n - size) // step + 1``.

    Unlike PyTorch's (a view that shares self's storage), the result is a copy, gathered by
    index: writes into it do not reach self. Gradients add up over overlapping windows.
    """
    d = _dim(self, dimension, "unfold")
    length = self.shape[d] if self.ndim else 1
    if size > length:
        raise RuntimeError(f"maximum size for tensor at dimension {d} is {length} but size is "
                           f"{size}")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    if self.ndim == 0:
        return self.reshape(1)
    count = (length - size) // step + 1
    backend = self._backend
    starts = I.arange_along(backend, 0, count, 0, 2)
    offsets = I.arange_along(backend, 0, size, 1, 2)
    positions = backend.binary("add", backend.binary("mul", starts, step, _dtypes.int64),
                               offsets, _dtypes.int64)  # (count, size)
    windows = self.__getitem__((slice(None),) * d + (Tensor._make(positions, backend, False),))
    return windows.movedim(d + 1, -1)


@tensor_method("repeat_interleave")
def repeat_interleave(self, repeats=None, dim=None, *, output_size=None):
    """Each entry (or slice along ``dim``) repeated ``repeats`` times in place: an int, or an
    int tensor of one count per entry (or a 1-element one). With ``dim=None`` self is flattened
    first. ``gg.repeat_interleave(counts)`` alone gives ``arange(len(counts))`` repeated."""
    if repeats is None:  # torch.repeat_interleave(repeats): the indices repeated
        counts = self
        return repeat_interleave(creation.arange(counts.shape[0], device=counts.device), counts,
                                 0, output_size=output_size)
    source = self.reshape(-1) if dim is None else self
    d = _dim(source, 0 if dim is None else dim, "repeat_interleave")
    if source.ndim == 0:
        source = source.reshape(1)
    size = source.shape[d]
    if isinstance(repeats, Tensor):
        if repeats.dtype.is_floating_point or repeats.ndim > 1:
            raise RuntimeError("repeat_interleave only accept 1D vector as repeat")
        counts = repeats.reshape(-1).tolist()
        if len(counts) == 1:
            counts = counts * size
        elif len(counts) != size:
            raise RuntimeError("repeats must have the same size as input along dim")
    else:
        counts = [operator.index(repeats)] * size
    if any(c < 0 for c in counts):
        raise RuntimeError("repeats can not be negative")
    if output_size is not None and output_size != sum(counts):
        raise RuntimeError("allocated size does not match required size")
    index = [i for i, c in enumerate(counts) for _ in range(c)]
    return source.index_select(d, creation.tensor(index, dtype=_dtypes.int64,
                                                  device=source.device))


@tensor_method("sum_to_size", function=False)
def sum_to_size(self, *size):
    """Self summed down to ``size``, a shape self broadcasts from (the reduction that undoes
    ``expand``): leading dims are summed away, dims of size 1 in ``size`` summed with keepdim."""
    size = _flat_shape(size)
    lead = self.ndim - len(size)
    if lead < 0 or any(s != 1 and s != self.shape[lead + i] for i, s in enumerate(size)):
        raise RuntimeError(f"size {{{', '.join(map(str, size))}}} is not expandable to size "
                           f"{{{', '.join(map(str, self.shape))}}}.")
    out = self
    dims = [lead + i for i, s in enumerate(size) if s == 1 and self.shape[lead + i] != 1]
    if dims:
        out = out.sum(dim=dims, keepdim=True)
    if lead:
        out = out.sum(dim=list(range(lead)))
    return out


# ---- in-place shape changes -----------------------------------------------------------------
def _restride_(self, view):
    """Make self the tensor ``view`` (a view of self, in a new shape): its array and history,
    as PyTorch's in-place shape ops change a tensor's sizes and strides."""
    if _engine.is_grad_enabled() and self._grad_fn is None and self._requires_grad:
        raise RuntimeError(LEAF_MESSAGE)
    self._data = view._data
    self._grad_fn, self._requires_grad = view._grad_fn, view._requires_grad
    if self._view is not None:  # still a view of its root base, one step further
        self._view = view._view
    self._bump_version()
    return self


def _inplace_view(name, method):
    def inplace(self, *args, **kwargs):
        return _restride_(self, getattr(Tensor, method)(self, *args, **kwargs))

    inplace.__doc__ = f"``{method}`` in place: self takes the new shape; returns self."
    tensor_method(name)(inplace)


for _name, _method in (("unsqueeze_", "unsqueeze"), ("squeeze_", "squeeze"), ("t_", "t"),
                       ("transpose_", "transpose"), ("swapaxes_", "transpose"),
                       ("swapdims_", "transpose")):
    _inplace_view(_name, _method)


def _triangle_(self, diagonal, name, keep_lower):
    if self.ndim < 2:
        raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions")
    rows, cols = self.shape[-2:]
    inside = creation.ones(rows, cols, dtype=_dtypes.bool_, device=self.device)
    inside = inside.tril(diagonal) if keep_lower else inside.triu(diagonal)
    return self.masked_fill_(inside.logical_not(), 0)


@tensor_method("tril_")
def tril_(self, diagonal=0):
    """``tril`` in place: the entries above diagonal ``diagonal`` set to zero; returns self."""
    return _triangle_(self, diagonal, "tril_", True)


@tensor_method("triu_")
def triu_(self, diagonal=0):
    """``triu`` in place: the entries below diagonal ``diagonal`` set to zero; returns self."""
    return _triangle_(self, diagonal, "triu_", False)
