"""How devices report what they did to a profiler: the recording interface, below every tool.

Backends report through a small interface, the same for modeled and measured times:

- *pull*: ``register_source(source)``. ``source.profile_begin()`` is called when a profile
  starts (returning any token) and ``source.profile_end(token, sink)`` when it ends; the source
  then reports through ``sink.add_event(device, track, name, start_us, dur_us, args)``,
  ``sink.add_counter(device, name, ts_us, value)`` and ``sink.set_label(device, text)``. The
  sim backend reports its modeled timeline this way; the cuda backend resolves its CUDA
  events at the end of the block (after one synchronize) the same way.
- *push*: while ``is_recording()``, a backend may call ``record_event(...)`` and
  ``record_counter(...)`` (same arguments as the sink methods) as it goes.

Times are microseconds on one clock per device, counted from the start of the block: the sim
backend subtracts its host clock at ``profile_begin``; the cuda source measures its GPU tracks
from a CUDA event recorded then and its host track from ``time.perf_counter_ns`` then. Each
device becomes one process of the trace.

Attribution: while a profiler records host spans (ops, ``record_function``), it keeps the id of
the innermost one open on each thread in ``launch_span()``. A backend that records a kernel or
a copy puts that id in the event's args as ``"correlation"`` (when it is not None), so the
profiler charges the kernel's device time to the op that launched it and to every span around
it by launch nesting, whatever clock the device's times are on.

Threads: the lists of sources and active profiles change under one lock, so a profile that
starts while a backend registers gets exactly one token from it; events pushed by several threads
go to the profiles active when they are pushed.
"""
import threading
from typing import Any

TRACKS = ("host", "stream", "copy")  # thread ids 1, 2, 3 in the trace; other names follow
MEMORY_COUNTER = "device memory"

_SOURCES: list[Any] = []
_ACTIVE: list[Any] = []  # replaced, never changed in place, so readers may iterate it without the lock
_LOCK = threading.RLock()


_launch = threading.local()  # .span: the id of this thread's innermost open profiled span


def launch_span():
    """The id of the innermost profiled host span open on this thread, or None (see the module
    docstring): a backend recording a kernel stores it in the event's args as "correlation"."""
    return getattr(_launch, "span", None)


def set_launch_span(span_id):
    """Set this thread's innermost open span (the profiler calls it as spans open and close)."""
    _launch.span = span_id


def register_source(source):
    """Add a backend that reports events when profiles end (see the module docstring)."""
    with _LOCK:
        if source not in _SOURCES:
            _SOURCES.append(source)
            for prof in _ACTIVE:
                prof._tokens.append((source, source.profile_begin()))


def is_recording():
    """True inside a ``profile`` block: only then do push-style backends need to record."""
    return bool(_ACTIVE)


def record_event(device, track, name, start_us, dur_us, args=None):
    """Add one event to every active profile (push interface)."""
    for prof in _ACTIVE:  # (list.append is atomic, so threads may push at once)
        prof.add_event(device, track, name, start_us, dur_us, args)


def record_counter(device, name, ts_us, value):
    """Add one counter sample to every active profile (push interface)."""
    for prof in _ACTIVE:
        prof.add_counter(device, name, ts_us, value)


def start(recorder):
    """Start sending events to ``recorder`` (a ``gg.profiler.profile``): it becomes active and
    gets each source's ``profile_begin`` token in ``recorder._tokens``."""
    global _ACTIVE
    with _LOCK:
        _ACTIVE = _ACTIVE + [recorder]
        recorder._tokens = [(source, source.profile_begin()) for source in _SOURCES]


def stop(recorder):
    """Stop ``recorder``: each source reports its events to it (``profile_end``)."""
    global _ACTIVE
    with _LOCK:
        try:
            for source, token in recorder._tokens:
                source.profile_end(token, recorder)
        finally:
            recorder._tokens = []
            _ACTIVE = [prof for prof in _ACTIVE if prof is not recorder]
