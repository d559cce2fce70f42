"""``Function``: the base of every differentiable op.

An op subclasses ``Function`` and defines, in one place, ``forward`` on backend arrays and
``backward`` with Tensor ops. ``Op.apply(*inputs, **params)`` runs forward and, when grad is
enabled and an input requires grad, records the op as the output's ``grad_fn``.

Graphs and Python's cyclic garbage collector: a recorded op references its inputs' nodes and
what it saved, never its consumers or itself, so a graph holds no reference cycle and reference
counting frees it as soon as its last tensor goes (``tests/engine/test_reference_cycles.py``).
The collector still walks every live node each time it runs, so the engine keeps nodes to few
tracked objects (the op, its output, the tuples of input nodes and saved inputs) and pauses the
collector for its own bursts (``backward``, ``gg.grad``: ``gc_pause.gc_paused``). While forward
records ops it only defers full collections (young ones still run: forward is user code with no
end the engine sees, and the user's own short-lived garbage must still be collected); see
``gc_pause.py``.
"""
from .. import dtypes as _dtypes
from . import grad_mode as _grad_mode
from . import hooks as _hooks
from .gc_pause import recorded as _recorded
from .grad_mode import modes as _modes
from .graph import FREED_GRAPH_MESSAGE, bind_tensor_type as _bind_graph_tensor_type

# The Tensor class, bound by ``bind_tensor_type`` when gpugrad/tensor.py is imported: the engine
# builds outputs of that type without importing the tensor layer above it.
Tensor = None


def bind_tensor_type(tensor_type):
    """Make ``Function.apply`` take and return ``tensor_type`` (gpugrad's ``Tensor``)."""
    global Tensor
    Tensor = tensor_type
    _bind_graph_tensor_type(tensor_type)


_new = object.__new__


def modified_error(fn, shape, dtype, version, expected):
    """PyTorch's error for a tensor saved for backward and written in place since."""
    return RuntimeError(
        f"one of the variables needed for gradient computation has been modified by an inplace "
        f"operation: [{dtype} {list(shape)}], which is input or output of {fn.name()}, is at "
        f"version {version}; expected version {expected} instead. Don't write into a tensor "
        f"(copy_, fill_, x[i] = ..., an optimizer step) between the forward pass that uses it "
        f"and backward; write into a clone instead"
    )


def devices_differ_error(op_name, first, second):
    return RuntimeError(
        f"Expected all tensors to be on the same device, but found at least two devices, "
        f"{first} and {second} (in {op_name}). Move them to one device first, e.g. "
        f"b = b.to(\"{first}\")"
    )


def _numbers_for(cls, inputs):
    """``inputs`` with NumPy scalars as Python numbers (they promote as Python numbers do) and
    NumPy arrays as tensors of their dtype on the other operands' device (``t * ndarray``, as in
    PyTorch), or a TypeError naming the op and the argument that is none of these."""
    like = next((x for x in inputs if isinstance(x, Tensor)), None)
    out = []
    for x in inputs:
        if isinstance(x, Tensor) or x is None:
            out.append(x)
        elif like is not None and type(x).__name__ == "ndarray" and hasattr(x, "__array__"):
            out.append(Tensor._make(like._backend.from_host(x), like._backend, False))
        else:
            out.append(_dtypes.as_number(x, cls.__name__.lower()))
    return tuple(out)


class Function:
    """One differentiable op. Subclasses define ``forward`` and ``backward``.

    - ``forward(self, *arrays, **params)`` receives backend arrays (Python numbers pass through
      unchanged) and returns one backend array. ``self.backend`` is the inputs' backend.
    - ``backward(self, grad)`` receives the output's gradient as a Tensor and returns one
      gradient Tensor (or None) per input, as a tuple when there are several inputs.
    - ``backward_arrays(self, grad)`` (optional) computes the same gradients on backend arrays
      (``self.backend.binary("mul", grad, b._data)``...), one array (or None) per input; the
      engine calls it when no graph of the backward is recorded (``create_graph=False``), so
      it makes no Tensor per product. Without it the engine runs ``backward`` on the arrays
      wrapped in Tensors.
    - Set ``save_inputs = True`` to read the input tensors in backward as ``self.inputs``, and
      ``save_output = True`` to read the output as ``self.output()``. Extra arrays forward
      computes for backward go in ``self.saved``. All are freed after backward unless
      ``retain_graph=True``. Backward raises if a saved tensor was written in place since.
    - An op whose ``forward`` also takes ``out=`` (an array to write the result into) sets
      ``supports_out = True``; its in-place form (``gpugrad.inplace.apply_inplace``, behind
      ``add_``, ``exp_``...) then writes without a temporary. Other ops run in place through a
      copy of their result.
    - ``autocast`` names how ``gg.autocast`` casts the op's inputs (``"lower_precision_fp"``,
      ``"float32"``... see ``gpugrad/amp/op_policies.py``); None (the default) leaves them.
    - An op that computes in a promoted dtype sets ``self.input_dtypes`` (one dtype or None per
      input) when its inputs' dtypes differ; the engine casts each gradient back to its
      input's dtype.

    This is gpugrad's op protocol, which every op in ``gpugrad/ops`` uses. User code usually
    writes PyTorch's form instead (``gg.autograd.Function`` with static ``forward(ctx, ...)``
    and ``backward(ctx, ...)`` on Tensors; see ``gpugrad/custom_function.py``). Here the op
    instance is the context, and ``forward`` works on backend arrays through ``self.backend``
    (the backend contract in ``gpugrad/backends/base.py``); ``gg.autograd.Function`` accepts
    this form too, told apart by ``forward`` being an ordinary method::

        class Cube(gpugrad.engine.Function):
            save_inputs = True

            def forward(self, a):
                return self.backend.binary("mul", a, self.backend.binary("mul", a, a))

            def backward(self, grad):
                (x,) = self.inputs
                return grad * 3 * x * x

        y = Cube.apply(x)
    """

    save_inputs = False
    save_output = False
    _is_leaf_tensor = False

    # instance defaults, so an op that saves nothing costs nothing
    inputs = None
    saved = None
    _out = None
    tensor_hooks = None
    retained = None
    released = False
    saved_versions = None
    _out_version = None  # the output's version counter, when the output is saved
    _out_expected = 0  # its value when saved (0 for a new output; later for an in-place op)
    input_dtypes = None  # per input, the dtype its gradient must have (set when they differ)
    supports_out = False  # forward takes ``out=`` (an array to write into: an in-place op)
    # how gg.autocast treats the op's inputs (a policy of gpugrad/amp/op_policies.py), or None
    autocast = None
    backward_arrays = None  # the gradients on backend arrays, where an op defines them

    @classmethod
    def apply(cls, *inputs, **params):
        # The dispatch path of every op: kept lean (one pass over the inputs, no helper calls).
        # ``threads_off_default`` first: while it is 0, no thread is in an autocast region or
        # has recording off, and the thread-local ``_modes`` need not be read
        if cls.autocast is not None and _grad_mode.threads_off_default and \
                _modes.autocast is not None:  # in a gg.autocast region
            inputs = _modes.autocast.cast_inputs(cls.autocast, inputs, params)
        backend = None
        requires_grad = False
        written = False  # has any input been written in place (so has a version) yet?
        arrays = []
        nodes = []  # each input's graph node: its grad_fn, itself for a leaf that requires grad
        for x in inputs:
            if isinstance(x, Tensor):
                view = x._view
                if view is not None and view.base._grad_fn is not view.base_fn:
                    x._sync_view()  # the view's base was written in place: rebuild its history
                if backend is None:
                    backend = x._backend
                elif x._backend is not backend:
                    raise devices_differ_error(cls.__name__, backend.device, x._backend.device)
                if x._requires_grad:
                    requires_grad = True
                    nodes.append(x._grad_fn or x)
                else:
                    nodes.append(x._grad_fn)
                if x._version_box is not None:
                    written = True
                arrays.append(x._data)
            elif type(x) is float or type(x) is int or type(x) is bool or x is None:
                arrays.append(x)
                nodes.append(None)
            else:  # a NumPy scalar becomes a Python number; anything else is refused
                inputs = _numbers_for(cls, inputs)
                return cls.apply(*inputs, **params)
        fn = _new(cls)
        fn.backend = backend
        out = fn.forward(*arrays, **params) if params else fn.forward(*arrays)
        result = _new(Tensor)
        result._data = out
        result._backend = fn.backend
        result.grad = None
        result._hooks = None
        result._version_box = None
        result._view = None
        if requires_grad and (not _grad_mode.threads_off_default or _modes.grad_enabled):
            result._requires_grad = True
            result._grad_fn = fn
            _recorded[0] += 1  # (full collections wait while this grows: gc_pause.py)
            fn.next_nodes = tuple(nodes)
            if cls.save_inputs:
                fn.inputs = inputs
                # an in-place write to a saved input before backward would make its gradient
                # silently wrong: remember the inputs' versions (none yet: all 0) for backward
                if written:
                    fn.saved_versions = tuple([x._version if isinstance(x, Tensor) else 0
                                               for x in inputs])
            if cls.save_output:
                fn._out = out
                result._version_box = fn._out_version = [0]
        else:
            result._requires_grad = False
            result._grad_fn = None
        forward_hooks = _hooks.forward_hooks
        if forward_hooks:  # a tool watching every op (anomaly detection)
            for hook in forward_hooks:
                hook(fn, inputs, result)
        return result

    def forward(self, *arrays, **params):
        raise NotImplementedError

    def backward(self, grad):
        raise NotImplementedError

    def output(self):
        """The op's output as a Tensor whose grad_fn is this op (for higher-order grads)."""
        if self._out is None:
            raise RuntimeError(FREED_GRAPH_MESSAGE)
        out = Tensor._make(self._out, self.backend, True)
        out._grad_fn = self
        out._version_box = self._out_version
        return out

    def check_saved_versions(self):
        """Raise, as PyTorch does, when a tensor this op saved was written in place since."""
        versions = self.saved_versions
        for i, x in enumerate(self.inputs or ()):
            if isinstance(x, Tensor) and x._version_box is not None:
                expected = versions[i] if versions else 0
                if x._version != expected:
                    raise modified_error(self, x.shape, x.dtype, x._version, expected)
        if self._out_version is not None and self._out_version[0] != self._out_expected:
            shape = tuple(self._out.shape)
            raise modified_error(self, shape, self.backend.dtype(self._out),
                                  self._out_version[0], self._out_expected)

    next_nodes = ()  # set by apply when the op is recorded

    def release(self):
        """Free what forward saved; a later backward through this op then raises."""
        if self.inputs is not None or self._out is not None or self.saved is not None:
            self.inputs = None
            self._out = None
            self.saved = None
            self.released = True

    backward_name = None  # PyTorch's node name where it is not ``<class name>Backward0``

    def name(self):
        """The node's name, as PyTorch's: ``MulBackward0`` for ``Mul`` (or ``backward_name``)."""
        return self.backward_name or f"{type(self).__name__}Backward0"

    def edge(self):
        """``(node, output index)``: how a consumer's ``next_functions`` shows this node."""
        return (self, 0)

    @property
    def next_functions(self):
        """One ``(node, output index)`` pair per input, as PyTorch's ``grad_fn.next_functions``:
        the input's ``grad_fn``, an ``AccumulateGrad`` (its ``.variable`` is the input) for a
        leaf that requires grad, and ``(None, 0)`` for an input that needs no gradient."""
        return tuple((None, 0) if node is None else
                     (AccumulateGrad(node), 0) if node._is_leaf_tensor else node.edge()
                     for node in self.next_nodes)

    def __repr__(self):
        return f"<{self.name()}>"


class AccumulateGrad:
    """The node PyTorch shows for a leaf tensor in ``next_functions``; ``variable`` is the leaf.

    gpugrad's graph holds the leaf itself (it accumulates into ``.grad`` directly); this view of
    it exists for introspection only. Two views of one leaf compare equal."""

    __slots__ = ("variable",)
    next_functions = ()

    def __init__(self, variable):
        self.variable = variable

    def name(self):
        """``"torch::autograd::AccumulateGrad"``, PyTorch's name for this node."""
        return "torch::autograd::AccumulateGrad"

    def __eq__(self, other):
        return type(other) is AccumulateGrad and other.variable is self.variable

    def __hash__(self):
        return id(self.variable)

    def __repr__(self):
        return "<AccumulateGrad>"
