"""The autograd engine. It knows nothing about devices or arrays.

Graph nodes are op instances (``Function`` objects, each the ``grad_fn`` of the tensor it
produced) and leaf tensors that require grad. ``backward`` walks them in reverse topological
order, calls each op's backward and sums the gradients that meet. With ``create_graph=True`` it
calls ``backward`` (written with Tensor ops, so a graph of the backward pass is recorded and
gives higher derivatives); otherwise ``backward_arrays`` on backend arrays through the backend
contract (an op without one runs ``backward`` on wrapped arrays), summing in place into
buffers only the engine has seen.
"""
import operator
import threading
import weakref

from .. import dtypes as _dtypes
from . import hooks as _hooks
from .gc_pause import pause_gc, resume_gc
from .grad_mode import modes, set_modes
from .topology import topological_order

# The Tensor class (``bind_tensor_type``, called by ``function.bind_tensor_type``): the raw
# backward path wraps arrays in it only where the user sees a gradient.
Tensor = None


def bind_tensor_type(tensor_type):
    """Make the engine show gradients as ``tensor_type`` (gpugrad's ``Tensor``)."""
    global Tensor
    Tensor = tensor_type


FREED_GRAPH_MESSAGE = (
    "Trying to backward through the graph a second time (or directly access saved tensors after "
    "they have already been freed). Saved intermediate values of the graph are freed when you "
    "call .backward() or gg.grad(). Specify retain_graph=True if you need to backward through the "
    "graph a second time or if you need to access saved tensors after calling backward."
)


# Leaves' ``.grad`` accumulate under one lock, as PyTorch's AccumulateGrad does, so threads that
# backpropagate into shared parameters at once lose no gradient.
_accumulate_lock = threading.Lock()

# A leaf tensor's ``next_nodes`` is the class attribute ``()``; an op's are its inputs' nodes.
_parents = operator.attrgetter("next_nodes")


# id(leaf tensor) -> (weak reference to it, {handle id: hook(tensor)}): hooks run right after the
# leaf's ``.grad`` is accumulated (``Tensor.register_post_accumulate_grad_hook``). Keyed by id,
# not by a weak dictionary, because comparing Tensors with == is elementwise; the weak
# reference's callback drops the entry when the tensor dies, before its id can be reused.
_post_accumulate_hooks: dict = {}

# Per thread, a stack with one list of final callbacks per backward pass in progress (nested
# passes, a backward run inside a hook, get their own list).
_backward_passes = threading.local()


def register_post_accumulate_grad_hook(tensor, hook):
    """Call ``hook(tensor)`` each time backward has accumulated the leaf ``tensor``'s ``.grad``
    (the engine side of ``Tensor.register_post_accumulate_grad_hook``); returns a handle with
    ``remove()``. A leaf with such a hook has its ``.grad`` written as soon as its gradient is
    complete, not at the end of the pass, so the hook can start work (an all-reduce) while the
    rest of the backward runs."""
    key = id(tensor)
    if key not in _post_accumulate_hooks:
        _post_accumulate_hooks[key] = (
            # the table is bound now: at interpreter exit the module global may already be None
            weakref.ref(tensor, lambda _, table=_post_accumulate_hooks: table.pop(key, None)), {})
    hooks = _post_accumulate_hooks[key][1]
    handle = _hooks.RemovableHandle(hooks)
    hooks[handle.id] = hook
    return handle


def queue_callback(callback):
    """Run ``callback()`` (no arguments) when the backward pass in progress in this thread
    finishes, after every ``.grad`` has been written, as PyTorch's
    ``Variable._execution_engine.queue_callback``. Callbacks run in the order queued; one may
    queue another. Valid only during backward (from a hook)."""
    passes = getattr(_backward_passes, "stack", None)
    if not passes:
        raise RuntimeError("Final callbacks can only be installed during backward pass.")
    passes[-1].append(callback)


def run_backward(roots, root_grads, retain_graph=False, create_graph=False, inputs=None,
                 allow_unused=False):
    """Propagate ``root_grads`` from ``roots`` back through the graph.

    Without ``inputs``, gradients accumulate into ``.grad`` of the leaves (and of tensors that
    called ``retain_grad``). With ``inputs`` (a list of tensors), nothing is written to ``.grad``
    and their gradients are returned in order, as ``gg.grad`` does. Callbacks queued during the
    pass (``queue_callback``) run at its end.
    """
    passes = getattr(_backward_passes, "stack", None)
    if passes is None:
        passes = _backward_passes.stack = []
    callbacks = []
    passes.append(callbacks)
    try:
        result = _propagate(roots, root_grads, retain_graph, create_graph, inputs, allow_unused)
        for callback in callbacks:  # the list grows if a callback queues another
            callback()
    finally:
        passes.pop()
    return result


def _propagate(roots, root_grads, retain_graph, create_graph, inputs, allow_unused):
    # Without create_graph gradients flow as backend arrays (``raw``): each op's
    # ``backward_arrays`` computes them and no Tensor or Function is made per product or sum;
    # arrays become Tensors only where the user sees them (hooks, ``.grad``, ``gg.grad``).
    raw = not create_graph
    grads = {}  # node -> gradient summed so far (nodes hash by identity)
    owned = set()  # nodes whose summed gradient is a buffer only the engine has seen
    root_nodes = []
    for i, (tensor, grad) in enumerate(zip(roots, root_grads)):
        node = tensor._node()
        if node is None:
            raise RuntimeError(
                f"element {i} of tensors does not require grad and does not have a grad_fn; "
                f"make the inputs require grad (requires_grad=True) before computing it"
            )
        if raw:
            grad = grad._data
            grads[node] = _sum(backend_of(node), grads[node], grad) if node in grads else grad
        else:
            grads[node] = grads[node] + grad if node in grads else grad
        root_nodes.append(node)

    # ids of arrays already visible to the user (root gradients, .grad set in this pass)
    handed_out = {id(g._data) for g in root_grads}
    wanted = captured = None
    if inputs is not None:
        wanted = {}
        for i, t in enumerate(inputs):
            node = t._node()
            if node is not None:
                wanted.setdefault(node, []).append(i)
        captured = [None] * len(inputs)

    pause_gc()
    state = modes  # this thread's modes: another thread's forward keeps recording meanwhile
    prev_mode, prev_autocast = state.grad_enabled, state.autocast
    # backward runs each op in its forward's dtypes (no autocast), as in PyTorch
    set_modes(bool(create_graph), None)
    backward_hooks = _hooks.backward_hooks  # tools watching gradients (anomaly detection)
    pre_hooks = _hooks.backward_pre_hooks  # tools timing each node (the profiler)
    pop = grads.pop
    leaf_grads = []  # (leaf, gradient): accumulated into .grad at the end, under one lock
    try:
        # each op's first input (the activation flowing in) finishes first in backward, so a
        # layer's parameters (later inputs: linear(input, weight), bias_act(out, bias)) get
        # their gradients right after the layer, before the layers under it: gradients complete
        # in reverse layer order, as in PyTorch, and data-parallel all-reduces hooked on them
        # overlap the rest of the backward
        order = topological_order(root_nodes, _parents, first_parent_first=True)
        for node in reversed(order):
            grad = pop(node, None)
            if grad is None:
                continue
            if isinstance(node, Tensor):  # a leaf (cheaper than reading ``_is_leaf_tensor``)
                if raw:
                    grad = Tensor._make(grad, node._backend, False)
                if node._hooks:
                    grad = _run_hooks(node._hooks, grad, handed_out)
                if wanted is None:
                    post_hooks = _post_accumulate_hooks and _post_accumulate_hooks.get(id(node))
                    if post_hooks and post_hooks[1]:  # accumulate now: the hooks use .grad
                        with _accumulate_lock:
                            _accumulate(node, grad, handed_out)
                        for hook in list(post_hooks[1].values()):
                            hook(node)
                    else:
                        leaf_grads.append((node, grad))
                else:
                    for i in wanted.get(node, ()):
                        captured[i] = grad
                continue
            # an op node
            if node.tensor_hooks or node.retained is not None or \
                    wanted is not None and node in wanted:
                grad = _show_op_grad(node, grad, raw, wanted, captured, handed_out)
            if node.released:
                raise RuntimeError(FREED_GRAPH_MESSAGE)
            # a saved tensor written in place since forward makes backward raise; the full check
            # runs only where a write is possible (an input with a version counter)
            if node._out_version is not None or node.saved_versions is not None:
                node.check_saved_versions()
            elif node.inputs is not None:
                for saved in node.inputs:
                    if getattr(saved, "_version_box", None) is not None:
                        node.check_saved_versions()
                        break
            if pre_hooks:
                shown = Tensor._make(grad, backend_of(node), False) if raw else grad
                for hook in pre_hooks:
                    hook(node, shown)
            if not raw:
                input_grads = node.backward(grad)
            else:
                on_arrays = node.backward_arrays  # read once: a lookup per node counts here
                input_grads = (backward_through_tensors(node, grad) if on_arrays is None else
                               on_arrays(grad))
            if backward_hooks:
                shown = _as_tensors(node, input_grads) if raw else input_grads
                for hook in backward_hooks:
                    hook(node, shown)
            if not retain_graph:
                node.release()
            if type(input_grads) is not tuple:
                input_grads = (input_grads,)
            if node.input_dtypes is not None:  # inputs of mixed float dtypes (f32 * f64 0-d)
                input_grads = (cast_arrays_to_input_dtypes(backend_of(node), input_grads,
                                                           node.input_dtypes) if raw else
                               cast_to_input_dtypes(input_grads, node.input_dtypes))
            for parent, parent_grad in zip(node.next_nodes, input_grads):
                if parent is None or parent_grad is None:
                    continue
                summed = grads.get(parent)
                if summed is None:
                    grads[parent] = parent_grad
                elif not raw:
                    grads[parent] = summed + parent_grad
                elif parent in owned and summed.shape == parent_grad.shape and \
                        summed.dtype == parent_grad.dtype:
                    backend_of(parent).binary("add", summed, parent_grad, None, summed)
                else:  # a fresh buffer, which later gradients are added into in place
                    grads[parent] = _sum(backend_of(parent), summed, parent_grad)
                    if hasattr(summed, "shape"):
                        owned.add(parent)
        if leaf_grads:
            _accumulate_lock.acquire()  # threads may backpropagate into shared leaves at once
            try:
                for leaf, grad in leaf_grads:
                    _accumulate(leaf, grad, handed_out)
            finally:
                _accumulate_lock.release()
    finally:
        set_modes(prev_mode, prev_autocast)
        resume_gc()

    if wanted is None:
        return None
    for i, g in enumerate(captured):
        if g is None and not allow_unused:
            raise RuntimeError(
                f"One of the differentiated Tensors (input {i}) appears to not have been used in "
                f"the graph. Set allow_unused=True if this is the desired behavior."
            )
    return captured


def _show_op_grad(node, grad, raw, wanted, captured, handed_out):
    """Run an op node's tensor hooks on its output's gradient, capture it for ``gg.grad`` or
    store it as a retained ``.grad``; returns the gradient backward goes on with (a hook may
    replace it), an array again on the raw path."""
    if raw:
        grad = Tensor._make(grad, backend_of(node), False)
    if node.tensor_hooks:
        grad = _run_hooks(node.tensor_hooks, grad, handed_out)
    if wanted is not None:
        for i in wanted.get(node, ()):
            captured[i] = grad
    elif node.retained is not None:
        retained = node.retained()
        if retained is not None:
            if retained.grad is None:
                retained.grad = _adopt(grad, handed_out)
            else:
                retained.grad = retained.grad + grad
    return grad._data if raw else grad


def backend_of(node):
    """The backend of a graph node's output (a leaf tensor's own). A node that selects one
    output of another (a custom function's) has the backend of the node it selects from."""
    if isinstance(node, Tensor):  # a leaf
        return node._backend
    backend = getattr(node, "backend", None)
    return backend_of(node.next_nodes[0]) if backend is None else backend


def _sum(backend, a, b):
    """``a + b`` as a new array (in PyTorch's promoted dtype when the dtypes differ); other
    gradient objects (a custom function's per-output gradients) add with ``+``."""
    if not hasattr(a, "shape"):
        return a + b
    dtype = None
    if a.dtype != b.dtype:
        dtype = _dtypes.binary_result_type(backend.dtype(a), 2 if a.ndim else 1,
                                           backend.dtype(b), 2 if b.ndim else 1)
    return backend.binary("add", a, b, dtype)


def backward_through_tensors(node, grad):
    """``node.backward`` on the array ``grad`` (wrapped in a Tensor), its gradients back as
    arrays: how the raw path runs an op without ``backward_arrays`` (the engine has turned
    grad mode off, so the Tensor ops record nothing). Other gradient objects pass unchanged."""
    if hasattr(grad, "shape"):
        grad = Tensor._make(grad, backend_of(node), False)
    result = node.backward(grad)
    if type(result) is not tuple:
        return result._data if isinstance(result, Tensor) else result
    return tuple(g._data if isinstance(g, Tensor) else g for g in result)


def _as_tensors(node, input_grads):
    """The raw path's gradients as Tensors, for hooks that watch every op's backward."""
    grads = input_grads if type(input_grads) is tuple else (input_grads,)
    shown = tuple(g if g is None or not hasattr(g, "shape") else
                  Tensor._make(g, backend_of(node if p is None else p), False)
                  for g, p in zip(grads, node.next_nodes + (None,) * len(grads)))
    return shown if type(input_grads) is tuple else shown[0]


def cast_to_input_dtypes(grads, dtypes):
    """Each gradient in its input's dtype, as PyTorch's engine casts them: an op computing in a
    promoted dtype returns gradients in that dtype."""
    return tuple(g if g is None or d is None or g.dtype is d else g.to(d)
                 for g, d in zip(grads, dtypes))


def cast_arrays_to_input_dtypes(backend, grads, dtypes):
    """``cast_to_input_dtypes`` for the raw path's arrays."""
    return tuple(g if g is None or d is None or backend.dtype(g) is d else backend.cast(g, d)
                 for g, d in zip(grads, dtypes))


def _accumulate(leaf, grad, handed_out):
    """Add ``grad`` into ``leaf.grad`` (the caller holds ``_accumulate_lock``)."""
    if leaf.grad is None:
        leaf.grad = _adopt(grad, handed_out)
    else:
        leaf.grad = leaf.grad + grad


def _adopt(grad, handed_out):
    """``grad`` to store as a ``.grad``: the array itself when nothing else can see it (as
    PyTorch steals the incoming gradient), else a copy. Backward may pass one array to several
    tensors, or a view (a broadcast, a transpose), and users update ``.grad`` in place."""
    if id(grad._data) in handed_out or not grad._backend.owns_memory(grad._data):
        grad = grad.clone()
    handed_out.add(id(grad._data))
    return grad


def _run_hooks(hooks, grad, handed_out):
    for hook in list(hooks.values()):
        handed_out.add(id(grad._data))  # a hook may keep the gradient it is shown (logging)
        result = hook(grad)
        if result is not None:
            grad = result
            handed_out.add(id(grad._data))  # the hook's caller may keep that tensor
    return grad
