"""Real multi-process runs of gg.distributed under the mpich wheel's mpiexec, through the
`gpugrad run` command: every collective at 2 and 4 ranks, and a rank that dies mid-job. Each
launch is bounded by a subprocess timeout, so a hang fails the test instead of the suite. Marked
slow: they test the MPI launch, not NumPy, so CI's second run (on the lowest NumPy) leaves them
out."""
import os
import subprocess
import sys

import pytest

from gpugrad.distributed.launch import find_mpiexec

PROGRAMS = os.path.join(os.path.dirname(__file__), "programs")

try:
    import mpi4py  # noqa: F401
    MPIEXEC = find_mpiexec()
except (ImportError, FileNotFoundError) as exc:
    pytest.skip(f"needs mpi4py and mpiexec (pip install 'gpugrad[mpi]'): {exc}",
                allow_module_level=True)


def gpugrad_run(nprocs, program, timeout, **env):
    """``gpugrad run -n nprocs programs/<program>``: the finished process (output captured)."""
    command = [sys.executable, "-m", "gpugrad", "run", "-n", str(nprocs),
               os.path.join(PROGRAMS, program)]
    environment = {**os.environ, "OPENBLAS_NUM_THREADS": "1", **env}
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          env=environment)


@pytest.mark.slow
@pytest.mark.parametrize("nprocs", [2, 4])
def test_every_collective_matches_numpy(nprocs):
    done = gpugrad_run(nprocs, "check_collectives.py", timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    for rank in range(nprocs):
        assert f"rank {rank} of {nprocs}: ok" in done.stdout, done.stdout + done.stderr


@pytest.mark.slow
def test_a_dead_rank_fails_the_others_with_dist_backend_error():
    done = gpugrad_run(3, "die_midway.py", timeout=90, GPUGRAD_DIST_TIMEOUT="60")
    assert done.returncode != 0
    for rank in (0, 2):
        assert (f"rank {rank} caught: all_reduce did not complete on rank {rank} of 3 (mpi "
                f"backend) after ") in done.stdout, done.stdout + done.stderr
        assert "(timeout 2 s)" in done.stdout
        assert "a peer rank may have died" in done.stdout
        assert f"gpugrad run: rank {rank} exited with status 1" in done.stderr
    assert ("gpugrad run: rank 1 died without an exit status (killed by a signal or "
            "os._exit)") in done.stderr


@pytest.mark.slow
def test_an_uncaught_exception_under_plain_mpiexec_ends_the_job():
    # the group's timeout (an hour) is far past the subprocess timeout: only the abort can end
    # the job in time
    done = subprocess.run([MPIEXEC, "-n", "2", sys.executable,
                           os.path.join(PROGRAMS, "raise_on_one_rank.py")],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "GPUGRAD_DIST_TIMEOUT": "3600"})
    assert done.returncode != 0
    assert "ValueError: an error on rank 1" in done.stderr
    assert "rank 0 finished" not in done.stdout
