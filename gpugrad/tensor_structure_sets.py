"""PyTorch's set-like and counting functions: ``unique``, ``unique_consecutive``, ``bincount``,
``histc``, ``bucketize`` and ``searchsorted``. Their results are values picked or counted, so
they carry no gradient, as in PyTorch.

Each composes sorting, comparisons, ``cumsum``, ``index_add`` and boolean indexing on self's
device (so the simulator models their kernels), except ``unique(dim=...)``, which sorts the
slices on the host (NumPy) and comes back to self's device.
"""
import numpy as np

from . import creation
from . import dtypes as _dtypes
from .engine import no_grad
from .ops.broadcast import normalize_dims
from .tensor import Tensor
from .tensor_api import tensor_method
from .tensor_shape_methods import cat


def _results(values, inverse, counts, return_inverse, return_counts):
    out = (values,) + ((inverse,) if return_inverse else ()) + ((counts,) if return_counts else ())
    return out[0] if len(out) == 1 else out


def _runs(flat, is_new, shape):
    """Values, inverse (``shape``-shaped) and counts of the runs of ``flat`` that start where
    ``is_new`` is true."""
    group = is_new.to(_dtypes.int64).cumsum(0) - 1
    starts = is_new.nonzero(as_tuple=True)[0]
    ends = cat([starts[1:], creation.tensor([flat.shape[0]], device=flat.device)])
    return flat[starts], group.reshape(shape), ends - starts


def _starts(flat):
    if flat.shape[0] == 0:
        return creation.zeros(0, dtype=_dtypes.bool_, device=flat.device)
    first = creation.ones(1, dtype=_dtypes.bool_, device=flat.device)
    return cat([first, flat[1:] != flat[:-1]])


@tensor_method("unique")
def unique(self, sorted=True, return_inverse=False, return_counts=False,
           dim=None) -> Tensor | tuple[Tensor, ...]:
    """The distinct values of self, ascending, as a 1-d tensor (or, with ``dim``, the distinct
    slices along ``dim``); with ``return_inverse`` also where each entry of self went, and with
    ``return_counts`` how often each value occurs. The output is always sorted (``sorted=False``
    is accepted: PyTorch allows any order then)."""
    with no_grad():
        if dim is not None:
            return _unique_dim(self, dim, return_inverse, return_counts)
        values, order = self.detach().reshape(-1).sort(stable=True)
        unique_values, groups, counts = _runs(values, _starts(values), values.shape)
        inverse = creation.zeros(values.shape, dtype=_dtypes.int64, device=self.device)
        inverse = inverse.scatter(0, order, groups).reshape(self.shape)
        return _results(unique_values, inverse, counts, return_inverse, return_counts)


def _unique_dim(self, dim, return_inverse, return_counts):
    d = normalize_dims(dim, self.ndim, "unique")[0]
    host = np.moveaxis(self.detach().numpy(), d, 0)
    values, inverse, counts = np.unique(host.reshape(host.shape[0], -1), axis=0,
                                        return_inverse=True, return_counts=True)
    values = np.moveaxis(values.reshape((-1,) + host.shape[1:]), 0, d)
    as_tensor = (lambda a, dtype=None: creation.tensor(np.ascontiguousarray(a), dtype=dtype,
                                                       device=self.device))
    return _results(as_tensor(values, self.dtype), as_tensor(inverse.reshape(-1)),
                    as_tensor(counts), return_inverse, return_counts)


@tensor_method("unique_consecutive")
def unique_consecutive(self, return_inverse=False, return_counts=False,
                       dim=None) -> Tensor | tuple[Tensor, ...]:
    """Self with each run of equal consecutive values (or, with ``dim``, of equal consecutive
    slices along ``dim``) collapsed to one; optionally the inverse (each entry's run) and the
    run lengths."""
    with no_grad():
        if dim is None:
            flat = self.detach().reshape(-1)
            values, inverse, counts = _runs(flat, _starts(flat), self.shape)
            return _results(values, inverse, counts, return_inverse, return_counts)
        d = normalize_dims(dim, self.ndim, "unique_consecutive")[0]
        moved = self.detach().movedim(d, 0)
        rows = moved.reshape(moved.shape[0], -1)
        if rows.shape[0] == 0:
            is_new = creation.zeros(0, dtype=_dtypes.bool_, device=self.device)
        else:
            first = creation.ones(1, dtype=_dtypes.bool_, device=self.device)
            is_new = cat([first, (rows[1:] != rows[:-1]).any(1)])
        _, inverse, counts = _runs(rows[:, 0] if rows.shape[1] else rows.sum(1), is_new,
                                   (rows.shape[0],))
        values = moved[is_new.nonzero(as_tuple=True)[0]].movedim(0, d)
        return _results(values, inverse, counts, return_inverse, return_counts)


@tensor_method("bincount")
def bincount(self, weights=None, minlength=0):
    """How often each value ``0 .. max`` occurs in self (a 1-d tensor of non-negative ints), at
    least ``minlength`` bins; with ``weights`` (self's shape) the sums of their entries instead
    (in the weights' dtype when floating, else float64)."""
    if self.ndim != 1 or self.dtype.is_floating_point or self.dtype is _dtypes.bool_:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if minlength < 0:
        raise RuntimeError("minlength should be >= 0")
    with no_grad():
        if self.numel() and int(self.min().item()) < 0:
            raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
        length = max(int(self.max().item()) + 1 if self.numel() else 0, minlength)
        if weights is None:
            dtype = _dtypes.int64
            weights = creation.ones(self.shape, dtype=dtype, device=self.device)
        else:
            if weights.shape != self.shape:
                raise RuntimeError("weights should be 1-d and have the same length as input")
            dtype = weights.dtype if weights.dtype.is_floating_point else _dtypes.float64
            weights = weights.detach().to(dtype)
        index = self if self.dtype in (_dtypes.int32, _dtypes.int64) else self.long()
        return creation.zeros(length, dtype=dtype, device=self.device).index_add(0, index,
                                                                                  weights)


@tensor_method("histc")
def histc(self, bins=100, min=0, max=0):
    """The histogram of self's values in ``bins`` equal bins between ``min`` and ``max`` (both
    0: self's own min and max); values outside are ignored, ``max`` falls in the last bin."""
    if not self.dtype.is_floating_point:
        raise RuntimeError(f"\"histogram_cpu\" not implemented for '{self.dtype.name}'")
    if bins <= 0:
        raise RuntimeError("torch.histc(): bins must be > 0")
    with no_grad():
        flat = self.detach().reshape(-1)
        low, high = float(min), float(max)
        if low == high and flat.numel():
            low, high = float(flat.min().item()), float(flat.max().item())
        if low == high:
            low, high = low - 1, high + 1
        if low > high:
            raise RuntimeError("torch.histc(): max must be larger than min")
        inside = flat[(flat >= low) & (flat <= high)]
        position = ((inside - low) * bins / (high - low)).floor().to(_dtypes.int64)
        position = position.clamp(max=bins - 1)
        ones = creation.ones(position.shape, dtype=self.dtype, device=self.device)
        return creation.zeros(bins, dtype=self.dtype, device=self.device).index_add(0, position,
                                                                                     ones)


def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None,
                 sorter=None, out=None):
    """For each entry of ``input``, the index where it would go in ``sorted_sequence`` (sorted
    along its last dim, whose leading dims match ``input``'s, or 1-d) to keep it sorted: the
    first such index, or with ``right=True``/``side='right'`` the last. ``sorter`` sorts an
    unsorted sequence. int64, or int32 with ``out_int32``. A NaN in ``input`` goes after every
    entry (as in PyTorch); a NaN in the sequence counts as greater than every number (NumPy's
    order, where ``sort`` puts it)."""
    if out is not None:
        raise TypeError("searchsorted(out=...) is not supported: use the returned tensor")
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"torch.searchsorted(): side can only be 'left' or 'right' but "
                               f"got {side}")
        if right and side == "left":
            raise RuntimeError("torch.searchsorted(): side and right can't be set to opposites, "
                               "got side of left while right was True")
        right = side == "right"
    if not isinstance(input, Tensor):  # a number
        return searchsorted(sorted_sequence, creation.tensor(input, device=sorted_sequence.device,
                                                             dtype=sorted_sequence.dtype),
                            out_int32=out_int32, right=right, sorter=sorter)
    with no_grad():
        sequence = sorted_sequence.detach()
        if sorter is not None:
            sequence = sequence.gather(-1, sorter)
        if sequence.ndim > 1 and sequence.shape[:-1] != input.shape[:-1]:
            raise RuntimeError(f"torch.searchsorted(): boundaries tensor should be 1 dimension "
                               f"or the first N-1 dimensions of boundaries tensor and input "
                               f"value tensor must match, but we got boundaries tensor "
                               f"{list(sequence.shape)} and input value tensor "
                               f"{list(input.shape)}")
        values = input.detach().unsqueeze(-1)
        below = (sequence.unsqueeze(-2) <= values) if right else (sequence.unsqueeze(-2) < values)
        if sequence.ndim == 1:
            below = sequence <= values if right else sequence < values
        if values.dtype.is_floating_point:  # a NaN goes after every entry, as in PyTorch
            below = below | values.isnan()
        found = below.sum(-1)
        return found.to(_dtypes.int32 if out_int32 else _dtypes.int64)


def bucketize(input, boundaries, *, out_int32=False, right=False, out=None):
    """For each entry of ``input``, the index of its bucket among the 1-d ascending
    ``boundaries``: ``boundaries[i-1] < x <= boundaries[i]`` (``<=`` on the left with
    ``right=True``), as ``searchsorted``."""
    if isinstance(boundaries, Tensor) and boundaries.ndim != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim("
                           f"{boundaries.ndim})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right, out=out)
