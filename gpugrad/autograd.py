"""``gg.autograd``: PyTorch's ``torch.autograd`` names in one place.

The engine itself lives in ``gpugrad.engine`` (graph, ``Function``, grad modes, hooks); anomaly
detection and the gradient checks are tools above it. This module only gathers their public
names, as ``torch.autograd`` does::

    gg.autograd.grad(y, [x], create_graph=True)
    with gg.autograd.detect_anomaly(): loss.backward()
    class Cube(gg.autograd.Function): ...
"""
from .anomaly import (AnomalyError, detect_anomaly, is_anomaly_check_nan_enabled,
                      is_anomaly_enabled, set_detect_anomaly)
from .engine import (Function, backward, enable_grad, grad, inference_mode, is_grad_enabled,
                     no_grad, set_grad_enabled, topological_order)
from .gradcheck import GradcheckError, gradcheck, gradgradcheck

__all__ = ["AnomalyError", "detect_anomaly", "is_anomaly_check_nan_enabled",
           "is_anomaly_enabled", "set_detect_anomaly", "Function", "backward", "enable_grad",
           "grad", "inference_mode", "is_grad_enabled", "no_grad", "set_grad_enabled",
           "topological_order", "GradcheckError", "gradcheck", "gradgradcheck"]
