"""Layout ops: reshape, permute, expand and basic indexing (views of their input), indexing's
adjoint and writes, and concatenation."""
import numbers

from ..backends.base import view_strides
from ..dtypes import promote_types
from ..finfo import check_fits
from ..engine.function import Function, devices_differ_error
from ..tensor import Tensor
from .. import inplace, views
from ..views import ViewFunction, region_of
from .broadcast import broadcast_mismatch, read_only_error, sum_to, sum_to_array
from .elementwise import zero_gradient


def can_view(backend, array, shape):
    """True when ``array`` can take ``shape`` as a view (always for a contiguous array)."""
    return backend.is_contiguous(array) or \
        view_strides(tuple(array.shape), backend.strides(array), shape) is not None


class Reshape(ViewFunction):
    """A new shape: a view when the strides allow one, else a copy (``reshape``'s rule)."""

    @classmethod
    def shares_storage(cls, base, params):
        return can_view(base._backend, base._data, params["shape"])

    @staticmethod
    def view_array(backend, array, params):
        return backend.reshape(array, params["shape"])

    def forward(self, a, shape=None):
        self.in_shape = a.shape
        return self.backend.reshape(a, shape)

    def backward(self, grad):
        return grad.reshape(self.in_shape)

    def backward_arrays(self, grad):
        return self.backend.reshape(grad, self.in_shape)


class Permute(ViewFunction):
    """Dimensions reordered (``permute``, ``transpose``, ``T``): always a view."""

    @staticmethod
    def view_array(backend, array, params):
        return backend.permute(array, params["axes"])

    def forward(self, a, axes=None):
        self.axes = axes
        return self.backend.permute(a, axes)

    def backward(self, grad):
        return grad.permute(*self.inverse_axes())

    def backward_arrays(self, grad):
        return self.backend.permute(grad, tuple(self.inverse_axes()))

    def inverse_axes(self):
        """The permutation that undoes ``axes``."""
        inverse = [0] * len(self.axes)
        for i, axis in enumerate(self.axes):
            inverse[axis] = i
        return inverse


class Expand(Function):
    """Size-1 dimensions broadcast, read-only, for gradients of reductions (which only read
    it): on small NumPy arrays a dense copy is cheaper to make than a view."""

    def forward(self, a, shape=None, view=False):
        self.in_shape = a.shape
        return self.backend.broadcast_to(a, shape, view)

    def backward(self, grad):
        return sum_to(grad, self.in_shape)

    def backward_arrays(self, grad):
        return sum_to_array(self.backend, grad, self.in_shape)


class ExpandView(ViewFunction, Expand):
    """``Tensor.expand``: a read-only view whose expanded dimensions have stride 0."""

    @staticmethod
    def view_array(backend, array, params):
        return backend.broadcast_to(array, params["shape"], True)

    def forward(self, a, shape=None):
        return Expand.forward(self, a, shape, True)


def is_basic(index):
    """True for an index of ints, slices, None and Ellipsis only (it selects a view)."""
    for entry in index:
        kind = type(entry)
        if kind is not int and kind is not slice and entry is not None and entry is not Ellipsis:
            return False
    return True


class Getitem(ViewFunction):
    """``a[index]``; ``index`` holds ints, slices, None, Ellipsis and backend index arrays.
    Basic indexing (no arrays) gives a view, as in PyTorch; index arrays give a copy."""

    @classmethod
    def shares_storage(cls, base, params):
        return is_basic(params["index"])

    @staticmethod
    def view_array(backend, array, params):
        return backend.getitem(array, params["index"])

    def forward(self, a, index=None):
        self.in_shape = a.shape
        self.index = index
        self.dtype = self.backend.dtype(a)
        try:
            return self.backend.getitem(a, index)
        except IndexError as exc:
            raise IndexError(f"index {_describe(index)} is out of range for shape "
                             f"{tuple(a.shape)}: {exc}") from None

    def backward(self, grad):
        return IndexAdd.apply(grad, shape=self.in_shape, index=self.index, dtype=self.dtype)

    def backward_arrays(self, grad):
        return self.backend.index_add(self.in_shape, self.index, grad, self.dtype)


class IndexAdd(Function):
    """Scatter-add into zeros: the adjoint of ``Getitem``."""

    def forward(self, values, shape=None, index=None, dtype=None):
        self.index = index
        return self.backend.index_add(shape, index, values, dtype)

    def backward(self, grad):
        return Getitem.apply(grad, index=self.index)


class IndexPut(Function):
    """``a[index] = value``: out of place (a copy of ``a``), or in place into ``out`` (``a``
    itself, through ``inplace.apply_inplace``: ``index_put_``, PyTorch's ``x[idx] = v`` with
    index arrays). ``value`` is an array broadcast to ``a[index]`` or a number."""

    supports_out = True

    def forward(self, a, value, index=None, out=None):
        self.index = index
        self.value_shape = getattr(value, "shape", None)
        if out is None:
            out = self.backend.contiguous(a)
        put(self.backend, out, index, value)
        return out

    def backward(self, grad):
        grad_a = IndexPut.apply(grad, 0, index=self.index)  # overwritten elements get nothing
        if self.value_shape is None:
            return grad_a, None
        return grad_a, sum_to(Getitem.apply(grad, index=self.index), self.value_shape)


class Copy(Function):
    """``dst.copy_(src)``: ``src`` (a tensor of ``dst``'s dtype or a number, broadcast) written
    into ``dst``; in place through ``inplace.apply_inplace``. The old values of ``dst`` get a
    zero gradient (PyTorch's ``zeros_like(grad)``); ``src`` gets the gradient summed to its
    shape."""

    supports_out = True

    def forward(self, dst, src, out=None):
        self.src_shape = getattr(src, "shape", None)
        if self.src_shape is not None:
            bad = broadcast_mismatch(tuple(dst.shape), tuple(self.src_shape))
            if bad is not None:
                dim, size, src_size = bad
                if size is None:
                    raise RuntimeError(f"copy_: source of shape {list(self.src_shape)} has more "
                                       f"dimensions than the destination {list(dst.shape)}")
                raise RuntimeError(f"The size of tensor a ({size}) must match the size of tensor "
                                   f"b ({src_size}) at non-singleton dimension {dim}")
        if out is None:
            out = self.backend.contiguous(dst)
        self.backend.copy_(out, src)
        return out

    def backward(self, grad):
        # the old values of dst get zeros, not None, as in PyTorch (their .grad is zeros)
        grad_dst = None if self.next_nodes[0] is None else zero_gradient(grad)
        return grad_dst, None if self.src_shape is None else sum_to(grad, self.src_shape)


class ViewScatter(Function):
    """``a`` with the region that view ``steps`` select replaced by ``values`` (an array or a
    number), out of place: the gradient of a base whose view was written in place (used by
    ``inplace.CopySlices``); its own backward makes it differentiable again."""

    def forward(self, a, values, steps=None):
        self.steps = steps
        self.values_shape = getattr(values, "shape", None)
        out = self.backend.contiguous(a)
        self.backend.copy_(region_of(self.backend, out, steps), values)
        return out

    def backward(self, grad):
        grad_a = ViewScatter.apply(grad, 0.0, steps=self.steps)
        if self.values_shape is None:
            return grad_a, None
        return grad_a, sum_to(views.replay(self.steps, grad), self.values_shape)


def put(backend, a, index, value):
    """``backend.setitem_`` with errors that name the index and the shapes."""
    try:
        backend.setitem_(a, index, value)
    except IndexError as exc:
        raise IndexError(f"index {_describe(index)} is out of range for shape "
                         f"{tuple(a.shape)}: {exc}") from None
    except ValueError as exc:
        if "read-only" in str(exc):
            raise read_only_error(backend, a) from None
        target = backend.getitem(a, index).shape
        raise RuntimeError(f"shape mismatch: value tensor of shape {list(getattr(value, 'shape', ()))} "
                           f"cannot be broadcast to indexing result of shape {list(target)}") from None


def setitem(tensor, index, value):
    """``tensor[index] = value`` for ``Tensor.__setitem__`` (``index``: a tuple of backend
    entries, as for ``Getitem``), in place, as in PyTorch: basic indexing copies ``value`` into
    the view ``tensor[index]``; index arrays run ``index_put_``. Autograd records the write
    (``inplace.apply_inplace``), rebasing the history of the tensor (or of its base)."""
    if isinstance(value, Tensor):
        if value._backend is not tensor._backend:
            raise devices_differ_error("index_put_", tensor.device, value.device)
        if value.dtype is not tensor.dtype:
            value = value.to(tensor.dtype)
    elif isinstance(value, numbers.Number):
        value = value.item() if hasattr(value, "item") else value  # a NumPy scalar: a number
        if not tensor.dtype.is_floating_point:  # (a float saturates to inf, as in PyTorch)
            check_fits(value, tensor.dtype)
    else:
        raise TypeError(f"can't assign a {type(value).__name__} to a Tensor; assign a number or a "
                        f"tensor (e.g. gg.tensor(value, device=x.device))")
    if len(index) == 1 and index[0] is Ellipsis:  # x[...] = v writes x itself
        inplace.apply_inplace(Copy, tensor, value)
    elif is_basic(index):
        view = Getitem.apply(tensor, index=index)
        if isinstance(value, Tensor):
            value = _without_extra_unit_dims(value, view.shape)
            bad = broadcast_mismatch(view.shape, value.shape)
            if bad is not None:
                dim, size, got = bad
                raise RuntimeError(
                    f"The expanded size of the tensor ({size}) must match the existing size "
                    f"({got}) at non-singleton dimension {dim}.  Target sizes: {list(view.shape)}."
                    f"  Tensor sizes: {list(value.shape)}")
        inplace.apply_inplace(Copy, view, value)
    else:
        inplace.apply_inplace(IndexPut, tensor, value, index=index)


def _without_extra_unit_dims(value, target):
    """``value`` without the leading dims of size 1 it has beyond ``target``'s rank (PyTorch
    writes ``ones(1, 2)`` into ``x[0:2]``); more dims than that is PyTorch's expand error."""
    extra = 0
    while value.ndim - extra > len(target) and value.shape[extra] == 1:
        extra += 1
    if value.ndim - extra > len(target):
        raise RuntimeError(f"expand(tensor of shape {list(value.shape)}, size={list(target)}): "
                           f"the number of sizes provided ({len(target)}) must be greater or "
                           f"equal to the number of dimensions in the tensor ({value.ndim})")
    return value.reshape(value.shape[extra:]) if extra else value


def _describe(index):
    parts = []
    for i in index:
        if hasattr(i, "shape") and not isinstance(i, (int, slice)):
            parts.append(f"<index array of shape {tuple(i.shape)}>")
        else:
            parts.append(repr(i))
    return "[" + ", ".join(parts) + "]"


class Cat(Function):
    """Concatenation; tensors of several dtypes are promoted first, as ``torch.cat`` does."""

    autocast = "promote"

    def forward(self, *arrays, dim=0):
        self.dim = dim
        self.sizes = [a.shape[dim] for a in arrays]
        backend = self.backend
        kinds = [backend.dtype(a) for a in arrays]
        dtype = kinds[0]
        for kind in kinds[1:]:
            dtype = promote_types(dtype, kind)
        if any(kind is not dtype for kind in kinds):
            self.input_dtypes = tuple(kinds)
            arrays = [a if kind is dtype else backend.cast(a, dtype)
                      for a, kind in zip(arrays, kinds)]
        return backend.concatenate(arrays, dim)

    def backward(self, grad):
        grads = []
        start = 0
        lead = (slice(None),) * self.dim
        for size in self.sizes:
            grads.append(grad[lead + (slice(start, start + size),)])
            start += size
        return tuple(grads)
