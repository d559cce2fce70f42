"""What a ``cuda`` backend reports to ``gg.profiler``: measured host and GPU times per primitive.

While a ``gg.profiler.profile`` block is active, each primitive call on a cuda device is recorded:

- ``host`` track: the Python call, wall clock (``time.perf_counter_ns``) from the block's start;
- ``stream`` track (kernels) or ``copy`` track (``h2d``/``d2h``/``p2p`` transfers): GPU time
  between two CUDA events recorded on the current stream just before and after the call, placed
  on the timeline by their elapsed time from an event recorded when the block started;
- ``device memory`` counter: CuPy's default memory pool ``used_bytes()`` after each call.

Events are only recorded during the block; they are resolved when it ends, after one
synchronize. Outside a block the backend pays one attribute test per primitive
(``backend._recorder is None``, see ``_primitive`` in backend.py). Kernels get sim's names
(``matmul``, ``binary:add``, ``bias_act``...) so ``prof.table()`` groups them the same way; a
primitive called by another (a fused op's fallback) belongs to its caller's event; views
(``permute``, a reshape or a slice that copies nothing) launch nothing and are not recorded.
"""
import time

from .. import events

_NOT_KERNELS = frozenset({"dtype", "permute", "broadcast_to", "synchronize", "strides",
                          "is_contiguous", "dlpack", "dlpack_device", "from_dlpack"})
_PER_OP = frozenset({"unary", "binary", "reduce"})  # named "<method>:<op>", as in sim
_MAYBE_VIEWS = frozenset({"reshape", "getitem"})  # a kernel only when the result is a copy
_NAMES = {"random": "random", "randint": "random", "reshape": "copy", "contiguous": "copy",
          "concatenate": "copy", "copy_": "copy", "setitem_": "index_put"}


def _track_and_name(method, backend, args):
    """``(track, name)`` for a call of primitive ``method``, or None when it launches nothing."""
    if method in _NOT_KERNELS:
        return None
    if method in _PER_OP:
        return "stream", f"{method}:{args[0]}"
    if method == "to_host":
        return "copy", "d2h"
    if method == "from_host":  # a CuPy array is copied on the device, anything else uploaded
        on_device = hasattr(args[0], "__cuda_array_interface__")
        return ("stream", "copy") if on_device else ("copy", "h2d")
    if method == "from_backend":
        source = args[1]
        if source is backend:
            return "stream", "copy"
        return "copy", "p2p" if source.device.type == "cuda" else "h2d"
    return "stream", _NAMES.get(method, method)


def _is_view(result, a):
    """True when ``result`` shares ``a``'s memory (CuPy sets ``base`` on views as NumPy does)."""
    base = getattr(result, "base", None)
    return base is not None and (base is a or base is getattr(a, "base", None))


class CudaRecorder:
    """The profiler source of one cuda backend (``register_source`` protocol, see profiler.py).

    ``cupy`` is the CuPy module (a stand-in in tests). Nested profile blocks share one list of
    calls; each block's token remembers where its calls start and its own start event.
    """

    def __init__(self, backend, cupy):
        self.backend = backend
        self.cupy = cupy
        self.active = 0  # profile blocks open now
        self.depth = 0  # > 0 while a recorded primitive runs (its inner calls are its own)
        # (track, name, host start ns, host end ns, event before, event after, pool bytes in use,
        #  the profiled span that launched it: events.launch_span())
        self.calls = []
        self._label = None

    # ---- the profiler's pull interface -----------------------------------------------------
    def profile_begin(self):
        cupy = self.cupy
        with self.backend._gpu:  # events belong to the device they are recorded on
            start = cupy.cuda.Event()
            start.record(cupy.cuda.get_current_stream())
            used = cupy.get_default_memory_pool().used_bytes()
        token = (len(self.calls), start, time.perf_counter_ns(), used)
        self.active += 1
        self.backend._recorder = self
        return token

    def profile_end(self, token, sink):
        first, start, start_ns, used = token
        try:
            calls = self.calls[first:]
            if calls:  # a device unused during the block stays out of the trace
                self._report(calls, start, start_ns, used, sink)
        finally:
            self.active -= 1
            if not self.active:
                self.backend._recorder = None
                self.calls = []

    def _report(self, calls, start, start_ns, used, sink):
        cupy, device = self.cupy, str(self.backend.device)
        with self.backend._gpu:
            self.backend._gpu.synchronize()  # the one wait: every event below has completed
            elapsed_ms = cupy.cuda.get_elapsed_time
            sink.set_label(device, self.label())
            sink.add_counter(device, events.MEMORY_COUNTER, 0.0, used)
            track_end = {}  # events ~0.5 µs apart may round into each other: keep them in order
            for track, name, t0, t1, before, after, in_use, span in calls:
                host_start = (t0 - start_ns) / 1e3
                args = None if span is None else {"correlation": span}
                sink.add_event(device, "host", name, host_start, (t1 - t0) / 1e3, args)
                begin = max(elapsed_ms(start, before) * 1e3, track_end.get(track, 0.0))
                end = max(elapsed_ms(start, after) * 1e3, begin)
                track_end[track] = end
                sink.add_event(device, track, name, begin, end - begin, args)
                sink.add_counter(device, events.MEMORY_COUNTER, (t1 - start_ns) / 1e3, in_use)

    def label(self):
        """The trace's process name, e.g. ``cuda:0 (NVIDIA H200)``."""
        if self._label is None:
            self._label = f"{self.backend.device} ({self.backend._gpu_name()})"
        return self._label

    # ---- one primitive -----------------------------------------------------------------------
    def call(self, method_name, method, backend, args, kwargs):
        """Run ``method(backend, *args, **kwargs)``, recording it when it is a kernel or copy."""
        where = None if self.depth else _track_and_name(method_name, backend, args)
        if where is None:
            return method(backend, *args, **kwargs)
        cuda = self.cupy.cuda
        backend._use()  # the events and the primitive's work share the device and stream
        stream = cuda.get_current_stream()
        before, after = cuda.Event(), cuda.Event()
        before.record(stream)
        self.depth += 1
        try:
            t0 = time.perf_counter_ns()
            result = method(backend, *args, **kwargs)
            t1 = time.perf_counter_ns()
        finally:
            self.depth -= 1
        after.record(stream)
        if method_name in _MAYBE_VIEWS and _is_view(result, args[0]):
            return result
        used = self.cupy.get_default_memory_pool().used_bytes()
        span = events.launch_span()
        self.calls.append((where[0], where[1], t0, t1, before, after, used, span))
        return result
