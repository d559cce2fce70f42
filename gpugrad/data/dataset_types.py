"""The dataset protocols of ``torch.utils.data``: map-style ``Dataset``, ``IterableDataset`` (a
stream; each ``DataLoader`` worker iterates its own copy) and ``TensorDataset``."""
from ..tensor import Tensor


class Dataset:
    """A map-style dataset: ``__getitem__(index)`` returns one example and ``__len__`` their
    number. Anything with these two methods works with ``DataLoader``; this base documents the
    protocol. A dataset may also define ``__getitems__(indices)`` returning the list of examples
    for a whole batch at once (as in PyTorch), which the loader then prefers."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__(index)")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__()")


class IterableDataset(Dataset):
    """A dataset that is a stream of examples: define ``__iter__``. With ``num_workers > 0``
    every worker iterates its own copy, so shard the stream inside ``__iter__`` with
    ``gg.data.get_worker_info()`` (its ``id`` and ``num_workers``), else each example arrives
    once per worker, as in PyTorch."""

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __iter__()")

    def __getitem__(self, index):
        raise TypeError(f"{type(self).__name__} is an IterableDataset: iterate it, it has no "
                        f"__getitem__")


class TensorDataset(Dataset):
    """Examples are the rows of tensors sharing their first dimension: ``(x[i], y[i])``.

    ``DataLoader`` with the default collation gathers a whole batch with one indexing per
    tensor, on the tensors' device, instead of stacking rows one by one."""

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        for i, t in enumerate(tensors):
            if not isinstance(t, Tensor):
                raise TypeError(f"TensorDataset: argument {i} is a {type(t).__name__}, not a "
                                f"gg.Tensor (wrap it with gg.tensor(...))")
            if t.ndim == 0:
                raise ValueError(f"TensorDataset: tensor {i} is 0-d; each tensor needs a first "
                                 f"dimension of rows (e.g. t.reshape(1))")
        n = tensors[0].shape[0]
        for i, t in enumerate(tensors):
            if t.shape[0] != n:
                raise ValueError(f"Size mismatch between tensors: tensor 0 has {n} rows, "
                                 f"tensor {i} has shape {t.shape}")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self):
        return self.tensors[0].shape[0]

    def gather(self, indices):
        """The batch of rows ``indices`` (a sequence of ints) as ``[x[indices], y[indices],
        ...]``: what ``default_collate`` makes of those examples, with one indexing per tensor
        (a slice when the rows are consecutive, so nothing is uploaded)."""
        indices = list(indices)
        first, count = indices[0], len(indices)
        if indices[-1] - first == count - 1 and indices == list(range(first, first + count)):
            rows = slice(first, first + count)
            return [t[rows] for t in self.tensors]
        return [t[indices] for t in self.tensors]
