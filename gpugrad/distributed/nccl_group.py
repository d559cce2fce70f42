"""The ``nccl`` process group: collectives on cuda tensors through CuPy's NCCL communicator.

One GPU per process: ``cuda:(LOCAL_RANK % GPU count)``. Rank 0 makes NCCL's unique id and the
others get it over MPI when MPI launched the job, else over TCP (``store.py``). Each collective
is queued on the current CUDA stream, followed by an event that ``Work`` polls, so work issued
after it on that stream runs after it and a dead peer surfaces as a timeout (the communicator is
then aborted, which ends its kernels).
"""
from ..backends.cuda import availability
from ..errors import DeviceUnavailableError
from .environment import agree, env_int, env_rank_and_size, mpi_module, publish_local
from .reduce_op import BITWISE, ReduceOp, divide_in_place
from .store import address, share
from .work import DistBackendError, Pending

# gpugrad dtype -> CuPy's NCCL constant (bool reduces as uint8 with the logical tables below)
_NCCL_TYPES = {"float64": "NCCL_FLOAT64", "float32": "NCCL_FLOAT32", "float16": "NCCL_FLOAT16",
               "bfloat16": "NCCL_BFLOAT16", "int64": "NCCL_INT64", "int32": "NCCL_INT32",
               "int8": "NCCL_INT8", "uint8": "NCCL_UINT8", "bool": "NCCL_UINT8"}
_NCCL_OPS = {ReduceOp.SUM: "NCCL_SUM", ReduceOp.PRODUCT: "NCCL_PROD", ReduceOp.MIN: "NCCL_MIN",
             ReduceOp.MAX: "NCCL_MAX", ReduceOp.AVG: "NCCL_AVG"}
_BOOL_OPS = {ReduceOp.SUM: "NCCL_MAX", ReduceOp.AVG: "NCCL_MAX", ReduceOp.MAX: "NCCL_MAX",
             ReduceOp.PRODUCT: "NCCL_MIN", ReduceOp.MIN: "NCCL_MIN"}
_AVG_SINCE = 21000  # ncclAvg: NCCL 2.10 (CuPy defines NCCL_AVG whatever the runtime version)


def nccl_module():
    """CuPy's ``cupy.cuda.nccl``, after checking that a GPU is usable; DeviceUnavailableError
    saying why not (no CuPy, no GPU, CuPy built without NCCL)."""
    cupy = availability.require(0)
    try:
        from cupy.cuda import nccl
    except ImportError as exc:
        raise DeviceUnavailableError(f"the nccl backend needs CuPy's NCCL bindings, which do "
                                     f"not import ({exc}); install NCCL (pip install "
                                     f"nvidia-nccl-cu12) or use backend='mpi'") from None
    if not getattr(nccl, "available", True):
        raise DeviceUnavailableError("the nccl backend needs NCCL, which this CuPy was built "
                                     "without; install NCCL or use backend='mpi'")
    return cupy, nccl


def nccl_unavailable_reason():
    """Why the nccl backend cannot be used here, or None when it can."""
    try:
        nccl_module()
    except DeviceUnavailableError as exc:
        return str(exc)
    return None


class NcclGroup:
    """The world of processes joined by one NCCL communicator, one GPU each. ``rank``,
    ``size``, ``timeout`` (seconds), ``name`` ("nccl"), ``device_index``; ``comm`` is None once
    closed or aborted (a collective that failed or timed out aborts it)."""

    name = "nccl"

    def __init__(self, cupy, nccl, comm, rank, size, device_index, timeout):
        self.cupy, self.nccl, self.comm = cupy, nccl, comm
        self.rank, self.size, self.device_index = rank, size, device_index
        self.timeout = timeout
        self._native_avg = hasattr(nccl, "NCCL_AVG") and nccl.get_version() >= _AVG_SINCE

    @classmethod
    def create(cls, timeout, rank=-1, world_size=-1, init_method=None, device_id=None):
        """Join the NCCL world: rank and size from MPI (when it launched more than one process)
        or from ``rank``/``world_size`` / ``RANK``/``WORLD_SIZE``; the GPU from ``device_id``
        or ``LOCAL_RANK``."""
        cupy, nccl = nccl_module()
        MPI = _mpi_if_launched()
        if MPI is not None:
            world = MPI.COMM_WORLD
            rank_here, size = world.Get_rank(), world.Get_size()
            agree("MPI", rank_here, size, rank, world_size)
            node = world.Split_type(MPI.COMM_TYPE_SHARED, key=rank_here)
            publish_local(node.Get_rank(), node.Get_size())
            node.Free()
        else:
            rank_here, size = env_rank_and_size(rank, world_size)
        local = env_int("LOCAL_RANK")
        index = _device_index(cupy, device_id, rank_here if local is None else local)
        cupy.cuda.Device(index).use()
        uid = nccl.get_unique_id() if rank_here == 0 else None
        if MPI is not None:
            uid = MPI.COMM_WORLD.bcast(uid, root=0)
        elif size > 1:
            uid = _unpack(share(address(init_method), rank_here, size,
                                _pack(uid) if uid is not None else None, timeout))
        comm = nccl.NcclCommunicator(size, uid, rank_here)
        return cls(cupy, nccl, comm, rank_here, size, index, timeout)

    def close(self):
        """Destroy the communicator."""
        if self.comm is not None:
            self.comm.destroy()
            self.comm = None

    # ---- buffers -------------------------------------------------------------------------------
    def check_device(self, tensor, what):
        """ValueError unless ``tensor`` is on this rank's GPU."""
        device = tensor.device
        if device.type != "cuda" or device.index != self.device_index:
            raise ValueError(f"{what} is on {device}, but the nccl backend of rank {self.rank} "
                             f"works on cuda:{self.device_index}; move it there (.to('cuda:"
                             f"{self.device_index}')) or use backend='mpi'")

    @staticmethod
    def buffer_of(tensor):
        """``(CuPy array, None)``: the tensor's own device memory."""
        return tensor._data, None

    def empty(self, shape, like):
        """An uninitialized device array of ``shape`` with ``like``'s dtype."""
        return self.cupy.empty(shape, like.dtype)

    def stack(self, arrays):
        """The arrays one after the other in one new device array."""
        return self.cupy.stack(arrays)

    # ---- the operations (each returns a Pending) -----------------------------------------------
    def all_reduce(self, buf, op):
        """Reduce ``buf`` over the ranks with ``op``, in place."""
        kind, nccl_op, divide = self._reduction(buf, op)
        self._live().allReduce(buf.data.ptr, buf.data.ptr, buf.size, kind, nccl_op, self._stream())
        return self._pending(lambda: divide_in_place(buf, self.size) if divide else None)

    def broadcast(self, buf, src):
        """Rank ``src``'s ``buf`` into every rank's ``buf``."""
        kind, count = self._bytes(buf)
        self._live().bcast(buf.data.ptr, count, kind, src, self._stream())
        return self._pending()

    def all_gather(self, send, recv):
        """Every rank's ``send`` into ``recv``, rank order."""
        kind, count = self._bytes(send)
        self._live().allGather(send.data.ptr, recv.data.ptr, count, kind, self._stream())
        return self._pending()

    def reduce_scatter(self, send, recv, op):
        """Reduce ``send`` over the ranks; block ``rank`` into ``recv``."""
        kind, nccl_op, divide = self._reduction(recv, op)
        self._live().reduceScatter(send.data.ptr, recv.data.ptr, recv.size, kind, nccl_op,
                                self._stream())
        return self._pending(lambda: divide_in_place(recv, self.size) if divide else None)

    def send(self, buf, dst, tag):
        """``buf`` to rank ``dst`` (NCCL has no tags; ``tag`` is ignored, as in PyTorch)."""
        kind, count = self._bytes(buf)
        self._live().send(buf.data.ptr, count, kind, dst, self._stream())
        return self._pending()

    def recv(self, buf, src, tag, status):
        """Into ``buf`` from rank ``src``."""
        if src is None:
            raise ValueError("the nccl backend receives from a named rank: pass src=...")
        kind, count = self._bytes(buf)
        self._live().recv(buf.data.ptr, count, kind, src, self._stream())
        return self._pending()

    @staticmethod
    def new_status():
        """Nothing to record: NCCL receives from a named rank."""
        return None

    @staticmethod
    def sender(status):
        """Never called: ``recv`` names its source."""
        raise AssertionError("the nccl backend receives from a named rank only")

    def barrier(self):
        """Every rank has reached this point (an all-reduce of one element)."""
        return self.all_reduce(self.cupy.zeros(1, self.cupy.float32), ReduceOp.SUM)

    # ---- helpers -------------------------------------------------------------------------------
    def _live(self):
        """The communicator; DistBackendError once it was aborted."""
        if self.comm is None:
            raise DistBackendError(
                f"the nccl communicator of rank {self.rank} was aborted after a collective "
                f"failed or timed out, so this process group cannot run collectives any more: "
                f"end the process, or destroy_process_group() and init_process_group() again "
                f"on every rank")
        return self.comm

    def _stream(self):
        return self.cupy.cuda.get_current_stream().ptr

    def _pending(self, finish=None):
        event = self.cupy.cuda.Event(block=False, disable_timing=True)
        event.record()
        return Pending(lambda: event.done, finish, self._abort)

    def _abort(self):
        if self.comm is not None:
            self.comm.abort()
            self.comm = None

    def _reduction(self, buf, op):
        """``(NCCL dtype, NCCL op, divide by the size after)`` for reducing ``buf``."""
        name = buf.dtype.name
        if op in BITWISE:
            raise ValueError(f"NCCL has no bitwise reductions (ReduceOp.{op.name}); use "
                             f"backend='mpi'")
        if name not in _NCCL_TYPES or not hasattr(self.nccl, _NCCL_TYPES[name]):
            raise TypeError(f"NCCL cannot reduce {name} tensors; cast to a type it has "
                            f"(float32, float16, int32, int64...) or use backend='mpi'")
        table = _BOOL_OPS if name == "bool" else _NCCL_OPS
        divide = op is ReduceOp.AVG and name != "bool" and not self._native_avg
        nccl_op = getattr(self.nccl, "NCCL_SUM" if divide else table[op])
        return getattr(self.nccl, _NCCL_TYPES[name]), nccl_op, divide

    def _bytes(self, buf):
        """``(NCCL dtype, count)`` to move ``buf`` as it is (its bytes when NCCL lacks its type)."""
        name = buf.dtype.name
        if name in _NCCL_TYPES and hasattr(self.nccl, _NCCL_TYPES[name]):
            return getattr(self.nccl, _NCCL_TYPES[name]), buf.size
        return self.nccl.NCCL_UINT8, buf.nbytes


def _mpi_if_launched():
    """mpi4py's MPI when it is installed and launched more than one process, else None."""
    try:
        MPI = mpi_module()
    except ImportError:
        return None
    return MPI if MPI.COMM_WORLD.Get_size() > 1 else None


def _device_index(cupy, device_id, local_rank):
    count = cupy.cuda.runtime.getDeviceCount()
    if device_id is None:
        return local_rank % count
    index = getattr(device_id, "index", device_id)
    if not isinstance(index, int) or not 0 <= index < count:
        raise ValueError(f"device_id={device_id!r} is not one of this machine's {count} GPUs")
    return index


def _pack(uid):
    return bytes((b + 256) % 256 for b in uid)  # NCCL's id: a tuple of signed chars in CuPy


def _unpack(data):
    return tuple(b - 256 if b > 127 else b for b in data)
