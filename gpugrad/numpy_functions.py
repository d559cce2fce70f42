"""NumPy functions on tensors (NEP 18's ``__array_function__``): the functions gpugrad maps onto
its ops, with NumPy's keywords translated. ``Tensor.__array_function__`` (interop.py) loads this
module on first use, so ``import gpugrad`` never imports NumPy for it.
"""
import numpy as np

from . import creation
from . import dtypes as _dtypes
from .interop import _ADVICE, _NOT_GIVEN, _first_tensor, _operand, _unsupported_keywords
from .tensor import Tensor
from .tensor_methods import where
from .tensor_shape_methods import cat, stack

HANDLED_FUNCTIONS: dict = {}  # NumPy function -> (its gpugrad implementation, tensor_first)


def _implements(*names, tensor_first=True):
    """Decorator: ``fn`` implements the NumPy functions ``names`` (those this NumPy has).
    ``tensor_first``: its first argument is an array, converted to a tensor when NumPy passes
    an ndarray or a list there (``np.clip(array, t_min, t_max)``)."""
    def register(fn):
        for name in names:
            function = getattr(np, name, None)
            if function is not None:
                HANDLED_FUNCTIONS[function] = (fn, tensor_first)
        return fn

    return register


def _refuse(name, **given):
    """TypeError for NumPy keywords gpugrad does not translate (those passed, not defaults)."""
    passed = {k: v for k, v in given.items() if v is not _NOT_GIVEN and v is not None}
    _unsupported_keywords(f"np.{name}", passed)


def _as_tensor(x, like, name):
    value = _operand(x, like, name)
    if not isinstance(value, Tensor):
        if value is None:
            raise TypeError(f"np.{name}: cannot use a {type(x).__name__} with gpugrad tensors")
        backend = like._backend
        value = Tensor._make(backend.from_host(value), backend, False)
    return value


def _kept(keepdims):
    return False if keepdims is _NOT_GIVEN else bool(keepdims)


@_implements("sum")
def _sum(a, axis=None, dtype=None, out=None, keepdims=_NOT_GIVEN, initial=_NOT_GIVEN,
         where=_NOT_GIVEN):
    _refuse("sum", out=out, initial=initial, where=where)
    a = a if dtype is None else a.to(dtype)
    return a.sum(dim=axis, keepdim=_kept(keepdims))


@_implements("mean")
def _mean(a, axis=None, dtype=None, out=None, keepdims=_NOT_GIVEN, *, where=_NOT_GIVEN):
    _refuse("mean", out=out, where=where)
    a = a if dtype is None else a.to(dtype)
    return a.mean(dim=axis, keepdim=_kept(keepdims))


def _extreme(method):
    def extreme(a, axis=None, out=None, keepdims=_NOT_GIVEN, initial=_NOT_GIVEN,
                where=_NOT_GIVEN):
        _refuse(method, out=out, initial=initial, where=where)
        return getattr(a, method)(dim=axis, keepdim=_kept(keepdims))

    return extreme


_implements("max", "amax")(_extreme("amax"))
_implements("min", "amin")(_extreme("amin"))


def _arg_extreme(method):
    def arg_extreme(a, axis=None, out=None, *, keepdims=_NOT_GIVEN):
        _refuse(method, out=out)
        return getattr(a, method)(dim=axis, keepdim=_kept(keepdims))

    return arg_extreme


_implements("argmax")(_arg_extreme("argmax"))
_implements("argmin")(_arg_extreme("argmin"))


def _moment(method):
    def moment(a, axis=None, dtype=None, out=None, ddof=0, keepdims=_NOT_GIVEN, *,
               where=_NOT_GIVEN, mean=_NOT_GIVEN, correction=_NOT_GIVEN):
        _refuse(method, out=out, where=where, mean=mean)
        a = a if dtype is None else a.to(dtype)
        ddof = ddof if correction is _NOT_GIVEN else correction
        return getattr(a, method)(dim=axis, correction=ddof, keepdim=_kept(keepdims))

    return moment


_implements("var")(_moment("var"))
_implements("std")(_moment("std"))


def _truth(method):
    def truth(a, axis=None, out=None, keepdims=_NOT_GIVEN, *, where=_NOT_GIVEN):
        _refuse(method, axis=axis, out=out, keepdims=_kept(keepdims) or None, where=where)
        return getattr(a, method)()  # gpugrad's any/all take no dim yet

    return truth


_implements("any")(_truth("any"))
_implements("all")(_truth("all"))


@_implements("reshape")
def _reshape(a, shape=None, order="C", *, newshape=None, copy=None):
    _refuse("reshape", order=None if order == "C" else order, copy=copy)
    shape = newshape if shape is None else shape
    return a.reshape(shape if isinstance(shape, (tuple, list)) else (shape,))


@_implements("ravel")
def _ravel(a, order="C"):
    _refuse("ravel", order=None if order == "C" else order)
    return a.reshape(-1)


@_implements("transpose")
def _transpose(a, axes=None):
    return a.permute(*(reversed(range(a.ndim)) if axes is None else axes))


_implements("swapaxes")(lambda a, axis1, axis2: a.transpose(axis1, axis2))
_implements("squeeze")(lambda a, axis=None: a.squeeze(axis))


@_implements("expand_dims")
def _expand_dims(a, axis):
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    ndim = a.ndim + len(axes)
    for d in sorted(d + ndim if d < 0 else d for d in axes):
        a = a.unsqueeze(d)
    return a


@_implements("broadcast_to")
def _broadcast_to(array, shape, subok=False):
    return array.broadcast_to(shape if isinstance(shape, (tuple, list)) else (shape,))


def _joined(name, join, arrays, axis, out, dtype, casting):
    _refuse(name, out=out, casting=None if casting == "same_kind" else casting)
    arrays = list(arrays)
    like = _first_tensor(arrays)
    tensors = [_as_tensor(x, like, name) for x in arrays]
    if dtype is not None:
        tensors = [t.to(dtype) for t in tensors]
    if axis is None:
        tensors, axis = [t.reshape(-1) for t in tensors], 0
    return join(tensors, dim=axis)


@_implements("concatenate", tensor_first=False)
def _concatenate(arrays, axis=0, out=None, *, dtype=None, casting="same_kind"):
    return _joined("concatenate", cat, arrays, axis, out, dtype, casting)


@_implements("stack", tensor_first=False)
def _stack(arrays, axis=0, out=None, *, dtype=None, casting="same_kind"):
    return _joined("stack", stack, arrays, axis, out, dtype, casting)


@_implements("where", tensor_first=False)
def _where(condition, x=_NOT_GIVEN, y=_NOT_GIVEN):
    if x is _NOT_GIVEN or y is _NOT_GIVEN:
        raise TypeError("np.where(condition) with one argument (the indices of nonzero "
                        f"elements) is not supported on gpugrad tensors; {_ADVICE}")
    like = _first_tensor((condition, x, y))
    condition = _as_tensor(condition, like, "where")
    if condition.dtype is not _dtypes.bool_:
        condition = condition != 0  # NumPy reads any dtype as truth values
    return where(condition, _operand(x, like, "where"), _operand(y, like, "where"))


@_implements("dot", tensor_first=False)
def _dot(a, b, out=None):
    _refuse("dot", out=out)
    like = _first_tensor((a, b))
    a, b = _as_tensor(a, like, "dot"), _as_tensor(b, like, "dot")
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if a.ndim > 2 or b.ndim > 2:
        raise TypeError("np.dot of arrays with more than 2 dimensions is not supported on "
                        "gpugrad tensors (its rules differ from matmul's); use np.matmul or "
                        "t @ u")
    return a @ b


@_implements("clip")
def _clip(a, a_min=_NOT_GIVEN, a_max=_NOT_GIVEN, out=None, *, min=_NOT_GIVEN, max=_NOT_GIVEN,
          **kwargs):
    _refuse("clip", out=out, **kwargs)
    low = min if a_min is _NOT_GIVEN else a_min
    high = max if a_max is _NOT_GIVEN else a_max
    low, high = (None if v is _NOT_GIVEN or v is None else _operand(v, a, "clip")
                 for v in (low, high))
    return a.clamp(low, high)


def _like(name):
    def like(a, *args, dtype=None, order="K", subok=True, shape=None, device=None):
        _refuse(name, order=None if order == "K" else order, device=device)
        if shape is None:
            return getattr(creation, name)(a, *args, dtype=dtype)
        shape = shape if isinstance(shape, (tuple, list)) else (shape,)
        make = getattr(creation, name[:-len("_like")])  # zeros, ones, full
        return make(shape, *args, dtype=dtype or a.dtype, device=a.device)

    return like


_implements("zeros_like", "empty_like")(_like("zeros_like"))  # gpugrad never hands out garbage
_implements("ones_like")(_like("ones_like"))
_implements("full_like")(_like("full_like"))


_implements("shape")(lambda a: a.shape)
_implements("ndim")(lambda a: a.ndim)
_implements("size")(lambda a, axis=None: a.numel() if axis is None else a.shape[axis])


# Checks that read values return NumPy's answer, with ``np.asarray(t)``'s rules (refused on a
# tensor that requires grad or lives on a GPU, as in PyTorch)
@_implements("allclose", tensor_first=False)
def _allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    return bool(np.allclose(np.asarray(a), np.asarray(b), rtol, atol, equal_nan))


@_implements("array_equal", tensor_first=False)
def _array_equal(a1, a2, equal_nan=False):
    return bool(np.array_equal(np.asarray(a1), np.asarray(a2), equal_nan=equal_nan))


def dispatch(self, func, types, args, kwargs):
    """``Tensor.__array_function__``'s work (see its docstring there)."""
    for kind in types:
        if not issubclass(kind, (Tensor, np.ndarray)):
            return NotImplemented  # another library's array: let it answer
    handled = HANDLED_FUNCTIONS.get(func)
    if handled is None:
        raise TypeError(f"np.{func.__name__}() is not supported on gpugrad tensors; {_ADVICE}. "
                        f"NumPy functions gpugrad maps onto its ops: {_handled_names()}")
    handler, tensor_first = handled
    if tensor_first and args and not isinstance(args[0], Tensor):
        args = (_as_tensor(args[0], self, func.__name__),) + tuple(args[1:])
    return handler(*args, **kwargs)


def _handled_names():
    return ", ".join(sorted({f"np.{f.__name__}" for f in HANDLED_FUNCTIONS}))


