"""Pinned (page-locked) host memory: which NumPy arrays a ``pin_memory()`` made.

NumPy arrays cannot carry flags, so pinned host arrays are remembered by identity; the weak
values drop an entry when its array dies (an id is only trusted while its array is alive).
Devices that copy from host memory (``sim`` models the faster transfer) ask ``is_pinned``.
"""
import weakref

_PINNED: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


def pin(array):
    """Mark a host NumPy array as page-locked; returns it."""
    _PINNED[id(array)] = array
    return array


def is_pinned(array):
    """True for an array made by ``Tensor.pin_memory()`` (or a view of one)."""
    if _PINNED.get(id(array)) is array:
        return True
    base = getattr(array, "base", None)
    return base is not None and _PINNED.get(id(base)) is base
