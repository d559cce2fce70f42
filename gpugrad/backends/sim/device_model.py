"""The model half of a simulated GPU: profile, counters, timeline and memory pool, and the
bookkeeping every primitive shares (reserving a result's memory before NumPy computes it,
modeling one kernel launch, the profiler's recording interface).

``DeviceModel`` is a mixin of ``SimBackend`` (backend.py), whose primitives let its cpu backend
(``self.cpu``; on a shape-only device a ``MetaBackend``, meta.py) compute the values and
describe each kernel to ``_modeled``/``_write``/``_planned`` (results.py, mixed in here), which
launch it through ``_launch``/``_count`` here. Each distinct kernel is costed once and kept as
a ``KernelRow`` (kernel_rows.py) with its counts, so a program that runs in a loop models each
launch with a lookup, and appends the row to the timeline's deferred launches, placed on the
clocks (and counted) in one tight loop when anything next reads them (timeline.py); freed
memory is queued the same way until the next allocation (memory.py). The sim's own host time
per kernel is what ``bench/sim_overhead.py`` measures. Every change to the model happens under
the device's re-entrant ``lock``.
"""
import operator
import os

from .. import events
from . import costmodel, kernel_log, profiles
from . import timeline as timeline_mod
from ..cpu.backend import NumpyBackend
from .kernel_rows import KernelRow
from .memory import MemoryPool
from .meta import MetaBackend
from .results import ModeledResults
from .timeline import DEFERRED_LIMIT

DEFAULT_PROFILE = "h100"
ENV_PROFILE = "GPUGRAD_SIM_PROFILE"
ROW_LIMIT = 4096  # distinct kernel signatures counted separately before they are folded
_spec = costmodel.spec


def debug_level():
    """``GPUGRAD_DEBUG`` as an int (2 and above print one line per modeled kernel)."""
    try:
        return int(os.environ.get("GPUGRAD_DEBUG", "0") or 0)
    except ValueError:
        return 0


def profile_name(profile=None):
    """The profile to use: ``profile``, else ``$GPUGRAD_SIM_PROFILE``, else h100."""
    name = profile or os.environ.get(ENV_PROFILE) or DEFAULT_PROFILE
    name = str(name).strip().lower()
    if name not in profiles.PROFILE_NAMES:
        source = "the profile argument" if profile else ENV_PROFILE
        raise ValueError(f"unknown sim profile {name!r} (from {source}); expected one of "
                         f"{', '.join(profiles.PROFILE_NAMES)}")
    return name


class DeviceModel(ModeledResults):
    """Configuration, counters and the modeled kernel launch of one sim device."""

    # ---- configuration and counters --------------------------------------------------------
    def configure(self, profile=None, memory_bytes=None, framework_overhead=True, host=None,
                  compute=True):
        """Set the profile and capacity (omitted: the defaults) and clear counters and clocks.

        ``framework_overhead``: charge the host the profile's ``framework_us`` per kernel for
        gpugrad's own Python (on for gpugrad programs; off when primitives stand for raw CuPy
        calls). ``host``: the host profile (``profiles.configured_host``: a name, a JSON file or
        a ``HostProfile``; else ``$GPUGRAD_SIM_HOST``, else the measured H200 host). Live
        arrays keep their memory; the pool's cached blocks are released.

        ``compute=False`` makes the device shape-only, for planning: every op is checked and
        modeled as with values (the same kernels, times and memory, the same OutOfMemoryError)
        but computes nothing and allocates no host memory; reading a value raises
        ``ValuesNotComputedError``.
        """
        if not isinstance(compute, bool):
            raise TypeError(f"compute must be True (compute values) or False (shape-only "
                            f"planning), got {compute!r}")
        self.profile = profiles.get_profile(profile_name(profile)).with_host(
            profiles.configured_host(host))
        if memory_bytes is None:
            capacity = self.profile.memory_bytes
        else:
            try:
                capacity = operator.index(memory_bytes)  # ints, NumPy ints; not "1GB" or 1.5
            except TypeError:
                capacity = -1
            if capacity < 0 or isinstance(memory_bytes, bool):
                raise ValueError(f"memory_bytes must be a non-negative int (bytes, e.g. "
                                 f"2 * 1024**3 for 2 GiB), got {memory_bytes!r}")
        with self.lock:
            self.computes = compute
            self.cpu = NumpyBackend(self.device) if compute else MetaBackend(self.device)
            self._configure(capacity, framework_overhead)

    def _configure(self, capacity, framework_overhead):
        recording = self.pool is not None and self.pool.recording > 0
        # trace events are kept only while a profiler listens, so long runs stay small
        self.framework_overhead = bool(framework_overhead)
        self.debug = debug_level() >= 2  # (each kernel printed as placed: none deferred)
        # plan key -> what a multi-result fused kernel's results need (fused.py): their sizes
        # and sigs follow from the operands' layouts, as computed by this device's ``cpu``
        self._plans = {}
        self.timeline = timeline_mod.Timeline(self.profile, record_events=recording,
                                              framework=self.framework_overhead, lock=self.lock,
                                              defer=not self.debug)
        if self.pool is None:
            self.pool = MemoryPool(str(self.device), capacity, self.timeline, self.lock)
        else:
            self.pool.capacity = capacity
            self.pool.timeline = self.timeline
            self.pool.empty_cache()  # a cold start: the same program then gives the same numbers
        self.reset()

    def reset(self):
        """Clear counters, the timeline and the peak. Live arrays keep their memory and the
        pool keeps its cached blocks, so what follows runs warm (``configure`` starts cold)."""
        with self.lock:
            self._reset()

    def _reset(self):
        self.timeline.reset()
        self._retire_rows()
        # kernel signature or spec (see _launch), plan key (see _planned), launch key (fused.py)
        # or graph key (graphs.py) -> KernelRow. Kinds never collide: a signature is 3 or more
        # items with a tuple (the result's shape) second, a plan or launch key has no tuple
        # second, a spec is ten items long and a graph key two
        self._rows = {}
        self._folded = {}  # op name -> [count, device µs, flops, bytes, op_class] (old rows)
        self._folded_class = {}  # op class -> device µs (old rows)
        self.h2d_bytes = 0
        self.d2h_bytes = 0
        self.p2p_bytes = 0
        self.pool.reset_peak()
        self.pool.hits = self.pool.misses = 0
        self.pool.samples.clear()
        self.generation += 1

    # ---- the profiler's recording interface (see gpugrad/backends/events.py) ----------------------
    def profile_begin(self):
        with self.lock:
            self.pool.settle()
            self.pool.recording += 1
            self.timeline.record_events = True
            return (self.generation, len(self.timeline.events), len(self.pool.samples),
                    self.timeline.host_us, self.pool.in_use)

    def profile_end(self, token, sink):
        with self.lock:
            self.pool.settle()
            self._profile_end(token, sink)

    def _profile_end(self, token, sink):
        generation, first_event, first_sample, t0, in_use = token
        pool, device = self.pool, str(self.device)
        if generation != self.generation:  # reset inside the block: the clocks restarted at 0
            first_event = first_sample = 0
            t0 = 0.0
        kernels = self.timeline.events[first_event:]
        samples = pool.samples[first_sample:]
        if kernels or samples:  # a device unused during the block stays out of the trace
            sink.set_label(device, f"{device} (simulated {self.profile.name})")
            sink.add_counter(device, events.MEMORY_COUNTER, 0.0, in_use)
            for track, name, start, dur, args in kernels:
                sink.add_event(device, track, name, start - t0, dur, args)
            for ts, value in samples:
                sink.add_counter(device, events.MEMORY_COUNTER, ts - t0, value)
        pool.recording -= 1
        if not pool.recording:
            pool.samples.clear()
            self.timeline.record_events = False
            self.timeline.events.clear()

    # ---- the modeled kernel ----------------------------------------------------------------
    def _launch(self, name, inputs, outputs, info=None, key=None):
        """Model one kernel launch: cost it, place it on the timeline, count it.

        A spec depends only on the name, the operands' shapes, strides and dtypes and ``info``:
        callers on the hot path pass that as ``key``, and one ``KernelRow`` per distinct key
        holds the spec, its costs and the counts (totals are summed from the rows when stats
        are read).
        """
        spec = None
        if key is None:  # specs are hashable: launches with equal specs share a row
            spec = key = _spec(name, inputs, outputs, **info) if info else \
                _spec(name, inputs, outputs)
        lock = self.lock
        lock.acquire()  # (not ``with``, which costs twice as much on this hot path)
        try:
            row = self._rows.get(key)
            if row is None:  # a new signature (rare once a program runs in a loop)
                if spec is None:
                    spec = _spec(name, inputs, outputs, **info) if info else \
                        _spec(name, inputs, outputs)
                row = self._new_row(key, spec)
            timeline = self.timeline
            deferred = timeline.deferred
            if deferred is None:
                self._count(row, outputs)
            else:  # (``_count``'s deferred launch, inline)
                if row.duration_us is None:
                    timeline.deferred_us.append(row.matmul_us(self.profile))
                deferred.append(row)
                if len(deferred) >= DEFERRED_LIMIT:
                    timeline.flush()
        finally:
            lock.release()

    def _count(self, row, outputs):
        """Launch ``row``'s kernel writing ``outputs`` and count it (call with the lock held).
        The launch is deferred to the timeline's next flush (timeline.py), or placed at once
        while the timeline defers nothing (a profiler records, a graph captures, or
        ``GPUGRAD_DEBUG=2`` prints each kernel)."""
        timeline = self.timeline
        deferred = timeline.deferred
        if deferred is not None:
            if row.duration_us is None:  # a matmul: its time depends on the precision now
                timeline.deferred_us.append(row.matmul_us(self.profile))
            deferred.append(row)
            if len(deferred) >= DEFERRED_LIMIT:
                timeline.flush()
            return
        duration = row.duration_us
        if duration is None:
            duration = row.matmul_us(self.profile)
        start, end = timeline.kernel(row.spec, row.dispatch_us, duration)
        row.count += 1
        row.device_us += end - start
        if self.debug:
            kernel_log.print_kernel(self.device, row.spec, end - start, outputs)

    def _new_row(self, key, spec, plan=None, result=None):
        """A fresh ``KernelRow`` for ``spec`` under ``key`` (call with the lock held). ``plan``:
        ``(nbytes, sig, compute)`` of a plan key's row, and ``result`` (an array, or a row,
        with the result's ``shape``, ``ndim`` and ``dtype``), set before the row is published,
        since ``_planned`` looks rows up without the lock (another thread must never find a
        row whose ``compute`` is not set yet)."""
        if len(self._rows) >= ROW_LIMIT:
            self._fold_rows()
        row = KernelRow(spec, self.profile)
        if plan is not None:
            row.planned(*plan)
            row.shape, row.ndim, row.dtype = result.shape, result.ndim, result.dtype
        self._rows[key] = row
        return row

    def _retire_rows(self):
        """Mark every current row stale (a launch holding one counts in a fresh row)."""
        for row in getattr(self, "_rows", {}).values():
            row.live = False

    def _fold_rows(self):
        """Sum the per-signature rows into per-op totals (bounds memory for endless shapes)."""
        self._folded, self._folded_class = self._kernel_totals()
        self._retire_rows()
        self._rows.clear()

    def kernel_totals(self):
        """``(by_op, by_class)`` since the last reset: per op name [count, device µs, flops,
        bytes, op_class] (the class of its first kernel), and device µs per op class."""
        with self.lock:
            return self._kernel_totals()

    def _kernel_totals(self):
        self.timeline.flush()  # the rows' counts include every launch
        by_op = {name: list(total) for name, total in self._folded.items()}
        by_class = dict(self._folded_class)
        for row in self._rows.values():
            spec, count, us = row.spec, row.count, row.device_us
            total = by_op.get(spec.name)
            if total is None:
                total = by_op[spec.name] = [0, 0.0, 0, 0, spec.op_class]
            total[0] += count
            total[1] += us
            total[2] += count * spec.flops
            total[3] += count * (spec.bytes_read + spec.bytes_written)
            by_class[spec.op_class] = by_class.get(spec.op_class, 0.0) + us
        return by_op, by_class
