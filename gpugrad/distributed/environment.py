"""Where this process stands: its rank and the world's size, from MPI and from the environment
variables that ``torchrun`` sets (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``LOCAL_WORLD_SIZE``),
and the process group's timeout (``GPUGRAD_DIST_TIMEOUT`` overrides the default)."""
import os
from datetime import timedelta

from .work import as_seconds

MPI_HINT = "pip install 'gpugrad[mpi]' (mpi4py and the mpich wheel, with its mpiexec)"
TIMEOUT_ENV = "GPUGRAD_DIST_TIMEOUT"
DEFAULT_TIMEOUT = timedelta(minutes=30)


def mpi_module():
    """mpi4py's ``MPI`` (importing it initializes MPI: a world of one without mpiexec), or
    raises ImportError naming the extra to install."""
    try:
        from mpi4py import MPI
    except ImportError as exc:
        raise ImportError(f"the mpi backend needs mpi4py and an MPI library ({exc}); "
                          f"{MPI_HINT}") from None
    return MPI


def mpi_unavailable_reason():
    """Why the mpi backend cannot be used here, or None when it can."""
    try:
        mpi_module()
    except ImportError as exc:
        return str(exc)
    return None


def env_int(name):
    """The integer in environment variable ``name``, or None when it is unset or empty."""
    text = os.environ.get(name, "").strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"environment variable {name}={text!r} must be an integer") from None


def timeout_seconds(timeout):
    """The process group's timeout in seconds: ``timeout`` when given, else
    ``GPUGRAD_DIST_TIMEOUT`` (seconds) when set, else 30 minutes (PyTorch's default)."""
    if timeout is not None:
        return as_seconds(timeout)
    text = os.environ.get(TIMEOUT_ENV, "").strip()
    if text:
        try:
            return as_seconds(float(text), f"{TIMEOUT_ENV}={text!r}")
        except ValueError:
            raise ValueError(f"{TIMEOUT_ENV}={text!r} must be a positive number of "
                             f"seconds") from None
    return DEFAULT_TIMEOUT.total_seconds()


def agree(source, rank, size, rank_arg=-1, size_arg=-1):
    """Check that ``init_process_group``'s ``rank``/``world_size`` arguments and the ``RANK``/
    ``WORLD_SIZE`` variables agree with the ``rank`` and ``size`` that ``source`` (e.g. "MPI")
    reports; ValueError naming the mismatch otherwise."""
    claims = [("init_process_group(world_size=...)", size_arg if size_arg != -1 else None, size),
              ("WORLD_SIZE", env_int("WORLD_SIZE"), size),
              ("init_process_group(rank=...)", rank_arg if rank_arg != -1 else None, rank),
              ("RANK", env_int("RANK"), rank)]
    for what, claimed, actual in claims:
        if claimed is not None and claimed != actual:
            quantity = "world size" if "SIZE" in what.upper() else "rank"
            raise ValueError(
                f"{what} says {quantity} {claimed} but {source} says {actual}: launch every "
                f"rank with `gpugrad run -n N script.py` or `mpiexec -n N python script.py` "
                f"(not torchrun, whose processes MPI does not connect), or fix the variable")


def env_rank_and_size(rank_arg=-1, size_arg=-1):
    """``(rank, world_size)`` from the arguments, else ``RANK``/``WORLD_SIZE`` (a launcher
    without MPI, such as torchrun); ValueError naming what is missing or out of range."""
    size = size_arg if size_arg != -1 else env_int("WORLD_SIZE")
    rank = rank_arg if rank_arg != -1 else env_int("RANK")
    if size is None or rank is None:
        raise ValueError("without MPI, the rank and world size come from init_process_group("
                         "rank=..., world_size=...) or the RANK and WORLD_SIZE environment "
                         "variables (torchrun sets them); neither is set")
    if size < 1 or not 0 <= rank < size:
        raise ValueError(f"rank {rank} is not in a world of {size} processes (0 <= rank < "
                         f"world_size, world_size >= 1)")
    return rank, size


def publish_local(local_rank, local_size):
    """Set ``LOCAL_RANK``/``LOCAL_WORLD_SIZE`` (this process's place among those on its node)
    where unset; ValueError when a set one disagrees (a launcher that placed ranks otherwise)."""
    for name, value in (("LOCAL_RANK", local_rank), ("LOCAL_WORLD_SIZE", local_size)):
        given = env_int(name)
        if given is None:
            os.environ[name] = str(value)
        elif given != value:
            raise ValueError(f"{name}={given} but MPI places this process at {value} on its "
                             f"node; unset {name} or launch with mpiexec / gpugrad run")
