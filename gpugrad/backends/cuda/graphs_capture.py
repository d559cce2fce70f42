"""CUDA graph capture on CuPy (``CudaGraphs``, a mixin of ``CupyBackend``): the backend
contract's ``graph_capture_begin`` / ``graph_capture_end`` / ``graph_capturing`` /
``graph_side_stream``.

- Stream: capture cannot run on CuPy's default (legacy) stream, so each backend keeps a side
  stream, non-blocking, on which warm-up steps run and graphs are captured (or a stream the
  caller passes). It first waits for the work issued so far on the current stream; the current
  stream waits for the warm-up in turn. ``begin_capture`` uses relaxed mode, so a pool miss may
  call cudaMalloc during capture; the gpugrad-level rules (backends/graph_capture.py) refuse read-backs,
  syncs, host copies, host-seeded randomness and Adam with a clear message before CUDA would.
- Replay: ``cupy.cuda.graph.Graph.launch`` on the current stream, ordered after the eager copies
  into the static inputs.
- Memory: a graph's kernels keep the addresses they were captured with, so no block allocated
  during capture may go back to CuPy's pool while the graph lives (eager work would reuse it and
  a replay would overwrite it). Capture routes CuPy's allocations through an allocator that
  keeps a reference to every block it hands out; the graph holds them until ``reset()`` or its
  end. The cost: a graph holds the sum of the step's temporaries, not their peak. A ``pool``
  handle from another graph makes this capture use that graph's stream (CuPy's pool keeps free
  blocks per stream); memory is still never shared between live graphs.
- Constants uploaded during capture (the optimizers' pointer tables, ``upload_constant``) go
  through pinned host memory the graph keeps: a copy from pageable memory cannot be captured.
"""
import contextlib

import numpy as np

from .. import graph_capture as graphs_rules
from . import runtime


class CudaGraph:
    """A captured ``cupy.cuda.graph.Graph`` with the memory its kernels use."""

    #: CuPy does not say how many nodes a captured graph has
    num_nodes = None

    def __init__(self, graph, held, pool):
        self._graph = graph
        self._held = held  # MemoryPointers and pinned buffers allocated during capture
        self._pool = pool

    def replay(self):
        """Launch the graph on the current stream."""
        self._graph.launch(runtime.cupy.cuda.get_current_stream())

    def reset(self):
        """Drop the graph and hand its memory back to CuPy's pool."""
        self._graph = None
        self._held = []

    def pool(self):
        """The handle sharing this graph's capture stream (see the module docstring)."""
        return self._pool


class GraphPool:
    """``CUDAGraph.pool()`` on cuda: the stream a graph was captured on."""

    def __init__(self, stream):
        self.stream = stream


class CudaGraphs:
    """Graph capture of a cuda device (mixed into ``CupyBackend``)."""

    _graph_stream = None   # the side stream (made on first use)
    _graph_capture = None  # while capturing: (stream, held blocks, previous allocator, pool)

    def graph_capturing(self):
        """True while this device captures a graph."""
        return self._graph_capture is not None

    def _side_stream(self):
        if self._graph_stream is None:
            self._use()
            self._graph_stream = runtime.cupy.cuda.Stream(non_blocking=True)
        return self._graph_stream

    def _wait_for_current(self, stream):
        """``stream`` waits for the work issued so far on the current stream."""
        event = runtime.cupy.cuda.Event(disable_timing=True)
        event.record(runtime.cupy.cuda.get_current_stream())
        stream.wait_event(event)

    @contextlib.contextmanager
    def graph_side_stream(self):
        """Make the capture stream current for the block (warm-up steps), ordered after the
        current stream's work before and before its work after."""
        stream = self._side_stream()
        self._wait_for_current(stream)
        with stream:
            yield stream
            done = runtime.cupy.cuda.Event(disable_timing=True)
            done.record(stream)
        runtime.cupy.cuda.get_current_stream().wait_event(done)

    def graph_capture_begin(self, pool=None, stream=None):
        if self._graph_capture is not None:
            raise graphs_rules.GraphCaptureError(
                f"{self.device} is already capturing a graph: end that capture first")
        if pool is not None and not isinstance(pool, GraphPool):
            raise TypeError(f"pool must be another cuda graph's pool(), got "
                            f"{type(pool).__name__}")
        cp = runtime.cupy
        self._use()
        if stream is None:
            stream = pool.stream if pool is not None else self._side_stream()
        self._wait_for_current(stream)
        held = []
        previous = cp.cuda.get_allocator()

        def malloc(nbytes):
            memory = previous(nbytes)
            held.append(memory)  # the graph's memory: never back to the pool while it lives
            return memory

        cp.cuda.set_allocator(malloc)
        stream.__enter__()
        try:
            stream.begin_capture(mode=cp.cuda.runtime.streamCaptureModeRelaxed)
        except BaseException:
            stream.__exit__(None, None, None)
            cp.cuda.set_allocator(previous)
            raise
        self._graph_capture = (stream, held, previous, pool or GraphPool(stream))
        graphs_rules.forbid(self)

    def graph_capture_end(self):
        if self._graph_capture is None:
            raise graphs_rules.GraphCaptureError(
                f"{self.device} is not capturing a graph: call capture_begin() first")
        stream, held, previous, pool = self._graph_capture
        self._graph_capture = None
        graphs_rules.allow(self)
        try:
            graph = stream.end_capture()
        finally:
            stream.__exit__(None, None, None)
            runtime.cupy.cuda.set_allocator(previous)
        return CudaGraph(graph, held, pool)

    def upload_constant(self, host):
        """A device copy of the NumPy array ``host`` that kernels read: ``cupy.asarray`` when
        eager; during capture staged through pinned memory the graph keeps (the copy becomes a
        node of the graph)."""
        cp = runtime.cupy
        if self._graph_capture is None:
            return cp.asarray(host)
        buffer = cp.cuda.alloc_pinned_memory(host.nbytes)
        self._graph_capture[1].append(buffer)
        pinned = np.frombuffer(buffer, host.dtype, host.size).reshape(host.shape)
        pinned[...] = host
        out = cp.empty(host.shape, host.dtype)
        out.set(pinned)
        return out
