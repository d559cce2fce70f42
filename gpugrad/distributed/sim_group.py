"""The ``sim`` process group: one process standing in for ``world_size`` identical ranks.

``init_process_group("sim", world_size=N)`` needs no launcher and no peers. Like PyTorch's fake
process group for tests, every collective completes at once, but its values are honest: each
leaves in the tensors what it would if every one of the N ranks held this process's tensors.
And, as every collective does, it tells the tensors' device that a collective of so many bytes
among N ranks runs (``collective_launch``/``collective_wait``), so a sim device charges NCCL's
modeled time for N ranks to its communication stream. ``gg.sim.plan`` runs the real
``DistributedDataParallel`` on it to model rank 0 of a data-parallel job (every rank of one
does the same work on its own batch, so rank 0's timeline is the job's).

With ``x`` this rank's tensor and ``N`` ranks:

- ``all_reduce``: SUM gives ``x * N`` and PRODUCT ``x ** N`` (one multiplication or power in
  the tensor's dtype, float16 and bfloat16 in float32 rounded once, integers wrapping; a real
  ring adding N values one by one may round differently in the last place); AVG, MIN, MAX,
  BAND and BOR leave ``x`` (the average of N equal values is exactly ``x``); BXOR leaves ``x``
  for odd N and gives zeros for even N. bool tensors reduce logically (as the mpi group does),
  so every op but BXOR leaves them.
- ``reduce_scatter``: block ``rank`` of the input, reduced as ``all_reduce`` reduces.
- ``broadcast`` leaves ``x``; ``all_gather`` gives ``x`` N times; ``barrier`` returns at once.
- ``send``/``recv`` raise RuntimeError (collectives.py checks): there is no peer process to
  exchange with.
- On a shape-only sim device (``gg.sim.configure(..., compute=False)``) tensors hold no values:
  collectives only model their time.
"""
import numpy as np

from . import host_buffers
from .reduce_op import ReduceOp
from .work import Pending

_WIDENED = ("float16", "bfloat16")  # multiplied in float32, rounded once


class SimGroup:
    """``size`` identical ranks in one process, this one ``rank``. ``timeout`` (seconds) and
    ``name`` ("sim") as the other groups have them."""

    name = "sim"
    NO_PEERS = ("the sim backend has no peer processes to send to or receive from: it stands "
                "in for world_size identical ranks, which exchange values only through "
                "collectives (all_reduce, broadcast, all_gather, reduce_scatter); use the mpi "
                "or nccl backend for send/recv")

    def __init__(self, rank, size, timeout):
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"the sim backend needs init_process_group('sim', world_size=N) "
                             f"with N >= 1 ranks to stand in for, got world_size={size!r}")
        if isinstance(rank, bool) or not isinstance(rank, int) or not 0 <= rank < size:
            raise ValueError(f"rank {rank!r} is not in a world of {size} ranks (0 <= rank < "
                             f"world_size; the sim backend's default rank is 0)")
        self.rank, self.size, self.timeout = rank, size, timeout

    def close(self):
        """Nothing to free: the group holds no resources."""

    # ---- buffers -------------------------------------------------------------------------------
    @staticmethod
    def check_device(tensor, what):
        """Any device will do: values are read in host memory (staged where they are not)."""

    @staticmethod
    def buffer_of(tensor):
        """As the mpi group's ``buffer_of``, but ``(None, None)`` for a tensor of a shape-only
        device, which holds no values (collectives.py then moves none)."""
        if not holds_values(tensor):
            return None, None
        return host_buffers.buffer_of(tensor)

    @staticmethod
    def empty(shape, like):
        """An uninitialized host array of ``shape`` and ``like``'s dtype (None without values)."""
        return None if like is None else host_buffers.empty(shape, like)

    @staticmethod
    def stack(arrays):
        """The arrays in one new contiguous array (None when some hold no values)."""
        return None if any(a is None for a in arrays) else host_buffers.stack(arrays)

    # ---- the operations (each completes at once) -----------------------------------------------
    def all_reduce(self, buf, op):
        """``buf`` reduced over ``size`` ranks that all hold it, in place."""
        result = self._reduced(buf, op)
        if result is not buf:
            buf[...] = result
        return _done()

    def broadcast(self, buf, src):
        """Every rank holds ``buf`` already."""
        return _done()

    def all_gather(self, send, recv):
        """``send`` repeated ``size`` times into ``recv``."""
        recv.reshape(self.size, -1)[...] = send.reshape(1, -1)
        return _done()

    def reduce_scatter(self, send, recv, op):
        """Block ``rank`` of ``send`` reduced over the ranks, into ``recv``."""
        block = send.reshape(self.size, -1)[self.rank]
        recv.reshape(-1)[...] = self._reduced(block, op)
        return _done()

    def barrier(self):
        """Every rank is here (they are this process)."""
        return _done()

    def _reduced(self, buf, op):
        """What ``op`` over ``size`` copies of ``buf`` gives (a new array or ``buf`` itself)."""
        if buf.dtype == np.bool_:
            return np.zeros_like(buf) if op is ReduceOp.BXOR and self.size % 2 == 0 else buf
        if op in (ReduceOp.SUM, ReduceOp.PRODUCT):
            wide = buf.astype(np.float32) if buf.dtype.name in _WIDENED else buf
            return wide * self.size if op is ReduceOp.SUM else wide ** self.size
        if op is ReduceOp.BXOR and self.size % 2 == 0:
            return np.zeros_like(buf)
        return buf


def holds_values(tensor):
    """False for a tensor of a shape-only sim device (``compute=False``), which has shapes and
    modeled time but no values; True elsewhere."""
    return tensor._backend.computes


def _done():
    return Pending(lambda: True)
