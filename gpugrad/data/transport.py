"""How a worker's batch reaches the main process: pickled, with the array bytes through shared
memory where it can.

With the ``fork`` start method the loader maps one anonymous shared region before starting
the workers, cut into one slot per batch that can be in flight. A worker pickles a batch with
its arrays' bytes kept out of band (pickle protocol 5), copies those bytes into the task's
slot and sends only the small pickle through the queue; the main process copies the bytes
out of the slot while unpickling. That is two copies, against four and a pipe's worth of
system calls for a fully pickled batch, which is the fallback for a batch too large for a
slot, arrays that are not contiguous, or other start methods (whose workers cannot inherit
the region).
"""
import mmap
import pickle

SLOT_BYTES = 32 << 20  # address space per slot; only the pages a batch touches use memory


class SharedSlots:
    """``count`` slots of ``size`` bytes in one shared anonymous mapping (inherited on fork)."""

    def __init__(self, count, size=SLOT_BYTES):
        self.count, self.size = count, size
        self._memory = mmap.mmap(-1, count * size)
        self.view = memoryview(self._memory)

    def offset(self, slot):
        """Where slot ``slot`` starts in ``view``."""
        return slot * self.size

    def close(self):
        """Unmap the region (once nothing reads it anymore)."""
        self.view.release()
        self._memory.close()


def pack(data, slots, slot):
    """``data`` as a message for ``unpack``: its arrays' bytes in slot ``slot`` of ``slots``
    when they fit, else everything pickled in band. Raises what pickling raises."""
    if slots is not None and slot is not None:
        buffers = []
        payload = pickle.dumps(data, protocol=5, buffer_callback=buffers.append)
        try:
            raws = [buffer.raw() for buffer in buffers]
        except BufferError:  # a non-contiguous array: in band
            raws = None
        if raws is not None and sum(raw.nbytes for raw in raws) <= slots.size:
            position, spans = slots.offset(slot), []
            for raw in raws:
                slots.view[position:position + raw.nbytes] = raw
                spans.append((position, raw.nbytes))
                position += raw.nbytes
            return payload, spans
    return pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL), None


def unpack(message, slots):
    """The batch a ``pack`` message holds, its arrays copied out of the shared slot (the slot
    is free again when this returns)."""
    payload, spans = message
    if spans is None:
        return pickle.loads(payload)
    buffers = [bytearray(slots.view[start:start + size]) for start, size in spans]
    return pickle.loads(payload, buffers=buffers)
