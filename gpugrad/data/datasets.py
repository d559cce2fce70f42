"""Small generated datasets (seeded, so every run sees the same points) and a seeded split."""
import math

import numpy as np

from ..creation import tensor


def _as_tensors(x, y, device):
    return tensor(x.astype(np.float32), device=device), tensor(y.astype(np.int64), device=device)


def make_moons(n_samples=100, noise=0.0, seed=0, shuffle=True, device=None):
    """Two interleaving half circles (scikit-learn's construction): ``(X, y)`` with X of shape
    (n_samples, 2) float32 and y in {0, 1} int64. ``noise`` is the std of added Gaussian noise.
    """
    if n_samples < 2:
        raise ValueError(f"make_moons needs n_samples >= 2, got {n_samples}")
    rng = np.random.default_rng(seed)
    n_outer = n_samples // 2
    n_inner = n_samples - n_outer
    outer = np.linspace(0, math.pi, n_outer)
    inner = np.linspace(0, math.pi, n_inner)
    x = np.concatenate([np.stack([np.cos(outer), np.sin(outer)], 1),
                        np.stack([1 - np.cos(inner), 0.5 - np.sin(inner)], 1)])
    y = np.concatenate([np.zeros(n_outer), np.ones(n_inner)])
    if noise:
        x = x + rng.normal(scale=noise, size=x.shape)
    if shuffle:
        order = rng.permutation(n_samples)
        x, y = x[order], y[order]
    return _as_tensors(x, y, device)


def make_spirals(n_samples=300, n_classes=3, noise=0.2, seed=0, device=None):
    """``n_classes`` interleaved spiral arms (the CS231n toy problem): ``(X, y)`` with X of
    shape (n_samples, 2) float32 and y in 0..n_classes-1; not linearly separable."""
    if n_classes < 2 or n_samples < n_classes:
        raise ValueError(f"make_spirals needs n_classes >= 2 and n_samples >= n_classes, got "
                         f"n_samples={n_samples}, n_classes={n_classes}")
    rng = np.random.default_rng(seed)
    sizes = [n_samples // n_classes + (k < n_samples % n_classes) for k in range(n_classes)]
    xs, ys = [], []
    for k, n in enumerate(sizes):
        radius = np.linspace(0.0, 1.0, n)
        angle = np.linspace(k * 4.0, (k + 1) * 4.0, n) + rng.normal(scale=noise, size=n)
        xs.append(np.stack([radius * np.sin(angle), radius * np.cos(angle)], 1))
        ys.append(np.full(n, k))
    order = rng.permutation(n_samples)
    return _as_tensors(np.concatenate(xs)[order], np.concatenate(ys)[order], device)


def train_test_split(*tensors, test_size=0.2, seed=0):
    """Split tensors (sharing their first dimension) into shuffled train and test parts:
    ``x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2)``."""
    n = tensors[0].shape[0]
    n_test = int(math.ceil(test_size * n)) if isinstance(test_size, float) else int(test_size)
    if not 0 < n_test < n:
        raise ValueError(f"test_size={test_size} leaves no train or no test examples of {n}")
    order = np.random.default_rng(seed).permutation(n)
    test_idx, train_idx = order[:n_test], order[n_test:]
    out = []
    for t in tensors:
        if t.shape[0] != n:
            raise ValueError(f"train_test_split: tensors have {n} and {t.shape[0]} rows")
        out += [t[tensor(train_idx, device=t.device)], t[tensor(test_idx, device=t.device)]]
    return out
