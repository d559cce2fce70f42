"""The default process group: ``init_process_group`` and the queries about the world it joins."""
from ..creation import get_default_device
from .environment import agree, mpi_module, mpi_unavailable_reason, timeout_seconds
from .mpi_group import MpiGroup
from .nccl_group import NcclGroup, nccl_unavailable_reason
from .sim_group import SimGroup

BACKENDS = ("mpi", "nccl", "sim", "auto")
_INIT_METHODS = ("env://", "tcp://")
_state: dict = {"world": None}


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1,
                       store=None, group_name="", pg_options=None, device_id=None):
    """Join the default process group (PyTorch's ``torch.distributed.init_process_group``).

    ``backend``: "mpi" (tensors on any device, through mpi4py; rank and size from the MPI job
    that ``gpugrad run -n N`` or ``mpiexec -n N`` started, or a world of one without a launcher),
    "nccl" (cuda tensors, one GPU per process: cuda:LOCAL_RANK modulo the GPU count) or "auto"
    / None (nccl when the default device is cuda and NCCL works, else mpi); "sim" stands in
    for ``world_size`` identical ranks in this one process (no launcher, ``rank`` 0 unless
    given): each collective gives the values those ranks would and is modeled on a sim device's
    communication stream (see ``gpugrad/distributed/sim_group.py``). ``RANK``,
    ``WORLD_SIZE`` (and the ``rank``/``world_size`` arguments) are checked against MPI's;
    without MPI (nccl under torchrun) they are the rank and size, and ranks meet at
    ``MASTER_ADDR:MASTER_PORT`` or ``init_method="tcp://host:port"``. ``timeout`` (a
    ``timedelta`` or seconds; default 30 minutes, or ``GPUGRAD_DIST_TIMEOUT`` seconds) bounds
    every collective: past it, ``DistBackendError``."""
    if _state["world"] is not None:
        raise ValueError("trying to initialize the default process group twice!")
    if store is not None or pg_options is not None:
        raise ValueError("store and pg_options are not supported: ranks meet through MPI or "
                         "MASTER_ADDR/MASTER_PORT (init_method='tcp://host:port')")
    if init_method is not None and not init_method.startswith(_INIT_METHODS):
        raise ValueError(f"init_method={init_method!r} is not supported: use 'env://' "
                         f"(the default) or 'tcp://host:port'")
    name = _choose(backend)
    seconds = timeout_seconds(timeout)
    if name == "sim":
        group = SimGroup(0 if rank == -1 else rank, world_size, seconds)
    elif name == "mpi":
        MPI = mpi_module()
        agree("MPI", MPI.COMM_WORLD.Get_rank(), MPI.COMM_WORLD.Get_size(), rank, world_size)
        group = MpiGroup(MPI, seconds)
    else:
        group = NcclGroup.create(seconds, rank, world_size, init_method, device_id)
    _state["world"] = group


def _choose(backend):
    if backend is None or backend == "auto":
        wants_cuda = get_default_device().type == "cuda"
        return "nccl" if wants_cuda and nccl_unavailable_reason() is None else "mpi"
    if backend == "gloo":
        raise ValueError("backend 'gloo' is not available in gpugrad: use 'mpi' (tensors on "
                         "any device) or 'nccl' (cuda tensors)")
    if backend not in BACKENDS:
        raise ValueError(f"backend={backend!r} is not one of {', '.join(BACKENDS)}")
    return backend


def world(group=None):
    """The default process group (``group`` must be None or that group); ValueError before
    ``init_process_group``."""
    current = _state["world"]
    if current is None:
        raise ValueError("Default process group has not been initialized, please make sure to "
                         "call init_process_group.")
    if group is not None and group is not current:
        raise ValueError("only the default process group is supported (group=None)")
    return current


def is_initialized():
    """True between ``init_process_group`` and ``destroy_process_group``."""
    return _state["world"] is not None


def is_available():
    """True: gg.distributed is always importable (the backends may still be unavailable)."""
    return True


def is_mpi_available():
    """True when mpi4py and an MPI library are installed (``pip install 'gpugrad[mpi]'``)."""
    return mpi_unavailable_reason() is None


def is_nccl_available():
    """True when CuPy with NCCL and a GPU are usable here."""
    return nccl_unavailable_reason() is None


def get_rank(group=None):
    """This process's rank in the group (0 to world size - 1)."""
    return world(group).rank


def get_world_size(group=None):
    """The number of processes in the group."""
    return world(group).size


def get_backend(group=None):
    """The group's backend: "mpi", "nccl" or "sim"."""
    return world(group).name


def destroy_process_group(group=None):
    """Leave the default process group; ``init_process_group`` may be called again."""
    world(group).close()
    _state["world"] = None
