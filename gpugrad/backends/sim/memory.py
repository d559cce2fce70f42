"""Device memory of a simulated GPU: arrays, allocations, a caching pool, capacity and peak.

Every sim array (``SimArray``) holds NumPy values and an ``Allocation`` of modeled device memory.
Views (reshape of a contiguous array, permute, broadcast, basic slicing) share their base's
Allocation, as CuPy views share a memory pointer. When the last array using an Allocation dies,
CPython's reference counting runs ``Allocation.__del__``, which hands the block back to the pool,
so memory returns exactly when arrays die (a reference cycle delays it until ``gc.collect()``).

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

Threads: the pool's counters change only under its device's lock (``SimBackend.lock``, a
re-entrant lock shared with the timeline's users). A block freed by ``Allocation.__del__`` in a
thread that cannot take the lock at once (another thread holds it) is queued and handed back by
the next ``allocate`` or ``settle`` under the lock, so a ``__del__`` never waits on another
thread (which could deadlock two devices freeing each other's arrays) and no free is lost.
"""
import threading

from ... import device_registry
from ...errors import OutOfMemoryError

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
            if self.size:
                self.pool.free(self.size)
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
    """

    __slots__ = ("data", "alloc", "shape", "ndim", "__weakref__")

    def __init__(self, data, alloc):
        self.data = data
        self.alloc = alloc
        self.shape = data.shape
        self.ndim = data.ndim

    @property
    def dtype(self):
        """The NumPy dtype of the values (as ``cupy.ndarray.dtype``)."""
        return self.data.dtype

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


def _rebuild(device, data):
    if device is None or data.nbytes == 0:
        return SimArray(data, None)
    return SimArray(data, device_registry.get_backend(device).pool.allocate(data.nbytes))


class MemoryPool:
    """The caching allocator of one sim device, with exact in-use and peak byte counts."""

    __slots__ = ("device", "capacity", "timeline", "in_use", "peak", "reserved", "_free",
                 "recording", "samples", "hits", "misses", "lock", "_pending")

    def __init__(self, device, capacity, timeline, lock=None):
        self.device = device
        self.lock = lock if lock is not None else threading.RLock()
        self._pending = []  # sizes freed by threads that found the lock taken (see settle)
        self.capacity = int(capacity)
        self.timeline = timeline
        self.in_use = 0  # bytes in live blocks (rounded)
        self.peak = 0  # the most in_use has been since the last reset_peak()
        self.reserved = 0  # bytes taken from the device: live blocks plus cached free ones
        self._free = {}  # rounded size -> number of cached free blocks of that size
        self.recording = 0  # profilers listening: memory samples are kept only then
        self.samples = []  # (host clock µs, in_use bytes), for the trace's memory counter
        self.hits = 0
        self.misses = 0

    def allocate(self, nbytes):
        """An Allocation of at least ``nbytes`` (None for 0 bytes), or OutOfMemoryError."""
        if nbytes == 0:
            return None
        size = (nbytes + GRANULE - 1) // GRANULE * GRANULE
        lock = self.lock
        lock.acquire()  # (not ``with``: this runs on every op, and ``with`` costs twice as much)
        try:
            if self._pending:
                self.settle()
            free = self._free
            count = free.get(size)
            if count:
                if count == 1:
                    del free[size]
                else:
                    free[size] = count - 1
                self.hits += 1
            else:
                if self.reserved + size > self.capacity:
                    self.empty_cache()
                    if self.in_use + size > self.capacity:
                        raise OutOfMemoryError(self.device, size, self.in_use, self.capacity,
                                               self.capacity - self.in_use)
                self.misses += 1
                self.reserved += size
                self.timeline.malloc(size)
            in_use = self.in_use = self.in_use + size
            if in_use > self.peak:
                self.peak = in_use
            if self.recording:
                self.samples.append((self.timeline.host_us, in_use))
        finally:
            lock.release()
        return Allocation(self, size)

    def free(self, size):
        """Return a block to the pool's cache (called when its last array dies). Never waits:
        when another thread holds the lock the block is queued for ``settle``."""
        lock = self.lock
        if not lock.acquire(False):  # (positional: the keyword costs 100 ns per free)
            self._pending.append(size)  # list.append is atomic
            return
        try:
            in_use = self.in_use = self.in_use - size
            free = self._free
            free[size] = free.get(size, 0) + 1
            if self.recording:
                self.samples.append((self.timeline.host_us, in_use))
        finally:
            lock.release()

    def _free_block(self, size):
        self.in_use -= size
        free = self._free
        free[size] = free.get(size, 0) + 1
        if self.recording:
            self.samples.append((self.timeline.host_us, self.in_use))

    def settle(self):
        """Hand back the blocks queued by ``free`` (call with the lock held, or it is taken)."""
        with self.lock:
            pending = self._pending
            while pending:
                self._free_block(pending.pop())

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
