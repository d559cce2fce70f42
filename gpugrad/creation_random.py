"""Random creation functions with PyTorch's signatures: ``rand``, ``randn``, ``randint``,
``normal``, ``randperm`` and the ``*_like`` forms, drawn from the generator seeded by
``gg.manual_seed``."""
import operator

from . import dtypes as _dtypes
from . import random as _random
from .creation import _backend, _finish, _float_dtype, _size, like, zeros_like
from .engine.function import Function
from .ops.broadcast import broadcast_shapes
from .tensor import Tensor


def _random_tensor(kind, shape, size, dtype, device, requires_grad, name):
    dtype = _float_dtype(dtype)
    if not dtype.is_floating_point:
        raise TypeError(f"{name} needs a floating dtype, got {dtype}")
    backend = _backend(device)
    data = backend.random(kind, _size(shape, size, name), dtype, _random.next_seed())
    return _finish(data, backend, requires_grad)


def rand(*shape, size=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Uniform random values in [0, 1): ``rand(2, 3)``, ``rand((2, 3))`` or
    ``rand(size=(2, 3))``; of the default float dtype unless ``dtype`` says."""
    return _random_tensor("uniform", shape, size, dtype, device, requires_grad, "rand")


def randn(*shape, size=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Standard normal random values: ``randn(2, 3)``, ``randn((2, 3))`` or
    ``randn(size=(2, 3))``; of the default float dtype unless ``dtype`` says."""
    return _random_tensor("normal", shape, size, dtype, device, requires_grad, "randn")


def rand_like(input, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``rand`` with ``input``'s shape, dtype and device (unless ``dtype``/``device`` say)."""
    return like(rand, input, dtype, device, requires_grad)


def randn_like(input, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``randn`` with ``input``'s shape, dtype and device (unless ``dtype``/``device`` say)."""
    return like(randn, input, dtype, device, requires_grad)


def _randint_bounds(args, low, high, name):
    """``(low, high)`` from PyTorch's forms: ``(high)``, ``(low, high)`` or keywords."""
    if len(args) > 2:
        raise TypeError(f"{name}() takes low, high and size, got {len(args)} bounds")
    if len(args) == 2:
        low, high = args
    elif len(args) == 1:
        if high is None:
            high = args[0]
        else:
            low = args[0]
    if high is None:
        raise TypeError(f"{name}() missing required argument 'high'")
    return (0 if low is None else low), high


def _randint(shape, low, high, dtype, device, requires_grad):
    low, high = int(low), int(high)
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} "
                           f">= to={high}")
    dtype = _dtypes.as_dtype(dtype) or _dtypes.int64
    if requires_grad and not dtype.is_floating_point:
        raise RuntimeError("Only Tensors of floating point and complex dtype can require "
                           "gradients")
    backend = _backend(device)
    data = backend.randint(low, high, shape, _random.next_seed())
    if dtype is not _dtypes.int64:
        data = backend.cast(data, dtype)
    return _finish(data, backend, requires_grad)


def randint(*args, size=None, low=None, high=None, dtype=None, device=None,
            requires_grad=False) -> Tensor:
    """Integers drawn uniformly from [low, high), as ``torch.randint``: ``randint(10, (3,))``,
    ``randint(2, 10, (3,))``, ``randint(10, size=(3,))``, ``randint(low=2, high=10,
    size=(3,))``. int64 unless ``dtype`` says (a float dtype holds the same integers)."""
    if size is None:
        if not args or not isinstance(args[-1], (tuple, list)):
            raise TypeError("randint() missing required argument 'size' (a tuple of ints, "
                            "e.g. randint(10, (3,)))")
        args, size = args[:-1], args[-1]
    low, high = _randint_bounds(args, low, high, "randint")
    shape = _size((), (size,) if isinstance(size, int) else size, "randint")
    return _randint(shape, low, high, dtype, device, requires_grad)


def randint_like(input, *args, low=None, high=None, dtype=None, device=None,
                 requires_grad=False) -> Tensor:
    """``randint`` with ``input``'s shape, dtype and device (unless ``dtype``/``device`` say):
    ``randint_like(x, 10)`` or ``randint_like(x, 2, 10)``."""
    low, high = _randint_bounds(args, low, high, "randint_like")
    return _randint(input.shape, low, high, dtype or input.dtype, device or input.device,
                    requires_grad)


class Normal(Function):
    """``mean + std * N(0, 1)``, broadcast to ``shape``, drawn from ``seed``: ``torch.normal``
    on tensors. As in PyTorch the result is differentiable with zero gradients for ``mean``
    and ``std``."""

    save_inputs = True

    def forward(self, mean, std, shape=(), dtype=None, seed=0):
        backend = self.backend
        out = backend.random("normal", shape, dtype, seed)
        if not (type(std) in (int, float) and std == 1):
            out = backend.binary("mul", out, std, dtype)
        if not (type(mean) in (int, float) and mean == 0):
            out = backend.binary("add", out, mean, dtype)
        return out

    def backward(self, grad):
        return tuple(zeros_like(x) if isinstance(x, Tensor) else None for x in self.inputs)


def normal(mean=0.0, std=1.0, size=None, *, dtype=None, device=None,
           requires_grad=False) -> Tensor:
    """Normal random values, as ``torch.normal``: ``normal(mean_tensor, std_tensor)``,
    ``normal(mean_tensor, 1.0)``, ``normal(0.0, std_tensor)`` (broadcast shapes, the tensors'
    dtype and device), or ``normal(0.0, 1.0, size)`` (the default float dtype unless
    ``dtype`` says)."""
    tensors = [x for x in (mean, std) if isinstance(x, Tensor)]
    if not isinstance(std, Tensor) and std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    if not tensors:
        if size is None:
            raise TypeError("normal() with a number mean and std needs a size: "
                            "normal(mean, std, size)")
        out = randn(_size((), size, "normal"), dtype=dtype, device=device) * std + mean
        return out.requires_grad_() if requires_grad else out
    shape = tensors[0].shape
    if len(tensors) == 2:
        shape = broadcast_shapes("normal", shape, tensors[1].shape)
    dtype = _dtypes.as_dtype(dtype) or _dtypes.promote_types(tensors[0].dtype, tensors[-1].dtype)
    if not dtype.is_floating_point:
        raise RuntimeError(f"normal expects floating point mean and std, got {dtype}")
    return Normal.apply(mean, std, shape=shape, dtype=dtype, seed=_random.next_seed())


def randperm(n, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A random permutation of ``0 .. n - 1``, as ``torch.randperm`` (int64 unless ``dtype``
    says): the order that sorts ``n`` uniform float64 draws, every order equally likely."""
    n = operator.index(n)
    if n < 0:
        raise RuntimeError(f"n must be non-negative, got {n}")
    dtype = _dtypes.as_dtype(dtype) or _dtypes.int64
    order = rand(n, dtype=_dtypes.float64, device=device).argsort()
    out = order if dtype is _dtypes.int64 else order.to(dtype)
    return out.requires_grad_() if requires_grad else out
