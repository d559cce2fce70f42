"""``gg.autograd.functional``: derivatives of whole functions, as ``torch.autograd.functional``.

``jacobian``, ``hessian``, ``vjp``, ``jvp``, ``hvp`` and ``vhp`` take ``func`` (tensors in,
a tensor or a tuple of tensors out) and ``inputs`` (a tensor or a tuple of tensors), and
return results shaped as PyTorch's: a bare tensor where ``inputs`` (or the output) was one, a
tuple where it was a tuple. All are built on reverse mode (``gg.autograd.grad``); ``jvp`` and
``hvp`` use the double-vjp trick (the vjp is linear in its vector, so differentiating it with
respect to that vector gives the jvp). ``create_graph=True`` keeps the results differentiable;
``strict=True`` raises where an output does not depend on an input instead of returning zeros.
"""
from ..creation import eye, zeros_like
from ..engine import enable_grad, grad
from ..tensor import Tensor
from ..tensor_shape_methods import stack


def _as_tuple(value, arg_name, fn_name):
    """``(tuple of tensors, whether value was a tuple)``, or PyTorch's TypeError."""
    is_tuple = isinstance(value, (tuple, list))
    values = tuple(value) if is_tuple else (value,)
    for i, v in enumerate(values):
        if not isinstance(v, Tensor):
            raise TypeError(f"The {arg_name} given to {fn_name} must be either a Tensor or a tuple "
                            f"of Tensors but the value at index {i} has type {type(v).__name__}.")
    return values, is_tuple


def _prepare(inputs, create_graph):
    """Inputs that require grad: the caller's own where their graph must be kept
    (``create_graph`` with inputs already in a graph), else detached copies of the leaves."""
    return tuple(x if create_graph and x.requires_grad else x.detach().requires_grad_(True)
                 for x in inputs)


def _finish(values, create_graph):
    return tuple(v if create_graph or v is None else v.detach() for v in values)


def _grads(outputs, inputs, grad_outputs, create_graph, strict, kind):
    """``d outputs / d inputs`` contracted with ``grad_outputs``; zeros (or, with ``strict``,
    an error) for inputs the outputs do not depend on."""
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o.requires_grad]
    if strict and len(pairs) != len(outputs):
        raise RuntimeError(f"The output of the user-provided function does not require "
                           f"gradients. The outputs must be computed in a differentiable "
                           f"manner from the input when running in strict mode ({kind}).")
    found = (grad([o for o, _ in pairs], list(inputs), [g for _, g in pairs],
                  retain_graph=True, create_graph=create_graph, allow_unused=True)
             if pairs else (None,) * len(inputs))
    out = []
    for i, (x, g) in enumerate(zip(inputs, found)):
        if g is None:
            if strict:
                raise RuntimeError(f"The output of the user-provided function is independent "
                                   f"of input {i}. This is not allowed in strict mode.")
            g = zeros_like(x)
        out.append(g)
    return tuple(out)


def _call(func, inputs, fn_name):
    with enable_grad():
        result = func(*inputs)
    outputs, is_tuple = _as_tuple(result, "outputs of the user-provided function", fn_name)
    return outputs, is_tuple


_RETURNS = "user-provided function returns"
_TAKES = "input to the user-provided function is"


def _vector(v, like, fn_name, what):
    """The vector ``v`` for the tensors ``like`` (ones where each holds one element); ``what``
    names them for the error when ``v`` is missing."""
    if v is None:
        if any(t.numel() != 1 for t in like):
            raise RuntimeError(f"The vector v can only be None if the {what} a single Tensor "
                               f"with a single element.")
        return tuple(t._ones_like() for t in like)
    vs, _ = _as_tuple(v, "v", fn_name)
    if len(vs) != len(like) or any(a.shape != b.shape for a, b in zip(vs, like)):
        raise RuntimeError(f"{fn_name}: v has shapes {[tuple(a.shape) for a in vs]} "
                           f"but they must match {[tuple(b.shape) for b in like]}")
    return vs


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), v^T J)``: the vector-Jacobian product at ``inputs``; ``v`` is shaped as
    the output (optional when it has one element)."""
    inputs, in_tuple = _as_tuple(inputs, "inputs", "vjp")
    inputs = _prepare(inputs, create_graph)
    outputs, out_tuple = _call(func, inputs, "vjp")
    vs = _vector(v, outputs, "vjp", _RETURNS)
    result = _finish(_grads(outputs, inputs, vs, create_graph, strict, "vjp"), create_graph)
    outputs = _finish(outputs, create_graph)
    return (outputs if out_tuple else outputs[0]), (result if in_tuple else result[0])


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), J v)``: the Jacobian-vector product at ``inputs``; ``v`` is shaped as
    the inputs (optional when the input has one element). Computed as the derivative of the
    vjp ``u -> u^T J`` with respect to ``u``."""
    inputs, in_tuple = _as_tuple(inputs, "inputs", "jvp")
    inputs = _prepare(inputs, create_graph)
    vs = _vector(v, inputs, "jvp", _TAKES)
    outputs, out_tuple = _call(func, inputs, "jvp")
    with enable_grad():
        us = tuple(zeros_like(o).requires_grad_(True) for o in outputs)
        vjps = _grads(outputs, inputs, us, True, strict, "jvp")
        pairs = [(g, w) for g, w in zip(vjps, vs) if g.requires_grad]
        found = (grad([g for g, _ in pairs], list(us), [w for _, w in pairs],
                      create_graph=create_graph, allow_unused=True)
                 if pairs else (None,) * len(us))
    result = _finish(tuple(zeros_like(o) if g is None else g for o, g in zip(outputs, found)),
                     create_graph)
    outputs = _finish(outputs, create_graph)
    return (outputs if out_tuple else outputs[0]), (result if out_tuple else result[0])


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False,
             strategy="reverse-mode"):
    """The Jacobian of ``func`` at ``inputs``: for output ``i`` and input ``j`` a tensor of
    shape ``outputs[i].shape + inputs[j].shape``, nested as PyTorch nests them (a bare tensor
    for one input and one output). One backward pass per output element; ``vectorize`` and
    ``strategy`` give the same numbers and are accepted for PyTorch's signature."""
    if strategy not in ("reverse-mode", "forward-mode"):
        raise ValueError('Expected strategy to be either "forward-mode" or "reverse-mode". '
                         f'Got {strategy}.')
    inputs, in_tuple = _as_tuple(inputs, "inputs", "jacobian")
    inputs = _prepare(inputs, create_graph)
    outputs, out_tuple = _call(func, inputs, "jacobian")
    rows = []
    for out in outputs:
        n = out.numel()
        basis = eye(n, dtype=out.dtype, device=out.device)
        per_input = [[] for _ in inputs]
        for k in range(n):
            grads = _grads((out,), inputs, (basis[k].reshape(out.shape),), create_graph, strict,
                           "jacobian")
            for j, g in enumerate(grads):
                per_input[j].append(g)
        blocks = []
        for x, gs in zip(inputs, per_input):
            block = stack(gs) if gs else zeros_like(x).reshape((0,) + tuple(x.shape))
            blocks.append(block.reshape(tuple(out.shape) + tuple(x.shape)))
        blocks = _finish(blocks, create_graph)
        rows.append(blocks if in_tuple else blocks[0])
    return tuple(rows) if out_tuple else rows[0]


def _scalar_output(func, fn_name):
    """``func`` checked to return one tensor of one element, as PyTorch's hessian, hvp, vhp."""

    def wrapped(*inputs):
        out = func(*inputs)
        if isinstance(out, (tuple, list)) or not isinstance(out, Tensor):
            raise RuntimeError(f"The function given to {fn_name} should return a single Tensor")
        if out.numel() != 1:
            raise RuntimeError(f"The Tensor returned by the function given to {fn_name} should "
                               f"contain a single element")
        return out

    return wrapped


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False,
            outer_jacobian_strategy="reverse-mode"):
    """The Hessian of a scalar ``func`` at ``inputs``: the Jacobian of its gradient (for
    several inputs a tuple of tuples, block ``[i][j]`` of shape ``inputs[i].shape +
    inputs[j].shape``)."""
    tensors, in_tuple = _as_tuple(inputs, "inputs", "hessian")
    scalar = _scalar_output(func, "hessian")

    def gradient(*xs):
        out = scalar(*xs).reshape(())
        g = _grads((out,), xs, (out._ones_like(),), True, strict, "hessian")
        return g if in_tuple else g[0]

    return jacobian(gradient, tensors if in_tuple else tensors[0], create_graph, strict,
                    vectorize, outer_jacobian_strategy)


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), v^T H)`` for a scalar ``func``: one double backward."""
    tensors, in_tuple = _as_tuple(inputs, "inputs", "vhp")
    tensors = _prepare(tensors, create_graph)
    vs = _vector(v, tensors, "vhp", _TAKES)
    with enable_grad():
        out = _scalar_output(func, "vhp")(*tensors)
        g = _grads((out,), tensors, (out._ones_like(),), True, strict, "vhp")
        result = _finish(_grads(g, tensors, vs, create_graph, strict, "vhp"), create_graph)
    out = out if create_graph else out.detach()
    return out, (result if in_tuple else result[0])


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), H v)`` for a scalar ``func``: the jvp of its gradient."""
    tensors, in_tuple = _as_tuple(inputs, "inputs", "hvp")
    scalar = _scalar_output(func, "hvp")
    with enable_grad():
        out = scalar(*_prepare(tensors, create_graph))

    def gradient(*xs):
        y = scalar(*xs)
        g = _grads((y,), xs, (y._ones_like(),), True, strict, "hvp")
        return g if in_tuple else g[0]

    _, result = jvp(gradient, tensors if in_tuple else tensors[0], v, create_graph, strict)
    return (out if create_graph else out.detach()), result


__all__ = ["jacobian", "hessian", "vjp", "jvp", "hvp", "vhp"]
