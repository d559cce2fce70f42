"""``gpugrad run -n N script.py args...``: start N ranks of a script under MPI's ``mpiexec``.

``launch`` finds ``mpiexec`` (the one the ``mpich`` wheel installs next to this Python, else
the first on PATH), runs ``mpiexec -n N python -m gpugrad.distributed.rank_runner script.py
args...`` and returns the job's exit status, after telling stderr which ranks failed or died.
Ranks keep running when one dies (``-disable-auto-cleanup``), so the survivors' collectives end
in ``DistBackendError`` (after the group's timeout, ``GPUGRAD_DIST_TIMEOUT``) and say so
themselves; a rank that fails while its peers are healthy aborts the job.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile

from .environment import MPI_HINT

TIMED_OUT = 124  # the exit status of a job stopped at its timeout, as timeout(1)'s
STATUS_ENV = "GPUGRAD_RUN_STATUS_DIR"  # where each rank records its exit status


def status_path(folder, rank):
    """The file in which rank ``rank`` records its exit status (``rank_runner``)."""
    return os.path.join(folder, f"rank-{rank}.status")


def find_mpiexec():
    """The path of ``mpiexec``: next to ``sys.executable`` (the mpich wheel's), else on PATH;
    FileNotFoundError naming the extra to install when there is none."""
    beside = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if os.access(beside, os.X_OK):
        return beside
    found = shutil.which("mpiexec")
    if found is None:
        raise FileNotFoundError(f"mpiexec not found next to {sys.executable} or on PATH; "
                                f"{MPI_HINT}")
    return found


def launch(nprocs, argv, timeout=None, env=None):
    """Run ``argv`` (``[script.py, arg, ...]``) as ``nprocs`` MPI ranks; returns the exit status
    (0 when every rank succeeded). ``timeout`` (seconds) stops the whole job past it (status
    124); ``env`` (a dict) replaces the environment the ranks get. Reports on stderr each rank
    that failed, died without a status, or was stopped by another rank's abort."""
    if isinstance(nprocs, bool) or not isinstance(nprocs, int) or nprocs < 1:
        raise ValueError(f"the number of processes must be a positive integer, got {nprocs!r}")
    if not argv:
        raise ValueError("nothing to run: give a script (and its arguments)")
    if not os.path.isfile(argv[0]):
        raise FileNotFoundError(f"script not found: {argv[0]}")
    command = [find_mpiexec(), "-disable-auto-cleanup", "-n", str(nprocs), sys.executable,
               "-m", "gpugrad.distributed.rank_runner", *argv]
    with tempfile.TemporaryDirectory(prefix="gpugrad-run-") as folder:
        ranks_env = dict(os.environ if env is None else env)
        ranks_env[STATUS_ENV] = folder
        process = subprocess.Popen(command, env=ranks_env, start_new_session=True)
        try:
            status = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # mpiexec and every rank it started
            process.wait()
            print(f"gpugrad run: stopped the job after its timeout of {timeout:g} s",
                  file=sys.stderr)
            return TIMED_OUT
        except KeyboardInterrupt:
            os.killpg(process.pid, signal.SIGINT)
            process.wait()
            raise
        problems = _rank_report(folder, nprocs)
    for line in problems:
        print(f"gpugrad run: {line}", file=sys.stderr)
    return status if status != 0 or not problems else 1


def _rank_report(folder, nprocs):
    """One line per rank that did not exit with status 0."""
    records = {}
    for rank in range(nprocs):
        try:
            with open(status_path(folder, rank)) as record:
                code, how = record.read().split()
            records[rank] = (int(code), how)
        except (OSError, ValueError):
            records[rank] = None
    aborted = any(r is not None and r[1] == "abort" for r in records.values())
    lines = []
    for rank, record in records.items():
        if record is None:
            lines.append(f"rank {rank} was stopped by another rank's abort" if aborted else
                         f"rank {rank} died without an exit status (killed by a signal or "
                         f"os._exit)")
        elif record[0] != 0:
            lines.append(f"rank {rank} exited with status {record[0]}" +
                         (" and aborted the job" if record[1] == "abort" else ""))
    return lines
