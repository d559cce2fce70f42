"""MNIST: 70,000 28x28 handwritten digits, downloaded once into a cache folder and verified.

Files come from the mirrors PyTorch's torchvision uses, are checked against their published
MD5 sums, and are parsed from the IDX format (a tiny header, then raw big-endian values).
The cache is ``$GPUGRAD_CACHE`` or ``~/.cache/gpugrad``; with no network, put the four
``*-ubyte.gz`` files in ``<cache>/mnist`` by hand.
"""
import gzip
import hashlib
import os
import urllib.error
import urllib.request

import numpy as np

from ..atomic import atomic_open
from ..creation import tensor

MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
# (file, md5) as published with the dataset and used by torchvision.
RESOURCES = {
    "train": (("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
              ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432")),
    "test": (("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
             ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c")),
}
# IDX type codes (the third header byte) -> big-endian NumPy dtype.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class DatasetError(RuntimeError):
    """A dataset that cannot be obtained (offline, bad checksum) or parsed."""


def cache_dir():
    """The folder for downloaded data: ``$GPUGRAD_CACHE`` or ``~/.cache/gpugrad``."""
    return os.environ.get("GPUGRAD_CACHE") or os.path.join(os.path.expanduser("~"), ".cache",
                                                            "gpugrad")


def parse_idx(data, source="<bytes>"):
    """A NumPy array from the bytes of an IDX file (gzip-compressed or not)."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise DatasetError(f"{source} is not an IDX file (bad magic number {data[:4].hex()})")
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DatasetError(f"{source} is truncated: the header needs {header} bytes")
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(data) != expected:
        raise DatasetError(f"{source} has {len(data)} bytes but its header {shape} needs "
                           f"{expected}; the file is truncated or corrupt")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def _md5(path):
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class _ChecksumMismatch(Exception):
    """A download whose bytes do not match the published checksum."""


def _download(name, md5, folder, mirrors):
    """Fetch ``name`` into ``folder`` from the first mirror that works; verify its MD5."""
    target = os.path.join(folder, name)
    if os.path.exists(target) and _md5(target) == md5:
        return target
    os.makedirs(folder, exist_ok=True)
    failures = []
    for mirror in mirrors:
        url = mirror + name
        try:
            # the file appears only if the whole download matches the checksum
            with atomic_open(target) as out, urllib.request.urlopen(url, timeout=30) as response:
                digest = hashlib.md5()
                for chunk in iter(lambda: response.read(1 << 20), b""):
                    digest.update(chunk)
                    out.write(chunk)
                if digest.hexdigest() != md5:
                    raise _ChecksumMismatch(f"{url}: checksum mismatch (md5 "
                                            f"{digest.hexdigest()}, expected {md5})")
            return target
        except _ChecksumMismatch as exc:
            failures.append(str(exc))
        except (urllib.error.URLError, OSError, ValueError) as exc:
            failures.append(f"{url}: {getattr(exc, 'reason', exc)}")
    raise DatasetError(
        f"could not download {name} (offline?). Tried:\n  " + "\n  ".join(failures)
        + f"\nDownload it by hand (from {(mirrors or MIRRORS)[0]}{name}) into {folder}, or "
        f"(without root=) set GPUGRAD_CACHE to a folder whose mnist/ subfolder holds it."
    )


def load_mnist(train=True, root=None, download=True, device=None, normalize=True,
               mirrors=MIRRORS):
    """``(X, y)`` for MNIST's train (60,000) or test (10,000) split: X of shape (N, 28, 28)
    float32 (scaled to [0, 1] when ``normalize``), y the digit as int64.

    Files are looked for in ``root`` (default ``<cache_dir()>/mnist``), downloaded when missing
    and ``download`` is true, and always checked against their MD5 sums.
    """
    folder = root or os.path.join(cache_dir(), "mnist")
    arrays = []
    for name, md5 in RESOURCES["train" if train else "test"]:
        path = os.path.join(folder, name)
        if download:
            path = _download(name, md5, folder, mirrors)
        elif not os.path.exists(path):
            raise DatasetError(f"{path} is missing; call load_mnist(download=True) or place the "
                               f"file there by hand")
        elif _md5(path) != md5:
            raise DatasetError(f"{path} fails its checksum (expected md5 {md5}); delete it and "
                               f"download it again")
        with open(path, "rb") as f:
            arrays.append(parse_idx(f.read(), path))
    images, labels = arrays
    if images.shape[0] != labels.shape[0]:
        raise DatasetError(f"MNIST in {folder}: {images.shape[0]} images but {labels.shape[0]} "
                           f"labels")
    x = images.astype(np.float32)
    if normalize:
        x /= 255.0
    return tensor(x, device=device), tensor(labels.astype(np.int64), device=device)
