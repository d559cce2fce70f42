"""How a sim primitive's result comes to be: its modeled memory reserved from the operands'
shapes first (``OutOfMemoryError`` before the host allocates anything), then the cpu backend
computes the values, and its kernel is launched (device_model.py models the launch).

``ModeledResults`` is a mixin of ``DeviceModel``. ``_modeled`` sizes and names a primitive's
kernel from ``primitives.py`` and keys its row by the signature of its operands and result;
``_planned``, the hot path, finds the row by a plan key before anything runs, and reserves the
memory and launches the kernel in one locked section (a launch whose values then fail to
compute is taken back).
"""
import numpy as np

from ...errors import HostMemoryError, OutOfMemoryError
from . import costmodel, primitives
from .kernel_rows import layout_sig
from .memory import SimArray, round_size
from .meta_array import MetaArray
from .timeline import DEFERRED_LIMIT

_spec = costmodel.spec
_new = object.__new__
_ARRAYS = (np.ndarray, MetaArray)  # (a tuple: ``type(x) in`` it is fastest for ndarray)


def _signature(name, inputs, out, info=None):
    """What a kernel's spec depends on: name, operands' shapes, strides and dtypes, and info."""
    key = [name, out.shape, out.dtype]
    for x in inputs:
        key.append((x.shape, x.strides, x.dtype) if type(x) in _ARRAYS else type(x))
    if info:
        key.append(repr(info))  # small: an axis or an activation name
    return tuple(key)


class ModeledResults:
    """Results of modeled primitives: memory, values, then the kernel launch (mixed into
    ``DeviceModel``, whose ``_launch``, ``_count`` and rows these use)."""

    def _modeled(self, primitive, *args, out=None):
        """Primitive ``primitive`` as one kernel: ``primitives.<primitive>(*args)`` names it and
        sizes its result, whose memory is reserved first (``OutOfMemoryError`` before the host
        allocates anything); then the cpu backend's ``<primitive>(*args)`` computes the values
        (written into ``out``'s array when given: an in-place op, which allocates nothing)."""
        kernel, reads, nbytes, info = getattr(primitives, primitive)(*args)
        compute = getattr(self.cpu, primitive)
        if out is not None:
            compute(*args, out.data)
            self._write(kernel, reads, (out.data,), info)
            return out
        value, alloc = self._allocated(nbytes, compute, args)
        self._launch(kernel, reads, (value,), info, _signature(kernel, reads, value, info))
        return SimArray(value, alloc)  # (not _write: one call less on every op)

    def _planned(self, key, primitive, *args):
        """``_modeled(primitive, *args)`` through the row cached under plan ``key`` (the
        primitive, its parameters and its operands' signatures: everything its result's size and
        layout and its kernel's cost depend on). A hit reserves the row's bytes and launches its
        kernel in one locked section (the launch deferred: see ``_count``), then computes; the
        first call plans it as ``_modeled`` does."""
        row = self._rows.get(key)
        if row is None:
            return self._plan(key, primitive, args)
        size = row.block
        lock = self.lock
        lock.acquire()  # (not ``with``, which costs twice as much on this hot path)
        try:
            alloc = self.pool.take_locked(size) if size else None
            if not row.live:  # reset or folded since it was looked up
                row = self._relive(key, row)
            timeline = self.timeline
            deferred = timeline.deferred
            if deferred is not None:  # (``_count``'s deferred launch, inline)
                if row.duration_us is None:  # a matmul: its time depends on the precision now
                    timeline.deferred_us.append(row.matmul_us(self.profile))
                deferred.append(row)
        finally:
            lock.release()
        try:
            value = row.compute(*args)
        except BaseException as err:
            self._unlaunch(deferred, row)
            self._abandon((alloc,), row.nbytes, err)
            raise
        if deferred is None:
            with lock:
                self._count(row, (value,))
        elif len(deferred) >= DEFERRED_LIMIT:
            self.timeline.flush()
        out = _new(SimArray)  # (``SimArray(value, alloc, row.sig)`` without the call)
        out.data, out.alloc, out.sig = value, alloc, row.sig
        out.shape, out.ndim, out.dtype = row.shape, row.ndim, row.dtype  # (the value's)
        return out

    def _unlaunch(self, deferred, row):
        """Take back ``row``'s deferred launch (its values could not be computed): the last
        launch of ``row`` in ``deferred``, unless that list is no longer waiting (None:
        nothing was launched; placed: another thread flushed it, and the launch counts)."""
        with self.lock:
            timeline = self.timeline
            if deferred is None or timeline.deferred is not deferred:
                return
            matmuls_after = 0  # (deferred_us holds the matmuls' times in launch order)
            for i in range(len(deferred) - 1, -1, -1):
                launch = deferred[i]
                if launch is row:
                    del deferred[i]
                    if row.duration_us is None:
                        del timeline.deferred_us[len(timeline.deferred_us) - 1 - matmuls_after]
                    return
                if launch.duration_us is None:
                    matmuls_after += 1

    def _plan(self, key, primitive, args):
        """The first call of a plan key: modeled as ``_modeled`` does, then its row is kept
        (unless shape inference missed: that path stays uncached, counting every miss)."""
        kernel, reads, nbytes, info = getattr(primitives, primitive)(*args)
        compute = getattr(self.cpu, primitive)
        value, alloc = self._allocated(nbytes, compute, args)
        if value.nbytes != nbytes:
            self._launch(kernel, reads, (value,), info, _signature(kernel, reads, value, info))
            return SimArray(value, alloc)
        spec = _spec(kernel, reads, (value,), **info) if info else _spec(kernel, reads, (value,))
        with self.lock:
            row = self._rows.get(key)
            if row is None:
                row = self._new_row(key, spec, (nbytes, layout_sig(value), compute), value)
            self._count(row, (value,))
        return SimArray(value, alloc, row.sig)

    def _relive(self, key, stale):
        """The live row for plan ``key`` in place of ``stale`` (lock held)."""
        row = self._rows.get(key)
        if row is None:
            row = self._new_row(key, stale.spec, (stale.nbytes, stale.sig, stale.compute),
                                stale)
        return row

    def _write(self, name, inputs, outputs, info=None):
        """Model kernel ``name`` reading ``inputs`` and writing the arrays ``outputs`` (its
        spec is cached under the operands' and the last output's signature)."""
        self._launch(name, inputs, outputs, info, _signature(name, inputs, outputs[-1], info))

    def _allocated(self, nbytes, compute, args):
        """``(compute(*args), its Allocation)``, ``nbytes`` (inferred from shapes) reserved
        before the host computes."""
        alloc = self.pool.allocate(nbytes)
        try:
            value = compute(*args)
        except BaseException as err:
            self._abandon((alloc,), nbytes, err)
            raise
        if value.nbytes != nbytes:
            alloc = self._resize(alloc, value.nbytes)
        return value, alloc

    def _reserve(self, *sizes):
        """Allocations for several results, in order (all or none)."""
        allocs = []
        take = self.pool.take_locked
        lock = self.lock
        lock.acquire()  # (once for all: the multi-result kernels run on every step)
        try:
            for nbytes in sizes:
                size = round_size(nbytes)
                allocs.append(take(size) if size else None)
        except BaseException:
            for alloc in allocs:
                if alloc is not None:
                    alloc.release()
            raise
        finally:
            lock.release()
        return allocs

    def _abandon(self, allocs, nbytes, err):
        """NumPy failed after memory was reserved: hand the reservations back; a host
        allocation failure becomes a HostMemoryError saying why (other errors pass)."""
        for alloc in allocs:
            if alloc is not None:
                alloc.release()
        if isinstance(err, MemoryError) and not isinstance(err, (OutOfMemoryError,
                                                                 HostMemoryError)):
            raise HostMemoryError(self.device, nbytes) from err

    def _resize(self, alloc, nbytes):
        """Shape inference disagreed with NumPy (a bug, counted in ``shape_misses``): hold the
        result's real size instead."""
        with self.lock:
            self.shape_misses += 1
        if alloc is not None:
            alloc.release()
        return self.pool.allocate(nbytes)

    def _computed(self, allocs, nbytes, compute, *args):
        """``compute(*args)`` for a primitive holding the reservations ``allocs``."""
        try:
            return compute(*args)
        except BaseException as err:
            self._abandon(allocs, nbytes, err)
            raise
