"""Pausing Python's cyclic garbage collector while the engine runs a burst (a backward pass)."""
import gc as _gc
import threading


class gc_paused:
    """Suspend the cyclic garbage collector for a block (a no-op if it is already off).

    The engine allocates a few objects per graph node while the whole graph is alive; every
    full collection triggered then walks the entire graph, which made backward through a
    million nodes several times slower. Graph objects form no cycles, so reference counting
    frees them anyway. The collector is process-wide, so blocks in several threads are counted:
    the first to enter turns it off, the last to leave turns it back on if it was on.
    """

    __slots__ = ()

    def __enter__(self):
        pause_gc()
        return self

    def __exit__(self, *exc):
        resume_gc()
        return False


_gc_pauses = [0, False]  # [blocks running, whether the collector was on before the first]
_gc_lock = threading.Lock()


def pause_gc():
    """Enter a ``gc_paused`` block (``resume_gc`` leaves it)."""
    _gc_lock.acquire()
    if not _gc_pauses[0]:
        _gc_pauses[1] = _gc.isenabled()
        _gc.disable()
    _gc_pauses[0] += 1
    _gc_lock.release()


def resume_gc():
    """Leave a ``gc_paused`` block."""
    _gc_lock.acquire()
    _gc_pauses[0] -= 1
    if not _gc_pauses[0] and _gc_pauses[1]:
        _gc.enable()
    _gc_lock.release()
