"""``gradcheck`` and ``gradgradcheck``: compare backward against finite differences.

Same meaning and defaults as ``torch.autograd.gradcheck``: for every differentiable output
``o`` and every input ``i`` that requires grad, the numerical Jacobian (central differences with
step ``eps``, in the input's dtype, accumulated in float64) must match the analytical one (one
vector-Jacobian product per output element) entrywise within ``atol + rtol * |numerical|``.
Use float64 inputs: float32 round-off swamps a step of 1e-6.

This module is a testing tool, not part of the engine, so it may read values through NumPy.
"""
import warnings

import numpy as np

from . import engine as autograd
from . import dtypes
from .creation import tensor as _tensor
from .tensor import Tensor


class GradcheckError(RuntimeError):
    """Raised by ``gradcheck``/``gradgradcheck`` when analytical and numerical gradients differ."""


def _as_tuple(x):
    return tuple(x) if isinstance(x, (list, tuple)) else (x,)


def _is_float_tensor(x):
    return isinstance(x, Tensor) and x.dtype.is_floating_point


def _differentiable_outputs(outputs):
    return [k for k, o in enumerate(outputs) if _is_float_tensor(o)]


def _host(t):
    return np.asarray(t.detach().numpy(), dtype=np.float64)


def numerical_jacobians(fn, inputs, eps=1e-6):
    """``{(output index, input index): J}`` by central differences; ``J[r, c]`` is
    d output[r] / d input[c] over flattened elements. Inputs that require grad are perturbed."""
    inputs = _as_tuple(inputs)
    wanted = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    jacobians = {}
    # Perturbed inputs keep requires_grad, so an fn that itself differentiates (as
    # gradgradcheck's does) still works; its graph is simply discarded.
    for i in wanted:
        x = inputs[i]
        base = x.detach().numpy().copy()
        flat = base.reshape(-1)
        columns = []
        outputs = None
        for c in range(flat.size):
            original = flat[c]
            values = []
            for step in (eps, -eps):
                flat[c] = original + step
                args = list(inputs)
                args[i] = _tensor(base, dtype=x.dtype, device=x.device, requires_grad=True)
                values.append(_as_tuple(fn(*args)))
            flat[c] = original
            outputs = values[0]
            columns.append([(_host(p) - _host(m)).reshape(-1) / (2 * eps)
                            if _is_float_tensor(p) else None
                            for p, m in zip(*values)])
        if outputs is None:
            outputs = _as_tuple(fn(*inputs))
        for k in _differentiable_outputs(outputs):
            J = np.zeros((outputs[k].numel(), flat.size))
            for c, col in enumerate(columns):
                J[:, c] = col[k]
            jacobians[(k, i)] = J
    return jacobians


def analytical_jacobians(fn, inputs):
    """``{(output index, input index): J}`` from backward: one ``gg.grad`` call per output
    element with a one-hot ``grad_outputs``. Raises GradcheckError on a gradient of wrong shape."""
    inputs = _as_tuple(inputs)
    wanted = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    diff_inputs = [inputs[i] for i in wanted]
    with autograd.enable_grad():
        outputs = _as_tuple(fn(*inputs))
    jacobians = {}
    for k in _differentiable_outputs(outputs):
        out = outputs[k]
        n_out = out.numel()
        blocks = {i: np.zeros((n_out, inputs[i].numel())) for i in wanted}
        if out.requires_grad and diff_inputs:
            for r in range(n_out):
                onehot = np.zeros(n_out)
                onehot[r] = 1.0
                seed = _tensor(onehot.reshape(out.shape), dtype=out.dtype, device=out.device)
                grads = autograd.grad([out], diff_inputs, [seed], retain_graph=True,
                                      allow_unused=True)
                for i, g in zip(wanted, grads):
                    if g is None:
                        continue
                    if tuple(g.shape) != tuple(inputs[i].shape):
                        raise GradcheckError(
                            f"gradient of output {k} with respect to input {i} has shape "
                            f"{tuple(g.shape)}, but the input has shape {tuple(inputs[i].shape)}"
                        )
                    blocks[i][r] = _host(g).reshape(-1)
        for i in wanted:
            jacobians[(k, i)] = blocks[i]
    return jacobians


def _worst_mismatch(numerical, analytical, atol, rtol):
    """The failing entry with the largest excess over the tolerance, or None if all pass."""
    worst = None
    for key in sorted(numerical):
        n, a = numerical[key], analytical[key]
        excess = np.abs(a - n) - (atol + rtol * np.abs(n))
        bad = np.isnan(excess) | (np.isnan(a) != np.isnan(n))
        excess = np.where(bad, np.inf, excess)
        if excess.size and excess.max() > 0:
            r, c = np.unravel_index(int(np.argmax(excess)), excess.shape)
            if worst is None or excess[r, c] > worst[0]:
                worst = (excess[r, c], key, r, c, n[r, c], a[r, c])
    return worst


def _mismatch_message(worst, atol, rtol, numerical, analytical, label):
    _, (k, i), r, c, n, a = worst
    text = (
        f"{label}: Jacobian mismatch for output {k} with respect to input {i}. Worst entry: "
        f"d output[{r}] / d input[{c}] is {float(n)!r} numerically but {float(a)!r} analytically "
        f"(|difference| {abs(a - n):.3g} > atol + rtol * |numerical| = "
        f"{atol + rtol * abs(n):.3g}, atol={atol}, rtol={rtol})."
    )
    J_n, J_a = numerical[(k, i)], analytical[(k, i)]
    if J_n.size <= 64:
        text += f"\nnumerical:\n{J_n}\nanalytical:\n{J_a}"
    return text


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True,
              _label="gradcheck"):
    """Check ``fn``'s backward against finite differences, as ``torch.autograd.gradcheck``.

    ``fn(*inputs)`` returns a Tensor or a tuple of Tensors; inputs that require grad are
    checked (others, and non-Tensor arguments, pass through). Returns True when every entry of
    every Jacobian satisfies ``|analytical - numerical| <= atol + rtol * |numerical|``; otherwise
    raises ``GradcheckError`` naming the worst entry (or returns False when
    ``raise_exception=False``).
    """
    inputs = _as_tuple(inputs)
    wanted = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not wanted:
        raise ValueError(f"{_label}: no input requires grad; pass tensors with "
                         f"requires_grad=True")
    for i in wanted:
        if inputs[i].dtype is not dtypes.float64:
            warnings.warn(f"{_label}: input {i} requires grad and is {inputs[i].dtype}, not "
                          f"float64; the check is only reliable in double precision",
                          stacklevel=2)
    try:
        analytical = analytical_jacobians(fn, inputs)
    except GradcheckError as exc:
        if raise_exception:
            raise GradcheckError(f"{_label}: {exc}") from None
        return False
    numerical = numerical_jacobians(fn, inputs, eps)
    worst = _worst_mismatch(numerical, analytical, atol, rtol)
    if worst is None:
        return True
    if raise_exception:
        raise GradcheckError(_mismatch_message(worst, atol, rtol, numerical, analytical, _label))
    return False


def gradgradcheck(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3,
                  raise_exception=True, seed=0):
    """Check second derivatives, as ``torch.autograd.gradgradcheck``.

    Runs ``gradcheck`` on the map ``(inputs, grad_outputs) -> gg.grad(fn(inputs), inputs,
    grad_outputs, create_graph=True)``. ``grad_outputs`` defaults to random float64 tensors
    (drawn from ``seed``) that require grad, one per differentiable output.
    """
    inputs = _as_tuple(inputs)
    wanted = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    with autograd.enable_grad():
        outputs = _as_tuple(fn(*inputs))
    kept = [k for k in _differentiable_outputs(outputs) if outputs[k].requires_grad]
    if grad_outputs is None:
        rng = np.random.default_rng(seed)
        grad_outputs = tuple(
            _tensor(rng.standard_normal(outputs[k].shape), dtype=outputs[k].dtype,
                    device=outputs[k].device, requires_grad=True)
            for k in kept
        )
    grad_outputs = _as_tuple(grad_outputs)
    if len(grad_outputs) != len(kept):
        raise ValueError(f"gradgradcheck: got {len(grad_outputs)} grad_outputs for "
                         f"{len(kept)} differentiable outputs")
    n = len(inputs)

    def first_derivatives(*args):
        ins, seeds = args[:n], args[n:]
        outs = _as_tuple(fn(*ins))
        grads = autograd.grad([outs[k] for k in kept], [ins[i] for i in wanted], list(seeds),
                              create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(first_derivatives, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception, _label="gradgradcheck")


__all__ = ["gradcheck", "gradgradcheck", "GradcheckError", "numerical_jacobians",
           "analytical_jacobians"]
