"""``DataLoader``: batches from a dataset, as ``torch.utils.data.DataLoader``: samplers,
collation, worker processes, pinned memory."""
import itertools
import math

import numpy as np

from .. import random as _random
from .collate import default_collate, default_convert
from .dataset_types import IterableDataset
from .fetch import make_fetcher
from .multiprocess_iterator import MultiProcessIterator
from .pinning import pin_memory
from .sampler import BatchSampler, RandomSampler, SequentialSampler, check_generator

_FIXED_AFTER_INIT = ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset",
                     "persistent_workers")


class DataLoader:
    """Iterate over ``dataset`` in batches, with PyTorch's arguments and semantics.

    - ``dataset``: map-style (``__getitem__``/``__len__``, e.g. ``TensorDataset``) or an
      ``IterableDataset``.
    - ``batch_size`` (1), ``drop_last``: examples per batch; a shorter last batch is dropped
      with ``drop_last``. ``batch_size=None`` turns batching off: each example is only
      converted (``default_convert``).
    - ``shuffle``: a new random order every epoch (a ``RandomSampler`` drawing from
      ``generator``, a ``numpy.random.Generator``; without one, from ``gg.manual_seed``'s
      generator, so runs repeat). ``seed=s`` is gpugrad's shortcut for
      ``generator=numpy.random.default_rng(s)``.
    - ``sampler``: the order of indices (any iterable of ints with ``__len__``, e.g.
      ``DistributedSampler``); ``batch_sampler``: lists of indices, one per batch. Both exclude
      ``shuffle``; ``batch_sampler`` also excludes ``batch_size``, ``sampler`` and
      ``drop_last``.
    - ``collate_fn``: turns a list of examples into a batch (default ``default_collate``).
    - ``num_workers``: load batches in that many worker processes (0: in this process), in the
      same order; each worker is seeded with ``base_seed + worker_id`` (``gg``, ``random`` and
      NumPy's global generators), then runs ``worker_init_fn(worker_id)``; ``prefetch_factor``
      (default 2) batches are loaded ahead per worker; ``persistent_workers`` keeps them across
      epochs; ``timeout`` (seconds, 0: forever) bounds the wait for a batch;
      ``multiprocessing_context`` picks the start method (default ``fork`` where available).
      Errors in a worker are raised here with the worker's traceback. As in PyTorch, keep
      the dataset on the cpu when using workers (move each batch to the device in the loop):
      a GPU context does not survive ``fork``.
    - ``pin_memory``: batches come in pinned host memory (``Tensor.pin_memory()``).

    A ``TensorDataset`` with the default collation is batched with one gather per tensor, on
    the tensors' device.
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, timeout=0,
                 worker_init_fn=None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor=None, persistent_workers=False, seed=None):
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to "
                             "disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if timeout > 0 and num_workers == 0:
            raise ValueError("timeout option needs num_workers > 0: it bounds the wait for a "
                             "worker's batch")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in "
                             "multiprocessing.let num_workers > 0 to enable multiprocessing, "
                             "otherwise set prefetch_factor to None.")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        elif prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        if multiprocessing_context is not None and num_workers == 0:
            raise ValueError(f"multiprocessing_context can only be used with multi-process "
                             f"loading (num_workers > 0), but got num_workers={num_workers}")
        if seed is not None:
            if generator is not None:
                raise ValueError("pass either generator or seed, not both")
            generator = np.random.default_rng(seed)
        check_generator(generator)

        if isinstance(dataset, IterableDataset):
            if shuffle not in {False, None}:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                                 f"shuffle option, but got shuffle={shuffle}")
            if sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                                 f"sampler option, but got sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                                 f"batch_sampler option, but got batch_sampler={batch_sampler}")
        shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")
        if sampler is None:
            if isinstance(dataset, IterableDataset):
                sampler = itertools.repeat(None)  # placeholders: the stream gives the data
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.persistent_workers = persistent_workers
        self.pin_memory = pin_memory
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.generator = generator
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self._iterator = None  # the persistent workers' iterator, once started
        self._initialized = True

    def __setattr__(self, name, value):
        if getattr(self, "_initialized", False) and name in _FIXED_AFTER_INIT:
            raise ValueError(f"{name} attribute should not be set after "
                             f"{type(self).__name__} is initialized")
        super().__setattr__(name, value)

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        """What one step draws from: a batch of indices, or one index without batching."""
        return self.batch_sampler if self._auto_collation else self.sampler

    def __len__(self):
        if isinstance(self.dataset, IterableDataset):
            length = len(self.dataset)  # TypeError for a stream without __len__, as in PyTorch
            if self.batch_size is None:
                return length
            rounded = math.floor if self.drop_last else math.ceil
            return rounded(length / self.batch_size)
        return len(self._index_sampler)

    def __iter__(self):
        # Every epoch draws the workers' base seed, with or without workers, so that the
        # sampler's order from the same generator is the same for every num_workers.
        base_seed = self._base_seed()
        if self.num_workers == 0:
            return _SingleProcessIterator(self)
        if not self.persistent_workers:
            return MultiProcessIterator(self, base_seed)
        if self._iterator is None or not self._iterator.alive:
            self._iterator = MultiProcessIterator(self, base_seed)
        else:
            self._iterator.reset(self)
        return self._iterator

    def _base_seed(self):
        """The workers' base seed: from ``generator`` if given, else from gpugrad's generator."""
        if self.generator is not None:
            return int(self.generator.integers(1 << 62))
        return _random.next_seed() >> 1


class _SingleProcessIterator:
    """One epoch loaded in this process (``num_workers=0``)."""

    def __init__(self, loader):
        self._indices = iter(loader._index_sampler)
        self._fetch = make_fetcher(loader.dataset, loader._auto_collation, loader.collate_fn,
                                   loader.drop_last)
        self._pin = loader.pin_memory

    def __iter__(self):
        return self

    def __next__(self):
        data = self._fetch(next(self._indices))
        return pin_memory(data) if self._pin else data
