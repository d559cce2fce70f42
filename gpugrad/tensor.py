"""``Tensor``: an n-dimensional array on a device, recording the ops that made it.

A Tensor holds a backend array (``_data``), the backend of its device, and its autograd state:
``requires_grad``, ``grad`` and ``grad_fn`` (the op that produced it). Arithmetic and methods
dispatch to the ops in ``gpugrad.ops``; the Tensor itself never touches NumPy or CuPy.
"""
from __future__ import annotations  # annotations stay strings: no runtime cost, no cycles

import re
from typing import TYPE_CHECKING, Any, Callable, NamedTuple, Sequence

from . import engine as _engine
from . import dtypes as _dtypes

if TYPE_CHECKING:  # for the annotations only (read by type checkers and tests/support/stubgen.py)
    from .device_registry import Device
    from .dtypes import DType
    from .engine import RemovableHandle


_NUMPY_DTYPE_SUFFIX = re.compile(r",\s*dtype=")


class ReductionResult(NamedTuple):
    """``(values, indices)`` as returned by ``Tensor.max(dim)``/``min(dim)``."""

    values: Tensor
    indices: Tensor


def _shape_args(shape: tuple[Any, ...]) -> tuple[int, ...]:
    """Accept ``f(2, 3)`` and ``f((2, 3))`` alike."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    for s in shape:
        if not isinstance(s, int) or isinstance(s, bool):
            raise TypeError(f"shape entries must be ints, got {shape!r}")
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: "
                               f"{list(shape)}")
    return tuple(shape)


def as_tensor_like(value: Any, like: Tensor) -> Tensor:
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

    # Slots keep a tensor small and quick to build; ``__dict__`` lets users set their own
    # attributes (``t.tag = 1``), as PyTorch does. It is made only when first used, so a tensor
    # that never gets one pays a pointer, no allocation and nothing for the cyclic GC to walk.
    __slots__ = ("_data", "_backend", "_requires_grad", "grad", "_grad_fn", "_hooks",
                 "_version_box", "_view", "__weakref__", "__dict__")
    _data: Any  # the backend array
    _backend: Any
    _requires_grad: bool
    grad: Tensor | None
    _grad_fn: Any
    _hooks: dict[int, Callable[[Tensor], Tensor | None]] | None
    _version_box: list[int] | None
    _view: Any  # a views.ViewInfo, or None
    _is_leaf_tensor: bool = True  # read by the engine on leaves (a Tensor with grad_fn is none)
    next_nodes: tuple[()] = ()  # as a graph node (a leaf), a tensor has no parents
    __array_priority__: int = 1000  # NumPy then prefers Tensor's __array_ufunc__ (interop.py)

    def __init__(self, data: Any, dtype: Any = None,
                 device: Device | str | int | None = None, requires_grad: bool = False) -> None:
        t = creation.tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)
        self._data, self._backend = t._data, t._backend
        self._requires_grad, self.grad, self._grad_fn, self._hooks = t._requires_grad, None, None, None
        self._version_box = None
        self._view = None

    @classmethod
    def _make(cls, data: Any, backend: Any, requires_grad: bool) -> Tensor:
        t = object.__new__(cls)
        t._data = data
        t._backend = backend
        t._requires_grad = requires_grad
        t.grad = None
        t._grad_fn = None
        t._hooks = None
        t._version_box = None  # [count of in-place writes], made on first use, shared by views
        t._view = None  # a views.ViewInfo when this tensor is a view of another
        return t

    # ---- metadata -------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        """The size of each dimension, as a tuple (PyTorch returns ``torch.Size``, a tuple)."""
        return self._data.shape  # backend arrays' shapes are tuples (the backend contract)

    def size(self, dim: int | None = None) -> tuple[int, ...] | int:
        """``shape``, or the size of one dimension."""
        return self.shape if dim is None else self.shape[dim]

    @property
    def ndim(self) -> int:
        """The number of dimensions."""
        return self._data.ndim

    def dim(self) -> int:
        """The number of dimensions (``ndim``)."""
        return self._data.ndim

    def numel(self) -> int:
        """The number of elements."""
        n = 1
        for s in self._data.shape:
            n *= s
        return n

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    @property
    def dtype(self) -> DType:
        """The element type, e.g. ``gg.float32``."""
        return self._backend.dtype(self._data)

    @property
    def device(self) -> Device:
        """The ``Device`` holding the values, e.g. ``device('cpu')``."""
        return self._backend.device

    @property
    def grad_fn(self) -> Any:
        """The op that produced this tensor (its node in the graph), or None for a leaf. A view
        whose base was since written in place gets a new one derived from the base's history."""
        view = self._view
        if view is not None and view.base._grad_fn is not view.base_fn:
            self._sync_view()
        return self._grad_fn

    @grad_fn.setter
    def grad_fn(self, fn: Any) -> None:
        self._grad_fn = fn

    @property
    def is_leaf(self) -> bool:
        """True for tensors the user created (or that do not require grad)."""
        return self.grad_fn is None

    @property
    def requires_grad(self) -> bool:
        """Whether backward computes a gradient for this tensor (settable on leaves)."""
        view = self._view
        if view is not None and view.base._grad_fn is not view.base_fn:
            self._sync_view()
        return self._requires_grad

    @property
    def _base(self) -> Tensor | None:
        """The tensor this one is a view of (the root of a chain of views), or None."""
        view = self._view
        return None if view is None else view.base

    def _is_view(self) -> bool:
        """True when this tensor shares its storage with a base tensor as a view."""
        return self._view is not None

    def is_contiguous(self) -> bool:
        """True when the values are dense in row-major order (a transpose or a strided slice
        is not); ``contiguous()`` makes a copy that is."""
        return self._backend.is_contiguous(self._data)

    def stride(self, dim: int | None = None) -> tuple[int, ...] | int:
        """The step in elements between neighbours along each dimension (0 along an
        expanded one), as a tuple, or for one ``dim``."""
        strides = self._backend.strides(self._data)
        return strides if dim is None else strides[dim]

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        self.requires_grad_(flag)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
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
    def data(self) -> Tensor:
        """A tensor sharing this one's storage, outside the graph. Unlike ``detach()`` (and as
        in PyTorch) it has its own version counter: writes through it are hidden from autograd,
        so use it only when that is what you mean."""
        return Tensor._make(self._data, self._backend, False)

    @data.setter
    def data(self, value: Tensor) -> None:
        """Make this tensor use ``value``'s storage, keeping shape and device, outside autograd."""
        if value.shape != self.shape or value.device != self.device:
            raise RuntimeError(
                f"data must keep the shape and device: expected {self.shape} on {self.device}, "
                f"got {value.shape} on {value.device}"
            )
        self._data = value._data
        self._view = None  # the storage is value's now, whatever this tensor was a view of

    # ---- reading values ------------------------------------------------------------------
    def numpy(self, *, force: bool = False) -> Any:  # a NumPy array (no NumPy import here)
        """The values as a NumPy array, as ``torch.Tensor.numpy``.

        On cpu the array shares memory with the tensor (writes show in both); on sim and cuda it
        is a copy (on sim a modeled device-to-host copy; PyTorch refuses cuda here, gpugrad
        copies). A tensor that requires grad is refused, as in PyTorch: call
        ``t.detach().numpy()``, or ``numpy(force=True)``, which detaches first (on cpu the
        array still shares memory). ``np.asarray(t)`` follows the same rules.
        """
        if self._requires_grad and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use "
                               "tensor.detach().numpy() instead.")
        return self._backend.to_host(self._data)

    def item(self) -> float | int | bool:
        """The value of a one-element tensor as a Python number."""
        n = self.numel()
        if n != 1:
            raise RuntimeError(f"a Tensor with {n} elements cannot be converted to Scalar")
        return self._backend.to_host(self._data).item()

    def tolist(self) -> Any:
        """The values as (nested) Python lists of numbers; a 0-d tensor gives a number."""
        return self._backend.to_host(self._data).tolist()

    def __float__(self) -> float:
        return float(self._scalar())

    def __int__(self) -> int:
        return int(self._scalar())

    def _scalar(self) -> float | int | bool:
        # (float(t) and int(t) raise ValueError, as Python's conversions and PyTorch's do)
        if self.numel() != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        return self.item()

    def __format__(self, spec: str) -> str:
        """A 0-d tensor formats as its value (``f"{loss:.4f}"``); others only as ``str``."""
        if self.ndim == 0:
            return format(self.item(), spec)
        if spec:
            raise TypeError(f"unsupported format string {spec!r} passed to Tensor.__format__ "
                            f"(only a 0-d tensor formats as a number: use t.item())")
        return str(self)

    def __index__(self) -> int:
        if self.dtype.is_floating_point:
            raise TypeError("only integer tensors of a single element can be used as an index")
        return int(self.item())

    def __bool__(self) -> bool:
        if self.numel() != 1:
            raise RuntimeError(
                f"Boolean value of Tensor with {self.numel()} elements is ambiguous; "
                f"use .any() or .all()"
            )
        return bool(self.item())

    def __repr__(self) -> str:
        values = self._backend.to_host(self._data)
        if self.dtype.is_low_precision:  # print the values, as floats (bfloat16 prints 5 as "5")
            values = values.astype("float32")
        text = repr(values)
        body = text[text.index("(") + 1 : text.rindex(")")]
        # (NumPy names its own dtype last, on a line of its own when the values wrap)
        body = _NUMPY_DTYPE_SUFFIX.split(body)[0].replace("\n", "\n ")
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
    def _node(self) -> Any:
        fn = self.grad_fn
        if fn is not None:
            return fn
        return self if self._requires_grad else None

    def _ones_like(self) -> Tensor:
        return Tensor._make(self._backend.full(self.shape, 1, self.dtype), self._backend, False)

    def _zeros_like(self) -> Tensor:
        return Tensor._make(self._backend.full(self.shape, 0, self.dtype), self._backend, False)

    def backward(self, gradient: Tensor | None = None, retain_graph: bool | None = None,
                 create_graph: bool = False, inputs: Tensor | Sequence[Tensor] | None = None
                 ) -> None:
        """Accumulate d(self)/d(leaf) into each leaf's ``.grad``.

        ``gradient`` is required unless self has one element. Saved values are freed afterwards
        unless ``retain_graph=True``; ``create_graph=True`` records the backward pass so it can
        be differentiated again.
        """
        if retain_graph is None:
            retain_graph = create_graph
        root_grad = _engine.default_root_grad(self, gradient)
        if inputs is not None:
            inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
            grads = _engine.run_backward([self], [root_grad], retain_graph, create_graph,
                                           inputs, allow_unused=True)
            for t, g in zip(inputs, grads):
                if g is not None:
                    t.grad = g if t.grad is None else t.grad + g
            return
        _engine.run_backward([self], [root_grad], retain_graph, create_graph)

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor after backward."""
        if self.grad_fn is None:
            if not self._requires_grad:
                raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
            return
        import weakref

        self.grad_fn.retained = weakref.ref(self)

    @property
    def retains_grad(self) -> bool:
        """True for a non-leaf tensor on which ``retain_grad()`` was called."""
        fn = self.grad_fn
        return fn is not None and fn.retained is not None and fn.retained() is self

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> RemovableHandle:
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
        handle = _engine.RemovableHandle(hooks)
        hooks[handle.id] = hook
        return handle

    def register_post_accumulate_grad_hook(self, hook: Callable[[Tensor], None]
                                           ) -> RemovableHandle:
        """Call ``hook(self)`` each time backward has accumulated this leaf's ``.grad`` (the
        hook reads or updates ``self.grad`` in place; it returns None). Leaf tensors only, as
        in PyTorch. Returns a handle with ``remove()``."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf "
                               "tensors")
        return _engine.graph.register_post_accumulate_grad_hook(self, hook)

    def detach(self) -> Tensor:
        """A tensor sharing this one's storage and version counter, outside the graph: writes
        through it change this tensor too, and backward through an op that saved this tensor
        then raises, as in PyTorch."""
        out = Tensor._make(self._data, self._backend, False)
        if self._version_box is None:
            self._version_box = [0]
        out._version_box = self._version_box  # in-place writes through either count for both
        return out

    @property
    def _version(self) -> int:
        """How many in-place writes this tensor's storage has seen (as ``torch.Tensor._version``)."""
        return self._version_box[0] if self._version_box else 0

    def _bump_version(self) -> None:
        if self._version_box is None:
            self._version_box = [0]
        self._version_box[0] += 1

    def detach_(self) -> Tensor:
        """Detach self from the graph in place (it becomes a leaf); returns self."""
        if self._view is not None:
            raise RuntimeError("Can't detach views in-place. Use detach() instead. If you are "
                               "using DistributedDataParallel (DDP) for training, note that "
                               "views of parameters cannot be detached in place either.")
        self._grad_fn = None
        self._requires_grad = False
        return self


# Arithmetic, math and reductions are attached in ``tensor_methods``; shape ops, views, indexing
# and joining in ``tensor_shape_methods``; in-place ops in ``tensor_inplace_methods``; moves
# between devices and dtypes in ``tensor_conversions``; NumPy and DLPack protocols in ``interop``.
_engine.bind_tensor_type(Tensor)  # ops build their outputs as Tensors

from . import creation, interop, tensor_methods, tensor_shape_methods  # noqa: E402,F401
from . import tensor_conversions, tensor_inplace_methods  # noqa: E402,F401  (bind the methods)
from . import tensor_reduction_methods  # noqa: E402,F401
from . import tensor_math_methods  # noqa: E402,F401  (after tensor_inplace_methods: aliases)
from . import tensor_queries  # noqa: E402,F401  (is_floating_point, numel)
from . import tensor_index_methods, tensor_layout_methods, tensor_linalg_methods  # noqa: E402,F401
from . import tensor_structure_methods, tensor_structure_layout  # noqa: E402,F401
from . import tensor_structure_index, tensor_structure_sets, tensor_structure_linalg  # noqa: E402,F401
from . import tensor_numeric_methods, tensor_numeric_reductions  # noqa: E402,F401
from . import tensor_numeric_queries, tensor_numeric_random  # noqa: E402,F401
from . import tensor_bitwise_methods  # noqa: E402,F401
