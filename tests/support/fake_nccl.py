"""The tests' stand-in for ``cupy.cuda.nccl`` (CuPy's NCCL bindings) on the fake CuPy
(fake_cupy.py): ranks are threads of this process, each calling ``NcclCommunicator(ndev,
commId, rank)`` with the id that ``get_unique_id()`` made on one of them. No GPU needed.

The rules, CuPy's and NCCL's where they have them:

- ``install(monkeypatch, fake)`` makes a fresh ``FakeNccl`` the ``cupy.cuda.nccl`` of the fake
  CuPy ``fake`` and puts ``fake`` in ``sys.modules`` as ``cupy`` (so ``from cupy.cuda import
  nccl`` finds it); ``version`` is the NCCL runtime version (``get_version()``, 2.23.4 unless
  given: ``NCCL_AVG`` needs 2.10).
- The module: the ``NCCL_*`` data-type and operation constants (CuPy's values), ``NcclError``
  (a RuntimeError with ``status``), ``available``, ``get_version``, ``get_build_version``,
  ``get_unique_id`` (a tuple of 128 signed chars), ``groupStart``/``groupEnd`` (per thread: the
  calls between them are queued at ``groupEnd``). Any other name is missing (AttributeError).
- ``NcclCommunicator(ndev, commId, rank)`` checks its arguments as CuPy's Cython signature does
  (TypeError for a list id, AssertionError for an id that is not 128 long) and, like
  ``ncclCommInitRank``, blocks until all ``ndev`` ranks of that id have joined; NCCL waits
  forever, the fake raises NcclError after ``init_wait`` seconds saying so. Its GPU is the
  current device when it is made (``device_id()``); ``rank_id()``, ``size()``, ``destroy()``,
  ``abort()``, ``check_async_error()``.
- Operations (``allReduce``, ``reduce``, ``bcast``, ``broadcast``, ``allGather``,
  ``reduceScatter``, ``send``, ``recv``) take device pointers, counts in elements, an NCCL data
  type and a stream pointer, as CuPy's do. Each is checked when called (NcclError
  ``NCCL_ERROR_INVALID_ARGUMENT`` for a bad type, operation, root or peer, a pointer that is not
  the memory of a live fake array (``fake_cupy.device_memory``) or a range past its end, a
  stream that is not one of the fake's; ``NCCL_AVG`` before NCCL 2.10; TypeError for a
  non-integer argument), then queued on that stream and the call returns: the operation runs
  when the last rank has called it (collectives match by their order on each rank; sends and
  receives by their order between two ranks), on every rank's memory at once, and then
  completes, so an event recorded after it on its stream turns ``done``. Ranks that disagree
  on a collective (another operation, count, type, op or root) make the last caller raise
  NcclError ``NCCL_ERROR_INVALID_USAGE`` and the operation never completes (real NCCL would hang
  or corrupt memory). ``abort()`` ends this rank's queued operations (their events turn done,
  their results are undefined); a destroyed or aborted communicator refuses calls.
- Arithmetic: in the data type, rank by rank (0, 1, ...); ``NCCL_AVG`` divides the sum by the
  number of ranks, integers truncating toward zero. ``calls`` lists every accepted call as
  ``(rank, name, stream pointer, the calling thread's current stream pointer)``.
- Not modeled: several GPUs (every rank is on the fake's one device, which real NCCL refuses),
  stream order between operations (one completes when its ranks have called it, whatever was
  queued before it), deadlocks of unmatched send/recv outside a group, bfloat16, timing.
"""
import operator
import os
import sys
import threading
import types

import numpy as np

from . import fake_cupy

UNIQUE_ID_BYTES = 128
_STATUS = {2: "NCCL_ERROR_SYSTEM_ERROR", 4: "NCCL_ERROR_INVALID_ARGUMENT",
           5: "NCCL_ERROR_INVALID_USAGE"}
SYSTEM_ERROR, INVALID_ARGUMENT, INVALID_USAGE = 2, 4, 5
_DTYPES = {0: np.int8, 1: np.uint8, 2: np.int32, 3: np.uint32, 4: np.int64, 5: np.uint64,
           6: np.float16, 7: np.float32, 8: np.float64}
_CONSTANTS = {"NCCL_SUM": 0, "NCCL_PROD": 1, "NCCL_MAX": 2, "NCCL_MIN": 3, "NCCL_AVG": 4,
              "NCCL_INT8": 0, "NCCL_CHAR": 0, "NCCL_UINT8": 1, "NCCL_INT32": 2, "NCCL_INT": 2,
              "NCCL_UINT32": 3, "NCCL_INT64": 4, "NCCL_UINT64": 5, "NCCL_FLOAT16": 6,
              "NCCL_HALF": 6, "NCCL_FLOAT32": 7, "NCCL_FLOAT": 7, "NCCL_FLOAT64": 8,
              "NCCL_DOUBLE": 8, "NCCL_BFLOAT16": 9}
_REDUCE = {0: np.add, 1: np.multiply, 2: np.maximum, 3: np.minimum, 4: np.add}
_AVG, _AVG_SINCE = 4, 21000


class NcclError(RuntimeError):
    """CuPy's ``cupy.cuda.nccl.NcclError``: ``status`` (ncclResult_t) and its name first."""

    def __init__(self, status, detail=""):
        self.status = status
        super().__init__(f"{_STATUS[status]}: {detail}")


def _index(value, what):
    """``value`` as Cython converts an ``int``/``intptr_t`` argument: TypeError for others."""
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{what}: an integer is required, got {type(value).__name__}") from None


class _Operation:
    """One operation across its ranks: the parts they posted; ``complete`` once it ran."""

    def __init__(self, expected):
        self.expected, self.parts, self.complete = expected, {}, False


class _Queued:
    """One rank's share of an operation, as its stream sees it (``abort`` completes it)."""

    def __init__(self, operation):
        self.operation, self.aborted = operation, False

    @property
    def complete(self):
        return self.aborted or self.operation.complete


class _World:
    """The ranks that share one unique id: members, and the operations they post."""

    def __init__(self, size):
        self.size, self.members = size, {}
        self.lock = threading.Condition()
        self.collectives, self.pairs = {}, {}  # sequence -> op; (src, dst, sequence) -> op


class FakeNccl(types.ModuleType):
    """One fake ``cupy.cuda.nccl`` module on the fake CuPy ``fake`` (see the module's rules)."""

    NcclError = NcclError
    available = True
    init_wait = 30.0  # seconds NcclCommunicator waits for the other ranks before giving up

    def __init__(self, fake, version=22304):
        super().__init__("cupy.cuda.nccl")
        self.__dict__.update(_CONSTANTS)
        self.fake, self.version, self.calls = fake, version, []
        self._worlds, self._lock, self._thread = {}, threading.Lock(), threading.local()
        self.NcclCommunicator = type("NcclCommunicator", (_Communicator,), {"_nccl": self})

    def get_version(self):
        """The NCCL runtime version (major * 10000 + minor * 100 + patch)."""
        return self.version

    def get_build_version(self):
        return self.version

    def get_unique_id(self):
        """A fresh id: 128 signed chars, as CuPy returns ``ncclUniqueId``."""
        return tuple(b - 256 if b > 127 else b for b in os.urandom(UNIQUE_ID_BYTES))

    def groupStart(self):  # noqa: N802  (CuPy's names)
        self._thread.group = getattr(self._thread, "group", None) or []
        self._thread.depth = getattr(self._thread, "depth", 0) + 1

    def groupEnd(self):  # noqa: N802
        depth = getattr(self._thread, "depth", 0)
        if depth == 0:
            raise NcclError(INVALID_USAGE, "groupEnd without groupStart")
        self._thread.depth = depth - 1
        if depth == 1:
            queued, self._thread.group = self._thread.group, None
            for post in queued:
                post()

    def _world(self, comm_id, size, rank, member):
        """Join the world of ``comm_id`` and wait until all its ranks have (NcclError after
        ``init_wait`` s)."""
        with self._lock:
            world = self._worlds.setdefault(comm_id, _World(size))
        with world.lock:
            if world.size != size:
                raise NcclError(INVALID_ARGUMENT, f"rank {rank} says {size} ranks, another "
                                                  f"said {world.size}")
            if rank in world.members:
                raise NcclError(INVALID_USAGE, f"rank {rank} joined twice")
            world.members[rank] = member
            world.lock.notify_all()
            if not world.lock.wait_for(lambda: len(world.members) == size, self.init_wait):
                raise NcclError(SYSTEM_ERROR, f"fake NCCL: only {len(world.members)} of {size} "
                                              f"ranks joined within {self.init_wait:g} s (real "
                                              f"NCCL waits forever)")
        with self._lock:
            self._worlds.pop(comm_id, None)
        return world

    def _post(self, post):
        """Run ``post`` now, or at ``groupEnd`` inside a group."""
        if getattr(self._thread, "depth", 0):
            self._thread.group.append(post)
        else:
            post()


class _Communicator:
    """``cupy.cuda.nccl.NcclCommunicator`` for one rank (a thread) of a fake world."""

    _nccl: FakeNccl

    def __init__(self, ndev, commId, rank):  # noqa: N803  (CuPy's names)
        ndev, rank = _index(ndev, "ndev"), _index(rank, "rank")
        if not isinstance(commId, tuple):
            raise TypeError(f"Argument 'commId' has incorrect type (expected tuple, got "
                            f"{type(commId).__name__})")
        assert len(commId) == UNIQUE_ID_BYTES
        if not 0 <= rank < ndev:
            raise NcclError(INVALID_ARGUMENT, f"rank {rank} is not in 0..{ndev - 1}")
        self._rank, self._size, self._queued, self._error = rank, ndev, [], None
        self._device = self._nccl.fake.cuda.runtime.getDevice()
        self._sequence, self._pair_sequence = 0, {}
        self._world = None
        self._world = self._nccl._world(commId, ndev, rank, self)

    # ---- management ------------------------------------------------------------------------
    def device_id(self):
        return self._device

    def rank_id(self):
        return self._rank

    def size(self):
        return self._size

    def destroy(self):
        self._world = None

    def abort(self):
        """End this rank's queued operations (their events complete) and the communicator."""
        for queued in self._queued:
            queued.aborted = True
        self._world = None

    def check_async_error(self):
        if self._error is not None:
            raise self._error

    # ---- collectives -----------------------------------------------------------------------
    def allReduce(self, sendbuf, recvbuf, count, datatype, op, stream):  # noqa: N802
        dtype, op = self._dtype(datatype), self._op(op)
        count = self._count(count)
        self._collective("allReduce", (count, datatype, op), stream, sendbuf, count, recvbuf,
                         count, dtype, lambda sends: [_reduce(op, sends, self._size)] * self._size)

    def reduce(self, sendbuf, recvbuf, count, datatype, op, root, stream):
        dtype, op, root = self._dtype(datatype), self._op(op), self._peer(root)
        count = self._count(count)
        recv = recvbuf if self._rank == root else None
        self._collective("reduce", (count, datatype, op, root), stream, sendbuf, count, recv,
                         count, dtype, lambda sends: {root: _reduce(op, sends, self._size)})

    def bcast(self, buff, count, datatype, root, stream):
        self.broadcast(buff, buff, count, datatype, root, stream)

    def broadcast(self, sendbuff, recvbuff, count, datatype, root, stream):
        dtype, root, count = self._dtype(datatype), self._peer(root), self._count(count)
        send = sendbuff if self._rank == root else None
        self._collective("broadcast", (count, datatype, root), stream, send, count, recvbuff,
                         count, dtype, lambda sends: [sends[root]] * self._size)

    def allGather(self, sendbuf, recvbuf, count, datatype, stream):  # noqa: N802
        dtype, count = self._dtype(datatype), self._count(count)
        self._collective("allGather", (count, datatype), stream, sendbuf, count, recvbuf,
                         count * self._size, dtype,
                         lambda sends: [np.concatenate(sends)] * self._size)

    def reduceScatter(self, sendbuf, recvbuf, recvcount, datatype, op, stream):  # noqa: N802
        dtype, op, count = self._dtype(datatype), self._op(op), self._count(recvcount)

        def blocks(sends):
            total = _reduce(op, sends, self._size)
            return [total[r * count:(r + 1) * count] for r in range(self._size)]
        self._collective("reduceScatter", (count, datatype, op), stream, sendbuf,
                         count * self._size, recvbuf, count, dtype, blocks)

    def send(self, sendbuf, count, datatype, peer, stream):
        dtype, peer, count = self._dtype(datatype), self._peer(peer), self._count(count)
        memory = self._memory(sendbuf, count, dtype)
        self._point_to_point("send", (self._rank, peer), stream, count, datatype, memory)

    def recv(self, recvbuf, count, datatype, peer, stream):
        dtype, peer, count = self._dtype(datatype), self._peer(peer), self._count(count)
        memory = self._memory(recvbuf, count, dtype)
        self._point_to_point("recv", (peer, self._rank), stream, count, datatype, memory)

    # ---- checks ----------------------------------------------------------------------------
    def _live(self):
        if self._world is None:
            raise NcclError(INVALID_ARGUMENT, "the communicator was destroyed or aborted")
        return self._world

    def _dtype(self, datatype):
        datatype = _index(datatype, "datatype")
        if datatype not in _DTYPES:
            raise NcclError(INVALID_ARGUMENT, f"data type {datatype} (the fake has no "
                                              f"bfloat16)" if datatype == 9 else
                            f"invalid data type {datatype}")
        return np.dtype(_DTYPES[datatype])

    def _op(self, op):
        op = _index(op, "op")
        if op not in _REDUCE or (op == _AVG and self._nccl.version < _AVG_SINCE):
            raise NcclError(INVALID_ARGUMENT, f"invalid reduction operation {op} (NCCL "
                                              f"{self._nccl.version})")
        return op

    def _peer(self, rank):
        rank = _index(rank, "rank")
        if not 0 <= rank < self._size:
            raise NcclError(INVALID_ARGUMENT, f"rank {rank} is not in 0..{self._size - 1}")
        return rank

    @staticmethod
    def _count(count):
        count = _index(count, "count")
        if count < 0:
            raise OverflowError("can't convert negative value to size_t")
        return count

    def _memory(self, ptr, count, dtype):
        ptr = _index(ptr, "buffer")
        try:
            return fake_cupy.device_memory(ptr, count * dtype.itemsize).view(dtype)
        except ValueError as exc:
            raise NcclError(INVALID_ARGUMENT, f"buffer: {exc}") from None

    def _stream(self, name, stream):
        stream = _index(stream, "stream")
        known = self._nccl.fake.streams.get(stream)
        if known is None:
            raise NcclError(INVALID_ARGUMENT, f"{name}: {stream:#x} is not a stream")
        self._nccl.calls.append((self._rank, name, stream,
                                 self._nccl.fake.current_stream().ptr))
        return known

    # ---- posting ---------------------------------------------------------------------------
    def _collective(self, name, signature, stream, sendbuf, send_count, recvbuf, recv_count,
                    dtype, results):
        """Post this rank's part of the next collective; the last rank runs it: ``results``
        maps the ranks' sends (in rank order) to each rank's result (list or {rank: result})."""
        world = self._live()
        send = None if sendbuf is None else self._memory(sendbuf, send_count, dtype)
        recv = None if recvbuf is None else self._memory(recvbuf, recv_count, dtype)
        stream = self._stream(name, stream)
        sequence, self._sequence = self._sequence, self._sequence + 1
        part = ((name,) + signature, send, recv)

        def run(parts):
            sends = [p[1].copy() if p[1] is not None else None for p in parts]
            answers = results(sends)
            for rank, (_, _, recv_) in enumerate(parts):
                if recv_ is not None and (isinstance(answers, list) or rank in answers):
                    recv_[...] = answers[rank]
        self._nccl._post(lambda: self._join(world, world.collectives, sequence, part, run,
                                            stream))

    def _point_to_point(self, name, pair, stream, count, datatype, memory):
        world = self._live()
        stream = self._stream(name, stream)
        sequence = self._pair_sequence.get((name, pair), 0)
        self._pair_sequence[(name, pair)] = sequence + 1
        part = (("send/recv", count, datatype), memory if name == "send" else None,
                memory if name == "recv" else None)

        def run(parts):
            sent = next(p[1] for p in parts if p[1] is not None)
            next(p[2] for p in parts if p[2] is not None)[...] = sent
        key = pair + (sequence,)
        self._nccl._post(lambda: self._join(world, world.pairs, key, part, run, stream,
                                            expected=2, slot=0 if name == "send" else 1))

    def _join(self, world, table, key, part, run, stream, expected=None, slot=None):
        """Add ``part`` to operation ``key`` of ``table`` and queue it on ``stream``; the part
        that completes the set runs it (NcclError when the parts disagree)."""
        with world.lock:
            operation = table.setdefault(key, _Operation(expected or world.size))
            operation.parts[self._rank if slot is None else slot] = part
            queued = _Queued(operation)
            self._queued.append(queued)
            stream.enqueue(queued)
            if len(operation.parts) < operation.expected:
                return
            del table[key]
            parts = [operation.parts[i] for i in sorted(operation.parts)]
            signatures = {p[0] for p in parts}
            if len(signatures) > 1:
                self._error = NcclError(INVALID_USAGE, f"fake NCCL: the ranks disagree on "
                                                       f"operation {key}: {sorted(signatures)}")
                raise self._error
            run(parts)
            operation.complete = True


def _reduce(op, sends, size):
    """The ranks' arrays combined with NCCL operation ``op``, rank by rank, in their type."""
    total = sends[0].copy()
    for send in sends[1:]:
        _REDUCE[op](total, send, out=total)
    if op == _AVG:
        if total.dtype.kind == "f":
            total /= total.dtype.type(size)
        else:  # C's integer division: toward zero
            total[...] = np.sign(total) * (np.abs(total) // size)
    return total


def install(monkeypatch, fake, version=22304):
    """A fresh ``FakeNccl`` as ``fake.cuda.nccl``, with ``fake`` (a fake_cupy.FakeCupy) as the
    ``cupy`` module of imports; returns the FakeNccl. Undone by ``monkeypatch``."""
    nccl = FakeNccl(fake, version)
    fake.cuda.nccl = nccl
    monkeypatch.setitem(sys.modules, "cupy", fake)
    monkeypatch.setitem(sys.modules, "cupy.cuda", fake.cuda)
    monkeypatch.setitem(sys.modules, "cupy.cuda.nccl", nccl)
    return nccl

