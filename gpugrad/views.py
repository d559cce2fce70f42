"""Views: tensors that share storage with a base tensor, as in PyTorch.

A view (``reshape`` where the strides allow it, ``view``, ``permute``/``transpose``/``T``,
``expand``, indexing with ints and slices, ``narrow``, ``squeeze``/``unsqueeze``) is made by a
``ViewFunction``: its array is a view of its base's array, so a write through either is seen by
both, and it shares its base's version counter, so an in-place write through either invalidates
what autograd saved from both.

A view also remembers how it was made from its root base (``ViewInfo.steps``, the view ops and
their arguments). An in-place op on the base, or on any view of it, gives the base a new history
(``grad_fn``); a view then rebuilds its own ``grad_fn`` by replaying its steps on the base's new
history the next time it is used, as PyTorch regenerates a view's ``grad_fn``
(``Tensor._sync_view``). Ops see only up-to-date views: ``Function.apply`` syncs its inputs.
"""
from . import engine as _engine
from .engine.function import Function
from .tensor import Tensor

_plain_apply = Function.apply.__func__  # type: ignore[attr-defined]  # an op's apply without view bookkeeping


class ViewInfo:
    """How a view relates to its root base: the base tensor, the view ops from the base to the
    view (``(op class, params)`` pairs), the base's ``grad_fn`` when the view's own was last
    derived, and whether the view was made with grad recording off."""

    __slots__ = ("base", "steps", "base_fn", "no_grad")

    def __init__(self, base, steps, base_fn, no_grad):
        self.base = base
        self.steps = steps
        self.base_fn = base_fn
        self.no_grad = no_grad


class ViewFunction(Function):
    """Base of the view ops: the output's array is a view of the input's (see the module
    docstring). ``shares_storage`` says whether a call makes a view (``reshape`` of an array whose
    strides allow none copies instead); ``view_array`` makes the same view of another array
    (used to write a gradient into the matching region of a base)."""

    @classmethod
    def shares_storage(cls, base, params):
        return True

    @staticmethod
    def view_array(backend, array, params):
        raise NotImplementedError

    @classmethod
    def apply(cls, base, **params):
        view = cls.shares_storage(base, params)
        out = _plain_apply(cls, base, **params)
        if view:
            link(out, base, cls, params)
        return out


def link(out, base, op, params):
    """Make ``out`` a view of ``base`` made by ``op(base, **params)``: one storage, one version
    counter, and the steps to rebuild its history from the root base's."""
    box = base._version_box
    if box is None:
        box = base._version_box = [0]
    out._version_box = box
    info = base._view
    if info is None:
        root, steps = base, ((op, params),)
    else:
        root, steps = info.base, info.steps + ((op, params),)
    out._view = ViewInfo(root, steps, root.grad_fn, not _engine.modes.grad_enabled)


def sync(view):
    """Rebuild ``view.grad_fn`` from its root base's current history (after an in-place op gave
    the base a new ``grad_fn``), as PyTorch does for views."""
    info = view._view
    root = info.base
    fn = root.grad_fn
    info.base_fn = fn
    if info.no_grad:
        return  # made with grad recording off: the view stays outside the graph, as in PyTorch
    if fn is None and not root._requires_grad:
        view.grad_fn, view._requires_grad = None, False
        return
    t = replay(info.steps, root, recording=True)
    view.grad_fn, view._requires_grad = t.grad_fn, t._requires_grad


def replay(steps, tensor, recording=False):
    """``steps`` applied to ``tensor`` with Tensor ops (so autograd records them when grad is
    enabled, or always with ``recording=True``); no view bookkeeping for the results."""
    state = _engine.modes
    previous = state.grad_enabled
    if recording:
        state.grad_enabled = True
    try:
        for op, params in steps:
            tensor = _plain_apply(op, tensor, **params)
    finally:
        state.grad_enabled = previous
    return tensor


def region_of(backend, array, steps):
    """The view of ``array`` (shaped as the root base) that ``steps`` select."""
    for op, params in steps:
        array = op.view_array(backend, array, params)
    return array


Tensor._sync_view = sync
