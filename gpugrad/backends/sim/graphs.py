"""CUDA graphs on the simulated GPU: capture a step's kernels once, replay them as one launch.

A real capture records kernels with fixed memory addresses and fixed arguments and runs none of
them; a replay runs them all from one host call. The sim does the same with values:

- capture: every primitive the step calls runs as usual (its result's shape and memory are
  needed), and is written down with its operands on a tape. Arrays the capture allocates stay
  alive while the graph lives (they are the graph's memory, as CUDA graphs keep theirs); arrays
  that existed before it and that the captured step writes (parameters, optimizer buffers,
  static inputs) get their values back when capture ends, because a real capture runs nothing.
  Python numbers in the operands (learning rate, scale factors) are frozen, as in CUDA.
- replay: the cpu backend recomputes each taped primitive from the same operands into the same
  arrays (so values are bit for bit those of eager steps); the timeline charges the host one
  graph launch (``GRAPH_LAUNCH_US`` + ``GRAPH_NODE_US`` per kernel) instead of one dispatch and
  framework overhead per kernel, and the stream runs the captured kernels back to back with
  their eager durations. The trace shows a host "graph launch" span and each kernel on the
  stream with ``graph`` in its args; ``gg.sim.stats`` counts the kernels as launched.

The capture rules shared with cuda (no read-backs, syncs, host copies, host-seeded randomness
or Adam) are in backends/graph_capture.py; here a capture-time ``Timeline`` stand-in also
refuses what reaches the clocks directly (``gg.sim.synchronize``, host copies).
"""
import itertools

import numpy as np

from .. import graph_capture as graphs_rules
from ..events import launch_span
from .memory import SimArray
from .timeline import TraceEvent

# Host time of one cudaGraphLaunch of a straight-line graph: NVIDIA's "Constant Time Launch for
# Straight-Line CUDA Graphs and Other Performance Enhancements" (developer.nvidia.com, 2024)
# gives about 2.5 us from CUDA 12.6 on, nearly independent of the node count; a small per-node
# term stays for graphs of thousands of kernels.
GRAPH_LAUNCH_US = 2.5
GRAPH_NODE_US = 0.002

# primitives that launch nothing and read no values: not taped
_METADATA = frozenset({"dtype", "strides", "is_contiguous", "owns_memory", "host_buffer",
                       "is_pinned", "pin", "describe", "dlpack", "dlpack_device",
                       "from_dlpack", "collective_launch", "collective_wait"})
_graph_ids = itertools.count(1)


def _root(a):
    """The NumPy array owning ``a``'s memory (views lead back to it)."""
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def _sim_arrays(value):
    """The SimArrays in ``value`` (an array, or tuples and lists of them)."""
    if type(value) is SimArray:
        yield value
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from _sim_arrays(item)


def _values(value):
    """``value`` with every SimArray replaced by its NumPy array (what the cpu backend takes)."""
    if type(value) is SimArray:
        return value.data
    if isinstance(value, dict):
        return {key: _values(item) for key, item in value.items()}
    if isinstance(value, (tuple, list)):
        return type(value)(_values(item) for item in value)
    return value


class _Tape:
    """The primitives of one capture, with their operands and results, and the pre-existing
    arrays they write (saved to be restored when capture ends)."""

    def __init__(self, computes):
        self.computes = computes  # False on a shape-only device: no values to keep
        self.calls = []      # (primitive name, args, kwargs, outputs: [(position, SimArray)])
        self.owned = {}      # id(root) -> root: memory allocated by the capture
        self.saved = {}      # id(root) -> (root, its values before capture): pre-existing memory
        self.specs = []      # (KernelSpec, device µs) of the modeled kernels, in launch order

    def save_operands(self, operands):
        """Keep the values of the pre-existing arrays among ``operands`` (before a primitive
        that may write them runs)."""
        if not self.computes:
            return
        for a in operands:
            root = _root(a.data)
            if root.flags.writeable and id(root) not in self.owned and id(root) not in \
                    self.saved:
                self.saved[id(root)] = (root, root.copy())

    def record(self, name, args, kwargs, operands, result):
        """Write down a primitive call that ran; its new arrays become the graph's memory."""
        known = {id(_root(a.data)) for a in operands}
        outputs = []
        for position, out in enumerate(_flatten(result)):
            if type(out) is not SimArray:
                continue
            root = _root(out.data)
            if id(root) in known or id(root) in self.owned:
                continue  # a view of an operand: no kernel writes it
            self.owned[id(root)] = root
            outputs.append((position, out))
        self.calls.append((name, args, kwargs, outputs))

    def restore(self):
        """Give the pre-existing arrays their values from before capture."""
        for root, before in self.saved.values():
            np.copyto(root, before)
        self.saved.clear()


def _flatten(result):
    """A primitive's result as a flat list (one array, a tuple of arrays, a list of buffers)."""
    if isinstance(result, (tuple, list)):
        return [item for part in result for item in _flatten(part)]
    return [result]


class _CaptureTimeline:
    """The device's timeline while it captures: kernels are written down (the host pays their
    dispatch as capture costs it, the stream runs nothing), and what needs the device or the
    host's memory refuses. Everything else is the real timeline's."""

    deferred = None  # every kernel goes through ``kernel``, to the tape

    def __init__(self, timeline, tape, device):
        object.__setattr__(self, "_timeline", timeline)
        object.__setattr__(self, "_tape", tape)
        object.__setattr__(self, "_device", device)

    def __getattr__(self, name):
        return getattr(self._timeline, name)

    def __setattr__(self, name, value):
        setattr(self._timeline, name, value)

    def kernel(self, spec, dispatch_us=None, duration_us=None):
        """Record ``spec``; the host pays its dispatch, the stream stays idle."""
        timeline = self._timeline
        p = timeline.profile
        self._tape.specs.append((spec, p.kernel_us(spec) if duration_us is None
                                 else duration_us))
        dispatch = p.host_dispatch_us(spec) if dispatch_us is None else dispatch_us
        timeline.host_work(timeline.framework_us + dispatch, f"capture {spec.name}")
        return timeline.host_us, timeline.host_us

    def transfer(self, kind, nbytes, pinned=False):
        what = {"h2d": "copying host data to the device (gg.tensor(...), .to(device) of a cpu "
                       "tensor)",
                "d2h": "reading a value back to the host"}.get(kind, f"a {kind} copy")
        raise graphs_rules.capture_error(self._device, what, "copy inputs into static input "
                                         "tensors before replay() and read results after it")

    def malloc(self, nbytes):
        """A pool miss during capture: cudaMalloc without the device sync (relaxed capture)."""
        timeline = self._timeline
        timeline.host_work(timeline.profile.malloc_us(nbytes), "cudaMalloc")
        return timeline.host_us

    def synchronize(self):
        what, fix = graphs_rules.FORBIDDEN["synchronize"]
        raise graphs_rules.capture_error(self._device, what, fix)


class SimGraph:
    """A captured graph of a sim device (what ``graph_capture_end`` returns)."""

    def __init__(self, backend, tape, pool):
        self.backend = backend
        self.id = next(_graph_ids)
        self._tape = tape
        self._pool = pool if pool is not None else ("sim graph pool", self.id)

    @property
    def num_nodes(self):
        """How many kernels one replay launches."""
        return len(self._tape.specs)

    def pool(self):
        """The memory-pool handle of this graph (``CUDAGraph.pool()``); the sim keeps every
        graph's memory apart, so sharing it only labels it."""
        return self._pool

    def replay(self):
        """Run the captured kernels: recompute their values and model one graph launch."""
        backend, tape = self.backend, self._tape
        if backend.computes:
            cpu = backend.cpu
            for name, args, kwargs, outputs in tape.calls:
                result = getattr(cpu, name)(*_values(args), **_values(kwargs))
                if outputs:
                    flat = _flatten(result)
                    for position, out in outputs:
                        np.copyto(out.data, flat[position])
        with backend.lock:
            _graph_launch(backend, tape.specs, self.id)

    def reset(self):
        """Drop the captured work and release the graph's memory."""
        self._tape = _Tape(self.backend.computes)


def _graph_launch(backend, specs, graph_id):
    """Model one graph launch of ``specs`` ((KernelSpec, device µs) pairs) on ``backend``'s
    timeline and count its kernels in the device's rows (the device lock held)."""
    timeline = backend.timeline
    host_start = timeline.host_us
    dispatch = GRAPH_LAUNCH_US + GRAPH_NODE_US * len(specs)
    timeline.host_us = host_start + dispatch
    arrive = timeline.host_us + timeline.profile.launch_latency_us
    start = arrive if arrive > timeline.stream_us else timeline.stream_us
    record = timeline.record_events
    span = launch_span() if record else None
    if record:
        args = {"graph": graph_id, "kernels": len(specs)}
        if span is not None:
            args["correlation"] = span
        timeline.events.append(TraceEvent("host", "graph launch", host_start, dispatch, args))
    for spec, dur in specs:
        key = ("graph", spec)
        row = backend._rows.get(key)
        if row is None:
            row = backend._new_row(key, spec)
        row.count += 1
        row.device_us += dur
        if record:
            args = {"shapes": spec.shapes, "dtype": spec.dtype, "bytes": spec.nbytes,
                    "flops": spec.flops, "op_class": spec.op_class, "graph": graph_id}
            if span is not None:
                args["correlation"] = span
            timeline.events.append(TraceEvent("stream", spec.name, start, dur, args))
        start += dur
        timeline.device_busy_us += dur
    timeline.stream_us = start


class SimGraphs:
    """Graph capture of a sim device (mixed into ``SimBackend``): the backend contract's
    ``graph_capture_begin`` / ``graph_capture_end`` / ``graph_capturing``."""

    _capture = None  # (tape, the real timeline, pool) while capturing

    def graph_capturing(self):
        """True while this device captures a graph."""
        return self._capture is not None

    def graph_capture_begin(self, pool=None, stream=None):
        if stream is not None:
            raise ValueError(f"{self.device} has one modeled stream: capture with stream=None")
        if self._capture is not None:
            raise graphs_rules.GraphCaptureError(
                f"{self.device} is already capturing a graph: end that capture first")
        tape = _Tape(self.computes)
        with self.lock:
            self._capture = (tape, self.timeline, pool)
            self.timeline = _CaptureTimeline(self.timeline, tape, self.device)
            self.pool.timeline = self.timeline
        graphs_rules.forbid(self)
        for name in self._taped_primitives():
            setattr(self, name, _taping(tape, name, getattr(type(self), name).__get__(self)))

    def graph_capture_end(self):
        if self._capture is None:
            raise graphs_rules.GraphCaptureError(
                f"{self.device} is not capturing a graph: call capture_begin() first")
        tape, timeline, pool = self._capture
        for name in self._taped_primitives():
            self.__dict__.pop(name, None)
        graphs_rules.allow(self)
        with self.lock:
            self.timeline = self.pool.timeline = timeline
            self._capture = None
        if self.computes:
            tape.restore()
        return SimGraph(self, tape, pool)

    def _taped_primitives(self):
        """The primitives a capture writes down: the cpu backend's, less metadata and the
        forbidden ones."""
        names = [name for name in dir(type(self.cpu)) if not name.startswith("_")
                 and callable(getattr(type(self.cpu), name)) and hasattr(type(self), name)]
        return [n for n in names if n not in _METADATA and n not in graphs_rules.FORBIDDEN
                and not n.startswith("graph_")]


def _taping(tape, name, method):
    """``method`` (a primitive) that also writes its call down on ``tape``."""
    def call(*args, **kwargs):
        operands = list(_sim_arrays((args, tuple(kwargs.values()))))
        tape.save_operands(operands)
        result = method(*args, **kwargs)
        tape.record(name, args, kwargs, operands, result)
        return result

    call.__name__ = name
    return call
