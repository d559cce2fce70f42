"""``TensorDataset`` and ``DataLoader``: batches of examples, optionally shuffled and seeded."""
import math

import numpy as np

from .. import random as _random
from ..creation import tensor
from ..tensor import Tensor
from ..tensor_shape_methods import stack


class Dataset:
    """Anything with ``__len__`` and ``__getitem__(i)`` works as a dataset; this base documents
    the protocol."""

    def __getitem__(self, index):
        raise NotImplementedError

    def __len__(self):
        raise NotImplementedError


class TensorDataset(Dataset):
    """Examples are the rows of tensors sharing their first dimension: ``(x[i], y[i])``."""

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


class DataLoader:
    """Iterate over ``dataset`` in batches of ``batch_size``.

    - ``shuffle``: a new order every epoch, from ``generator`` (a ``numpy.random.Generator``),
      else from ``seed``, else from gpugrad's generator (``gg.manual_seed``), so runs repeat.
    - ``drop_last``: skip a final batch smaller than ``batch_size``.
    - ``sampler``: an iterable of dataset indices giving the order (a ``DistributedSampler``,
      for one); it is read again every epoch and excludes ``shuffle``, as in PyTorch.

    A ``TensorDataset`` is batched with one gather per tensor, on the tensors' device; other
    datasets are indexed one example at a time and stacked.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, generator=None,
                 seed=None, sampler=None):
        if not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got "
                             f"batch_size={batch_size!r}")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        self.sampler = sampler
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        if generator is None and seed is not None:
            generator = np.random.default_rng(seed)
        self.generator = generator

    def __len__(self):
        n = len(self.dataset) if self.sampler is None else len(self.sampler)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def _order(self):
        if self.sampler is not None:
            return np.fromiter(self.sampler, dtype=np.int64)
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        rng = self.generator or np.random.default_rng(_random.next_seed())
        return rng.permutation(n)

    def __iter__(self):
        order = self._order()
        for batch in range(len(self)):
            indices = order[batch * self.batch_size:(batch + 1) * self.batch_size]
            yield self._fetch(indices)

    def _fetch(self, indices):
        if isinstance(self.dataset, TensorDataset):
            device = self.dataset.tensors[0].device
            if self.sampler is None and not self.shuffle and len(indices):
                # contiguous rows: a slice, no index upload
                rows = slice(int(indices[0]), int(indices[-1]) + 1)
                return [t[rows] for t in self.dataset.tensors]
            index = tensor(indices, device=device)
            return [t[index] for t in self.dataset.tensors]
        return collate([self.dataset[int(i)] for i in indices])


def collate(examples):
    """Stack a list of examples (tensors, numbers or tuples of them) into batch tensors."""
    first = examples[0]
    if isinstance(first, (tuple, list)):
        return [collate([ex[i] for ex in examples]) for i in range(len(first))]
    if isinstance(first, Tensor):
        return stack(examples)
    return tensor(np.asarray(examples))
