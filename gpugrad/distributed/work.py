"""Waiting on collectives: ``Work`` (what ``async_op=True`` returns) and ``DistBackendError``.

A collective library's blocking calls wait forever when a peer has died. Every collective here is
therefore started as a nonblocking call (an MPI request, an NCCL kernel followed by a CUDA event)
and polled until it completes or the process group's timeout passes; then ``DistBackendError``
says which collective, on which rank, after how long. Polling spins for the first ``SPIN_S``,
yielding the CPU between polls (``os.sched_yield``: the shortest ``time.sleep`` lasts some 50 µs
of the kernel's timer slack), since most collectives of a training step complete within it and
MPI makes progress only while it is polled; after that it sleeps between polls with a backoff of
at most ``MAX_SLEEP_S``, so a long wait does not occupy a core.
"""
import os
import time
from datetime import timedelta

from .failure import mark_failed

# Seconds of polling without sleeping first: a bucket's all-reduce on the CPU (a few MB between
# two processes) completes within it.
SPIN_S = 1e-3
MAX_SLEEP_S = 1e-3  # seconds between polls at most: a long collective's latency costs <= 1 ms more


# where the OS has no sched_yield (Windows), a zero sleep gives up the time slice
_yield = getattr(os, "sched_yield", lambda: time.sleep(0))


class DistBackendError(RuntimeError):
    """A collective failed or did not complete in the process group's timeout (PyTorch's
    ``torch.distributed.DistBackendError``); the message names the collective and the rank."""


class Pending:
    """One started operation of a collective library: ``poll()`` says (without blocking) whether
    it has completed; ``finish()`` (called once, after) moves its result where it belongs;
    ``abort()`` gives up on it after a timeout."""

    def __init__(self, poll, finish=None, abort=None):
        self._poll, self._finish, self._abort = poll, finish, abort
        self.done = False

    def test(self):
        """True once the operation has completed (running ``finish`` the first time)."""
        if not self.done and self._poll():
            self.done = True
            if self._finish is not None:
                self._finish()
        return self.done

    def abort(self):
        """Give up on the operation (NCCL: abort the communicator so its kernels end)."""
        if self._abort is not None:
            self._abort()


def as_seconds(timeout, what="timeout"):
    """``timeout`` (a ``datetime.timedelta`` or a number of seconds) in seconds; ValueError for
    anything else or a value that is not positive."""
    seconds = timeout.total_seconds() if isinstance(timeout, timedelta) else timeout
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds > 0:
        raise ValueError(f"{what} must be a positive datetime.timedelta or number of seconds, "
                         f"got {timeout!r}")
    return float(seconds)


class Work:
    """A collective in flight (PyTorch's ``torch.distributed.Work``): what a collective called
    with ``async_op=True`` returns. ``wait()`` blocks until it completes and its results are in
    the tensors; ``is_completed()`` asks without blocking."""

    def __init__(self, name, group, pendings, finish=(), outputs=()):
        self._name, self._group = name, group
        self._pendings = list(pendings)
        self._finish = list(finish)
        self._outputs = list(outputs)
        self._completed = False
        self._started = time.monotonic()

    def is_completed(self):
        """True when the collective has completed and its results are in the tensors."""
        if not self._completed:
            self._poll()
        return self._completed

    def is_success(self):
        """True when the collective completed without error (PyTorch's ``is_success``)."""
        return self.is_completed()

    def wait(self, timeout=None):
        """Block until the collective completes; returns True. ``timeout`` (a ``timedelta`` or
        seconds; default: the process group's) bounds the wait: past it, DistBackendError."""
        limit = self._group.timeout if timeout is None else as_seconds(timeout)
        now = time.monotonic()
        deadline, spin_until = now + limit, now + SPIN_S
        pause = 1e-6
        while not self._poll():
            now = time.monotonic()
            if now > deadline:
                mark_failed()
                for pending in self._pendings:
                    pending.abort()
                waited = time.monotonic() - self._started
                raise DistBackendError(
                    f"{self._name} did not complete on rank {self._group.rank} of "
                    f"{self._group.size} ({self._group.name} backend) after {waited:.1f} s "
                    f"(timeout {limit:g} s): a peer rank may have died or may not have called "
                    f"{self._name}. Check the other ranks' output; raise the timeout with "
                    f"init_process_group(timeout=...) or GPUGRAD_DIST_TIMEOUT=seconds.")
            if now < spin_until:
                _yield()  # let other threads and processes run, then poll again at once
                continue
            time.sleep(pause)
            pause = min(2 * pause, MAX_SLEEP_S)
        return True

    def result(self):
        """The collective's output tensors (after ``wait()``), as PyTorch's ``Work.result``."""
        return list(self._outputs)

    def _poll(self):
        if self._completed:
            return True
        try:
            done = all([pending.test() for pending in self._pendings])
        except DistBackendError:
            raise
        except Exception as exc:  # the library's error (a dead peer's MPI_ERR_PROC_FAILED)
            mark_failed()
            raise DistBackendError(
                f"{self._name} failed on rank {self._group.rank} of {self._group.size} "
                f"({self._group.name} backend): {type(exc).__name__}: {exc}; a peer rank may "
                f"have died") from exc
        if done:
            for step in self._finish:
                step()
            self._completed = True
        return self._completed
