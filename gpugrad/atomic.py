"""Atomic file writes: readers see the old file or the whole new one, never a partial one.

Every file gpugrad writes (checkpoints, traces, figures, drawings; not downloads, which pooch
verifies before they take their name) goes through here:
a temporary file in the target's folder, flushed and fsync'ed, then ``os.replace``d over the
target, and the folder fsync'ed so the rename survives a crash.

The temporary file is named ``.gpugrad-tmp.<name>.<random>`` and, where the platform has
``fcntl``, locked while it is written. A write that was killed leaves it behind unlocked; the
next atomic write into the same folder removes such stale temporaries (unlocked and over a
minute old), so a crashed save never leaves gigabytes behind for good.

Errors name the user's path, never the temporary file. A target without write permission
(``chmod a-w``, mode 0444) is never replaced, even by root: ``PermissionError``, as
``open(path, "wb")`` raises for a user who may not write it.
"""
import contextlib
import os
import secrets
import stat
import time

try:
    import fcntl
    HAS_FLOCK = True
except ImportError:  # Windows: an open file cannot be deleted there, so no lock is needed
    HAS_FLOCK = False

TEMP_PREFIX = ".gpugrad-tmp."
# a temporary younger than this may belong to a write that has created but not yet locked it
STALE_AFTER_S = 60.0


@contextlib.contextmanager
def atomic_open(path, mode="wb"):
    """``with atomic_open(path) as f: f.write(...)``: ``path`` appears only if the block ends
    without an exception. ``mode`` is "wb" or "w". OSErrors name ``path``."""
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_open: mode must be 'wb' or 'w', got {mode!r}")
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    _refuse_read_only(path)
    remove_stale_temporaries(folder)
    tmp = os.path.join(folder, f"{TEMP_PREFIX}{os.path.basename(path)}.{secrets.token_hex(6)}")
    try:
        # O_EXCL: never reuse a stranger's file; mode 0o666 less the umask, as open() would give
        # (tempfile.mkstemp would make it private, 0600)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                     0o666)
    except OSError as exc:
        raise _naming(exc, tmp, path) from None
    try:
        if HAS_FLOCK:
            fcntl.flock(fd, fcntl.LOCK_EX)  # tells remove_stale_temporaries the write is alive
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise _naming(exc, tmp, path) from None
        raise
    _fsync_folder(folder)


def atomic_write(path, data):
    """Write ``data`` (bytes or str) to ``path`` atomically; returns ``path``."""
    with atomic_open(path, "w" if isinstance(data, str) else "wb") as f:
        f.write(data)
    return path


def remove_stale_temporaries(folder):
    """Delete the temporaries of atomic writes in ``folder`` that were killed mid-write: those
    no live write holds locked and that are older than ``STALE_AFTER_S``. Returns their names."""
    try:
        names = [n for n in os.listdir(folder) if n.startswith(TEMP_PREFIX)]
    except OSError:
        return []
    removed = []
    for name in names:
        candidate = os.path.join(folder, name)
        with contextlib.suppress(OSError):
            if time.time() - os.stat(candidate).st_mtime < STALE_AFTER_S:
                continue
            if not HAS_FLOCK:
                os.unlink(candidate)  # fails while a live writer has it open
            else:
                fd = os.open(candidate, os.O_RDONLY)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises while it is written
                    os.unlink(candidate)
                finally:
                    os.close(fd)
            removed.append(name)
    return removed


def _refuse_read_only(path):
    """Raise as ``open(path, "wb")`` does when ``path`` exists and may not be written."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return  # nothing to replace (a missing folder is reported when the temporary is made)
    if not stat.S_ISREG(mode):
        return
    if not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) or not os.access(path, os.W_OK):
        raise PermissionError(13, "Permission denied (the file is read-only; make it writable "
                                  "with chmod u+w to replace it)", path)


def _naming(exc, tmp, path):
    """``exc`` about the temporary file, told about the user's ``path`` instead."""
    if exc.errno is None or exc.filename not in (None, tmp):
        return exc  # not about the file being written (or already naming another path)
    return type(exc)(exc.errno, exc.strerror, path)


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
