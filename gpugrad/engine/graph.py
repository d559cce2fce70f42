"""The autograd engine. It knows nothing about devices or arrays.

Graph nodes are op instances (``Function`` objects, each the ``grad_fn`` of the tensor it
produced) and leaf tensors that require grad. ``backward`` walks them in reverse topological
order, calls each op's ``backward`` (written with Tensor ops, so ``create_graph=True`` records
a graph of the backward pass and gives higher derivatives), and sums the gradients that meet.
"""
import gc as _gc
import operator
import threading
import weakref

from . import hooks as _hooks
from .grad_mode import modes


class gc_paused:
    """Suspend the cyclic garbage collector for a block (a no-op if it is already off).

    The engine allocates a few objects per graph node while the whole graph is alive; every
    full collection triggered then walks the entire graph, which made backward through a
    million nodes several times slower. Graph objects form no cycles, so reference counting
    frees them anyway. The collector is process-wide, so blocks in several threads are counted:
    the first to enter turns it off, the last to leave turns it back on if it was on.
    """

    __slots__ = ()

    def __enter__(self):
        pause_gc()
        return self

    def __exit__(self, *exc):
        resume_gc()
        return False


_gc_pauses = [0, False]  # [blocks running, whether the collector was on before the first]
_gc_lock = threading.Lock()


def pause_gc():
    """Enter a ``gc_paused`` block (``resume_gc`` leaves it)."""
    _gc_lock.acquire()
    if not _gc_pauses[0]:
        _gc_pauses[1] = _gc.isenabled()
        _gc.disable()
    _gc_pauses[0] += 1
    _gc_lock.release()


def resume_gc():
    """Leave a ``gc_paused`` block."""
    _gc_lock.acquire()
    _gc_pauses[0] -= 1
    if not _gc_pauses[0] and _gc_pauses[1]:
        _gc.enable()
    _gc_lock.release()


def topological_order(roots, parents_of, first_parent_first=False):
    """Nodes reachable from ``roots``, each after all of its parents (inputs first).

    Iterative depth-first search, so graphs of any depth work without recursion. ``parents_of``
    maps a node to a sequence of parent nodes (``None`` entries are skipped). Shared by the
    tensor engine and the scalar ``Value``. ``first_parent_first``: of a node's parents, the
    first is placed (with everything above it) last, so a reversed order finishes it first.
    """
    # Depth-first with an explicit stack of (node, expanded) pairs: a node is emitted when its
    # "expanded" entry comes back to the top, i.e. after everything pushed above it (its
    # parents). Nodes go in the set themselves (hashed by identity: no op or Value defines
    # __eq__ for hashing, and Tensor keeps object.__hash__), which is faster than keying by id().
    order = []
    visited = set()
    mark, emit = visited.add, order.append
    stack = [(root, False) for root in reversed(list(roots))]
    push, pop = stack.append, stack.pop
    while stack:
        node, expanded = pop()
        if expanded:
            emit(node)
            continue
        if node in visited:  # reached again through another path before it was popped
            continue
        mark(node)
        push((node, True))
        for parent in reversed(parents_of(node)) if first_parent_first else parents_of(node):
            if parent is not None and parent not in visited:
                push((parent, False))
    return order


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
    grads = {}  # node -> gradient summed so far (nodes hash by identity)
    root_nodes = []
    for i, (tensor, grad) in enumerate(zip(roots, root_grads)):
        node = tensor._node()
        if node is None:
            raise RuntimeError(
                f"element {i} of tensors does not require grad and does not have a grad_fn; "
                f"make the inputs require grad (requires_grad=True) before computing it"
            )
        grads[node] = grads[node] + grad if node in grads else grad
        root_nodes.append(node)

    # ids of arrays already visible to the user (root gradients, .grad set in this pass)
    handed_out = {id(g._data) for g in root_grads}
    wanted = None
    if inputs is not None:
        wanted = {}
        for i, t in enumerate(inputs):
            node = t._node()
            if node is not None:
                wanted.setdefault(node, []).append(i)
        captured = [None] * len(inputs)

    pause_gc()
    state = modes  # this thread's modes: another thread's forward keeps recording meanwhile
    prev_mode = state.grad_enabled
    state.grad_enabled = bool(create_graph)
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
            if node._is_leaf_tensor:
                if node._hooks:
                    grad = _run_hooks(node._hooks, grad, handed_out)
                if wanted is None:
                    post_hooks = _post_accumulate_hooks and _post_accumulate_hooks.get(id(node))
                    if post_hooks and post_hooks[1]:  # accumulate now: the hooks use .grad
                        with _accumulate_lock:
                            _accumulate(node, grad, create_graph, handed_out)
                        for hook in list(post_hooks[1].values()):
                            hook(node)
                    else:
                        leaf_grads.append((node, grad))
                else:
                    for i in wanted.get(node, ()):
                        captured[i] = grad
                continue
            # an op node
            if node.tensor_hooks:
                grad = _run_hooks(node.tensor_hooks, grad, handed_out)
            if wanted is not None:
                for i in wanted.get(node, ()):
                    captured[i] = grad
            elif node.retained is not None:
                retained = node.retained()
                if retained is not None:
                    if retained.grad is None:
                        retained.grad = grad if create_graph else _adopt(grad, handed_out)
                    else:
                        retained.grad = retained.grad + grad
            if node.released:
                raise RuntimeError(FREED_GRAPH_MESSAGE)
            if node.inputs is not None or node._out_version is not None:
                node.check_saved_versions()
            if pre_hooks:
                for hook in pre_hooks:
                    hook(node, grad)
            input_grads = node.backward(grad)
            if backward_hooks:
                for hook in backward_hooks:
                    hook(node, input_grads)
            if not retain_graph:
                node.release()
            if type(input_grads) is not tuple:
                input_grads = (input_grads,)
            if node.input_dtypes is not None:  # inputs of mixed float dtypes (f32 * f64 0-d)
                input_grads = cast_to_input_dtypes(input_grads, node.input_dtypes)
            for parent, parent_grad in zip(node.next_nodes, input_grads):
                if parent is not None and parent_grad is not None:
                    if parent in grads:
                        grads[parent] = grads[parent] + parent_grad
                    else:
                        grads[parent] = parent_grad
        if leaf_grads:
            _accumulate_lock.acquire()  # threads may backpropagate into shared leaves at once
            try:
                for leaf, grad in leaf_grads:
                    _accumulate(leaf, grad, create_graph, handed_out)
            finally:
                _accumulate_lock.release()
    finally:
        state.grad_enabled = prev_mode
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


def cast_to_input_dtypes(grads, dtypes):
    """Each gradient in its input's dtype, as PyTorch's engine casts them: an op computing in a
    promoted dtype returns gradients in that dtype."""
    return tuple(g if g is None or d is None or g.dtype is d else g.to(d)
                 for g, d in zip(grads, dtypes))


def _accumulate(leaf, grad, create_graph, handed_out):
    """Add ``grad`` into ``leaf.grad`` (the caller holds ``_accumulate_lock``)."""
    if leaf.grad is None:
        leaf.grad = grad if create_graph else _adopt(grad, handed_out)
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


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False):
    """Gradients of ``outputs`` with respect to ``inputs``, as ``torch.autograd.grad``.

    ``outputs`` and ``inputs`` are tensors or sequences of tensors; ``grad_outputs`` gives the
    vector of the vector-Jacobian product (needed for non-scalar outputs). Returns a tuple with
    one gradient per input (``None`` for unused inputs when ``allow_unused=True``). ``.grad``
    attributes are left untouched. ``retain_graph`` defaults to ``create_graph``.
    """
    single_output = not isinstance(outputs, (list, tuple))
    outputs = [outputs] if single_output else list(outputs)
    inputs = [inputs] if not isinstance(inputs, (list, tuple)) else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif not isinstance(grad_outputs, (list, tuple)):
        grad_outputs = [grad_outputs]
    if len(grad_outputs) != len(outputs):
        raise ValueError(
            f"grad_outputs has {len(grad_outputs)} entries but there are {len(outputs)} outputs"
        )
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"input {i} of gg.grad does not require grad")
    root_grads = [default_root_grad(o, g) for o, g in zip(outputs, grad_outputs)]
    if retain_graph is None:
        retain_graph = create_graph
    return tuple(run_backward(outputs, root_grads, retain_graph, create_graph, inputs,
                              allow_unused))


def default_root_grad(output, grad):
    if grad is not None:
        if tuple(grad.shape) != tuple(output.shape):
            raise RuntimeError(
                f"Mismatch in shape: grad_output has shape {tuple(grad.shape)} and output has "
                f"shape {tuple(output.shape)}"
            )
        return grad
    if output.numel() != 1:
        raise RuntimeError(
            f"grad can be implicitly created only for scalar outputs, but the output has shape "
            f"{tuple(output.shape)}; pass gradient= (a tensor of that shape) or reduce it first, "
            f"e.g. with .sum()"
        )
    return output._ones_like()


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False):
    """``gg.autograd.backward``: accumulate gradients of ``tensors`` into the leaves' ``.grad``."""
    tensors = [tensors] if not isinstance(tensors, (list, tuple)) else list(tensors)
    if grad_tensors is None:
        grad_tensors = [None] * len(tensors)
    elif not isinstance(grad_tensors, (list, tuple)):
        grad_tensors = [grad_tensors]
    if retain_graph is None:
        retain_graph = create_graph
    root_grads = [default_root_grad(t, g) for t, g in zip(tensors, grad_tensors)]
    run_backward(tensors, root_grads, retain_graph, create_graph)
