"""Atomic file writes: readers see the old file or the whole new one, never a partial one.

Every file gpugrad writes (checkpoints, traces, figures, drawings, downloads) goes through here:
a temporary file in the target's folder, flushed and fsync'ed, then ``os.replace``d over the
target, and the folder fsync'ed so the rename survives a crash.
"""
import contextlib
import os
import secrets


@contextlib.contextmanager
def atomic_open(path, mode="wb"):
    """``with atomic_open(path) as f: f.write(...)``: ``path`` appears only if the block ends
    without an exception. ``mode`` is "wb" or "w"."""
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_open: mode must be 'wb' or 'w', got {mode!r}")
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{secrets.token_hex(6)}.part")
    # O_EXCL: never reuse a stranger's file; mode 0o666 less the umask, as open() would give
    # (tempfile.mkstemp would make it private, 0600)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_folder(folder)


def atomic_write(path, data):
    """Write ``data`` (bytes or str) to ``path`` atomically; returns ``path``."""
    with atomic_open(path, "w" if isinstance(data, str) else "wb") as f:
        f.write(data)
    return path


def _fsync_folder(folder):
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:  # some platforms cannot open a folder
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
