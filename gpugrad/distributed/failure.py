"""What a process does once its process group has failed: exit without ``MPI_Finalize``.

``MPI_Finalize`` waits for every rank, so after a peer has died it would hang the exit that
``DistBackendError`` was meant to allow. Once a collective has failed, the process therefore
leaves with ``os._exit`` (after flushing its output) at interpreter exit, with status 1, or
the status that ``gpugrad run``'s rank runner passes to ``exit_now``.
"""
import atexit
import os
import sys

_state = {"failed": False}


def mark_failed():
    """Record that a collective failed; from now on the process exits without finalizing."""
    if not _state["failed"]:
        _state["failed"] = True
        atexit.register(exit_now, 1)  # registered after mpi4py's, so it runs before it


def failed():
    """True once a collective of this process has failed."""
    return _state["failed"]


def exit_now(status):
    """Flush stdout and stderr and end the process with ``status``, skipping MPI_Finalize."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # closed by the program: nothing left to lose
            pass
    os._exit(status)
