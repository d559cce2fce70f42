"""In-place ops: an op's result written into its first input's storage, recorded as PyTorch does.

``apply_inplace(Op, target, *others, **params)`` runs ``Op`` on ``(target, *others)`` and writes
the result into ``target``'s array (``Op.forward(..., out=array)`` when the op can write into an
array, else a computed result copied in), then bumps the version counter that ``target`` shares
with its base and views, so backward through an op that saved any of them raises.

When autograd records (grad enabled, and ``target``, its base or an operand requires grad):

- a leaf that requires grad, or a view of one, cannot be written: PyTorch's errors;
- the op becomes ``target``'s ``grad_fn``. If the op's backward reads its first input, that
  input's old values are copied first (PyTorch's ``original_self``);
- if ``target`` is a view, its root base's history is rebased instead: the base's new ``grad_fn``
  is a ``CopySlices`` node (the base's old gradient, with the view's region replaced by the op's
  backward of that region), and the views rebuild theirs from it (``views.sync``).
"""
from . import engine as _engine
from . import dtypes as _dtypes
from .engine.function import Function, _numbers_for, devices_differ_error
from .ops import shape as _shape
from .ops.broadcast import read_only_error
from .tensor import Tensor
from .views import replay

_new = object.__new__

LEAF_MESSAGE = "a leaf Variable that requires grad is being used in an in-place operation."
VIEW_OF_LEAF_MESSAGE = ("a view of a leaf Variable that requires grad is being used in an "
                        "in-place operation.")
NO_GRAD_VIEW_MESSAGE = (
    "A view was created in no_grad mode and is being modified inplace with grad mode enabled. "
    "Given that this use case is ambiguous and error-prone, it is forbidden. You can clarify "
    "your code by moving both the view and the inplace either both inside the no_grad block (if "
    "you don't want the inplace to be tracked) or both outside (if you want the inplace to be "
    "tracked).")


def check_cast(result_dtype, target_dtype):
    """An in-place op may not narrow the category of its result (PyTorch's ``canCast``): a float
    result cannot go into an integer tensor, nor a number into a bool one."""
    if not _dtypes.can_cast(result_dtype, target_dtype):
        raise RuntimeError(f"result type {result_dtype.name} can't be cast to the desired output "
                           f"type {target_dtype.name}")


def apply_inplace(cls, target, *others, **params):
    """Run op ``cls`` on ``(target, *others)`` writing into ``target``; returns ``target``."""
    backend = target._backend
    info = target._view
    if info is not None and info.base._grad_fn is not info.base_fn:
        target._sync_view()
    arrays = [target._data]
    others_grad = False
    for x in others:
        if isinstance(x, Tensor):
            if x._backend is not backend:
                raise devices_differ_error(cls.__name__, backend.device, x._backend.device)
            view = x._view
            if view is not None and view.base._grad_fn is not view.base_fn:
                x._sync_view()
            others_grad = others_grad or x._requires_grad
            arrays.append(x._data)
        elif type(x) is float or type(x) is int or type(x) is bool or x is None:
            arrays.append(x)
        else:
            return apply_inplace(cls, target, *_numbers_for(cls, others), **params)
    root = target if info is None else info.base
    recording = _engine.modes.grad_enabled and (target._requires_grad or others_grad or
                                                  root._requires_grad)
    if recording:
        _check_writable(target, info, root)
    fn = _new(cls)
    fn.backend = backend
    old_self = None
    if recording and cls.save_inputs:  # backward reads the old values: keep them
        old_self = Tensor._make(backend.contiguous(target._data), backend, target._requires_grad)
        old_self._grad_fn = target._grad_fn
    _write(fn, target, arrays, params)
    target._bump_version()
    if recording:
        _record(fn, target, old_self, others, info, root)
    forward_hooks = _engine.hooks.forward_hooks
    if forward_hooks:  # a tool watching every op (anomaly detection)
        for hook in forward_hooks:
            hook(fn, (target,) + others, target)
    return target


def _check_writable(target, info, root):
    if info is None:
        if target._grad_fn is None and target._requires_grad:
            raise RuntimeError(LEAF_MESSAGE)
        return
    if info.no_grad and root._requires_grad:
        raise RuntimeError(NO_GRAD_VIEW_MESSAGE)
    if root._grad_fn is None and root._requires_grad:
        raise RuntimeError(VIEW_OF_LEAF_MESSAGE)


def _write(fn, target, arrays, params):
    """The op's result into ``target``'s array: directly when the op can write into an array,
    else computed and copied (cast to the target's dtype)."""
    out = target._data
    try:
        if getattr(fn, "supports_out", False):
            fn.forward(*arrays, out=out, **params)
            return
        result = fn.forward(*arrays, **params)
        backend = fn.backend
        check_cast(backend.dtype(result), backend.dtype(out))
        if tuple(result.shape) != tuple(out.shape):
            raise RuntimeError(f"output with shape {list(out.shape)} doesn't match the broadcast "
                               f"shape {list(result.shape)}")
        backend.copy_(out, result)
    except ValueError as exc:
        if "read-only" in str(exc):  # an expanded view, or read-only memory
            raise read_only_error(fn.backend, out) from None
        raise


def _record(fn, target, old_self, others, info, root):
    target_node = target._grad_fn or (target if target._requires_grad else None)
    fn.next_nodes = (target_node,) + tuple([
        (x._grad_fn or (x if x._requires_grad else None)) if isinstance(x, Tensor) else None
        for x in others])
    if fn.save_inputs:
        fn.inputs = (old_self,) + others
        if any(isinstance(x, Tensor) and x._version_box is not None for x in others):
            fn.saved_versions = (0,) + tuple([x._version if isinstance(x, Tensor) else 0
                                              for x in others])
    if fn.save_output:  # the output is the target itself, at its new version
        fn._out = target._data
        fn._out_version = target._version_box
        fn._out_expected = target._version_box[0]
    if info is None:
        target._grad_fn, target._requires_grad = fn, True
        return
    root_node = root._grad_fn or (root if root._requires_grad else None)
    copy = _new(CopySlices)
    copy.backend = fn.backend
    copy.fn, copy.steps = fn, info.steps
    copy.next_nodes = (root_node,) + fn.next_nodes[1:]
    root._grad_fn, root._requires_grad = copy, True
    target._sync_view()  # the target's own history now runs through the base's


class CopySlices(Function):
    """The history of a base after an in-place op ``fn`` wrote into its view selected by
    ``steps`` (PyTorch's CopySlices): the base's old values get the incoming gradient with that
    region replaced by ``fn``'s gradient for the view's old values; ``fn``'s other inputs get
    theirs from the region's gradient."""

    fn = None
    steps = ()

    def backward(self, grad):
        fn = self.fn
        if fn.released:
            raise RuntimeError(_engine.FREED_GRAPH_MESSAGE)
        if fn.inputs is not None or fn._out_version is not None:
            fn.check_saved_versions()
        grads = fn.backward(replay(self.steps, grad))
        if type(grads) is not tuple:
            grads = (grads,)
        if fn.input_dtypes is not None:
            grads = _engine.cast_to_input_dtypes(grads, fn.input_dtypes)
        region_grad = grads[0] if grads[0] is not None else 0.0
        return (_shape.ViewScatter.apply(grad, region_grad, steps=self.steps),) + grads[1:]

    def release(self):
        self.fn.release()
        self.released = self.fn.released

    def name(self):
        return "CopySlices"
