"""The clocks of a simulated GPU: host, compute stream, copy engine and communication stream.

All times are modeled microseconds since the timeline started (or was reset); they depend only on
the sequence of calls and the profile, never on the wall clock, so a program replays identically.

- ``kernel(spec)``: the host pays the dispatch time, plus ``host_mix_us`` for every other
  distinct kernel among the last ``MIX_WINDOW`` (a tight loop of one op runs with warm CPU
  caches; a real program alternates between many code paths and each call runs colder); the
  kernel is submitted at
  ``launch_point`` of the way through that dispatch, reaches the stream ``launch_latency_us``
  later and starts once the stream is free. With ``framework=True`` the host first pays the
  profile's ``framework_us``: gpugrad's own Python around the call (Tensor and Function.apply,
  the autograd engine, nn modules, the optimizer). The sim backend turns it on for gpugrad
  programs; a bare Timeline, like fidelity.py's replays of raw CuPy calls, leaves it off.
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

A Timeline holds no lock of its own: ``SimBackend`` changes its device's timeline only under the
device's lock (``SimBackend.lock``), so threads sharing a device see one consistent sequence.
"""
from collections import deque
from typing import NamedTuple

from ..events import launch_span

#: how many recent kernels the host's cache footprint covers (see ``host_mix_us``)
MIX_WINDOW = 32


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


class Timeline:
    """Host, stream, copy-engine and communication-stream clocks for one simulated device."""

    def __init__(self, profile, record_events=True, framework=False):
        self.profile = profile
        #: when False, no trace events are kept (long runs without a profiler stay small)
        self.record_events = record_events
        #: host µs charged before each kernel's dispatch for gpugrad's own Python (0: raw calls)
        self.framework_us = profile.framework_us if framework else 0.0
        self.reset()

    def reset(self):
        """All clocks and counters back to zero, events cleared."""
        self.host_us = 0.0          # the host thread's clock
        self.stream_us = 0.0        # when the compute stream is next free
        self.copy_us = 0.0          # when the copy engine is next free
        self.device_busy_us = 0.0   # sum of kernel durations
        self._recent = deque()      # names of the last MIX_WINDOW kernels
        self._recent_counts = {}    # name -> occurrences in _recent
        self.copy_busy_us = 0.0     # sum of transfer durations
        self.comm_us = 0.0          # when the communication stream is next free
        self.comm_busy_us = 0.0     # sum of collective durations
        self.comm_exposed_us = 0.0  # waits for collectives that left the GPU or host idle
        self.events = []

    # ---- kernels -----------------------------------------------------------------------
    def kernel(self, spec):
        """Launch one kernel; returns its (start_us, end_us) on the stream."""
        p = self.profile
        dispatch = p.host_dispatch_us(spec) + p.host_mix_us * self._mix(spec.name)
        host_start = self.host_us + self.framework_us   # gpugrad's Python runs before the call
        self.host_us = host_start + dispatch
        arrive = host_start + p.launch_point * dispatch + p.launch_latency_us
        start = arrive if arrive > self.stream_us else self.stream_us
        dur = p.kernel_us(spec)
        end = start + dur
        self.stream_us = end
        self.device_busy_us += dur
        if self.record_events:
            args = {"shapes": spec.shapes, "dtype": spec.dtype, "bytes": spec.nbytes,
                    "flops": spec.flops, "op_class": spec.op_class}
            _correlate(args)
            self.events.append(TraceEvent("host", spec.name, host_start - self.framework_us,
                                          dispatch + self.framework_us, args))
            self.events.append(TraceEvent("stream", spec.name, start, dur, args))
        return start, end

    def _mix(self, name):
        """How many other distinct kernels ran among the last MIX_WINDOW (this one included)."""
        recent, counts = self._recent, self._recent_counts
        recent.append(name)
        counts[name] = counts.get(name, 0) + 1
        if len(recent) > MIX_WINDOW:
            old = recent.popleft()
            left = counts[old] - 1
            if left:
                counts[old] = left
            else:
                del counts[old]
        return len(counts) - 1

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
