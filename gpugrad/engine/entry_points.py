"""``gg.grad`` and ``gg.autograd.backward``: the checks and defaults in front of
``graph.run_backward``."""
from .graph import run_backward


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=None, materialize_grads=False):
    """Gradients of ``outputs`` with respect to ``inputs``, as ``torch.autograd.grad``.

    ``outputs`` and ``inputs`` are tensors or sequences of tensors; ``grad_outputs`` gives the
    vector of the vector-Jacobian product (needed for non-scalar outputs). Returns a tuple with
    one gradient per input (``None`` for unused inputs when ``allow_unused=True``, zeros of the
    input's shape with ``materialize_grads=True``, which implies it). ``.grad`` attributes are
    left untouched. ``retain_graph`` defaults to ``create_graph``.
    """
    if materialize_grads and allow_unused is False:
        raise ValueError("Expected allow_unused to be True or not passed when "
                         "materialize_grads=True, but got: allow_unused=False.")
    allow_unused = bool(allow_unused or materialize_grads)
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
    grads = run_backward(outputs, root_grads, retain_graph, create_graph, inputs, allow_unused)
    if materialize_grads:
        grads = [x._zeros_like() if g is None else g for g, x in zip(grads, inputs)]
    return tuple(grads)


def default_root_grad(output, grad):
    if grad is not None:
        if tuple(grad.shape) != tuple(output.shape):
            raise RuntimeError(
                f"Mismatch in shape: grad_output has shape {tuple(grad.shape)} and output has "
                f"shape {tuple(output.shape)}"
            )
        # as PyTorch, a gradient of another dtype is cast to the output's (an integer one
        # would otherwise flow through as integers, a float32 one round a float64 graph)
        return grad if grad.dtype is output.dtype else grad.to(output.dtype)
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
