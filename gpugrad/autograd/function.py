"""``gg.autograd.function``: the names of ``torch.autograd.function`` (custom functions).

They are defined in ``gpugrad.custom_function``; see ``gg.autograd.Function``."""
from ..custom_function import BackwardCFunction, Function, FunctionCtx, once_differentiable

__all__ = ["BackwardCFunction", "Function", "FunctionCtx", "once_differentiable"]
