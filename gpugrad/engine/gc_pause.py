"""How the engine keeps Python's cyclic garbage collector out of its way.

Graph objects form no reference cycles (reference counting frees a graph as soon as its last
tensor goes), yet the collector walks every live one each time it runs a full collection: in a
graph of 100k ops those walks made recording the graph 1.7 to 2.5 times slower, and backward
through a million nodes several times slower. So:

- backward (and ``gg.grad``) turns the collector off while it runs (``gc_paused``);
- while ops are being recorded, full (generation 2) collections are deferred: the young
  generations are still collected as usual, so short-lived cycles are freed, and once a young
  collection finds that no op was recorded since the one before (the program has left its
  forward pass), the program's own thresholds come back and the deferred full collection runs.
  The deferral is bounded: at most ``DEFERRED_THRESHOLD`` generation-1 collections (about
  700,000 allocations at Python's default thresholds) pass without a full one.
  ``set_full_collection_deferral(False)`` turns it off. (Python 3.14's incremental collector
  has no full collections to defer.)
"""
import gc as _gc
import sys
import threading


class gc_paused:
    """Suspend the cyclic garbage collector for a block (a no-op if it is already off).

    The collector is process-wide, so blocks in several threads are counted: the first to enter
    turns it off, the last to leave turns it back on if it was on.
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


# ---- full collections deferred while ops are recorded ----------------------------------------
#: generation 2's threshold while ops are recorded: generation-1 collections that may pass
#: without a full one (Python's default is 10)
DEFERRED_THRESHOLD = 100

#: ops recorded so far (``Function.apply`` counts them: ``recorded[0] += 1``)
recorded = [0]


class _Deferral:
    """The state of the deferral: on or off, and the thresholds to give back."""

    enabled = True
    seen = 0  # ``recorded[0]`` at the last collection
    ours = None  # the thresholds set while deferring, None when not deferring
    theirs = None  # the program's thresholds, given back when recording stops


# (``pragma: no mutate block``: mutation testing's trampolines walk the stack's frames, which
# crashes Python 3.11 inside a gc callback; tests/engine/test_gc_deferral.py covers these two)
def _pace(phase, info):  # pragma: no mutate block
    """gc callback: at the end of each collection, defer full collections while ops are being
    recorded, and give the program's thresholds back once they are not."""
    if phase != "stop":
        return
    count = recorded[0]
    recording = count != _Deferral.seen
    _Deferral.seen = count
    deferring = _Deferral.ours is not None
    if recording and not deferring and _Deferral.enabled:
        theirs = _gc.get_threshold()
        if theirs[2] < DEFERRED_THRESHOLD:
            _Deferral.theirs = theirs
            _Deferral.ours = (theirs[0], theirs[1], DEFERRED_THRESHOLD)
            _gc.set_threshold(*_Deferral.ours)
    elif deferring and not recording:
        _give_back()


def _give_back():  # pragma: no mutate block
    """Restore the program's thresholds, unless it has set its own since we set ours."""
    if _gc.get_threshold() == _Deferral.ours:
        _gc.set_threshold(*_Deferral.theirs)
    _Deferral.ours = _Deferral.theirs = None


def set_full_collection_deferral(enabled):
    """Defer full garbage collections while the engine records ops (``True``, the default) or
    leave Python's collector exactly as the program configures it (``False``).

    Graph objects hold no reference cycles, so nothing of the graph waits on the collector; a
    full collection during a forward pass only walks the whole graph to find nothing. Young
    collections (generations 0 and 1) always run. Returns the previous setting.
    """
    if not isinstance(enabled, bool):
        raise TypeError(f"set_full_collection_deferral() expects a bool, got "
                        f"{type(enabled).__name__}")
    previous = _Deferral.enabled
    _Deferral.enabled = enabled
    if not enabled and _Deferral.ours is not None:
        _give_back()
    return previous


def is_full_collection_deferral_enabled():
    """Whether full garbage collections are deferred while ops are recorded."""
    return _Deferral.enabled


# Python 3.14's incremental collector walks the old generation a slice at a time, with
# thresholds of another meaning: nothing to defer there
if sys.version_info < (3, 14):
    _gc.callbacks.append(_pace)
