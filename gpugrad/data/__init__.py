"""Datasets and batching (``gg.data``): DataLoader, DistributedSampler, generated toy data,
digits and MNIST."""
from .datasets import make_moons, make_spirals, train_test_split
from .digits import load_digits
from .distributed import DistributedSampler
from .loader import DataLoader, Dataset, TensorDataset, collate
from .mnist import DatasetError, load_mnist

__all__ = ["DataLoader", "Dataset", "TensorDataset", "collate", "make_moons", "make_spirals",
           "train_test_split", "load_digits", "load_mnist", "DatasetError", "DistributedSampler"]
