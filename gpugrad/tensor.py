"""``Tensor``: an n-dimensional array on a device, recording the ops that made it.

A Tensor holds a backend array (``_data``), the backend of its device, and its autograd state:
``requires_grad``, ``grad`` and ``grad_fn`` (the op that produced it). Arithmetic and methods
dispatch to the ops in ``gpugrad.ops``; the Tensor itself never touches NumPy or CuPy.
"""
from collections import namedtuple

from . import autograd as _autograd
from . import dtypes as _dtypes
from .device import Device, get_backend

ReductionResult = namedtuple("ReductionResult", ["values", "indices"])
ReductionResult.__doc__ = "``(values, indices)`` as returned by ``Tensor.max(dim)``/``min(dim)``."


def _shape_args(shape):
    """Accept ``f(2, 3)`` and ``f((2, 3))`` alike."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    for s in shape:
        if not isinstance(s, int) or isinstance(s, bool):
            raise TypeError(f"shape entries must be ints, got {shape!r}")
    return tuple(shape)


def as_tensor_like(value, like):
    """``value`` as a Tensor on ``like``'s device (numbers become 0-d tensors)."""
    if isinstance(value, Tensor):
        return value
    backend = like._backend
    return Tensor._make(backend.from_host(value, like.dtype), backend, False)


class Tensor:
    """An array with autograd, on ``cpu``, ``sim`` or ``cuda``.

    Build one with ``gg.tensor(data, dtype=None, device=None, requires_grad=False)`` or the
    other creation functions; ``Tensor(data, ...)`` takes the same arguments.
    """

    __slots__ = ("_data", "_backend", "_requires_grad", "grad", "grad_fn", "_hooks",
                 "_version_box", "__weakref__")
    _is_leaf_tensor = True  # read by the engine on leaves; a Tensor with grad_fn is no leaf node
    next_nodes = ()  # as a graph node (a leaf), a tensor has no parents
    __array_priority__ = 1000  # so ``ndarray * tensor`` defers to Tensor.__rmul__

    def __init__(self, data, dtype=None, device=None, requires_grad=False):
        from .creation import tensor

        t = tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)
        self._data, self._backend = t._data, t._backend
        self._requires_grad, self.grad, self.grad_fn, self._hooks = t._requires_grad, None, None, None
        self._version_box = None

    @classmethod
    def _make(cls, data, backend, requires_grad):
        t = object.__new__(cls)
        t._data = data
        t._backend = backend
        t._requires_grad = requires_grad
        t.grad = None
        t.grad_fn = None
        t._hooks = None
        t._version_box = None  # [count of in-place writes], made on first use, shared by detach
        return t

    # ---- metadata -------------------------------------------------------------------------
    @property
    def shape(self):
        """The size of each dimension, as a tuple (PyTorch returns ``torch.Size``, a tuple)."""
        return self._data.shape  # backend arrays' shapes are tuples (the backend contract)

    def size(self, dim=None):
        """``shape``, or the size of one dimension."""
        return self.shape if dim is None else self.shape[dim]

    @property
    def ndim(self):
        """The number of dimensions."""
        return self._data.ndim

    def dim(self):
        """The number of dimensions (``ndim``)."""
        return self._data.ndim

    def numel(self):
        """The number of elements."""
        n = 1
        for s in self._data.shape:
            n *= s
        return n

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    @property
    def dtype(self):
        """The element type, e.g. ``gg.float32``."""
        return self._backend.dtype(self._data)

    @property
    def device(self):
        """The ``Device`` holding the values, e.g. ``device('cpu')``."""
        return self._backend.device

    @property
    def is_leaf(self):
        """True for tensors the user created (or that do not require grad)."""
        return self.grad_fn is None

    @property
    def requires_grad(self):
        """Whether backward computes a gradient for this tensor (settable on leaves)."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag):
        self.requires_grad_(flag)

    def requires_grad_(self, requires_grad=True):
        """Set ``requires_grad`` in place on a leaf; returns self."""
        if self.grad_fn is not None and not requires_grad:
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables; use .detach() to get "
                "a tensor that does not require grad"
            )
        if requires_grad and not self.dtype.is_floating_point:
            raise RuntimeError(
                f"Only Tensors of floating point dtype can require gradients, got {self.dtype}; "
                f"convert first with .float() or .double()"
            )
        self._requires_grad = bool(requires_grad)
        return self

    @property
    def data(self):
        """A tensor sharing this one's values, outside the graph."""
        return self.detach()

    @data.setter
    def data(self, value):
        """Replace the values in place, keeping shape and device, outside autograd."""
        if value.shape != self.shape or value.device != self.device:
            raise RuntimeError(
                f"data must keep the shape and device: expected {self.shape} on {self.device}, "
                f"got {value.shape} on {value.device}"
            )
        self._data = value._data

    # ---- reading values ------------------------------------------------------------------
    def numpy(self):
        """The values as a NumPy array.

        On cpu the array shares memory with the tensor (writes show in both), as in PyTorch; on
        sim and cuda it is a copy. Unlike PyTorch, works on tensors that require grad.
        """
        return self._backend.to_host(self._data)

    def item(self):
        """The value of a one-element tensor as a Python number."""
        n = self.numel()
        if n != 1:
            raise RuntimeError(f"a Tensor with {n} elements cannot be converted to Scalar")
        return self._backend.to_host(self._data).item()

    def tolist(self):
        """The values as (nested) Python lists of numbers; a 0-d tensor gives a number."""
        return self._backend.to_host(self._data).tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.dtype.is_floating_point:
            raise TypeError("only integer tensors of a single element can be used as an index")
        return int(self.item())

    def __bool__(self):
        if self.numel() != 1:
            raise RuntimeError(
                f"Boolean value of Tensor with {self.numel()} elements is ambiguous; "
                f"use .any() or .all()"
            )
        return bool(self.item())

    def __repr__(self):
        text = repr(self._backend.to_host(self._data))
        body = text[text.index("(") + 1 : text.rindex(")")]
        body = body.split(", dtype=")[0].replace("\n", "\n ")
        extras = [f"device='{self.device}'"]
        if self.dtype not in (_dtypes.float32, _dtypes.int64, _dtypes.bool_):
            extras.append(f"dtype={self.dtype}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn={self.grad_fn!r}")
        elif self._requires_grad:
            extras.append("requires_grad=True")
        return f"tensor({body}, {', '.join(extras)})"

    __hash__ = object.__hash__

    # ---- autograd ------------------------------------------------------------------------
    def _node(self):
        if self.grad_fn is not None:
            return self.grad_fn
        return self if self._requires_grad else None

    def _ones_like(self):
        return Tensor._make(self._backend.full(self.shape, 1, self.dtype), self._backend, False)

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate d(self)/d(leaf) into each leaf's ``.grad``.

        ``gradient`` is required unless self has one element. Saved values are freed afterwards
        unless ``retain_graph=True``; ``create_graph=True`` records the backward pass so it can
        be differentiated again.
        """
        if retain_graph is None:
            retain_graph = create_graph
        root_grad = _autograd._default_root_grad(self, gradient)
        if inputs is not None:
            inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
            grads = _autograd.run_backward([self], [root_grad], retain_graph, create_graph,
                                           inputs, allow_unused=True)
            for t, g in zip(inputs, grads):
                if g is not None:
                    t.grad = g if t.grad is None else t.grad + g
            return
        _autograd.run_backward([self], [root_grad], retain_graph, create_graph)

    def retain_grad(self):
        """Keep ``.grad`` on this non-leaf tensor after backward."""
        if self.grad_fn is None:
            if not self._requires_grad:
                raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
            return
        import weakref

        self.grad_fn.retained = weakref.ref(self)

    @property
    def retains_grad(self):
        """True for a non-leaf tensor on which ``retain_grad()`` was called."""
        fn = self.grad_fn
        return fn is not None and fn.retained is not None and fn.retained() is self

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned tensor
        replaces the gradient. Returns a handle with ``remove()``."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            if self.grad_fn.tensor_hooks is None:
                self.grad_fn.tensor_hooks = {}
            hooks = self.grad_fn.tensor_hooks
        else:
            if self._hooks is None:
                self._hooks = {}
            hooks = self._hooks
        handle = _autograd.RemovableHandle(hooks)
        hooks[handle.id] = hook
        return handle

    def detach(self):
        """A tensor with the same values (shared storage), outside the graph."""
        out = Tensor._make(self._data, self._backend, False)
        if self._version_box is None:
            self._version_box = [0]
        out._version_box = self._version_box  # in-place writes through either count for both
        return out

    @property
    def _version(self):
        """How many in-place writes this tensor's storage has seen (as ``torch.Tensor._version``)."""
        return self._version_box[0] if self._version_box else 0

    def _bump_version(self):
        if self._version_box is None:
            self._version_box = [0]
        self._version_box[0] += 1

    def detach_(self):
        """Detach self from the graph in place (it becomes a leaf); returns self."""
        self.grad_fn = None
        self._requires_grad = False
        return self

    # ---- devices and dtypes --------------------------------------------------------------
    def to(self, *args, dtype=None, device=None):
        """A converted tensor: ``to(device)``, ``to(dtype)``, ``to(device, dtype)``, ``to(other)``
        (other's device and dtype) or keywords; self if nothing changes.

        Gradients flow back across device moves and float casts; a cast to an integer or bool
        dtype leaves the graph.
        """
        for arg in args:
            if isinstance(arg, (str, Device)):
                device = arg
            elif isinstance(arg, Tensor):
                device, dtype = arg.device, arg.dtype
            else:
                dtype = arg
        out = self
        if device is not None:
            target = get_backend(device)
            if target is not self._backend:
                out = _ops().elementwise.ToDevice.apply(out, target=target)
        if dtype is not None:
            dtype = _dtypes.as_dtype(dtype)
            if dtype is not out.dtype:
                if dtype.is_floating_point:
                    out = _ops().elementwise.Cast.apply(out, dtype=dtype)
                else:
                    out = Tensor._make(out._backend.cast(out._data, dtype), out._backend, False)
        return out

    def cpu(self):
        """``self.to('cpu')``."""
        return self.to("cpu")

    def pin_memory(self):
        """A copy of this cpu tensor in page-locked (pinned) host memory, as in PyTorch: copies
        from it to a GPU run at full speed (on sim, a modeled pinned transfer)."""
        if self.device.type != "cpu":
            raise RuntimeError(f"cannot pin a tensor on {self.device}: only cpu tensors can be "
                               f"pinned (pin before moving it, e.g. x.cpu().pin_memory())")
        from .sim.memory import pin

        out = _ops().elementwise.Identity.apply(self)
        pin(out._data)
        return out

    def is_pinned(self):
        """True for a cpu tensor made by ``pin_memory()``."""
        from .sim.memory import is_pinned

        return self.device.type == "cpu" and is_pinned(self._data)

    def cuda(self, device=None):
        """``self.to('cuda')``, or ``to('cuda:N')`` for ``device=N``."""
        return self.to("cuda" if device is None else f"cuda:{int(device)}")

    def sim(self, device=None):
        """``self.to('sim')``, or ``to('sim:N')`` for ``device=N`` (the simulated GPU)."""
        return self.to("sim" if device is None else f"sim:{int(device)}")

    def float(self):
        """``self.to(gg.float32)``."""
        return self.to(_dtypes.float32)

    def double(self):
        """``self.to(gg.float64)``."""
        return self.to(_dtypes.float64)

    def long(self):
        """``self.to(gg.int64)`` (outside the graph)."""
        return self.to(_dtypes.int64)

    def int(self):
        """``self.to(gg.int32)`` (outside the graph)."""
        return self.to(_dtypes.int32)

    def bool(self):
        """``self.to(gg.bool)`` (outside the graph)."""
        return self.to(_dtypes.bool_)

    def type_as(self, other):
        """``self.to(other.dtype)``."""
        return self.to(other.dtype)

    def clone(self):
        """A copy with its own storage; gradients flow back through it."""
        if self._requires_grad and _autograd.modes.grad_enabled:
            return _ops().elementwise.Identity.apply(self)
        return Tensor._make(self._backend.contiguous(self._data), self._backend, False)

    def contiguous(self):
        """Self: gpugrad tensors need no contiguity, so there is nothing to do."""
        return self

    # ---- in place (outside autograd) -----------------------------------------------------
    def _check_inplace(self):
        if _autograd.modes.grad_enabled and (self._requires_grad or self.grad_fn is not None):
            raise RuntimeError(
                "a leaf Variable that requires grad is being used in an in-place operation; "
                "wrap it in `with gg.no_grad():`"
            )

    def copy_(self, src):
        """Copy ``src``'s values into self in place (moving devices/dtypes as needed)."""
        self._check_inplace()
        src = src if isinstance(src, Tensor) else as_tensor_like(src, self)
        src = src.to(self.device).to(self.dtype)
        self._backend.copy_(self._data, src._data)
        self._bump_version()
        return self

    def fill_(self, value):
        """Set every element to ``value`` in place (outside autograd); returns self."""
        self._check_inplace()
        self._backend.copy_(self._data, self._backend.full((), value, self.dtype))
        self._bump_version()
        return self

    def zero_(self):
        """Set every element to 0 in place (outside autograd); returns self."""
        return self.fill_(0)


def _ops():
    from . import ops

    return ops


# Arithmetic, math and reductions are attached in ``tensor_methods``; shape ops, indexing and
# joining in ``tensor_shape_methods``.
from . import tensor_methods, tensor_shape_methods  # noqa: E402,F401  (bind the op methods)
