"""The sim's per-kernel cache: one row per distinct kernel a device has launched.

A kernel's modeled cost depends only on what it launches (its name, its operands' shapes,
strides and dtypes, its result's, and a few parameters such as a reduction's axis) and on the
device's profile, never on values. So each device keeps one ``KernelRow`` per distinct kernel:
its ``KernelSpec``, the profile's host dispatch and device time for it (computed once), and its
launch count and device time (stats sum them). A loop launching the same kernels again only
looks its rows up.

Rows are found two ways (results.py):

- by *plan key*, before anything runs, for the hottest primitives (backend.py): the primitive,
  its parameters, and an ``operand_sig`` for each operand. The row then also holds the result's
  bytes (reserved before NumPy computes it), shape, dtype and signature;
- by ``_signature`` of the operands and results, after the values exist (every other kernel).

An operand's signature is a small int standing for its ``(shape, strides, dtype)``, kept on its
``SimArray``: a plan key is then a short flat tuple, cheap to hash. A result's signature comes
from its row, since NumPy lays out a result by the operands' layouts alone.
"""
import itertools

import numpy as np

from .memory import SimArray, round_size
from ...defaults import matmul_allows_tf32
from .meta_array import MetaArray

#: ``(shape, strides, dtype)`` -> int; never reused, so a stale int can only miss
_SIGNATURES: dict = {}
_SIGNATURE_LIMIT = 1 << 16  # distinct layouts kept before the table starts afresh
_next_signature = itertools.count(1).__next__


def layout_sig(data):
    """The int standing for array ``data``'s ``(shape, strides, dtype)`` (NumPy or meta)."""
    layout = (data.shape, data.strides, data.dtype)
    sig = _SIGNATURES.get(layout)
    if sig is None:
        if len(_SIGNATURES) >= _SIGNATURE_LIMIT:
            _SIGNATURES.clear()  # older ints stay unique: their rows just stop being found
        sig = _SIGNATURES.setdefault(layout, _next_signature())
    return sig


def operand_sig(x):
    """A plan key's entry for operand ``x``: a ``SimArray``'s layout signature (kept on it), a
    bare array's, or a Python number's type (its value changes neither layout nor cost)."""
    if type(x) is SimArray:
        sig = x.sig
        if sig is None:
            sig = x.sig = layout_sig(x.data)
        return sig
    return layout_sig(x) if type(x) in _ARRAYS else type(x)


_ARRAYS = (np.ndarray, MetaArray)


class KernelRow:
    """One distinct kernel of a device: its spec (and ``name``, the spec's), its cached costs
    and its counts.

    ``dispatch_us`` is the profile's ``host_dispatch_us(spec)``; ``duration_us`` its
    ``kernel_us(spec)``, or None for a matmul, whose time depends on the arithmetic it runs in
    (``gemm_math``: TF32 may be switched between launches): ``matmul_us`` gives it. Rows found
    by plan key also hold what the result needs: ``nbytes`` and ``block`` (reserved before it is
    computed), ``sig`` (its layout's), ``compute`` (the cpu backend's method computing it) and
    its ``shape``, ``ndim`` and ``dtype`` (what its ``SimArray`` carries, read off the row).
    ``live`` turns False when the device's counters are reset or folded: a launch that looked
    the row up before then counts in a fresh one. Launches are counted (``count``,
    ``device_us``) when the timeline places them (timeline.py: they may be deferred).
    """

    __slots__ = ("spec", "name", "dispatch_us", "duration_us", "by_math", "count", "device_us",
                 "live", "nbytes", "block", "sig", "compute", "shape", "ndim", "dtype")

    def __init__(self, spec, profile):
        self.spec = spec
        self.name = spec.name
        self.dispatch_us = profile.host_dispatch_us(spec)
        self.duration_us = None if spec.op_class == "matmul" else profile.kernel_us(spec)
        self.by_math = {}  # a matmul's: whether TF32 is allowed -> profile.kernel_us(spec)
        self.count = 0
        self.device_us = 0.0
        self.live = True
        self.nbytes = self.block = self.sig = self.compute = None
        self.shape = self.ndim = self.dtype = None

    def planned(self, nbytes, sig, compute):
        """Make this the row of a plan key: its result takes ``nbytes`` (a pool ``block`` of
        ``round_size(nbytes)``), has layout signature ``sig`` and is computed by ``compute``.
        Returns the row."""
        self.nbytes = nbytes
        self.block = round_size(nbytes)
        self.sig = sig
        self.compute = compute
        return self

    def matmul_us(self, profile):
        """A matmul row's device µs in the arithmetic its dtype runs in now (``profile``'s
        ``kernel_us``, kept per TF32 setting: ``gemm_math`` depends on the dtype, fixed for a
        row, and on that alone)."""
        tf32 = matmul_allows_tf32()
        us = self.by_math.get(tf32)
        if us is None:
            us = self.by_math[tf32] = profile.kernel_us(self.spec)
        return us
