"""The autograd engine: the graph of ops, its backward traversal, grad modes and hooks.

It knows nothing about devices or arrays, and imports nothing above it: ``Function.apply``
builds tensors of the type the tensor layer binds (``function.bind_tensor_type``), and tools
watch ops through ``hooks``. The public face of all this is ``gg.autograd``.
"""
from .function import (AccumulateGrad, Function, bind_tensor_type, devices_differ_error,
                       modified_error)
from .grad_mode import (enable_grad, inference_mode, is_grad_enabled, modes, no_grad,
                        set_grad_enabled)
from .entry_points import backward, default_root_grad, grad
from .gc_pause import (gc_paused, is_full_collection_deferral_enabled, pause_gc, resume_gc,
                       set_full_collection_deferral)
from .graph import FREED_GRAPH_MESSAGE, cast_to_input_dtypes, run_backward
from .topology import topological_order
from .hooks import RemovableHandle, register_backward_hook, register_forward_hook

__all__ = ["AccumulateGrad", "Function", "bind_tensor_type", "devices_differ_error",
           "modified_error", "enable_grad",
           "inference_mode", "is_grad_enabled", "modes", "no_grad", "set_grad_enabled",
           "FREED_GRAPH_MESSAGE", "backward", "cast_to_input_dtypes", "default_root_grad",
           "gc_paused", "grad", "is_full_collection_deferral_enabled", "pause_gc", "resume_gc",
           "set_full_collection_deferral", "run_backward", "topological_order",
           "RemovableHandle", "register_backward_hook", "register_forward_hook"]
