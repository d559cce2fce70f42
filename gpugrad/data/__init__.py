"""Datasets and batching (``gg.data``): DataLoader, DistributedSampler, Subset, ConcatDataset,
random_split, generated toy data, digits, MNIST and Fashion-MNIST."""
from .datasets import make_moons, make_spirals, train_test_split
from .digits import load_digits
from .distributed import DistributedSampler
from .collate import default_collate, default_convert
from .dataset_types import Dataset, IterableDataset, TensorDataset
from .dataset_ops import ConcatDataset, Subset, random_split
from .loader import DataLoader
from .cache import cache_dir
from .download import DatasetError
from .mnist import load_fashion_mnist, load_mnist
from .sampler import (BatchSampler, RandomSampler, Sampler, SequentialSampler,
                      SubsetRandomSampler, WeightedRandomSampler)
from .worker import WorkerInfo, get_worker_info

__all__ = ["DataLoader", "Dataset", "IterableDataset", "TensorDataset", "Subset",
           "ConcatDataset", "random_split", "default_collate",
           "default_convert", "get_worker_info", "WorkerInfo", "Sampler", "SequentialSampler",
           "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler", "BatchSampler",
           "make_moons", "make_spirals",
           "train_test_split", "load_digits", "load_mnist", "load_fashion_mnist", "DatasetError",
           "cache_dir", "DistributedSampler"]
