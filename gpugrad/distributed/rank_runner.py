"""One rank of ``gpugrad run``: ``python -m gpugrad.distributed.rank_runner script.py args...``.

Runs the script as ``python script.py args...`` would, with torchrun's rank variables set
(``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``LOCAL_WORLD_SIZE``), then writes the rank's exit
status into the launcher's status folder (``GPUGRAD_RUN_STATUS_DIR``), so the launcher can say
which rank failed and which died without a status (a signal, ``os._exit``). A rank that fails
while its peers are healthy aborts the MPI job (as ``python -m mpi4py`` does), so they do not
wait for it until their timeout; a rank whose collective failed (a dead peer) just exits,
without the ``MPI_Finalize`` that would wait for the dead peer forever.
"""
import os
import runpy
import sys
import traceback

from .failure import exit_now, failed
from .launch import STATUS_ENV, status_path


#: torchrun's variables, from what MPICH's launcher (hydra) tells each process
_RANK_VARIABLES = {"RANK": "PMI_RANK", "WORLD_SIZE": "PMI_SIZE",
                   "LOCAL_RANK": "MPI_LOCALRANKID", "LOCAL_WORLD_SIZE": "MPI_LOCALNRANKS"}


def set_rank_variables(environ=os.environ):
    """Give the script torchrun's ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and
    ``LOCAL_WORLD_SIZE``, as the launcher placed this process (values already set are kept)."""
    for name, source in _RANK_VARIABLES.items():
        if source in environ:
            environ.setdefault(name, environ[source])


def run_script(argv):
    """Run ``argv[0]`` as ``__main__`` with ``sys.argv = argv``; returns its exit status."""
    script = argv[0]
    sys.argv = list(argv)
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        print(exc.code, file=sys.stderr)
        return 1
    except BaseException as exc:  # noqa: BLE001  (report anything, as the interpreter would)
        traceback.print_exception(type(exc), exc, _script_frames(exc.__traceback__))
        return 1
    return 0


def _script_frames(tb):
    """``tb`` from the script's first frame on (without this runner's and runpy's)."""
    while tb is not None and (tb.tb_frame.f_code.co_filename in (__file__, runpy.__file__)
                              or tb.tb_frame.f_code.co_filename.startswith("<frozen")):
        tb = tb.tb_next
    return tb


def main(argv=None):
    """Run the script, record the status, and end this rank as the module docstring says."""
    argv = sys.argv[1:] if argv is None else argv
    set_rank_variables()
    status = run_script(argv)
    rank = os.environ.get("PMI_RANK", "0")
    abort = status != 0 and not failed() and _mpi_world_size() > 1
    folder = os.environ.get(STATUS_ENV)
    if folder:
        with open(status_path(folder, rank), "w") as record:
            record.write(f"{status} {'abort' if abort else 'exit'}\n")
    if abort:
        sys.stdout.flush()
        sys.stderr.flush()
        sys.modules["mpi4py.MPI"].COMM_WORLD.Abort(status)
    if failed():
        exit_now(status)
    return status


def _mpi_world_size():
    MPI = sys.modules.get("mpi4py.MPI")  # only when the script started MPI
    return MPI.COMM_WORLD.Get_size() if MPI is not None and MPI.Is_initialized() else 0


if __name__ == "__main__":
    sys.exit(main())
