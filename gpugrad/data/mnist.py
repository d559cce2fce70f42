"""MNIST and Fashion-MNIST: 70,000 28x28 grayscale images each (handwritten digits; Zalando's
clothing pictures), downloaded once into the cache and verified by SHA-256.

Files come from public mirrors (torchvision's first), are fetched by ``pooch`` (resumable,
hash-checked; see ``gpugrad.data.download``) and are parsed from the IDX format (a tiny header,
then raw big-endian values). They are cached in ``<cache>/mnist`` and
``<cache>/fashion-mnist``, where ``<cache>`` is ``$GPUGRAD_CACHE`` or the user cache folder
(``gpugrad.data.cache``); with no network, put the four ``*-ubyte.gz`` files there by hand.
Downloading needs ``pip install 'gpugrad[data]'``.
"""
import gzip
import os

import numpy as np

from ..creation import tensor
from .cache import cache_dir
from .download import DatasetError, fetch, sha256_of

# URL prefixes, tried in order.
MIRRORS = {
    "mnist": ("https://ossci-datasets.s3.amazonaws.com/mnist/",
              "https://storage.googleapis.com/cvdf-datasets/mnist/"),
    "fashion-mnist": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                      "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/"
                      "data/fashion/"),
}
# split -> ((images file, SHA-256), (labels file, SHA-256)) of the published files.
RESOURCES = {
    "mnist": {
        "train": (("train-images-idx3-ubyte.gz",
                   "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
                  ("train-labels-idx1-ubyte.gz",
                   "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c")),
        "test": (("t10k-images-idx3-ubyte.gz",
                  "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
                 ("t10k-labels-idx1-ubyte.gz",
                  "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6")),
    },
    "fashion-mnist": {
        "train": (("train-images-idx3-ubyte.gz",
                   "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"),
                  ("train-labels-idx1-ubyte.gz",
                   "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845")),
        "test": (("t10k-images-idx3-ubyte.gz",
                  "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"),
                 ("t10k-labels-idx1-ubyte.gz",
                  "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5")),
    },
}
# Fashion-MNIST's label names, by label (as torchvision's FashionMNIST.classes).
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                         "Shirt", "Sneaker", "Bag", "Ankle boot")
# IDX type codes (the third header byte) -> big-endian NumPy dtype.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


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
    values = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return values.astype(dtype.newbyteorder("="))


def _local_file(name, sha256, folder):
    """``folder/name`` without downloading: DatasetError when it is missing or fails its
    SHA-256."""
    path = os.path.join(folder, name)
    if not os.path.exists(path):
        raise DatasetError(f"{path} is missing; load it with download=True or place the file "
                           f"there by hand")
    if sha256_of(path) != sha256:
        raise DatasetError(f"{path} fails its checksum (expected SHA-256 {sha256}); delete it "
                           f"and download it again")
    return path


def _load(dataset, train, root, download, device, normalize, mirrors):
    """``(X, y)`` of ``dataset``'s split, as load_mnist documents."""
    folder = root or os.path.join(cache_dir(), dataset)
    mirrors = MIRRORS[dataset] if mirrors is None else tuple(mirrors)
    arrays = []
    for name, sha256 in RESOURCES[dataset]["train" if train else "test"]:
        if download:
            path = fetch(name, sha256, folder, mirrors)
        else:
            path = _local_file(name, sha256, folder)
        with open(path, "rb") as f:
            arrays.append(parse_idx(f.read(), path))
    images, labels = arrays
    if images.shape[0] != labels.shape[0]:
        raise DatasetError(f"{dataset} in {folder}: {images.shape[0]} images but "
                           f"{labels.shape[0]} labels")
    x = images.astype(np.float32)
    if normalize:
        x /= 255.0
    return tensor(x, device=device), tensor(labels.astype(np.int64), device=device)


def load_mnist(train=True, root=None, download=True, device=None, normalize=True, mirrors=None):
    """``(X, y)`` for MNIST's train (60,000) or test (10,000) split: X of shape (N, 28, 28)
    float32 (scaled to [0, 1] when ``normalize``), y the digit as int64.

    Files are looked for in ``root`` (default ``<cache_dir()>/mnist``) and always checked
    against their SHA-256; missing or mismatching ones are downloaded when ``download`` is true
    (from ``mirrors``, URL prefixes tried in order; default ``MIRRORS["mnist"]``), else
    DatasetError. Downloading needs ``pip install 'gpugrad[data]'``.
    """
    return _load("mnist", train, root, download, device, normalize, mirrors)


def load_fashion_mnist(train=True, root=None, download=True, device=None, normalize=True,
                       mirrors=None):
    """``(X, y)`` for Fashion-MNIST's train (60,000) or test (10,000) split, as ``load_mnist``
    (default folder ``<cache_dir()>/fashion-mnist``, default mirrors
    ``MIRRORS["fashion-mnist"]``); y is the clothing type, named by
    ``FASHION_MNIST_CLASSES[y]``."""
    return _load("fashion-mnist", train, root, download, device, normalize, mirrors)
