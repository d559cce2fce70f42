"""Device memory of a simulated GPU: arrays, allocations, a caching pool, capacity and peak.

Every sim array (``SimArray``) holds NumPy values and an ``Allocation`` of modeled device memory.
Views (reshape of a contiguous array, permute, broadcast, basic slicing) share their base's
Allocation, as CuPy views share a memory pointer. When the last array using an Allocation dies,
CPython's reference counting runs ``Allocation.__del__``, which hands the block back to the pool,
so memory returns when arrays die (a reference cycle delays it until ``gc.collect()``).

The pool follows CuPy's ``MemoryPool`` in the points that change the numbers:

- Sizes round up to a multiple of 512 bytes (CuPy's allocation unit); a 0-byte array holds no
  memory. ``in_use_bytes`` and ``peak_bytes`` count rounded sizes, as ``used_bytes()`` does.
- A freed block stays cached in the pool. A later request of the same rounded size reuses it
  for free (a hit); otherwise the pool allocates from the device (a miss), which costs
  ``timeline.malloc`` (a ``cudaMalloc``, which also synchronizes).
- When a miss would not fit in the capacity, the pool frees every cached block and retries;
  if the live blocks plus the request still exceed the capacity it raises
  ``gg.OutOfMemoryError`` with the requested (rounded), in-use, free and capacity bytes.
  The backend asks before NumPy computes a result (its size comes from the operands' shapes),
  so the host never allocates what the modeled device could not hold.

Simplification (documented, not hidden): cached blocks are reused only for requests of the
same rounded size; CuPy also splits larger cached blocks.

Freed blocks are queued: ``Allocation.__del__`` appends the size to ``pending`` (no lock, no
counter touched), and the next ``allocate`` hands every queued block back before it counts
anything, so hits, misses, ``in_use`` and ``peak`` are exactly those of handing each back at
once. Readers of the counters call ``settle`` first (``gg.sim.stats``, ``memory_allocated``...).
While a profiler records, a free is handed back at once (``free``): the memory trace dates it.

Threads: the pool's counters change only under its device's lock (``SimBackend.lock``, a
re-entrant lock shared with the timeline's users). A ``__del__`` never waits for the lock
(which could deadlock two devices freeing each other's arrays): a free that finds it taken is
queued too, and no free is lost.
"""
import collections
import threading

from ... import device_registry
from ...errors import OutOfMemoryError

_new = object.__new__
GRANULE = 512  # bytes; CuPy's memory pool rounds every request up to a multiple of this


def round_size(nbytes):
    """The bytes the pool reserves for a request of ``nbytes`` (a multiple of 512; 0 for 0)."""
    return (nbytes + GRANULE - 1) // GRANULE * GRANULE


class Allocation:
    """One block of modeled device memory, shared by an array and all of its views."""

    __slots__ = ("pool", "size")

    def __init__(self, pool, size):
        self.pool = pool
        self.size = size

    def __del__(self):
        try:
            size = self.size
            if size:
                pool = self.pool
                if pool.recording:  # a profiler's memory trace dates each free
                    pool.free(size)
                else:  # queued without the lock: the next allocate (or reader) settles it
                    pool.pending.append(size)  # (deque.append is atomic)
        except Exception:  # noqa: BLE001  (interpreter shutdown: the pool may be half gone)
            pass

    def release(self):
        """Hand the block back now (a result NumPy could not compute); ``__del__`` then does
        nothing."""
        size, self.size = self.size, 0
        if size:
            self.pool.free(size)


class SimArray:
    """A ``sim`` device array: NumPy values plus the modeled device memory that holds them.

    The engine reads only ``shape`` and ``ndim``. Like a CuPy array it refuses implicit
    conversion to NumPy: read values with ``Tensor.numpy()`` (a modeled device-to-host copy).
    ``sig`` is the int standing for the values' layout (kernel_rows.py), None until first needed.
    ``dtype`` is the NumPy dtype of the values (as ``cupy.ndarray.dtype``).
    """

    # (shape, ndim and dtype are plain attributes, not properties: the engine reads them on
    # every op, e.g. ``a.dtype is b.dtype``)
    __slots__ = ("data", "alloc", "shape", "ndim", "dtype", "sig", "__weakref__")

    def __init__(self, data, alloc, sig=None):
        self.data = data
        self.alloc = alloc
        self.shape = data.shape
        self.ndim = data.ndim
        self.dtype = data.dtype
        self.sig = sig

    @property
    def size(self):
        return self.data.size

    @property
    def nbytes(self):
        return self.data.nbytes

    def __len__(self):
        return len(self.data)

    def __array__(self, *args, **kwargs):
        raise TypeError(
            "Implicit conversion of a sim array to a NumPy array is not allowed (a real GPU "
            "array needs a device-to-host copy); use tensor.numpy() or backend.to_host(array)"
        )

    def __reduce__(self):
        # copy.deepcopy and pickle give a new array holding new memory on the same device
        device = self.alloc.pool.device if self.alloc is not None else None
        return (_rebuild, (device, self.data))

    def __repr__(self):
        held = self.alloc.size if self.alloc is not None else 0
        return f"SimArray(shape={self.shape}, dtype={self.data.dtype}, block={held} bytes)"


def new_array(data, alloc, sig):
    """``SimArray(data, alloc, sig)`` without the ``__init__`` call (made on every op)."""
    out = _new(SimArray)
    out.data, out.alloc, out.sig = data, alloc, sig
    out.shape, out.ndim, out.dtype = data.shape, data.ndim, data.dtype
    return out


def _rebuild(device, data):
    if device is None or data.nbytes == 0:
        return SimArray(data, None)
    return SimArray(data, device_registry.get_backend(device).pool.allocate(data.nbytes))


class MemoryPool:
    """The caching allocator of one sim device, with exact in-use and peak byte counts."""

    __slots__ = ("device", "capacity", "timeline", "in_use", "peak", "reserved", "_free",
                 "recording", "samples", "hits", "misses", "lock", "pending")

    def __init__(self, device, capacity, timeline, lock=None):
        self.device = device
        self.lock = lock if lock is not None else threading.RLock()
        # sizes of freed blocks not yet handed back (see settle); a deque, as a list would
        # reallocate its storage as it empties and refills on every op
        self.pending = collections.deque()
        self.capacity = int(capacity)
        self.timeline = timeline
        self.in_use = 0  # bytes in live blocks (rounded)
        self.peak = 0  # the most in_use has been since the last reset_peak()
        self.reserved = 0  # bytes taken from the device: live blocks plus cached free ones
        self._free = {}  # rounded size -> number of cached free blocks of that size (or 0)
        self.recording = 0  # profilers listening: memory samples are kept only then
        self.samples = []  # (host clock µs, in_use bytes), for the trace's memory counter
        self.hits = 0
        self.misses = 0

    def allocate(self, nbytes):
        """An Allocation of at least ``nbytes`` (None for 0 bytes), or OutOfMemoryError."""
        return self.take((nbytes + GRANULE - 1) // GRANULE * GRANULE)

    def take(self, size):
        """An Allocation of ``size`` bytes, already rounded (``round_size``; None for 0), or
        OutOfMemoryError."""
        if not size:
            return None
        lock = self.lock
        lock.acquire()  # (not ``with``: this runs on every op, and ``with`` costs twice as much)
        try:
            return self.take_locked(size)
        finally:
            lock.release()

    def take_locked(self, size):
        """``take(size)`` for a caller holding the lock, ``size`` rounded and not 0 (the sim's
        hot path reserves memory and launches its kernel in one locked section)."""
        pending = self.pending
        if pending:
            if self.recording:
                self.settle()
            else:
                # the common case first: the one block queued since the last allocation has
                # this size and is taken again at once (a hit; in_use and the peak stay)
                freed = pending.pop()
                if freed == size and not pending:
                    self.hits += 1
                    alloc = _new(Allocation)
                    alloc.pool = self
                    alloc.size = size
                    return alloc
                pending.append(freed)  # (the order frees are handed back in changes nothing)
        free = self._free
        in_use = self.in_use
        reused = False
        while pending:  # hand the queued frees back first: in_use, peak and hits stay exact
            freed = pending.pop()  # (``settle``, inline: nearly every allocation has one)
            if freed == size and not reused:
                # a block of this size freed just now, taken again at once (a hit): the
                # bytes in use and the cached blocks end as they were, so the peak (which
                # in_use never passes) cannot rise
                reused = True
            else:
                in_use -= freed
                free[freed] = free.get(freed, 0) + 1
        if reused:
            self.hits += 1
            self.in_use = in_use
        else:
            count = free.get(size)
            if count:
                free[size] = count - 1  # (a count may stay at 0: get is what reads it)
                self.hits += 1
            else:
                self.in_use = in_use
                self._miss(size)
            in_use = self.in_use = in_use + size
            if in_use > self.peak:
                self.peak = in_use
            if self.recording:
                self.samples.append((self.timeline.host_us, in_use))
        alloc = _new(Allocation)  # (without an ``__init__`` call: this runs on every op)
        alloc.pool = self
        alloc.size = size
        return alloc

    def _miss(self, size):
        """Take ``size`` new bytes from the device (lock held): a cudaMalloc, after releasing
        the cached blocks when the request would not fit beside them; OutOfMemoryError when it
        does not fit beside the live blocks either."""
        if self.reserved + size > self.capacity:
            self.empty_cache()
            if self.in_use + size > self.capacity:
                raise OutOfMemoryError(self.device, size, self.in_use, self.capacity,
                                       self.capacity - self.in_use)
        self.misses += 1
        self.reserved += size
        self.timeline.malloc(size)

    def free(self, size):
        """Return a block to the pool's cache now (its last array died while a profiler
        records). Never waits: when another thread holds the lock the block is queued."""
        lock = self.lock
        if not lock.acquire(False):  # (positional: the keyword costs 100 ns per free)
            self.pending.append(size)  # (deque.append is atomic)
            return
        try:
            in_use = self.in_use = self.in_use - size
            free = self._free
            free[size] = free.get(size, 0) + 1
            if self.recording:
                self.samples.append((self.timeline.host_us, in_use))
        finally:
            lock.release()

    def settle(self):
        """Hand back the queued freed blocks (call with the lock held, or it is taken)."""
        with self.lock:
            pending, free = self.pending, self._free
            while pending:
                size = pending.pop()
                in_use = self.in_use = self.in_use - size
                free[size] = free.get(size, 0) + 1
                if self.recording:
                    self.samples.append((self.timeline.host_us, in_use))

    def empty_cache(self):
        """Release every cached free block back to the device (``free_all_blocks``)."""
        with self.lock:
            self.settle()
            self._free.clear()
            self.reserved = self.in_use

    @property
    def cached(self):
        """Bytes in free blocks the pool keeps for reuse."""
        return self.reserved - self.in_use

    def reset_peak(self):
        with self.lock:
            self.settle()
            self.peak = self.in_use
