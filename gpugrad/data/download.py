"""Downloading one file into the cache, verified by its SHA-256 and resumable.

``pooch`` does the fetching: it skips the download when the cached copy already has the right
SHA-256, and otherwise keeps a download only when its SHA-256 matches (a mismatch deletes it,
so nothing unverified is ever left under the file's name). Its downloader here keeps the bytes
received so far in ``<name>.part`` beside the file and asks the next attempt's server for the
rest only (an HTTP ``Range`` request), so an interrupted download continues where it stopped.
Mirrors are tried in order until one delivers the right bytes. Processes that share the cache
(the ranks of a job) take turns on its folder (a file lock), so each file is downloaded once. A
progress bar shows on stderr when it is a terminal and tqdm is installed.
"""
import contextlib
import hashlib
import os

from .cache import data_dependency

HASH_BLOCK_BYTES = 1 << 20
# A dropped connection loses the chunk being read: at most this much is downloaded twice.
DOWNLOAD_CHUNK_BYTES = 1 << 16
TIMEOUT_S = 30  # per connection attempt and between received chunks (requests' read timeout)


class DatasetError(RuntimeError):
    """A dataset that cannot be obtained (offline, bad checksum) or parsed."""


class DownloadFailed(OSError):
    """A mirror that could not deliver the file (unreachable, HTTP error, cut connection)."""


def sha256_of(path):
    """The hex SHA-256 of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(HASH_BLOCK_BYTES), b""):
            digest.update(block)
    return digest.hexdigest()


class ResumableDownloader:
    """A pooch downloader (``downloader(url, output_file, pooch)``) that appends to the partial
    file ``partial`` (an HTTP ``Range`` request for the missing bytes), then moves the whole
    file to ``output_file`` for pooch to verify. A server that ignores the range (HTTP 200)
    sends the whole file, which replaces the partial one."""

    def __init__(self, partial):
        self.partial = partial

    def __call__(self, url, output_file, pooch=None):
        """Download ``url`` into ``output_file``; DownloadFailed naming the URL when the server
        cannot deliver it (the bytes received so far stay in the partial file)."""
        requests = data_dependency("requests")
        offset = os.path.getsize(self.partial) if os.path.exists(self.partial) else 0
        # identity: the file's own bytes, which the range counts (not a re-compressed stream)
        headers = {"Accept-Encoding": "identity"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        try:
            with requests.get(url, headers=headers, stream=True, timeout=TIMEOUT_S) as response:
                # 416: nothing left to send, the partial file is complete; the hash decides
                if response.status_code != 416:
                    response.raise_for_status()
                    self._save(response, offset, url)
        except requests.exceptions.RequestException as exc:
            raise DownloadFailed(f"{url}: {exc}") from None
        os.replace(self.partial, output_file)

    def _save(self, response, offset, url):
        """Write the response's body into the partial file: appended after ``offset`` bytes
        for a partial response (206), from the start for a whole one (200)."""
        resumed = response.status_code == 206
        if resumed and not response.headers.get("Content-Range", "").startswith(
                f"bytes {offset}-"):
            raise DownloadFailed(f"{url}: the server answered the request for bytes {offset}- "
                                 f"with {response.headers.get('Content-Range')!r}")
        done = offset if resumed else 0
        size = response.headers.get("Content-Length")
        total = done + int(size) if size and size.isdigit() else None
        with open(self.partial, "ab" if resumed else "wb") as out, \
                _progress_bar(os.path.basename(url), total, done) as bar:
            for chunk in response.iter_content(DOWNLOAD_CHUNK_BYTES):
                out.write(chunk)
                if bar is not None:
                    bar.update(len(chunk))


def _progress_bar(name, total, done):
    """A tqdm bar of the download's bytes on stderr, shown only when stderr is a terminal
    (tqdm's own test); an empty context (None) without tqdm."""
    try:
        from tqdm import tqdm
    except ImportError:
        return contextlib.nullcontext(None)
    return tqdm(total=total, initial=done, desc=name, unit="B", unit_scale=True, disable=None,
                leave=False)


@contextlib.contextmanager
def _folder_lock(folder):
    """Holds an exclusive lock on ``folder`` for the block, so that processes sharing the cache
    (the ranks of a job) download each file once: the others wait, then find it cached. No lock
    where the platform has no ``flock`` (Windows)."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _try_mirrors(pooch, name, sha256, folder, mirrors):
    """Download ``folder/name`` from the first mirror that delivers the right bytes; returns
    the failures (one line per mirror tried), empty on success."""
    downloader = ResumableDownloader(os.path.join(folder, name + ".part"))
    failures = []
    for mirror in mirrors:
        url = mirror + name if mirror.endswith("/") else f"{mirror}/{name}"
        try:
            pooch.retrieve(url, known_hash=f"sha256:{sha256}", fname=name, path=folder,
                           downloader=downloader)
            return []
        except DownloadFailed as exc:
            failures.append(str(exc))
        except ValueError as exc:  # pooch's hash check; it has deleted the download
            failures.append(f"{url}: checksum mismatch: {exc}")
    return failures or ["(no mirrors given)"]


def fetch(name, sha256, folder, mirrors):
    """The path of ``folder/name``, downloaded from the first of ``mirrors`` (URL prefixes) that
    delivers bytes with SHA-256 ``sha256``; a cached copy that already matches is used as is,
    without touching the network. DatasetError listing every mirror's failure otherwise."""
    target = os.path.join(folder, name)
    if os.path.exists(target) and sha256_of(target) == sha256:
        return target
    pooch = data_dependency("pooch")
    os.makedirs(folder, exist_ok=True)
    with _folder_lock(folder):
        if os.path.exists(target) and sha256_of(target) == sha256:  # another process fetched it
            return target
        failures = _try_mirrors(pooch, name, sha256, folder, mirrors)
        if not failures:
            return target
    tried = "\n  ".join(failures)
    example = f" (from {mirrors[0]})" if mirrors else ""
    raise DatasetError(
        f"could not download {name} (offline?). Tried:\n  {tried}\nDownload it by hand{example} "
        f"into {folder}: a file with SHA-256 {sha256} there is used without a download.")
