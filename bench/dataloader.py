"""Batches per second of ``gg.data.DataLoader`` against ``torch.utils.data.DataLoader`` on the
same datasets and settings.

    OPENBLAS_NUM_THREADS=1 python bench/dataloader.py [--repeats 5] [--batches 300]

Cases (batch 64, shuffled, each with ``num_workers`` 0 and 2):

- ``tensor``: a TensorDataset of 60000 x 784 float32 images and int64 labels (MNIST's shape),
  the data held as gpugrad tensors for gpugrad and torch tensors for PyTorch;
- ``numpy``: a map-style dataset whose examples are ``(numpy array of 784 float32, int)``
  tuples, collated by each library's ``default_collate``.

One measurement is the wall time of creating an iterator (starting workers included) and
reading ``--batches`` batches; gpugrad and PyTorch alternate within each repeat, and the table
shows the median batches/s of the repeats and the ratio gpugrad / PyTorch (higher is better;
target >= 1.0x).
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import gpugrad as gg  # noqa: E402

SAMPLES, FEATURES, BATCH = 60000, 784, 64


class ArrayExamples:
    """Examples ``(features[i], int(labels[i]))``: NumPy arrays and Python ints."""

    def __init__(self, features, labels):
        self.features, self.labels = features, labels

    def __len__(self):
        return len(self.features)

    def __getitem__(self, index):
        return self.features[index], int(self.labels[index])


def _arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="interleaved repeats (5)")
    parser.add_argument("--batches", type=int, default=300, help="batches per measurement (300)")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2],
                        help="num_workers settings (0 2)")
    return parser.parse_args()


def _datasets(torch):
    rng = np.random.default_rng(0)
    features = rng.random((SAMPLES, FEATURES), dtype=np.float32)
    labels = rng.integers(0, 10, SAMPLES)
    return {
        "tensor": (gg.data.TensorDataset(gg.from_numpy(features), gg.from_numpy(labels)),
                   torch.utils.data.TensorDataset(torch.from_numpy(features),
                                                  torch.from_numpy(labels))),
        "numpy": (ArrayExamples(features, labels), ArrayExamples(features, labels)),
    }


def _batches_per_s(loader_class, dataset, workers, batches):
    loader = loader_class(dataset, batch_size=BATCH, shuffle=True, num_workers=workers)
    start = time.perf_counter()
    iterator = iter(loader)
    for _ in range(batches):
        next(iterator)
    elapsed = time.perf_counter() - start
    del iterator  # stops the workers before the next measurement
    return batches / elapsed


def main():
    args = _arguments()
    try:
        import torch
    except ImportError:
        sys.exit("bench/dataloader.py compares against PyTorch: pip install torch")
    torch.set_num_threads(1)
    peers = {"gpugrad": gg.data.DataLoader, "pytorch": torch.utils.data.DataLoader}
    rates = {}
    for name, (ours, theirs) in _datasets(torch).items():
        for workers in args.workers:
            for _ in range(args.repeats):
                for peer, dataset in (("gpugrad", ours), ("pytorch", theirs)):
                    rate = _batches_per_s(peers[peer], dataset, workers, args.batches)
                    rates.setdefault((name, workers, peer), []).append(rate)
    print(f"{'dataset':8} {'workers':>7} {'gpugrad b/s':>12} {'pytorch b/s':>12} {'ratio':>7}")
    for name in ("tensor", "numpy"):
        for workers in args.workers:
            ours = statistics.median(rates[(name, workers, "gpugrad")])
            theirs = statistics.median(rates[(name, workers, "pytorch")])
            print(f"{name:8} {workers:7d} {ours:12.0f} {theirs:12.0f} {ours / theirs:6.2f}x")


if __name__ == "__main__":
    main()
