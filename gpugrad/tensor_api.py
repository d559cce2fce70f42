"""How an op becomes both a ``Tensor`` method and a ``gg.`` function, from one definition.

``tensor_method("relu")`` binds a function onto ``Tensor`` as ``x.relu()`` and records it in
``FUNCTIONS``, which ``import gpugrad`` publishes as ``gg.relu(x)``: PyTorch's pair
``x.relu()``/``torch.relu(x)`` is one function here, so the two cannot disagree. Only names
PyTorch also has as ``torch.<name>`` become functions: dunders, in-place methods (``add_``)
and methods marked ``function=False`` (``view``, which PyTorch has only as a method) stay
methods. ``tests/test_tensor_api.py`` holds the list to PyTorch's namespace.
"""
from typing import Any, Callable

from .engine import is_grad_enabled
from .tensor import Tensor

# name -> the function that is both ``Tensor.<name>`` and ``gg.<name>``
FUNCTIONS: dict[str, Callable[..., Any]] = {}
# every function bound by ``tensor_method`` (the type stubs say these return a Tensor unless
# annotated otherwise)
METHODS: set[Callable[..., Any]] = set()


def tensor_method(name, doc=None, *, function=True):
    """Decorator: bind ``fn`` onto ``Tensor`` as method ``name`` (``doc``, if given, becomes its
    docstring) and, unless ``function=False`` or ``name`` is private, a dunder or in-place,
    record it as the function ``gg.<name>`` (called with the tensor first)."""
    def bind(fn):
        fn.__name__ = name
        fn.__qualname__ = f"Tensor.{name}"
        if doc is not None:
            fn.__doc__ = doc
        setattr(Tensor, name, fn)
        METHODS.add(fn)
        if function and not name.startswith("_") and not name.endswith("_"):
            FUNCTIONS[name] = fn
        return fn

    return bind


def tensor_argument(value, function, argument="other", position=1):
    """``value`` itself if it is a Tensor, else PyTorch's TypeError naming the ``argument`` of
    ``function`` (and its ``position``, unless None)."""
    if not isinstance(value, Tensor):
        where = "" if position is None else f" (position {position})"
        raise TypeError(f"{function}(): argument '{argument}'{where} must be Tensor, not "
                        f"{type(value).__name__}")
    return value


def write_out(result, out):
    """``result`` written into ``out`` (PyTorch's ``out=`` argument of a function), or
    ``result`` itself when ``out`` is None."""
    if out is None:
        return result
    tensor_argument(out, "out=", "out", None)
    if is_grad_enabled() and (result.requires_grad or out.requires_grad):
        raise RuntimeError("functions with out=... arguments don't support automatic "
                           "differentiation, but one of the arguments requires grad; call the "
                           "function without out= (or inside gg.no_grad())")
    if out.shape != result.shape:
        raise RuntimeError(f"out= tensor has shape {list(out.shape)} but the result has shape "
                           f"{list(result.shape)}; gpugrad does not resize out tensors: pass "
                           f"one of the result's shape")
    if out.dtype is not result.dtype and not (out.dtype.is_floating_point or
                                              not result.dtype.is_floating_point):
        raise RuntimeError(f"result type {result.dtype} can't be cast to the desired output "
                           f"type {out.dtype}")
    return out.copy_(result)
