"""``DistributedSampler``: each process of a data-parallel job reads its own share of a
dataset, as ``torch.utils.data.DistributedSampler``."""
import math

import numpy as np

from .. import distributed as dist
from .sampler import Sampler


class DistributedSampler(Sampler):
    """Yield the dataset indices that belong to replica ``rank`` of ``num_replicas``.

    Every replica sees the same order (a permutation drawn from ``seed + epoch`` when
    ``shuffle``, else ``0..len-1``) and takes every ``num_replicas``-th index starting at its
    rank, so the replicas' shares are disjoint and together cover the dataset. Like PyTorch:

    - without ``drop_last`` the order is padded by repeating its first indices until it divides
      evenly, so every replica gets ``ceil(len / num_replicas)`` indices (a few examples count
      twice per epoch); with ``drop_last`` the tail that does not divide evenly is dropped;
    - call ``set_epoch(epoch)`` at the start of each epoch, else every epoch repeats the same
      order;
    - ``num_replicas`` and ``rank`` default to ``gg.distributed.get_world_size()`` and
      ``get_rank()`` (the process group must then be initialized).

    The shuffled order comes from NumPy's generator (``numpy.random.default_rng(seed + epoch)``),
    so it differs from PyTorch's; padding and striding are PyTorch's exactly. Pass it to
    ``DataLoader(dataset, batch_size, sampler=sampler)`` (not with ``shuffle=True``).
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0,
                 drop_last=False):
        if num_replicas is None:
            num_replicas = dist.get_world_size()
        if rank is None:
            rank = dist.get_rank()
        if not isinstance(num_replicas, int) or num_replicas < 1:
            raise ValueError(f"num_replicas should be a positive integer, got {num_replicas!r}")
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        size = len(dataset)
        if drop_last and size % num_replicas != 0:
            # Drop the tail so that every replica receives the same amount of data.
            self.num_samples = math.ceil((size - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(size / num_replicas)
        self.total_size = self.num_samples * num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def __iter__(self):
        size = len(self.dataset)
        if self.shuffle:
            indices = np.random.default_rng(self.seed + self.epoch).permutation(size).tolist()
        else:
            indices = list(range(size))
        if not self.drop_last:
            padding = self.total_size - len(indices)
            if padding <= len(indices):
                indices += indices[:padding]
            else:  # fewer examples than replicas: repeat the whole order
                indices += (indices * math.ceil(padding / len(indices)))[:padding]
        else:
            indices = indices[:self.total_size]
        return iter(indices[self.rank:self.total_size:self.num_replicas])

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        """Use the order of ``epoch`` (the permutation drawn from ``seed + epoch``) next; call it
        at the start of every epoch so each epoch shuffles differently, the same on every
        replica."""
        self.epoch = epoch
