"""The ``mpi`` process group: collectives on host buffers through mpi4py's nonblocking calls.

Each method starts one nonblocking MPI operation on NumPy arrays and returns a ``Pending`` that
``Work`` polls. A tensor's memory is used directly where its device has it in host memory
(``host_buffer``: cpu, sim); a cuda tensor travels through a host copy (host_buffers.py). MPI
has no 16-bit float types: float16 and bfloat16 travel as their bytes, and reductions on them
run in float32 (one rounding at the end, so SUM is as exact as the dtype allows).
"""
import numpy as np

from . import host_buffers
from .failure import abort_on_uncaught_exception
from .environment import publish_local
from .reduce_op import ReduceOp, divide_in_place
from .work import Pending

_MPI_TYPES = {"float64": "DOUBLE", "float32": "FLOAT", "int64": "INT64_T", "int32": "INT32_T",
              "int16": "INT16_T", "int8": "INT8_T", "uint8": "UINT8_T", "bool": "C_BOOL"}
_MPI_OPS = {ReduceOp.SUM: "SUM", ReduceOp.AVG: "SUM", ReduceOp.PRODUCT: "PROD",
            ReduceOp.MIN: "MIN", ReduceOp.MAX: "MAX", ReduceOp.BAND: "BAND",
            ReduceOp.BOR: "BOR", ReduceOp.BXOR: "BXOR"}
# bool has only logical ops in MPI: the same truth tables
_BOOL_OPS = {ReduceOp.SUM: "LOR", ReduceOp.AVG: "LOR", ReduceOp.MAX: "LOR", ReduceOp.BOR: "LOR",
             ReduceOp.PRODUCT: "LAND", ReduceOp.MIN: "LAND", ReduceOp.BAND: "LAND",
             ReduceOp.BXOR: "LXOR"}
_WIDENED = ("float16", "bfloat16")  # reduced in float32


class MpiGroup:
    """The world of an MPI job (a duplicate of ``COMM_WORLD``, so gpugrad's messages never
    match the program's own). ``rank``, ``size``, ``timeout`` (seconds), ``name`` ("mpi")."""

    name = "mpi"

    def __init__(self, MPI, timeout):
        self.MPI = MPI
        self.comm = MPI.COMM_WORLD.Dup()
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        self.timeout = timeout
        node = self.comm.Split_type(MPI.COMM_TYPE_SHARED, key=self.rank)
        try:
            self.local_rank, self.local_size = node.Get_rank(), node.Get_size()
        finally:
            node.Free()
        publish_local(self.local_rank, self.local_size)
        if self.size > 1:
            abort_on_uncaught_exception()

    def close(self):
        """Free the communicator (MPI itself stays initialized until the process exits)."""
        if self.comm is not None:
            self.comm.Free()
            self.comm = None

    # ---- buffers -------------------------------------------------------------------------------
    @staticmethod
    def check_device(tensor, what):
        """Any device will do: the mpi group stages what is not in host memory."""

    buffer_of = staticmethod(host_buffers.buffer_of)
    empty = staticmethod(host_buffers.empty)
    stack = staticmethod(host_buffers.stack)

    # ---- the operations (each returns a Pending) -----------------------------------------------
    def all_reduce(self, buf, op):
        """Reduce ``buf`` over the ranks with ``op``, in place."""
        MPI = self.MPI
        if buf.dtype.name in _WIDENED:
            wide = buf.astype(np.float32)
            request = self.comm.Iallreduce(MPI.IN_PLACE, self._spec(wide), self._op(op, wide))
            return self._pending([request], lambda: self._narrow(wide, buf, op))
        request = self.comm.Iallreduce(MPI.IN_PLACE, self._spec(buf), self._op(op, buf))
        return self._pending([request], lambda: self._average(buf, op))

    def broadcast(self, buf, src):
        """Rank ``src``'s ``buf`` into every rank's ``buf``."""
        return self._pending([self.comm.Ibcast(self._spec(buf), root=src)])

    def all_gather(self, send, recv):
        """Every rank's ``send`` into ``recv`` (``size`` times as many elements), rank order."""
        return self._pending([self.comm.Iallgather(self._spec(send), self._spec(recv))])

    def reduce_scatter(self, send, recv, op):
        """Reduce ``send`` (``size`` equal blocks) over the ranks; block ``rank`` into ``recv``."""
        if send.dtype.name in _WIDENED:
            wide_send, wide_recv = send.astype(np.float32), recv.astype(np.float32)
            request = self.comm.Ireduce_scatter_block(
                self._spec(wide_send), self._spec(wide_recv), self._op(op, wide_send))
            return self._pending([request], lambda: self._narrow(wide_recv, recv, op))
        request = self.comm.Ireduce_scatter_block(self._spec(send), self._spec(recv),
                                                  self._op(op, send))
        return self._pending([request], lambda: self._average(recv, op))

    def send(self, buf, dst, tag):
        """``buf`` to rank ``dst``."""
        return self._pending([self.comm.Isend(self._spec(buf), dest=dst, tag=tag)])

    def recv(self, buf, src, tag, status):
        """Into ``buf`` from rank ``src`` (None: any rank, whose rank ``status`` records)."""
        source = self.MPI.ANY_SOURCE if src is None else src
        request = self.comm.Irecv(self._spec(buf), source=source, tag=tag)
        return Pending(lambda: request.Test(status))

    def new_status(self):
        """An object that ``recv`` fills in; ``sender(status)`` reads its source rank."""
        return self.MPI.Status()

    @staticmethod
    def sender(status):
        """The rank a completed ``recv`` received from."""
        return status.Get_source()

    def barrier(self):
        """Every rank has reached this point."""
        return self._pending([self.comm.Ibarrier()])

    # ---- helpers -------------------------------------------------------------------------------
    def _pending(self, requests, finish=None):
        return Pending(lambda: self.MPI.Request.Testall(requests), finish)

    def _spec(self, buf):
        name = buf.dtype.name
        if name in _MPI_TYPES:
            return [buf, getattr(self.MPI, _MPI_TYPES[name])]
        if name in _WIDENED:  # bytes suffice where nothing is computed
            return [buf.view(np.uint16), self.MPI.UINT16_T]
        raise TypeError(f"the mpi backend cannot send {name} tensors")

    def _op(self, op, buf):
        table = _BOOL_OPS if buf.dtype == np.bool_ else _MPI_OPS
        return getattr(self.MPI, table[op])

    def _average(self, buf, op):
        if op is ReduceOp.AVG and buf.dtype != np.bool_:
            divide_in_place(buf, self.size)

    def _narrow(self, wide, buf, op):
        self._average(wide, op)
        buf[...] = wide
