"""``gg.autograd``: PyTorch's ``torch.autograd`` names in one place.

The engine itself lives in ``gpugrad.engine`` (graph, grad modes, hooks); custom functions in
``gpugrad.custom_function``; anomaly detection and the gradient checks are tools above it. This
package gathers their public names, as ``torch.autograd`` does::

    gg.autograd.grad(y, [x], create_graph=True)
    gg.autograd.functional.jacobian(f, x)
    with gg.autograd.detect_anomaly(): loss.backward()
    class Exp(gg.autograd.Function):          # static forward(ctx, ...) / backward(ctx, ...)
        ...

``gg.autograd.Function`` takes PyTorch's form (static methods with a ``ctx``); see its
docstring. Submodules: ``functional`` (``jacobian``, ``hessian``, ``vjp``, ``jvp``, ``hvp``,
``vhp``) and ``function`` (``Function``, ``FunctionCtx``, ``once_differentiable``).

gpugrad's own addition: ``set_full_collection_deferral(enabled)`` (on by default) lets Python's
full garbage collections wait while ops are recorded, since they would only walk the graph,
which holds no reference cycles; young collections still run (see ``gpugrad/engine/gc_pause.py``).
"""
from ..anomaly import (AnomalyError, detect_anomaly, is_anomaly_check_nan_enabled,
                       is_anomaly_enabled, set_detect_anomaly)
from ..custom_function import Function
from ..engine import (backward, enable_grad, grad, inference_mode,
                      is_full_collection_deferral_enabled, is_grad_enabled, no_grad,
                      set_full_collection_deferral, set_grad_enabled, topological_order)
from ..gradient_check import GradcheckError, gradcheck, gradgradcheck
from . import function, functional

__all__ = ["AnomalyError", "detect_anomaly", "is_anomaly_check_nan_enabled",
           "is_anomaly_enabled", "set_detect_anomaly", "Function", "backward", "enable_grad",
           "grad", "inference_mode", "is_grad_enabled", "no_grad", "set_grad_enabled",
           "topological_order", "set_full_collection_deferral",
           "is_full_collection_deferral_enabled", "GradcheckError", "gradcheck", "gradgradcheck",
           "function", "functional"]
