"""``default_collate`` and ``default_convert``: how a ``DataLoader`` turns the examples of a
batch into batch tensors, with ``torch.utils.data``'s rules.

- gg Tensors are stacked along a new first dimension (on their device);
- NumPy arrays and NumPy scalars become tensors of their dtype, stacked;
- Python floats become a float64 tensor, ints an int64 tensor, bools a bool tensor;
- strings and bytes stay a list;
- dicts collate per key, namedtuples per field (same type), tuples and lists per position
  (a list comes back; a list's own type is kept where it can be rebuilt).
"""
import collections.abc
import copy
import re

import numpy as np

from ..creation import tensor
from ..tensor import Tensor
from ..tensor_shape_methods import stack

_STRING_OR_OBJECT = re.compile(r"[SaUO]")  # NumPy dtype kinds that hold no numbers
_ERROR = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
          "found {}")


def map_structure(leaf, data):
    """``data`` with ``leaf`` applied to everything that is not a container: dicts (their type
    kept where it can be copied), namedtuples (same type), tuples (become lists, as in
    PyTorch) and other sequences except strings (their type kept where possible)."""
    if isinstance(data, collections.abc.Mapping):
        items = {key: map_structure(leaf, data[key]) for key in data}
        return _rebuild_mapping(data, items)
    if isinstance(data, tuple) and hasattr(data, "_fields"):  # namedtuple
        return type(data)(*(map_structure(leaf, d) for d in data))
    if isinstance(data, tuple):
        return [map_structure(leaf, d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        return _rebuild_sequence(data, [map_structure(leaf, d) for d in data])
    return leaf(data)


def _rebuild_mapping(like, items):
    """``items`` in a mapping of ``like``'s type (a plain dict when that type cannot be
    rebuilt): a mutable mapping is copied and updated, so extra attributes survive."""
    try:
        if isinstance(like, collections.abc.MutableMapping):
            clone = copy.copy(like)
            clone.update(items)
            return clone
        return type(like)(items)
    except TypeError:
        return items


def _rebuild_sequence(like, items):
    """``items`` in a sequence of ``like``'s type (a list when that type cannot be rebuilt)."""
    try:
        if isinstance(like, collections.abc.MutableSequence):
            clone = copy.copy(like)
            for i, item in enumerate(items):
                clone[i] = item
            return clone
        return type(like)(items)
    except TypeError:
        return items


def _convert_leaf(data):
    if isinstance(data, np.ndarray):
        return data if _STRING_OR_OBJECT.search(data.dtype.str) else tensor(data)
    if isinstance(data, (np.bool_, np.number)):
        return tensor(data)
    return data


def default_convert(data):
    """Turn each NumPy array and NumPy scalar inside ``data`` into a gg Tensor, keeping the
    containers; everything else is returned as is. It is the ``DataLoader``'s collation
    with ``batch_size=None`` (no batching)."""
    return map_structure(_convert_leaf, data)


def default_collate(batch):
    """Collate a list of examples into a batch (see the module's rules): a list of
    ``(array, label)`` tuples becomes ``[Tensor of stacked arrays, int64 Tensor of labels]``,
    a list of dicts a dict of batch tensors."""
    elem = batch[0]
    if isinstance(elem, Tensor):
        return stack(batch)
    if isinstance(elem, np.ndarray):
        if _STRING_OR_OBJECT.search(elem.dtype.str):
            raise TypeError(_ERROR.format(elem.dtype))
        return tensor(np.stack(batch))
    if isinstance(elem, (np.bool_, np.number)):
        return tensor(np.asarray(batch))
    if isinstance(elem, float):
        return tensor(np.asarray(batch, dtype=np.float64))
    if isinstance(elem, int):  # bool included: a bool tensor, as in PyTorch
        return tensor(np.asarray(batch))
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        items = {key: default_collate([d[key] for d in batch]) for key in elem}
        return _rebuild_mapping(elem, items)
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(samples) for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(example) != size for example in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        columns = [default_collate(samples) for samples in zip(*batch)]
        return columns if isinstance(elem, tuple) else _rebuild_sequence(elem, columns)
    raise TypeError(_ERROR.format(type(elem)))
