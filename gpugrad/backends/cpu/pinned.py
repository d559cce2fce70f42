"""Pinned (page-locked) host memory: which NumPy arrays a ``pin_memory()`` made.

NumPy arrays cannot carry flags, so pinned host arrays are remembered by identity; the weak
values drop an entry when its array dies (an id is only trusted while its array is alive).
Devices that copy from host memory (``sim`` models the faster transfer) ask ``is_pinned``.

Where CuPy is already loaded (a program that uses ``cuda``), pinning copies the array into
page-locked memory from the CUDA driver (``cupyx.empty_pinned``), so uploads from it really run at
full speed and can overlap compute. CuPy is never imported here: a program that has not touched
``cuda`` has nothing to gain from page-locked memory.
"""
import sys
import weakref

_PINNED: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


def pin(array):
    """``array`` in page-locked host memory, remembered as pinned: a copy in CUDA's page-locked
    memory when CuPy is loaded and a GPU answers, else ``array`` itself, marked."""
    array = _page_locked_copy(array)
    _PINNED[id(array)] = array
    return array


def _page_locked_copy(array):
    cupyx = sys.modules.get("cupyx")
    cupy = sys.modules.get("cupy")
    if cupyx is None or cupy is None or not hasattr(cupyx, "empty_pinned"):
        return array
    try:
        out = cupyx.empty_pinned(array.shape, array.dtype)
    except cupy.cuda.runtime.CUDARuntimeError:  # CuPy without a usable GPU: nothing to pin with
        return array
    out[...] = array
    return out


def is_pinned(array):
    """True for an array made by ``Tensor.pin_memory()`` (or a view of one)."""
    if _PINNED.get(id(array)) is array:
        return True
    base = getattr(array, "base", None)
    return base is not None and _PINNED.get(id(base)) is base
