"""The samplers of ``torch.utils.data``: which dataset indices a ``DataLoader`` reads, in which
order, and how they are grouped into batches.

Random samplers take a ``numpy.random.Generator`` as ``generator`` (gpugrad has no generator
object of its own); without one, each pass draws a fresh seed from gpugrad's global generator,
so ``gg.manual_seed(n)`` makes runs repeat. The orders differ from PyTorch's (another RNG);
lengths, grouping and errors are PyTorch's.
"""
import itertools

import numpy as np

from .. import random as _random


def check_generator(generator):
    """Raise TypeError unless ``generator`` is a ``numpy.random.Generator`` or None."""
    if generator is not None and not isinstance(generator, np.random.Generator):
        raise TypeError(f"generator must be a numpy.random.Generator (e.g. "
                        f"numpy.random.default_rng(seed)) or None, got {type(generator).__name__}")


def _rng(generator):
    """``generator``, or a NumPy generator seeded from gpugrad's global generator."""
    check_generator(generator)
    return np.random.default_rng(_random.next_seed()) if generator is None else generator


def _check_positive_int(name, value):
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{name} should be a positive integer value, but got {name}={value}")


def _check_bool(name, value, error=ValueError):
    if not isinstance(value, bool):
        raise error(f"{name} should be a boolean value, but got {name}={value}")


class Sampler:
    """Base class of samplers: an iterable of dataset indices (or, for a batch sampler, of
    lists of indices), usually with a ``__len__``. Subclasses define ``__iter__``."""

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __iter__()")


class SequentialSampler(Sampler):
    """The indices ``0, 1, ..., len(data_source) - 1``, in order."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """A random order of ``data_source``'s indices, new on every pass.

    Without ``replacement``: a permutation (``num_samples`` larger than the dataset chains
    several permutations, as PyTorch does); with it, ``num_samples`` independent uniform draws.
    ``num_samples`` defaults to ``len(data_source)``."""

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        _check_bool("replacement", replacement, TypeError)
        _check_positive_int("num_samples", self.num_samples)

    @property
    def num_samples(self):
        """The number of indices one pass yields."""
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        n, count = len(self.data_source), self.num_samples
        rng = _rng(self.generator)
        if self.replacement:
            return iter(rng.integers(0, n, size=count).tolist())
        orders = [rng.permutation(n) for _ in range(-(-count // n))]
        return iter(np.concatenate(orders)[:count].tolist())

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given ``indices`` in a random order, new on every pass (without replacement)."""

    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = generator

    def __iter__(self):
        for i in _rng(self.generator).permutation(len(self.indices)).tolist():
            yield self.indices[i]

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices of ``0..len(weights)-1`` drawn with probabilities proportional
    to ``weights`` (which need not sum to one); without ``replacement`` no index repeats."""

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        _check_positive_int("num_samples", num_samples)
        _check_bool("replacement", replacement)
        weights = np.asarray(weights, dtype=np.float64)
        if weights.ndim != 1:
            raise ValueError(f"weights should be a 1d sequence but given weights have shape "
                             f"{tuple(weights.shape)}")
        if not np.isfinite(weights).all() or (weights < 0).any() or weights.sum() <= 0:
            raise RuntimeError("invalid multinomial distribution (weights must be finite, "
                               "non-negative and not all zero)")
        if not replacement and num_samples > np.count_nonzero(weights):
            raise RuntimeError(f"cannot sample n_sample > prob_dist.size(-1) samples without "
                               f"replacement: num_samples={num_samples} but only "
                               f"{np.count_nonzero(weights)} weights are non-zero")
        self.weights = weights
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def __iter__(self):
        rng = _rng(self.generator)
        chosen = rng.choice(len(self.weights), size=self.num_samples, replace=self.replacement,
                            p=self.weights / self.weights.sum())
        return iter(chosen.tolist())

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Group the indices of ``sampler`` into lists of ``batch_size``; with ``drop_last`` a
    final shorter list is dropped: ``list(BatchSampler(range(10), 3, False))`` is
    ``[[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]``."""

    def __init__(self, sampler, batch_size, drop_last):
        _check_positive_int("batch_size", batch_size)
        _check_bool("drop_last", drop_last)
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self):
        indices = iter(self.sampler)
        while True:
            batch = list(itertools.islice(indices, self.batch_size))
            if not batch or (self.drop_last and len(batch) < self.batch_size):
                return
            yield batch

    def __len__(self):
        if self.drop_last:
            return len(self.sampler) // self.batch_size
        return (len(self.sampler) + self.batch_size - 1) // self.batch_size
