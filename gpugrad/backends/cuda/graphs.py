"""Whole-step CUDA graphs (``gg.cuda.graphs``): PyTorch's ``torch.cuda.CUDAGraph`` and
``torch.cuda.graph``, and ``make_graphed_step`` for a static-shape training step.

A graph records a step's device work once (forward, backward and the optimizer's fused update)
and replays it with one launch, so a small model stops paying the host's per-kernel dispatch.
It works on the device the tensors live on: ``cuda`` captures with CuPy's stream capture
(graphs_capture.py) and ``sim`` models a replay as one graph launch (backends/sim/graphs.py);
cpu has none. What a graph cannot hold raises ``GraphCaptureError`` during capture
(backends/graph_capture.py): reading values back (``item()``, ``.cpu()``...), synchronizing, copying host
data in, host-seeded random numbers, Adam's fused step.

As in PyTorch, a replay reuses the memory addresses of the capture: inputs go into static
tensors (``make_graphed_step`` copies them), outputs are the tensors the capture returned and
are overwritten by each replay, Python numbers (learning rate...) keep their capture-time
values, and lazily made state (``.grad``, momentum buffers) must exist before capture, which a
few eager warm-up steps ensure.

Example::

    def train_step(x, y):
        opt.zero_grad(set_to_none=False)
        loss = gg.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    step = gg.cuda.graphs.make_graphed_step(train_step, (x0, y0))
    for x, y in batches:
        loss = step(x, y)          # one launch; loss is the same static tensor every time
"""
from ... import device_registry
from ...device_registry import Device
from ..graph_capture import GraphCaptureError, no_graph_error

__all__ = ["CUDAGraph", "graph", "make_graphed_step", "GraphedStep", "GraphCaptureError",
           "is_current_stream_capturing"]


def _backend(device):
    return device_registry.get_backend(str(Device(device)))


class CUDAGraph:
    """A CUDA graph (``torch.cuda.CUDAGraph``): ``capture_begin()``, the work to capture,
    ``capture_end()``, then ``replay()`` as often as needed. ``device`` (a gpugrad extension)
    says which device captures: ``"cuda"`` (the default, the current GPU) or ``"sim"``."""

    def __init__(self, device="cuda"):
        self.device = Device(device)
        self._graph = None
        self._capturing = False

    def capture_begin(self, pool=None, capture_error_mode="global"):
        """Begin capturing this device's work. ``pool``: another graph's ``pool()`` handle to
        share its memory pool; ``capture_error_mode`` is accepted for PyTorch compatibility
        (the capture rules are gpugrad's own, see graphs_rules.py)."""
        if capture_error_mode not in ("global", "thread_local", "relaxed"):
            raise ValueError(f"capture_error_mode must be 'global', 'thread_local' or "
                             f"'relaxed', got {capture_error_mode!r}")
        self._begin(pool, None)

    def _begin(self, pool, stream):
        if self._capturing:
            raise GraphCaptureError("capture_begin() called twice: this graph is already "
                                    "capturing; call capture_end() first")
        if self._graph is not None:
            raise GraphCaptureError("this graph already holds a capture: call reset() before "
                                    "capturing again, or make a new CUDAGraph")
        _backend(self.device).graph_capture_begin(pool=pool, stream=stream)
        self._capturing = True

    def capture_end(self):
        """End the capture; the graph can then be replayed."""
        if not self._capturing:
            raise GraphCaptureError("capture_end() without capture_begin(): nothing is being "
                                    "captured")
        self._capturing = False
        self._graph = _backend(self.device).graph_capture_end()

    def replay(self):
        """Launch the captured work once (asynchronous, as any kernel launch)."""
        if self._capturing:
            raise GraphCaptureError("replay() during capture: end the capture (leave the "
                                    "gg.cuda.graph block or call capture_end()) first")
        if self._graph is None:
            raise GraphCaptureError("replay() of a graph that holds no capture: capture it "
                                    "first (gg.cuda.graph(g) or capture_begin/capture_end)")
        self._graph.replay()

    def reset(self):
        """Drop the captured work and release its memory; the graph can capture again."""
        if self._graph is not None:
            self._graph.reset()
        self._graph = None

    def pool(self):
        """A handle of this graph's memory pool, for ``capture_begin(pool=...)`` or
        ``gg.cuda.graph(g, pool=...)`` of another graph."""
        if self._graph is None:
            raise GraphCaptureError("pool() of a graph that holds no capture: capture it first")
        return self._graph.pool()

    @property
    def num_nodes(self):
        """How many kernels one replay launches (0 before capture; None on cuda, where CuPy
        does not say)."""
        return 0 if self._graph is None else self._graph.num_nodes


class graph:  # noqa: N801  (PyTorch's name)
    """Context manager capturing its block into ``cuda_graph`` (``torch.cuda.graph``): the
    block runs once on the host, its device work is recorded (not run), and
    ``cuda_graph.replay()`` runs it later. ``pool``: another graph's ``pool()``; ``stream``: a
    CuPy stream to capture on (cuda only; by default a stream of the graph's own)."""

    def __init__(self, cuda_graph, pool=None, stream=None, capture_error_mode="global"):
        if not isinstance(cuda_graph, CUDAGraph):
            raise TypeError(f"gg.cuda.graph needs a gg.cuda.CUDAGraph, got "
                            f"{type(cuda_graph).__name__}")
        if capture_error_mode not in ("global", "thread_local", "relaxed"):
            raise ValueError(f"capture_error_mode must be 'global', 'thread_local' or "
                             f"'relaxed', got {capture_error_mode!r}")
        self.cuda_graph, self.pool, self.stream = cuda_graph, pool, stream

    def __enter__(self):
        self.cuda_graph._begin(self.pool, self.stream)
        return self.cuda_graph

    def __exit__(self, kind, value, traceback):
        try:
            self.cuda_graph.capture_end()
        except Exception:
            if kind is None:
                raise
        if kind is not None:  # a failed capture leaves nothing to replay
            self.cuda_graph.reset()
        return False


def is_current_stream_capturing(device="cuda"):
    """True while ``device`` captures a graph (``torch.cuda.is_current_stream_capturing``)."""
    return _backend(device).graph_capturing()


def _tensors(values, what):
    """``values`` as a tuple, each checked to be a tensor (by its device array: this layer
    sits below gpugrad.Tensor)."""
    values = tuple(values)
    for i, value in enumerate(values):
        if not (hasattr(value, "_data") and hasattr(value, "_backend")):
            raise TypeError(f"{what}[{i}] must be a gg.Tensor, got {type(value).__name__}")
    return values


class GraphedStep:
    """A captured step (made by ``make_graphed_step``): call it with new inputs of the sample
    inputs' shapes, dtypes and device; it copies them into ``static_inputs``, replays
    ``graph`` and returns ``static_outputs`` (the same tensors on every call)."""

    def __init__(self, cuda_graph, static_inputs, static_outputs):
        self.graph = cuda_graph
        self.static_inputs = static_inputs
        self.static_outputs = static_outputs

    def __call__(self, *inputs):
        inputs = _tensors(inputs, "inputs")
        if len(inputs) != len(self.static_inputs):
            raise TypeError(f"the graphed step takes {len(self.static_inputs)} inputs, got "
                            f"{len(inputs)}")
        for i, (new, static) in enumerate(zip(inputs, self.static_inputs)):
            if (new.shape, new.dtype) != (static.shape, static.dtype):
                raise ValueError(f"inputs[{i}] has shape {tuple(new.shape)} and dtype "
                                 f"{new.dtype}, but the step was captured for shape "
                                 f"{tuple(static.shape)} and dtype {static.dtype}: a graph "
                                 f"replays fixed shapes; capture another step for this shape")
            if new.device != static.device:
                raise ValueError(f"inputs[{i}] is on {new.device}, but the step was captured "
                                 f"on {static.device}: move it with .to('{static.device}')")
        for new, static in zip(inputs, self.static_inputs):
            if new is not static:  # a device copy into the static buffer, outside autograd
                static._backend.copy_(static._data, new._data)
        self.graph.replay()
        return self.static_outputs


def make_graphed_step(fn, sample_inputs, warmup_iters=3, pool=None):
    """Capture ``fn(*inputs)``, a whole static-shape training step (forward, backward,
    optimizer step), into one graph; returns a ``GraphedStep``.

    ``sample_inputs`` (tensors on one cuda or sim device) fix the shapes and dtypes; the step's
    static inputs are copies of them. ``fn`` first runs ``warmup_iters`` times eagerly on those
    copies (real steps: parameters and optimizer state change, as in PyTorch's recipe), so
    ``.grad`` and optimizer buffers exist before capture; on cuda the warm-up runs on the
    capture's side stream. ``fn`` returns a tensor or a tuple of tensors: the static outputs.
    ``pool``: another graph's ``pool()`` to share memory with."""
    sample_inputs = _tensors(sample_inputs, "sample_inputs")
    if not sample_inputs:
        raise ValueError("make_graphed_step needs at least one sample input (the step's "
                         "batch), to know the device and the shapes to capture")
    device = sample_inputs[0].device
    for i, x in enumerate(sample_inputs):
        if x.device != device:
            raise ValueError(f"sample_inputs[{i}] is on {x.device}, sample_inputs[0] on "
                             f"{device}: a graph captures one device")
    if device.type not in ("cuda", "sim"):
        raise no_graph_error(device)
    if not isinstance(warmup_iters, int) or warmup_iters < 0:
        raise ValueError(f"warmup_iters must be an int >= 0, got {warmup_iters!r}")
    static_inputs = tuple(x.detach().clone() for x in sample_inputs)
    backend = _backend(device)
    with backend.graph_side_stream():
        for _ in range(warmup_iters):
            fn(*static_inputs)
    cuda_graph = CUDAGraph(device)
    with graph(cuda_graph, pool=pool):
        outputs = fn(*static_inputs)
    single = not isinstance(outputs, (tuple, list))
    _tensors((outputs,) if single else outputs, "the step's outputs")
    return GraphedStep(cuda_graph, static_inputs, outputs)

