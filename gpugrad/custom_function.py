"""``gg.autograd.Function``: custom differentiable functions, written as in PyTorch.

```python
class Exp(gg.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        y = x.exp()                  # ordinary Tensor ops, on any device, under no_grad
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * y              # recorded under create_graph=True: double backward works

y = Exp.apply(x)
```

A subclass whose ``forward`` is a ``staticmethod`` is a PyTorch-style function: ``apply`` runs
``forward(ctx, *args)`` (or ``forward(*args)`` then ``setup_context(ctx, inputs, output)``)
and records one graph node, which is also the ``ctx`` and the outputs' ``grad_fn``
(``ExpBackward``). A subclass with instance methods ``forward(self, *arrays)`` on backend arrays
is gpugrad's op protocol (``gpugrad.engine.Function``, which every op in ``gpugrad/ops`` uses)
and keeps working unchanged.

With several outputs (a tuple), each differentiable output has a small selector node in front
of the shared one: ``backward`` still receives one gradient per output, and
``next_functions`` of the outputs' consumers name the shared node with the output's index.
"""
import functools
import inspect

from . import engine as _engine
from .engine import hooks as _hooks
from .engine.grad_mode import modes as _modes
from .engine.grad_mode import no_grad
from .ops.broadcast import sum_to
from .tensor import Tensor

_new = object.__new__


class FunctionCtx:
    """What ``ctx`` offers inside ``forward`` and ``backward`` (PyTorch's ``FunctionCtx``).

    Any other attribute may be set on ``ctx`` in forward and read in backward."""

    needs_input_grad = ()  # per forward argument: a Tensor that requires grad
    materialize_grads = True
    _to_save = ()
    _non_differentiable = ()

    def save_for_backward(self, *tensors):
        """Keep tensors (inputs, outputs or intermediates, or None) for ``saved_tensors``."""
        for t in tensors:
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"save_for_backward can only save variables, but argument is "
                                f"of type {type(t).__name__}; store it as an attribute of ctx")
        self._to_save = tensors

    def mark_non_differentiable(self, *tensors):
        """Outputs (e.g. indices, masks) that get no gradient: they do not require grad."""
        self._non_differentiable = tuple(self._non_differentiable) + tensors

    def set_materialize_grads(self, value):
        """With False, ``backward`` receives None (not zeros) for outputs that got no
        gradient."""
        self.materialize_grads = bool(value)

    def mark_dirty(self, *tensors):
        """Not supported: gpugrad's custom functions cannot write their inputs in place."""
        raise RuntimeError("ctx.mark_dirty is not supported by gpugrad: return a new tensor "
                           "from forward (e.g. x.clone() modified) instead of writing the input "
                           "in place")


class _OutputGrads:
    """The gradients of a multi-output node's outputs, one slot each, summed as they meet."""

    __slots__ = ("grads",)

    def __init__(self, grads):
        self.grads = grads

    def __add__(self, other):
        return _OutputGrads(tuple(b if a is None else a if b is None else a + b
                                  for a, b in zip(self.grads, other.grads)))


class _OutputSelect(_engine.Function):
    """Stands in front of a multi-output node for its output ``index``."""

    def __init__(self, node, index):
        self.next_nodes = (node,)
        self.index = index

    def backward(self, grad):
        grads = [None] * len(self.next_nodes[0]._outputs)
        grads[self.index] = grad
        return _OutputGrads(tuple(grads))

    def edge(self):
        return (self.next_nodes[0], self.index)

    def name(self):
        return self.next_nodes[0].name()


class BackwardCFunction(FunctionCtx, _engine.Function):
    """The graph node of one ``apply`` of a custom Function, and its ``ctx``.

    ``Exp.apply`` makes an ``ExpBackward`` (a subclass made per Function class)."""

    _function = None  # the custom Function class, set on each generated subclass
    _saved = None  # per saved tensor: the Tensor, an output's index (int) or None
    _saved_meta = None  # versions of the saved tensors when forward returned
    # per output: (shape, dtype, data if saved, version box, differentiable), None for a
    # non-tensor
    _outputs = ()
    _inputs = ()  # per forward argument: (shape, dtype) of a Tensor, else None

    def name(self):
        """``"ExpBackward"`` for a Function named ``Exp``, as PyTorch names it."""
        return type(self).__name__

    @property
    def saved_tensors(self):
        """The tensors given to ``save_for_backward``, checked unmodified since forward."""
        if self.released:
            raise RuntimeError(_engine.FREED_GRAPH_MESSAGE)
        if self._saved is None:
            return ()
        self.check_saved_versions()
        return tuple(self._saved_output(s) if type(s) is int else s for s in self._saved)

    def _saved_output(self, index):
        data, box, differentiable = self._outputs[index][2:]
        out = Tensor._make(data, self.backend, differentiable)
        if differentiable:
            out._grad_fn = self if len(self._outputs) == 1 else _OutputSelect(self, index)
        out._version_box = box
        return out

    def check_saved_versions(self):
        """Raise, as PyTorch does, when a saved tensor was written in place since forward."""
        for s, expected in zip(self._saved or (), self._saved_meta or ()):
            if type(s) is int:
                shape, dtype, _, box, _ = self._outputs[s]
                version = box[0]
            elif s is not None:
                shape, dtype, version = s.shape, s.dtype, s._version
            else:
                continue
            if version != expected:
                raise _engine.modified_error(self, shape, dtype, version, expected)

    def release(self):
        """Free the saved tensors; a later backward or ``saved_tensors`` then raises."""
        if self._saved is not None:
            self._saved = None
            self._outputs = tuple(None if o is None else o[:2] + (None, None, False)
                                  for o in self._outputs)
            self.released = True

    def backward(self, grad):
        """The engine's entry: call the Function's ``backward`` and check what it returns."""
        grads = grad.grads if type(grad) is _OutputGrads else (grad,)
        if self.materialize_grads:
            grads = tuple(self._zeros(i) if g is None else g for i, g in enumerate(grads))
        result = self._function.backward(self, *grads)
        result = result if type(result) is tuple else (result,)
        expected = len(self._inputs)
        if len(result) > expected and all(g is None for g in result[expected:]):
            result = result[:expected]
        if len(result) != expected:
            raise RuntimeError(f"function {self.name()} returned an incorrect number of "
                               f"gradients (expected {expected}, got {len(result)})")
        return tuple(self._checked(i, g) for i, g in enumerate(result))

    def _zeros(self, index):
        if self._outputs[index] is None:  # a non-tensor output: its gradient stays None
            return None
        shape, dtype = self._outputs[index][:2]
        return Tensor._make(self.backend.full(shape, 0, dtype), self.backend, False)

    def _checked(self, index, grad):
        meta = self._inputs[index]
        if grad is None:
            return None
        if meta is None:
            raise RuntimeError(f"function {self.name()} returned a gradient different than None "
                               f"at position {index + 1}, but the corresponding forward input "
                               f"was not a Variable")
        if not isinstance(grad, Tensor):
            raise TypeError(f"function {self.name()} returned a {type(grad).__name__} as the "
                            f"gradient at position {index + 1}; return a Tensor or None")
        shape, dtype = meta
        if grad.shape != shape:
            got = grad.shape
            try:
                grad = sum_to(grad, shape)  # a broadcast gradient, as PyTorch accepts
            except (RuntimeError, ValueError, IndexError):
                grad = None
            if grad is None or grad.shape != shape:
                raise RuntimeError(f"Function {self.name()} returned an invalid gradient at index "
                                   f"{index} - got {list(got)} but expected shape compatible "
                                   f"with {list(shape)}") from None
        return grad if grad.dtype is dtype else grad.to(dtype)


class Function(_engine.Function):
    """Base class of custom differentiable functions: ``gg.autograd.Function``.

    Write it as in PyTorch, with static methods taking a ``ctx``::

        class MulAdd(gg.autograd.Function):
            @staticmethod
            def forward(ctx, x, y, alpha=1.0):        # non-tensor arguments are fine
                ctx.save_for_backward(x, y)
                ctx.alpha = alpha                     # any attribute
                return x * y + alpha

            @staticmethod
            def backward(ctx, grad):                  # one gradient per output
                x, y = ctx.saved_tensors
                gx = grad * y if ctx.needs_input_grad[0] else None
                gy = grad * x if ctx.needs_input_grad[1] else None
                return gx, gy, None                   # one per forward argument

        z = MulAdd.apply(x, y, 2.0)

    ``forward`` runs under ``no_grad`` with ordinary Tensor ops on any device and returns a
    Tensor or a tuple (several outputs; ``backward`` then takes one gradient each, zeros for
    unused outputs unless ``ctx.set_materialize_grads(False)``). ``ctx`` also offers
    ``needs_input_grad``, ``mark_non_differentiable`` and ``saved_tensors`` (see
    ``FunctionCtx``). ``backward``'s ops are recorded under ``create_graph=True``, so double
    backward works. PyTorch 2's split form (``forward(*args)`` plus a static
    ``setup_context(ctx, inputs, output)``) works too.

    A subclass whose ``forward`` is an ordinary method instead follows gpugrad's op protocol
    (``gpugrad.engine.Function``: ``forward(self, *arrays)`` on backend arrays through
    ``self.backend``, ``backward(self, grad)`` with Tensor ops), which the built-in ops use.
    """

    _backward_cls = None
    _split_form = False  # forward without ctx, plus setup_context

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if isinstance(inspect.getattr_static(cls, "forward"), staticmethod):
            cls._backward_cls = type(f"{cls.__name__}Backward", (BackwardCFunction,),
                                     {"_function": cls, "__module__": cls.__module__})
            cls._split_form = (inspect.getattr_static(cls, "setup_context")
                               is not inspect.getattr_static(Function, "setup_context"))
            cls.apply = classmethod(_apply)

    @staticmethod
    def setup_context(ctx, inputs, output):
        """PyTorch 2's split form: fill ``ctx`` from ``forward(*inputs)``'s ``output``."""
        raise NotImplementedError("setup_context is not overridden: forward must take ctx")


def _apply(cls, *args, **kwargs):
    """Run the custom Function ``cls`` on ``args`` and record its node (see ``Function``)."""
    ctx = _new(cls._backward_cls)
    needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
    ctx.needs_input_grad = needs
    backend = next((a._backend for a in args if isinstance(a, Tensor)), None)
    ctx.backend = backend
    with no_grad():
        if cls._split_form:
            output = cls.forward(*args, **kwargs)
            cls.setup_context(ctx, args, output)
        else:
            output = cls.forward(ctx, *args, **kwargs)
    if not (_modes.grad_enabled and any(needs)):
        return output
    return _record(ctx, args, output)


def _record(ctx, args, output):
    """Make ``ctx`` the node of ``output`` (a Tensor or a tuple) and keep what it saved."""
    single = type(output) is not tuple
    outputs = (output,) if single else output
    arg_ids = {id(a) for a in args if isinstance(a, Tensor)}
    non_diff = {id(t) for t in ctx._non_differentiable}
    to_save = {id(t) for t in ctx._to_save if t is not None}
    saved_index = {}  # id of a returned tensor -> its output index
    results, meta = [], []
    for i, out in enumerate(outputs):
        if not isinstance(out, Tensor):
            results.append(out)
            meta.append(None)
            continue
        saved_index[id(out)] = i
        original = out
        if id(out) in arg_ids or out._view is not None or out._grad_fn is not None:
            out = out.detach()  # an alias: returning an input must not change the input's history
        if out._version_box is None:
            out._version_box = [0]
        # the data only when saved: the graph must not keep an unsaved output alive
        differentiable = id(original) not in non_diff and out.dtype.is_floating_point
        meta.append((out.shape, out.dtype, out._data if id(original) in to_save else None,
                     out._version_box, differentiable))
        out._requires_grad = differentiable
        if differentiable:
            out._grad_fn = ctx if single else _OutputSelect(ctx, i)
        results.append(out)
    ctx._outputs = tuple(meta)
    ctx._inputs = tuple((a.shape, a.dtype) if isinstance(a, Tensor) else None for a in args)
    ctx.next_nodes = tuple(a._node() if isinstance(a, Tensor) else None for a in args)
    if ctx._to_save:
        ctx._saved = tuple(saved_index.get(id(t), t) if t is not None else None
                           for t in ctx._to_save)
        ctx._saved_meta = tuple(ctx._outputs[s][3][0] if type(s) is int else
                                None if s is None else s._version for s in ctx._saved)
    ctx._to_save = ()
    ctx._non_differentiable = ()
    for hook in _hooks.forward_hooks:  # tools watching every op (anomaly detection)
        for out in results:
            if isinstance(out, Tensor):
                hook(ctx, args, out)
    return results[0] if single else tuple(results)


class _DelayedError(_engine.Function):
    """The node in front of a ``once_differentiable`` backward's results: differentiating
    them again raises."""

    def backward(self, grad):
        raise RuntimeError("trying to differentiate twice a function that was marked with "
                           "@once_differentiable")


def once_differentiable(backward):
    """Decorate a custom Function's ``backward`` that is not itself differentiable: it runs
    under ``no_grad``, and a double backward through its results raises (as in PyTorch)."""

    @functools.wraps(backward)
    def wrapper(ctx, *grads):
        with no_grad():
            result = backward(ctx, *grads)
        if not _modes.grad_enabled:
            return result
        parents = tuple(g._node() for g in grads if isinstance(g, Tensor) and g.requires_grad)
        if not parents:
            return result
        node = _DelayedError()
        node.next_nodes = parents
        single = type(result) is not tuple
        wrapped = tuple(_behind(node, r) for r in ((result,) if single else result))
        return wrapped[0] if single else wrapped

    return wrapper


def _behind(node, value):
    if not isinstance(value, Tensor) or not value.dtype.is_floating_point:
        return value
    out = value.detach()
    out._requires_grad = True
    out._grad_fn = node
    return out


__all__ = ["Function", "FunctionCtx", "BackwardCFunction", "once_differentiable"]
