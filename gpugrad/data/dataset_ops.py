"""Datasets made of other datasets, as ``torch.utils.data``'s: ``Subset`` (some examples of a
dataset), ``ConcatDataset`` (several datasets one after another) and ``random_split`` (a
dataset dealt at random into subsets of given lengths or fractions)."""
import bisect
import itertools
import math
import warnings

from .dataset_types import Dataset, IterableDataset
from .sampler import _rng


class Subset(Dataset):
    """The examples of ``dataset`` at ``indices``, in that order: ``Subset(data, [0, 5, 2])[1]``
    is ``data[5]``."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.__getitems__(idx)
        return self.dataset[self.indices[idx]]

    def __getitems__(self, indices):
        """The examples at ``indices`` (positions in the subset), through the dataset's own
        ``__getitems__`` when it has one (a whole batch at once)."""
        chosen = [self.indices[i] for i in indices]
        if callable(getattr(self.dataset, "__getitems__", None)):
            return self.dataset.__getitems__(chosen)
        return [self.dataset[i] for i in chosen]

    def __len__(self):
        return len(self.indices)


class ConcatDataset(Dataset):
    """``datasets`` one after another: index ``len(datasets[0])`` is ``datasets[1][0]``."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise AssertionError("datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise AssertionError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = list(itertools.accumulate(len(d) for d in self.datasets))

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx):
        if idx < 0:
            if -idx > len(self):
                raise ValueError("absolute value of index should not exceed dataset length")
            idx += len(self)
        which = bisect.bisect_right(self.cumulative_sizes, idx)
        if which == len(self.datasets):
            raise IndexError(f"index {idx} is out of range for a ConcatDataset of {len(self)}")
        start = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][idx - start]


def random_split(dataset, lengths, generator=None):
    """``dataset`` dealt at random into ``Subset``s of ``lengths`` (counts that add up to its
    length, or fractions that add up to 1: each gets ``floor(fraction * len)`` and the
    remainder goes one by one to the first subsets, as in PyTorch). ``generator``: a NumPy
    generator; without one, the draw follows ``gg.manual_seed``."""
    n = len(dataset)
    lengths = list(lengths)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        for i, fraction in enumerate(lengths):
            if not 0 <= fraction <= 1:
                raise ValueError(f"Fraction at index {i} is not between 0 and 1")
        counts = [int(math.floor(n * fraction)) for fraction in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        for i, count in enumerate(counts):
            if count == 0:
                warnings.warn(f"Length of split at index {i} is 0. This might result in an "
                              f"empty dataset.")
        lengths = counts
    if sum(lengths) != n:
        raise ValueError("Sum of input lengths does not equal the length of the input dataset!")
    order = _rng(generator).permutation(n).tolist()
    return [Subset(dataset, order[end - length:end])
            for end, length in zip(itertools.accumulate(lengths), lengths)]
