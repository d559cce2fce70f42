"""An output folder replaced whole or not at all.

A command writes its files into a hidden sibling of the folder it was given, then swaps that in
with two renames while Ctrl-C and SIGTERM wait. Interrupted at any point, the folder holds either
the previous complete set of files or the new complete set, never a mix. Temporaries are named
after the process that made them, so a later run removes those of processes that are gone.
"""
import contextlib
import os
import re
import shutil
import signal
import threading

from .cli_args import UsageError

_STAGING = "gpugrad-new"  # the files being written
_RETIRED = "gpugrad-old"  # the previous set, between the two renames of the swap


class StagedFolder:
    """``with StagedFolder(path, names) as staged:`` write into ``staged.dir``, then call
    ``staged.commit()`` to make it ``path``. Leaving the block without committing (an error,
    Ctrl-C) removes the staged files and leaves ``path`` as it was.

    ``names`` are the files the command writes: an existing ``path`` holding anything else is
    refused (``UsageError``), because the swap replaces the whole folder. ``path`` must not be
    a mount point itself (a mount point cannot be renamed); its parent may be.
    """

    def __init__(self, path, names, option="--out"):
        self.path = os.path.realpath(path)
        self.names = frozenset(names)
        self.option = option
        parent, base = os.path.split(self.path)
        self.dir = os.path.join(parent, f".{base}.{_STAGING}-{os.getpid()}")
        self._retired = os.path.join(parent, f".{base}.{_RETIRED}-{os.getpid()}")

    def __enter__(self):
        try:
            self._check_existing()
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            _remove_stale_temporaries(self.path)  # this process's own old ones too
            os.mkdir(self.dir)
        except OSError as exc:
            raise UsageError(f"{self.option} {self.path!r} is not a writable folder "
                             f"({exc.strerror or exc}); pass another with {self.option} DIR"
                             ) from None
        return self

    def _check_existing(self):
        if not os.path.lexists(self.path):
            return
        if not os.path.isdir(self.path):
            raise UsageError(f"{self.option} {self.path!r} is not a writable folder (a file is "
                             f"there); pass another with {self.option} DIR")
        foreign = sorted(name for name in os.listdir(self.path) if not self._ours(name))
        if foreign:
            raise UsageError(f"{self.option} {self.path!r} holds files this command did not "
                             f"write ({', '.join(foreign[:5])}{' ...' if len(foreign) > 5 else ''})"
                             f"; the whole folder is replaced, so pass a new or empty folder "
                             f"with {self.option} DIR")

    def _ours(self, name):
        """Whether ``name`` is one of the command's files, or a temporary one of them left by
        a write that was killed (``.model.npz.1234.tmp``)."""
        return name in self.names or any(name.startswith(f".{own}") for own in self.names)

    def commit(self):
        """Make the staged files ``path``: the previous folder, if any, is replaced whole."""
        with _signals_deferred():
            had_previous = os.path.isdir(self.path)
            if had_previous:
                os.rename(self.path, self._retired)
            try:
                os.rename(self.dir, self.path)
            except OSError:
                if had_previous:
                    os.rename(self._retired, self.path)
                raise

    def __exit__(self, *exc_info):
        # After a swap (even one a deferred Ctrl-C interrupted on its way out), the previous set
        # is the temporary; before one, or after a failed one, the staged files are.
        shutil.rmtree(self.dir, ignore_errors=True)
        if os.path.isdir(self.path):
            shutil.rmtree(self._retired, ignore_errors=True)
        return False


@contextlib.contextmanager
def _signals_deferred():
    """Hold Ctrl-C (SIGINT) and SIGTERM until the block ends: one that arrives during it is
    raised again after it, and acts as it would have. (A handler, not a signal mask: a mask
    holds a signal for one thread, and any other thread, such as tqdm's monitor, would take it.)
    Python handles signals in the main thread only, so elsewhere this holds nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    previous = {signum: signal.signal(signum, lambda number, frame: caught.append(number))
                for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
        for signum in caught:
            signal.raise_signal(signum)


def _remove_stale_temporaries(path):
    """Remove the temporaries that processes now gone left beside ``path``; a previous set
    caught between the two renames of a swap (the process was killed) is put back first."""
    parent, base = os.path.split(path)
    pattern = re.compile(rf"\.{re.escape(base)}\.({_STAGING}|{_RETIRED})-(\d+)")
    for name in sorted(os.listdir(parent)):
        match = pattern.fullmatch(name)
        if not match or _alive(int(match[2])):
            continue
        stale = os.path.join(parent, name)
        if match[1] == _RETIRED and not os.path.lexists(path):
            os.rename(stale, path)
        else:
            shutil.rmtree(stale, ignore_errors=True)


def _alive(pid):
    """Whether process ``pid`` exists (this process counts as gone: its temporaries are old)."""
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists, owned by someone else
        return True
    return True
