"""The clocks of a simulated GPU: host, compute stream, copy engine and communication stream.

All times are modeled microseconds since the timeline started (or was reset); they depend only on
the sequence of calls and the profile, never on the wall clock, so a program replays identically.

- ``kernel(spec)``: the host pays the dispatch time, plus ``host_mix_us`` for every other
  distinct kernel among the last ``MIX_WINDOW`` (host_mix.py: a tight loop of one op runs with
  warm CPU caches; a real program alternates between many code paths and each call runs
  colder); the kernel is submitted at ``launch_point`` of the way through that dispatch,
  reaches the stream ``launch_latency_us`` later and starts once the stream is free. With
  ``framework=True`` the host first pays the profile's ``framework_us``: gpugrad's own Python
  around the call (Tensor and Function.apply, the autograd engine, nn modules, the optimizer).
  The sim backend turns it on for gpugrad programs; a bare Timeline, like fidelity.py's replays
  of raw CuPy calls, leaves it off.
- ``transfer(kind, ...)``: runs on the copy engine. Host-to-device and device-to-host copies are
  synchronous for the host (as CuPy's ``set``/``get``); a device-to-host copy first waits for the
  stream, since it reads what the kernels wrote. Device-to-device and peer copies are
  stream-ordered and asynchronous.
- ``malloc(nbytes)``: a cold cudaMalloc (a pool miss): the host waits for the device and pays
  ``malloc_us``.
- ``record_event()``: when a marker enqueued now would complete on the stream (two of these
  bracket a CUDA-event measurement).
- ``collective(name, dur_us, issue_us)``: a collective (an NCCL kernel) on the communication
  stream. The host pays ``issue_us``; the collective starts once the compute stream's work issued
  so far is done (it reads what those kernels wrote: a stream waits on an event), and the comm
  stream is free; the compute stream goes on meanwhile (communication overlaps compute).
  ``collective_wait(end)`` makes later compute-stream work start after it (the host does not
  block); ``synchronize`` waits for the comm stream too. ``comm_exposed_us`` sums the time the
  compute stream (or the host, at a synchronize) waited for a collective with nothing else to do.

Deferred kernels: the sim backend launches most kernels by appending their ``KernelRow``
(kernel_rows.py) to ``deferred`` (no clock moves yet), and the clocks take them, in order
and with the very arithmetic of ``kernel``, when anything next reads or moves a clock
(``flush``): every method here, and ``host_us``, ``stream_us``, ``device_busy_us`` and
``events``, flush first, so what a reader sees is exactly what launching one by one gives.
``deferred`` is None, and every kernel placed at once, while trace events are recorded (each
event names the profiled span open at its launch), inside ``placing_each`` (tools wrapping
``kernel``) and for a Timeline made with ``defer=False``. A launcher flushes once
``DEFERRED_LIMIT`` kernels wait, so the list stays short in a loop that reads no clock. The
deferred kernels' dispatch times (the mix included) come from ``HostMix.replayed``: a loop
flushing the same kernels each step gets them from the placement recorded the first time.

``SimBackend`` changes its device's timeline only under the device's lock (``lock``, passed
in), so threads sharing a device see one consistent sequence; a bare Timeline makes its own.
"""
import contextlib
import threading
from typing import NamedTuple

from ..events import launch_span
from .host_mix import MIX_WINDOW, HostMix  # noqa: F401  (MIX_WINDOW: named here too)

#: deferred kernels kept before the launcher flushes them (a loop reading no clock stays small)
DEFERRED_LIMIT = 256


def _correlate(args):
    """Tag a recorded kernel or copy with the profiled span that launched it, if one is open."""
    span = launch_span()
    if span is not None:
        args["correlation"] = span


class TraceEvent(NamedTuple):
    """One span on a track ("host", "stream", "copy" or "comm") for the Chrome trace."""
    track: str
    name: str
    start_us: float
    dur_us: float
    args: dict


def _clock(name, doc):
    """A Timeline property reading and setting attribute ``name`` once the deferred kernels
    are placed."""
    def get(self):
        if self.deferred:
            self.flush()
        return getattr(self, name)

    def set(self, value):
        if self.deferred:
            self.flush()
        setattr(self, name, value)
    return property(get, set, doc=doc)


class _Launch:
    """A kernel ``Timeline.kernel`` places: what ``Timeline._place`` reads of a row (its counts
    are not kept)."""

    __slots__ = ("name", "dispatch_us", "duration_us", "count", "device_us")

    def __init__(self, name, dispatch_us, duration_us):
        self.name = name
        self.dispatch_us = dispatch_us
        self.duration_us = duration_us
        self.count = 0
        self.device_us = 0.0


class Timeline:
    """Host, stream, copy-engine and communication-stream clocks for one simulated device.

    ``lock``: the re-entrant lock its users hold while they change it (a device's; by default
    its own). ``defer=False``: no kernel is ever deferred (see the module docstring).
    """

    def __init__(self, profile, record_events=True, framework=False, lock=None, defer=True):
        self.profile = profile
        self.lock = lock if lock is not None else threading.RLock()
        #: rows of kernels launched but not yet on the clocks (None: launch with ``kernel``)
        self.deferred = None
        #: device µs of the deferred kernels whose row has none (matmuls), in launch order
        self.deferred_us = []
        #: the host's mix of recent kernels (host_mix.py)
        self.mix = HostMix(profile.host_mix_us)
        self._record_events = True
        self._holds = 0 if defer else 1  # open ``placing_each`` blocks (and 1 for defer=False)
        #: when False, no trace events are kept (long runs without a profiler stay small)
        self.record_events = record_events
        #: host µs charged before each kernel's dispatch for gpugrad's own Python (0: raw calls)
        self.framework_us = profile.framework_us if framework else 0.0
        self.reset()

    @property
    def record_events(self):
        """Whether trace events are kept (while True, no kernel is deferred)."""
        return self._record_events

    @record_events.setter
    def record_events(self, on):
        self._record_events = bool(on)
        self._defer_unless_held()

    @contextlib.contextmanager
    def placing_each(self):
        """``with timeline.placing_each(): ...``: every kernel launched in the block goes
        through ``kernel`` at once, none is deferred (for tools that wrap ``kernel``)."""
        with self.lock:
            self._holds += 1
            self._defer_unless_held()
        try:
            yield self
        finally:
            with self.lock:
                self._holds -= 1
                self._defer_unless_held()

    def _defer_unless_held(self):
        self.flush()
        self.deferred = None if self._record_events or self._holds else []

    # the clocks kernels move: reading or setting one first places the deferred kernels
    host_us = _clock("_host_us", "the host thread's clock (µs)")
    stream_us = _clock("_stream_us", "when the compute stream is next free (µs)")
    device_busy_us = _clock("_device_busy_us", "the sum of kernel durations (µs)")
    events = _clock("_events", "the TraceEvents kept while recorded")

    def reset(self):
        """All clocks and counters back to zero, events cleared (deferred kernels dropped)."""
        with self.lock:
            if self.deferred:
                self.deferred = []
            self.deferred_us = []
        self._host_us = 0.0
        self._stream_us = 0.0
        self.copy_us = 0.0          # when the copy engine is next free
        self._device_busy_us = 0.0
        self.mix.reset()
        self.copy_busy_us = 0.0     # sum of transfer durations
        self.comm_us = 0.0          # when the communication stream is next free
        self.comm_busy_us = 0.0     # sum of collective durations
        self.comm_exposed_us = 0.0  # waits for collectives that left the GPU or host idle
        self._events = []

    # ---- kernels -----------------------------------------------------------------------
    def kernel(self, spec, dispatch_us=None, duration_us=None):
        """Launch one kernel; returns its (start_us, end_us) on the stream.

        ``dispatch_us`` and ``duration_us``: the profile's ``host_dispatch_us(spec)`` and
        ``kernel_us(spec)`` when the caller has them (the sim backend caches them per kernel);
        None: asked of the profile. It is placed after the deferred kernels, by ``_place``,
        the one place a kernel's host time is charged.
        """
        p = self.profile
        if dispatch_us is None:
            dispatch_us = p.host_dispatch_us(spec)
        if duration_us is None:
            duration_us = p.kernel_us(spec)
        self.flush()
        launch = (_Launch(spec.name, dispatch_us, duration_us),)
        host_start, dispatch, start, end = self._place(launch, self.mix.dispatches(launch))
        if self._record_events:
            args = {"shapes": spec.shapes, "dtype": spec.dtype, "bytes": spec.nbytes,
                    "flops": spec.flops, "op_class": spec.op_class}
            _correlate(args)
            self._events.append(TraceEvent("host", spec.name, host_start - self.framework_us,
                                           dispatch + self.framework_us, args))
            self._events.append(TraceEvent("stream", spec.name, start, duration_us, args))
        return start, end

    def flush(self):
        """Place the deferred kernels on the clocks, in launch order (cheap when there are
        none; every reader of a clock calls it first)."""
        if self.deferred:
            with self.lock:
                rows = self.deferred
                if rows:
                    self.deferred = []
                    durations, self.deferred_us = self.deferred_us, []
                    self._place(rows, self.mix.replayed(rows), durations)

    def _place(self, rows, dispatches, durations=()):
        """Put kernels on the clocks, in order, and count each in its row: a row has
        ``duration_us`` (None: the next of ``durations``), adds one to ``count`` and its time
        on the stream to ``device_us``; ``dispatches`` holds each one's host dispatch µs (the
        mix included: host_mix.py). Returns the last kernel's ``(host_start, dispatch, start,
        end)``. (One loop with locals: the sim's hot path.)"""
        p = self.profile
        point, latency = p.launch_point, p.launch_latency_us
        framework = self.framework_us
        host, stream, busy = self._host_us, self._stream_us, self._device_busy_us
        durations = iter(durations)
        for row, dispatch in zip(rows, dispatches):
            host_start = host + framework  # gpugrad's Python runs before the call
            host = host_start + dispatch
            arrive = host_start + point * dispatch + latency
            start = arrive if arrive > stream else stream
            duration = row.duration_us
            if duration is None:
                duration = next(durations)
            stream = end = start + duration
            busy += duration
            row.count += 1
            row.device_us += end - start
        self._host_us, self._stream_us, self._device_busy_us = host, stream, busy
        return host_start, dispatch, start, end

    def host_work(self, us, name="host"):
        """The host spends ``us`` microseconds on work that launches nothing."""
        if us > 0:
            if self.record_events:
                self.events.append(TraceEvent("host", name, self.host_us, us, {}))
            self.host_us += us

    # ---- transfers ---------------------------------------------------------------------
    def transfer(self, kind, nbytes, pinned=False):
        """One copy on the copy engine; returns its (start_us, end_us).

        ``kind``: "h2d", "d2h" (synchronous for the host), "d2d" or "p2p" (stream-ordered,
        asynchronous for the host).
        """
        p = self.profile
        dur = p.transfer_us(kind, nbytes, pinned)
        issue = p.transfer_host_us(kind)
        host_start = self.host_us
        ready = host_start + issue
        if kind != "h2d":   # reads device data: waits for the kernels that produce it
            ready = max(ready, self.stream_us)
        start = max(ready, self.copy_us)
        end = start + dur
        self.copy_us = end
        self.copy_busy_us += dur
        if kind in ("h2d", "d2h"):
            self.host_us = end
        else:
            self.host_us = host_start + issue
            self.stream_us = max(self.stream_us, end)   # later kernels read the copy
        if self.record_events:
            args = {"bytes": int(nbytes), "pinned": bool(pinned)}
            _correlate(args)
            self.events.append(TraceEvent("host", kind, host_start, self.host_us - host_start,
                                          args))
            self.events.append(TraceEvent("copy", kind, start, dur, args))
        return start, end

    # ---- collectives (the communication stream) ----------------------------------------
    def collective_ready(self, issue_us):
        """When a collective issued now (the host paying ``issue_us``) could start: once it
        reaches the device and the compute stream's work so far is done. Changes nothing."""
        arrive = self.host_us + issue_us + self.profile.launch_latency_us
        return max(arrive, self.stream_us)

    def collective(self, name, dur_us, issue_us, not_before=0.0, args=None):
        """One collective of ``dur_us`` on the comm stream, issued now; it starts no earlier
        than ``not_before`` (when the last rank of its group is ready). Returns (start, end)."""
        start = max(self.collective_ready(issue_us), self.comm_us, not_before)
        host_start = self.host_us
        self.host_us = host_start + issue_us
        end = start + dur_us
        self.comm_us = end
        self.comm_busy_us += dur_us
        if self.record_events:
            args = dict(args or {}, op_class="comm")
            _correlate(args)
            self.events.append(TraceEvent("host", name, host_start, issue_us, args))
            self.events.append(TraceEvent("comm", name, start, dur_us, args))
        return start, end

    def collective_wait(self, end_us):
        """Compute-stream work issued from now on starts after ``end_us`` (a collective's end):
        the stream waits on its event; the host goes on."""
        free = max(self.stream_us, self.host_us + self.profile.launch_latency_us)
        if end_us > free:  # the stream would have had work, but waits for the collective
            self.comm_exposed_us += end_us - free
        if end_us > self.stream_us:
            self.stream_us = end_us

    # ---- allocation and synchronization ------------------------------------------------
    def malloc(self, nbytes):
        """A cold device allocation (pool miss): the host syncs, then pays ``malloc_us``."""
        self._wait_device()
        us = self.profile.malloc_us(nbytes)
        if self.record_events:
            self.events.append(TraceEvent("host", "cudaMalloc", self.host_us, us,
                                          {"bytes": int(nbytes)}))
        self.host_us += us
        return self.host_us

    def synchronize(self):
        """The host waits for the streams and the copy engine; returns the host time after."""
        self._wait_device()
        self.host_work(self.profile.sync_us, "synchronize")
        return self.host_us

    def _wait_device(self):
        done = max(self.stream_us, self.copy_us)
        if self.comm_us > max(done, self.host_us):  # only the communication is left
            self.comm_exposed_us += self.comm_us - max(done, self.host_us)
            done = self.comm_us
        if done > self.host_us:
            if self.record_events:
                self.events.append(TraceEvent("host", "wait", self.host_us,
                                              done - self.host_us, {}))
            self.host_us = done

    def record_event(self):
        """Enqueue a marker on the stream now; returns the stream time at which it completes."""
        p = self.profile
        done = self.host_us + p.launch_latency_us
        if self.stream_us > done:
            done = self.stream_us
        self.host_us += p.event_us
        return done

    def snapshot(self):
        """A dict of the clocks and busy totals (for stats)."""
        return {"host_us": self.host_us, "stream_us": self.stream_us, "copy_us": self.copy_us,
                "device_busy_us": self.device_busy_us, "copy_busy_us": self.copy_busy_us,
                "comm_us": self.comm_us, "comm_busy_us": self.comm_busy_us,
                "comm_exposed_us": self.comm_exposed_us}
