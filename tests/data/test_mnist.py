"""MNIST: IDX parsing, checksum verification, the cache folder and the offline error, all on
tiny files the tests write (nothing is downloaded)."""
import gzip
import hashlib

import numpy as np
import pytest

from gpugrad.data import DatasetError, load_mnist, mnist


def _idx(array, code):
    header = bytes([0, 0, code, array.ndim]) + b"".join(
        int(s).to_bytes(4, "big") for s in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def _write_split(folder, rng, n=5):
    """Tiny gzip'd IDX images and labels; returns the arrays and RESOURCES-style entries."""
    images = rng.integers(0, 256, (n, 28, 28)).astype(np.uint8)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    entries = []
    for name, payload in (("train-images-idx3-ubyte.gz", _idx(images, 0x08)),
                          ("train-labels-idx1-ubyte.gz", _idx(labels, 0x08))):
        data = gzip.compress(payload)
        (folder / name).write_bytes(data)
        entries.append((name, hashlib.md5(data).hexdigest()))
    return images, labels, tuple(entries)


def test_parse_idx_dtypes_and_errors():
    ints = np.arange(6, dtype=np.int32).reshape(2, 3) - 3
    np.testing.assert_array_equal(mnist.parse_idx(_idx(ints, 0x0C)), ints)
    floats = np.array([1.5, -2.25], dtype=np.float32)
    np.testing.assert_array_equal(mnist.parse_idx(gzip.compress(_idx(floats, 0x0D))), floats)
    with pytest.raises(DatasetError, match="truncated"):
        mnist.parse_idx(_idx(ints, 0x0C)[:-1], "x.idx")
    with pytest.raises(DatasetError, match="not an IDX file"):
        mnist.parse_idx(b"\x12\x34\x56\x78", "x.idx")


def test_download_from_mirror_verifies_and_caches(tmp_path, monkeypatch, rng):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    images, labels, entries = _write_split(mirror, rng)
    monkeypatch.setitem(mnist.RESOURCES, "train", entries)
    monkeypatch.setenv("GPUGRAD_CACHE", str(tmp_path / "cache"))
    urls = [mirror.as_uri() + "/"]
    x, y = load_mnist(train=True, mirrors=urls)
    assert x.shape == (5, 28, 28) and x.dtype == "float32"
    np.testing.assert_allclose(x.numpy(), images / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(y.numpy(), labels)
    assert (tmp_path / "cache" / "mnist" / entries[0][0]).exists()
    # Cached: a second load works with no mirror at all.
    x2, _ = load_mnist(train=True, mirrors=[], normalize=False)
    np.testing.assert_array_equal(x2.numpy(), images)


def test_checksum_mismatch_is_rejected(tmp_path, monkeypatch, rng):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    _, _, entries = _write_split(mirror, rng)
    bad = ((entries[0][0], "0" * 32), entries[1])
    monkeypatch.setitem(mnist.RESOURCES, "train", bad)
    with pytest.raises(DatasetError, match="checksum mismatch"):
        load_mnist(root=str(tmp_path / "cache"), mirrors=[mirror.as_uri() + "/"])
    assert not (tmp_path / "cache" / entries[0][0]).exists()  # nothing unverified is kept


def test_offline_error_says_what_to_do(tmp_path):
    # Port 9 on localhost (discard) refuses connections at once: no network is touched.
    with pytest.raises(DatasetError, match=r"(?s)offline\?.*127.0.0.1:9.*by hand"):
        load_mnist(root=str(tmp_path), mirrors=["http://127.0.0.1:9/"])
    with pytest.raises(DatasetError, match=r"by hand \(from http://127.0.0.1:9/train-images"):
        load_mnist(root=str(tmp_path), mirrors=["http://127.0.0.1:9/"])  # the mirror given


def test_no_download_needs_files(tmp_path):
    with pytest.raises(DatasetError, match="missing"):
        load_mnist(root=str(tmp_path), download=False)
