"""MNIST and Fashion-MNIST: IDX parsing, downloads through pooch from a local HTTP server
(hash check, resume, mirrors, cache hits without the network) and the cache folder's variables.
Nothing leaves this machine: the files are tiny ones the tests write."""
import gzip
import hashlib
import http.server
import sys
import threading
import time

import numpy as np
import pytest

from gpugrad.data import DatasetError, cache_dir, download, load_fashion_mnist, load_mnist, mnist

pytest.importorskip("pooch", reason="downloads need pooch: pip install 'gpugrad[data]'")
pytest.importorskip("platformdirs", reason="the cache folder needs platformdirs")


def _idx(array, code):
    header = bytes([0, 0, code, array.ndim]) + b"".join(
        int(s).to_bytes(4, "big") for s in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def _split(rng, n=5):
    """Tiny gzip'd IDX images and labels: the arrays, {name: bytes} and RESOURCES entries."""
    images = rng.integers(0, 256, (n, 28, 28)).astype(np.uint8)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    files = {"train-images-idx3-ubyte.gz": gzip.compress(_idx(images, 0x08)),
             "train-labels-idx1-ubyte.gz": gzip.compress(_idx(labels, 0x08))}
    entries = tuple((name, hashlib.sha256(data).hexdigest()) for name, data in files.items())
    return images, labels, files, entries


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``server.files`` (``{name: bytes}``), honouring ``Range: bytes=N-`` when
    ``server.ranges``; records each request's path and Range header in ``server.requests``."""

    def do_GET(self):  # noqa: N802  (http.server's name)
        rng = self.headers.get("Range")
        self.server.requests.append((self.path, rng))
        time.sleep(self.server.delay)
        data = self.server.files.get(self.path.rsplit("/", 1)[-1])
        if data is None:
            self.send_error(404)
            return
        start = int(rng.split("=")[1].split("-")[0]) if rng and self.server.ranges else 0
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        # ``server.cut``: send only that many bytes, then close (a dropped connection)
        self.wfile.write(data[start:self.server.cut or None])

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    """A local HTTP mirror; ``server.url`` is its URL prefix."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.files, httpd.requests, httpd.ranges, httpd.cut, httpd.delay = {}, [], True, None, 0
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}/mnist/"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


@pytest.fixture
def split(rng, monkeypatch):
    """A tiny MNIST train split that RESOURCES points at (real file names, test hashes)."""
    images, labels, files, entries = _split(rng)
    monkeypatch.setitem(mnist.RESOURCES["mnist"], "train", entries)
    return images, labels, files, entries


def test_parse_idx_dtypes_and_errors():
    ints = np.arange(6, dtype=np.int32).reshape(2, 3) - 3
    np.testing.assert_array_equal(mnist.parse_idx(_idx(ints, 0x0C)), ints)
    floats = np.array([1.5, -2.25], dtype=np.float32)
    np.testing.assert_array_equal(mnist.parse_idx(gzip.compress(_idx(floats, 0x0D))), floats)
    with pytest.raises(DatasetError, match="truncated"):
        mnist.parse_idx(_idx(ints, 0x0C)[:-1], "x.idx")
    with pytest.raises(DatasetError, match="not an IDX file"):
        mnist.parse_idx(b"\x12\x34\x56\x78", "x.idx")


def test_download_verifies_caches_and_then_needs_no_network(tmp_path, monkeypatch, server,
                                                            split):
    images, labels, files, entries = split
    server.files.update(files)
    monkeypatch.setenv("GPUGRAD_CACHE", str(tmp_path / "cache"))
    x, y = load_mnist(train=True, mirrors=[server.url])
    assert x.shape == (5, 28, 28) and x.dtype == "float32"
    np.testing.assert_allclose(x.numpy(), images / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(y.numpy(), labels)
    cached = tmp_path / "cache" / "mnist"
    assert sorted(p.name for p in cached.iterdir()) == sorted(files)  # no temporaries left
    assert len(server.requests) == 2
    # Cache hits: the server is not asked again, and no mirror (no network) is needed at all.
    x2, _ = load_mnist(train=True, mirrors=[server.url], normalize=False)
    x3, _ = load_mnist(train=True, mirrors=[], download=False, normalize=False)
    assert len(server.requests) == 2
    np.testing.assert_array_equal(x2.numpy(), images)
    np.testing.assert_array_equal(x3.numpy(), images)


def test_checksum_mismatch_is_rejected_and_nothing_is_kept(tmp_path, server, split):
    _, _, files, entries = split
    server.files.update(files)
    good = files[entries[0][0]]
    server.files[entries[0][0]] = good[:-1] + bytes([good[-1] ^ 1])  # one flipped bit
    folder = tmp_path / "cache"
    with pytest.raises(DatasetError, match=r"(?s)checksum mismatch.*train-images"):
        load_mnist(root=str(folder), mirrors=[server.url])
    assert list(folder.iterdir()) == []  # no corrupt file, no partial, no temporary
    # A cached file that fails its hash is downloaded again, or refused without download.
    (folder / entries[0][0]).write_bytes(b"stale")
    with pytest.raises(DatasetError, match="fails its checksum"):
        load_mnist(root=str(folder), download=False)
    server.files.update(files)
    load_mnist(root=str(folder), mirrors=[server.url])
    assert (folder / entries[0][0]).read_bytes() == files[entries[0][0]]


def test_interrupted_download_resumes_with_a_range_request(tmp_path, server, split):
    images, _, files, entries = split
    server.files.update(files)
    name = entries[0][0]
    folder = tmp_path / "cache"
    folder.mkdir()
    half = len(files[name]) // 2
    (folder / (name + ".part")).write_bytes(files[name][:half])  # what a cut download left
    x, _ = load_mnist(root=str(folder), mirrors=[server.url], normalize=False)
    np.testing.assert_array_equal(x.numpy(), images)
    assert server.requests[0] == ("/mnist/" + name, f"bytes={half}-")
    assert not (folder / (name + ".part")).exists()


def test_dropped_connection_keeps_the_bytes_for_the_next_try(tmp_path, monkeypatch, server,
                                                             split):
    images, _, files, entries = split
    name = entries[0][0]
    server.files.update(files)
    server.cut = 100
    monkeypatch.setattr(download, "DOWNLOAD_CHUNK_BYTES", 16)  # the chunk being read is lost
    folder = tmp_path / "cache"
    with pytest.raises(DatasetError, match=r"(?s)Tried:.*train-images"):
        load_mnist(root=str(folder), mirrors=[server.url])
    assert sorted(p.name for p in folder.iterdir()) == [name + ".part"]
    kept = (folder / (name + ".part")).read_bytes()
    assert 100 - 16 <= len(kept) <= 100 and kept == files[name][:len(kept)]
    server.cut = None
    x, _ = load_mnist(root=str(folder), mirrors=[server.url], normalize=False)
    np.testing.assert_array_equal(x.numpy(), images)
    assert server.requests[1] == ("/mnist/" + name, f"bytes={len(kept)}-")


def test_server_without_ranges_sends_the_whole_file_again(tmp_path, server, split):
    images, _, files, entries = split
    server.files.update(files)
    server.ranges = False
    folder = tmp_path / "cache"
    folder.mkdir()
    (folder / (entries[0][0] + ".part")).write_bytes(b"junk that must not be kept")
    x, _ = load_mnist(root=str(folder), mirrors=[server.url], normalize=False)
    np.testing.assert_array_equal(x.numpy(), images)


def test_mirrors_are_tried_in_order_and_failures_listed(tmp_path, server, split):
    images, _, files, _ = split
    server.files.update(files)
    refused = "http://127.0.0.1:9/"  # the discard port refuses at once: no network touched
    x, _ = load_mnist(root=str(tmp_path), mirrors=[refused, server.url], normalize=False)
    np.testing.assert_array_equal(x.numpy(), images)
    with pytest.raises(DatasetError, match=r"(?s)offline\?.*127.0.0.1:9.*by hand \(from "
                                           r"http://127.0.0.1:9/\) into"):
        load_mnist(root=str(tmp_path / "empty"), mirrors=[refused])
    server.files.clear()
    with pytest.raises(DatasetError, match="404"):
        load_mnist(root=str(tmp_path / "empty"), mirrors=[server.url])


def test_processes_sharing_the_cache_download_each_file_once(tmp_path, server, split):
    images, _, files, _ = split
    server.files.update(files)
    server.delay = 0.1  # so the two loads overlap
    results = []

    def load():
        results.append(load_mnist(root=str(tmp_path), mirrors=[server.url], normalize=False))

    threads = [threading.Thread(target=load) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == 2
    for x, _ in results:
        np.testing.assert_array_equal(x.numpy(), images)
    assert sorted(path for path, _ in server.requests) == sorted("/mnist/" + n for n in files)


def test_fashion_mnist_has_its_own_folder_and_files(tmp_path, monkeypatch, server, rng):
    images, labels, files, entries = _split(rng, n=3)
    monkeypatch.setitem(mnist.RESOURCES["fashion-mnist"], "train", entries)
    server.files.update(files)
    monkeypatch.setenv("GPUGRAD_CACHE", str(tmp_path))
    x, y = load_fashion_mnist(mirrors=[server.url], normalize=False)
    np.testing.assert_array_equal(x.numpy(), images)
    np.testing.assert_array_equal(y.numpy(), labels)
    assert (tmp_path / "fashion-mnist" / entries[0][0]).exists()
    assert len(mnist.FASHION_MNIST_CLASSES) == 10
    assert mnist.MIRRORS["fashion-mnist"] != mnist.MIRRORS["mnist"]


def test_published_hashes_are_sha256():
    for dataset in mnist.RESOURCES.values():
        for files in dataset.values():
            for _, digest in files:
                assert len(digest) == 64 and int(digest, 16) >= 0


def test_cache_folder_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("GPUGRAD_CACHE", str(tmp_path / "mine"))
    assert cache_dir() == str(tmp_path / "mine")  # GPUGRAD_CACHE wins
    monkeypatch.setenv("GPUGRAD_CACHE", "")  # empty counts as unset
    if sys.platform.startswith("linux"):  # platformdirs reads XDG_CACHE_HOME on Linux only
        assert cache_dir() == str(tmp_path / "xdg" / "gpugrad")
    monkeypatch.delenv("GPUGRAD_CACHE")
    import platformdirs

    assert cache_dir() == platformdirs.user_cache_dir("gpugrad", appauthor=False)


def test_root_overrides_the_cache(tmp_path, monkeypatch, server, split):
    _, _, files, entries = split
    server.files.update(files)
    monkeypatch.setenv("GPUGRAD_CACHE", str(tmp_path / "unused"))
    load_mnist(root=str(tmp_path / "root"), mirrors=[server.url])
    assert (tmp_path / "root" / entries[0][0]).exists()
    assert not (tmp_path / "unused").exists()


def test_missing_optional_packages_name_the_extra(tmp_path, monkeypatch, split):
    monkeypatch.setitem(sys.modules, "pooch", None)  # import pooch -> ImportError
    with pytest.raises(ImportError, match=r"needs pooch.*gpugrad\[data\]"):
        load_mnist(root=str(tmp_path), mirrors=["http://127.0.0.1:9/"])
    monkeypatch.setitem(sys.modules, "platformdirs", None)
    monkeypatch.delenv("GPUGRAD_CACHE", raising=False)
    with pytest.raises(ImportError, match=r"needs platformdirs.*gpugrad\[data\]"):
        cache_dir()


def test_no_download_needs_files(tmp_path):
    with pytest.raises(DatasetError, match="missing"):
        load_mnist(root=str(tmp_path), download=False)
