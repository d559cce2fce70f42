"""How an op becomes both a ``Tensor`` method and a ``gg.`` function, from one definition.

``tensor_method("relu")`` binds a function onto ``Tensor`` as ``x.relu()`` and records it in
``FUNCTIONS``, which ``import gpugrad`` publishes as ``gg.relu(x)``: PyTorch's pair
``x.relu()``/``torch.relu(x)`` is one function here, so the two cannot disagree. Only names
PyTorch also has as ``torch.<name>`` become functions: dunders, in-place methods (``add_``)
and methods marked ``function=False`` (``view``, which PyTorch has only as a method) stay
methods. ``tests/test_tensor_api.py`` holds the list to PyTorch's namespace.
"""
from .tensor import Tensor

# name -> the function that is both ``Tensor.<name>`` and ``gg.<name>``
FUNCTIONS = {}


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
        if function and not name.startswith("_") and not name.endswith("_"):
            FUNCTIONS[name] = fn
        return fn

    return bind
