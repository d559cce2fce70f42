"""Generated datasets, the digits and the seeded split."""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad.data import load_digits, make_moons, make_spirals, train_test_split


def test_make_moons_shape_labels_and_geometry():
    x, y = make_moons(200, noise=0.0, seed=0)
    assert x.shape == (200, 2) and x.dtype == gg.float32 and y.dtype == gg.int64
    x, y = x.numpy(), y.numpy()
    assert (y == 0).sum() == (y == 1).sum() == 100
    outer = x[y == 0]
    np.testing.assert_allclose(np.hypot(outer[:, 0], outer[:, 1]), 1.0, atol=1e-6)
    assert outer[:, 1].min() >= -1e-6  # upper half circle
    inner = x[y == 1]
    np.testing.assert_allclose(np.hypot(inner[:, 0] - 1, inner[:, 1] - 0.5), 1.0, atol=1e-6)


def test_make_moons_matches_sklearn_without_noise():
    sklearn = pytest.importorskip("sklearn.datasets", reason="scikit-learn is not installed")
    ours_x, ours_y = make_moons(50, shuffle=False)
    theirs_x, theirs_y = sklearn.make_moons(50, shuffle=False)
    np.testing.assert_allclose(ours_x.numpy(), theirs_x, atol=1e-6)
    np.testing.assert_array_equal(ours_y.numpy(), theirs_y)


def test_datasets_are_seeded():
    for make in (lambda s: make_moons(30, noise=0.1, seed=s), lambda s: make_spirals(30, seed=s)):
        a, b, c = make(1), make(1), make(2)
        np.testing.assert_array_equal(a[0].numpy(), b[0].numpy())
        assert not np.array_equal(a[0].numpy(), c[0].numpy())


def test_make_spirals():
    x, y = make_spirals(100, n_classes=4, seed=0, device="cpu")
    assert x.shape == (100, 2)
    assert np.bincount(y.numpy()).tolist() == [25, 25, 25, 25]
    assert np.abs(x.numpy()).max() <= 1.0 + 1e-6
    with pytest.raises(ValueError, match="n_classes"):
        make_spirals(10, n_classes=1)


def test_load_digits():
    pytest.importorskip("sklearn", reason="scikit-learn is not installed")
    x, y = load_digits()
    assert x.shape == (1797, 64) and y.shape == (1797,)
    assert x.numpy().min() == 0.0 and x.numpy().max() == 1.0
    assert sorted(set(y.tolist())) == list(range(10))


def test_load_digits_without_sklearn_says_how_to_install(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_sklearn(name, *args, **kwargs):
        if name.startswith("sklearn"):
            raise ImportError("No module named 'sklearn'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_sklearn)
    with pytest.raises(ImportError, match=r"gpugrad\[examples\]"):
        load_digits()


def test_train_test_split(device):
    x = gg.arange(20, device=device).reshape(10, 2)
    y = gg.arange(10, device=device)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, seed=0)
    assert x_train.shape == (7, 2) and x_test.shape == (3, 2) and x_test.device == device
    assert sorted(y_train.tolist() + y_test.tolist()) == list(range(10))
    np.testing.assert_array_equal(x_test.numpy()[:, 0], 2 * y_test.numpy())
    again = train_test_split(x, y, test_size=0.3, seed=0)
    assert again[3].tolist() == y_test.tolist()
