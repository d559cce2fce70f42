"""What a process does once its process group has failed: exit without ``MPI_Finalize``.

``MPI_Finalize`` waits for every rank, so after a peer has died it would hang the exit that
``DistBackendError`` was meant to allow. Once a collective has failed, the process therefore
leaves with ``os._exit`` (after flushing its output) at interpreter exit, with status 1, or
the status that ``gpugrad run``'s rank runner passes to ``exit_now``.

An exception that nothing catches on one rank would leave the others waiting in their next
collective until its timeout (and that rank's own exit waiting in ``MPI_Finalize``): under a
plain ``mpiexec``, the traceback is printed and the rank exits at once with status 1, which
makes ``mpiexec`` end the whole job (``gpugrad run``'s rank runner catches the exception itself
and aborts the job).
"""
import atexit
import os
import sys

_state = {"failed": False, "abort_hook": False}


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


def abort_on_uncaught_exception():
    """From now on, an uncaught exception prints its traceback and then ends the MPI job
    (every rank ends at once) instead of leaving the other ranks waiting."""
    if _state["abort_hook"]:
        return
    _state["abort_hook"] = True
    previous = sys.excepthook

    def print_then_exit(kind, value, traceback):
        previous(kind, value, traceback)
        # a rank that exits with an error status, without MPI_Finalize, makes mpiexec end
        # the job; MPI_Abort would too, but may kill the launcher's output forwarding before
        # the traceback gets through
        exit_now(1)

    sys.excepthook = print_then_exit
