"""The NumPy computations behind the ``cpu`` backend (whose values the ``sim`` backend uses),
shared with the ``cuda`` backend's host side: dtype maps, PyTorch's
dtype rules on NumPy arrays (low-precision floats computed in float32, integers wrapping), and
the reference implementations of the fused kernels."""
import math
import warnings

import numpy as np

from ... import dtypes
from ..base import (BINARY_OPS, BITWISE_OPS, COMPARE_OPS, LOGICAL_OPS, REDUCE_OPS, UNARY_OPS,
                    array_api_table)

# NaN and inf pass through as in NumPy (documented); NumPy's RuntimeWarnings about them would
# only be noise, so they are silenced for the backends.
warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"gpugrad\.backends\.")

F32 = np.dtype(np.float32)
F64 = np.dtype(np.float64)
INT64 = np.dtype(np.int64)


class _NumpyDtypes(dict):
    """gg.DType -> NumPy dtype. bfloat16 comes from the ``ml_dtypes`` package, imported on first
    use (it takes half a second to import)."""

    def __missing__(self, dtype):
        if dtype is dtypes.bfloat16:
            import ml_dtypes

            np_dtype = np.dtype(ml_dtypes.bfloat16)
            self[dtype] = dtype.native = np_dtype
            _GG_DTYPE[np_dtype] = dtype
            LOW_PRECISION.add(np_dtype)
            return np_dtype
        raise KeyError(dtype)


class _GpugradDtypes(dict):
    """NumPy dtype -> gg.DType (the reverse of _NumpyDtypes)."""

    def __missing__(self, np_dtype):
        if getattr(np_dtype, "name", None) == "bfloat16":
            _NP_DTYPE[dtypes.bfloat16]  # registers both directions
            return self[np_dtype]
        raise KeyError(np_dtype)


_NP_DTYPE = _NumpyDtypes({
    dtypes.bool_: np.dtype(np.bool_), dtypes.uint8: np.dtype(np.uint8),
    dtypes.int8: np.dtype(np.int8), dtypes.int16: np.dtype(np.int16),
    dtypes.int32: np.dtype(np.int32), dtypes.int64: INT64,
    dtypes.float16: np.dtype(np.float16), dtypes.float32: F32, dtypes.float64: F64,
})
_GG_DTYPE = _GpugradDtypes({v: k for k, v in _NP_DTYPE.items()})
for _dtype, _np_dtype in _NP_DTYPE.items():
    _dtype.native = _np_dtype
NP_DTYPE = _NP_DTYPE
GG_DTYPE = _GG_DTYPE
# float16 and bfloat16: ops compute in float32 and round the result, as PyTorch's CPU does
LOW_PRECISION = {np.dtype(np.float16)}


def numpy_dtype(dtype):
    """The NumPy dtype of a ``gg.DType`` (bfloat16 loads ml_dtypes on first use)."""
    return dtype.native or _NP_DTYPE[dtype]


def gg_dtype(np_dtype):
    """gg.DType for a NumPy dtype, with an error naming what is unsupported."""
    try:
        return _GG_DTYPE[np_dtype]
    except KeyError:
        raise TypeError(
            f"unsupported dtype {np_dtype}; gpugrad supports {dtypes.SUPPORTED} (convert "
            f"first, e.g. array.astype('float32'))"
        ) from None


def _sigmoid(x, out=None):
    # PyTorch's formula, 1 / (1 + exp(-x)): tiny results keep their relative precision
    # (sigmoid(-20.5) is 1.25e-9 in float32); where exp(-x) overflows (x below about -88 in
    # float32) it is inf and the result exactly 0, as in PyTorch; NaN passes through
    with np.errstate(over="ignore"):
        e = np.negative(x, out=out)
        if type(e) is not _ndarray:  # (a 0-d x gives a NumPy scalar)
            e = np.asarray(e)
        np.exp(e, out=e)
        e += 1
        return np.reciprocal(e, out=e)


def _relu(x, out=None):
    return np.maximum(x, x.dtype.type(0), out=out)


def _sign(x, out=None):
    # PyTorch's sign is (x > 0) - (x < 0): NaN gives 0, where NumPy's sign gives NaN
    y = np.sign(x, out=out)
    if y.dtype.kind == "f" and np.isnan(y).any():
        y = np.nan_to_num(y, nan=0.0, copy=out is None)  # in place when writing into out
    return y


def _pow(a, b, out=None, **kwargs):
    """``np.power``, but float32/float64 bases to the exponents PyTorch's kernels compute
    without pow (0.5, -0.5, -1, 2, 3, -2) as they do: they differ from pow at -0.0 and -inf
    (``(-0.0) ** -0.5`` is -inf, ``(-inf) ** -0.5`` NaN)."""
    if type(a) is _ndarray and a.dtype in (F32, F64) and type(b) is not _ndarray \
            and kwargs.get("dtype", a.dtype) is a.dtype:
        exponent = float(b)
        if exponent == 0.5:
            return np.sqrt(a, out=out)
        if exponent == 2.0:
            return np.multiply(a, a, out=out)
        if exponent == 3.0:
            return np.multiply(np.multiply(a, a), a, out=out)
        if exponent == -1.0:
            return np.divide(a.dtype.type(1), a, out=out)
        if exponent == -0.5:
            return np.divide(a.dtype.type(1), np.sqrt(a), out=out)
        if exponent == -2.0:
            return np.divide(a.dtype.type(1), np.multiply(a, a), out=out)
    return np.power(a, b, out=out, **kwargs)


def math_special(name):
    """``math.<name>`` (erf, erfc) as a NumPy function of one array (and ``out=``): each element
    in float64, exact to the double, the result in the input's dtype. The fallback where SciPy
    is not installed (NumPy has no erf)."""
    each = np.frompyfunc(getattr(math, name), 1, 1)

    def call(x, out=None):
        result = np.asarray(each(np.asarray(x, F64)), F64)  # (a 0-d input gives a number)
        if x.dtype.kind == "f":
            result = result.astype(x.dtype)
        if out is None:
            return result
        np.copyto(out, result, casting="same_kind")
        return out

    return call


_SPECIAL: dict = {}


def _special(name):
    """``scipy.special.<name>`` (erf, erfc: NumPy has none), imported on first call so that
    importing gpugrad does not import SciPy; ``math_special(name)`` without SciPy."""
    def call(x, out=None):
        fn = _SPECIAL.get(name)
        if fn is None:
            try:
                import scipy.special

                fn = getattr(scipy.special, name)
            except ImportError:
                fn = math_special(name)
            _SPECIAL[name] = fn
        return fn(x, out=out)

    return call


UNARY = {**array_api_table(np, UNARY_OPS + ("bitwise_not",)), "relu": _relu, "sigmoid": _sigmoid, "sign": _sign,
         "erf": _special("erf"), "erfc": _special("erfc")}
BINARY = {**array_api_table(np, BINARY_OPS + COMPARE_OPS + LOGICAL_OPS + BITWISE_OPS),
          "pow": _pow}
REDUCE = array_api_table(np, REDUCE_OPS)
ACT_FORWARD = {"identity": None, "relu": _relu, "tanh": np.tanh, "sigmoid": _sigmoid}
_COMPARE = frozenset(COMPARE_OPS)
FLOAT_RESULT_OPS = dtypes.FLOAT_RESULT_OPS
_LOGICAL = frozenset(LOGICAL_OPS)
# NumPy 2 reads a Python float or int beside an array at the array's dtype (NEP 50), as PyTorch
# does; NumPy 1 looks at the value. The fast paths below lean on NEP 50 only where it holds.
WEAK_SCALARS = int(np.__version__.split(".")[0]) >= 2


_ndarray = np.ndarray
_NUMBER_CATEGORY = {bool: 0, int: 1, float: 2, complex: 3}  # as DType's categories


def weak_numbers(a, b):
    """``a, b`` with a Python number beside an array read at the array's dtype where its kind
    allows, as NumPy 2 reads it (NEP 50). For NumPy 1, which reads numbers by value: a float32
    0-d array divided by 2.0 was float64 there, and a bfloat16 array times 2.0 float32."""
    if type(a) is _ndarray:
        if type(b) in _NUMBER_CATEGORY:
            b = _weak(b, a.dtype)
    elif type(b) is _ndarray and type(a) in _NUMBER_CATEGORY:
        a = _weak(a, b.dtype)
    return a, b


def _weak(number, np_dtype):
    dtype = GG_DTYPE.get(np_dtype)
    if dtype is None or _NUMBER_CATEGORY[type(number)] > dtype._category:
        return number  # a float beside integers (or bool) promotes, in NumPy 2 as well
    return scalar_as(number, np_dtype)


def as_array(x):
    """NumPy returns scalars for 0-d results; the contract promises arrays."""
    return x if type(x) is np.ndarray else np.asarray(x)


def scalar_as(value, np_dtype):
    """A Python or NumPy number as a NumPy scalar of ``np_dtype``. An integer out of range
    wraps around, as PyTorch's integer ops do (``int8 + 1000``); one that does not fit in 64
    bits is refused, as PyTorch refuses it, rather than wrapped."""
    kind = np_dtype.kind
    if kind in "iu" and not isinstance(value, (bool, np.bool_)):
        value = int(value)
        if not -2 ** 63 <= value < 2 ** 64:
            raise OverflowError(f"int too big to convert: {value} does not fit in 64 bits, "
                                f"so it has no {np_dtype.name} value")
        info = np.iinfo(np_dtype)
        value = (value - info.min) % (info.max - info.min + 1) + info.min
    return np_dtype.type(value)


def _operand(x, calc):
    """An operand ready for a ufunc computing in ``calc``: numbers become NumPy scalars of it."""
    if type(x) is _ndarray:
        return x
    return scalar_as(x, calc)


def unary_values(op, a, np_dtype, out=None):
    """``op`` on NumPy array ``a`` with a result of ``np_dtype`` (written into ``out`` if given).
    Low-precision floats compute in float32 and round; other dtypes compute in ``np_dtype``."""
    fn = UNARY[op]
    if np_dtype in LOW_PRECISION:
        result = fn(a.astype(F32))
        if out is None:
            return result.astype(np_dtype)
        np.copyto(out, result, casting="same_kind")
        return out
    if a.dtype is not np_dtype:
        a = a.astype(np_dtype)
    if out is not None and out.dtype is not np_dtype:
        np.copyto(out, fn(a), casting="same_kind")
        return out
    result = fn(a) if out is None else fn(a, out=out)
    return result if type(result) is _ndarray else np.asarray(result)


def binary_values(op, a, b, np_dtype, out=None):
    """``op`` (arithmetic, comparison or logical) with NumPy broadcasting, computed in
    ``np_dtype`` (the promoted dtype; float32 for low-precision floats, rounded after), into
    ``out`` if given. Comparisons and logical ops give bool."""
    fn = BINARY[op]
    if op in _LOGICAL:
        result = fn(a, b, out=out)
        return result if type(result) is _ndarray else np.asarray(result)
    calc = F32 if np_dtype in LOW_PRECISION else np_dtype
    a, b = _operand(a, calc), _operand(b, calc)
    # "unsafe": the promoted dtype may be narrower than an operand (uint8 tensor + int64 0-d
    # tensor is uint8 in PyTorch); values convert as C casts do, as in PyTorch
    if op in _COMPARE:
        result = fn(a, b, out=out, signature=(calc, calc, None), casting="unsafe")
    elif out is None and calc is np_dtype:
        result = fn(a, b, dtype=calc, casting="unsafe")
    elif out is None:
        result = fn(a, b, dtype=calc, casting="unsafe").astype(np_dtype)
    else:
        result = fn(a, b, out=out, dtype=calc, casting="unsafe")
    return result if type(result) is _ndarray else np.asarray(result)


def where_values(cond, a, b, np_dtype, out=None):
    """``a if cond else b`` elementwise in ``np_dtype`` (numbers and arrays of other dtypes are
    converted first)."""
    if type(a) is not _ndarray or a.dtype is not np_dtype:
        a = scalar_as(a, np_dtype) if type(a) is not _ndarray else a.astype(np_dtype)
    if type(b) is not _ndarray or b.dtype is not np_dtype:
        b = scalar_as(b, np_dtype) if type(b) is not _ndarray else b.astype(np_dtype)
    result = np.where(cond, a, b)
    if out is None:
        return result
    np.copyto(out, result, casting="same_kind")
    return out


def reduce_values(op, a, axis=None, keepdims=False):
    """A reduction with PyTorch's result dtypes: ``sum`` and ``prod`` of bool or integers are
    int64, of float16/bfloat16 accumulated in float32 and rounded; ``mean`` likewise in float32;
    ``argmax``/``argmin`` int64; ``max``/``min`` keep the dtype."""
    dtype = a.dtype
    if op == "sum" or op == "prod":
        ufunc = np.add if op == "sum" else np.multiply
        if dtype.kind in "biu":
            return as_array(ufunc.reduce(a, axis=axis, dtype=INT64, keepdims=keepdims))
        if dtype in LOW_PRECISION:
            return as_array(ufunc.reduce(a, axis=axis, dtype=F32, keepdims=keepdims)
                            .astype(dtype))
        return as_array(ufunc.reduce(a, axis=axis, keepdims=keepdims))
    if op == "mean" and dtype in LOW_PRECISION:
        return as_array(np.mean(a, axis=axis, dtype=F32, keepdims=keepdims).astype(dtype))
    if op in ("argmax", "argmin"):
        return as_array(REDUCE[op](a, axis=axis, keepdims=keepdims)).astype(INT64, copy=False)
    return as_array(REDUCE[op](a, axis=axis, keepdims=keepdims))


_SCANS = {"sum": np.add, "prod": np.multiply, "max": np.maximum, "min": np.minimum}


def scan_values(op, a, axis):
    """The inclusive scan of ``op`` ("sum", "prod", "max" or "min") along ``axis``, with
    PyTorch's result dtypes: ``cumsum``/``cumprod`` of bool or integers are int64, of
    float16/bfloat16 accumulated in float32 and rounded; ``cummax``/``cummin`` keep the dtype
    (and carry a NaN forward, as ``np.maximum`` does)."""
    ufunc, dtype = _SCANS[op], a.dtype
    if op in ("sum", "prod"):
        if dtype.kind in "biu":
            return ufunc.accumulate(a, axis=axis, dtype=INT64)
        if dtype in LOW_PRECISION:
            return ufunc.accumulate(a, axis=axis, dtype=F32).astype(dtype)
    return ufunc.accumulate(a, axis=axis)


def sort_values(a, axis, descending=False):
    """``(values, indices)`` of a stable sort along ``axis`` (NumPy puts NaN last, above every
    number, as PyTorch does). Descending is the ascending sort of ``a`` reversed, read
    backwards: equal values then keep their original order, NaN comes first. bfloat16 sorts by
    its float32 values (exact, same order): ml_dtypes' own comparison on NumPy 1 put NaN first."""
    key = a.astype(F32) if a.dtype.name == "bfloat16" else a
    if descending:
        order = np.flip(np.argsort(np.flip(key, axis), axis=axis, kind="stable"), axis)
        indices = np.subtract(a.shape[axis] - 1, order, dtype=INT64)
    else:
        indices = np.argsort(key, axis=axis, kind="stable").astype(INT64, copy=False)
    return np.take_along_axis(a, indices, axis), indices


def basic_view_index(index):
    """``index`` such that NumPy returns a view for basic indexing even when every dimension
    gets an int: ``a[0, ...]`` is a 0-d view where ``a[0]`` would be a scalar copy."""
    for entry in index:
        if type(entry) is not int and type(entry) is not slice and entry is not None:
            return index  # an Ellipsis already (a view), or advanced indexing (a copy anyway)
    return index + (Ellipsis,)


def matmul_values(a, b):
    """``a @ b`` for two arrays of one dtype; float16/bfloat16 accumulate in float32."""
    if a.dtype in LOW_PRECISION:
        return as_array(np.matmul(a.astype(F32), b.astype(F32)).astype(a.dtype))
    return as_array(np.matmul(a, b))


def random_values(kind, shape, np_dtype, seed):
    """Uniform [0, 1) or standard normal values of a float dtype, from ``seed``."""
    rng = np.random.default_rng(seed)
    calc = np_dtype if np_dtype in (F32, F64) else F32
    values = rng.random(shape, dtype=calc) if kind == "uniform" else \
        rng.standard_normal(shape, dtype=calc)
    return values if calc is np_dtype else values.astype(np_dtype)


def host_array(data, dtype=None):
    """Host data as a fresh NumPy array, with gpugrad's dtype inference (see Backend.from_host):
    a NumPy array keeps its dtype (one gpugrad supports); Python floats become float32."""
    if dtype is not None:
        return np.array(data, dtype=numpy_dtype(dtypes.as_dtype(dtype)), copy=True)
    if isinstance(data, np.ndarray):
        out = np.array(data, copy=True)
    else:
        out = np.array(data)
        if out.dtype == np.float64 and not isinstance(data, np.generic):
            out = out.astype(np.float32)
    if out.dtype not in _GG_DTYPE and getattr(out.dtype, "name", "") != "bfloat16":
        if out.dtype.kind in "iu" and not isinstance(data, np.ndarray):
            # (compared as Python ints: NumPy 1 compares uint64 with int64's max as floats)
            if out.dtype == np.uint64 and out.size and int(out.max()) > 2 ** 63 - 1:
                raise OverflowError(f"tensor: {int(out.max())} does not fit in int64, the "
                                    f"dtype of Python ints (its largest is 2**63 - 1)")
            out = out.astype(np.int64)  # (Python ints beyond 64 bits fail here)
        else:
            gg_dtype(out.dtype)
    return out


def bias_act_numpy(x, bias, act):
    out = x + bias
    fn = ACT_FORWARD[act]
    return out if fn is None else fn(out)


def bias_act_backward_numpy(grad_out, out, act):
    if act == "identity":
        return grad_out.copy()
    if act == "relu":  # PyTorch's threshold_backward: a NaN output passes the gradient on, and
        # the gradient where out <= 0 is exactly 0 (an inf gradient there too)
        return np.where(out <= 0, grad_out.dtype.type(0), grad_out)
    if act == "tanh":
        return grad_out * (1 - out * out)
    return grad_out * (out * (1 - out))  # sigmoid


def bias_act_grads_numpy(grad_out, out, act):
    grad = bias_act_backward_numpy(grad_out, out, act)
    return grad, grad.sum(axis=0)


def _counted_targets(target, classes, ignore_index):
    """The mask of targets that are not ``ignore_index``, after checking those are classes."""
    counted = target != ignore_index
    kept = target if counted.all() else target[counted]
    if kept.size and (kept.min() < 0 or kept.max() >= classes):
        bad = kept.min() if kept.min() < 0 else kept.max()
        raise IndexError(f"cross_entropy: Target {bad} is out of bounds for {classes} classes")
    return counted


def softmax_cross_entropy_numpy(logits, target, ignore_index=-100):
    rows = np.arange(logits.shape[0])
    counted = _counted_targets(target, logits.shape[1], ignore_index)
    every_row = counted.all()  # the common case: index without masks
    row_max = logits.max(axis=1)
    shifted = logits - row_max[:, None]
    log_sum = np.log(np.exp(shifted).sum(axis=1))
    out = np.empty((2, logits.shape[0]), logits.dtype)
    # log_sum - shifted[target] stays exact where lse - logits[target] would round (|x| ~ 1e4)
    if every_row:
        np.subtract(log_sum, shifted[rows, target], out=out[0])
        out[1] = 1
    else:
        out[0] = 0
        out[0, counted] = (log_sum - shifted[rows, np.where(counted, target, 0)])[counted]
        out[1] = counted
    return out, row_max + log_sum


def softmax_cross_entropy_backward_numpy(logits, target, lse, grad_rows, divisor=1,
                                         ignore_index=-100):
    # softmax from the max-shifted logits: exp(logits - lse) loses digits when |lse| is large
    counted = target != ignore_index
    every_row = counted.all()  # the common case: index without masks
    grad = np.exp(logits - logits.max(axis=1, keepdims=True))
    grad /= grad.sum(axis=1, keepdims=True)
    if every_row:
        grad[np.arange(logits.shape[0]), target] -= 1
    else:
        grad[np.arange(logits.shape[0])[counted], target[counted]] -= 1
    scale = np.asarray(grad_rows, dtype=grad.dtype) / np.asarray(divisor, dtype=grad.dtype)
    grad *= scale[:, None] if scale.ndim else scale
    if not every_row:
        grad[~counted] = 0  # (not a product with the mask: 0 * inf would be NaN)
    return grad


def sgd_step_numpy(params, grads, bufs, lr, momentum, dampening, weight_decay, nesterov,
                   maximize=False):
    new_bufs = []
    for p, g, buf in zip(params, grads, bufs):
        d_p = -g if maximize else g
        if weight_decay:
            d_p = d_p + weight_decay * p
        if momentum:
            if buf is None:  # the parameter's dtype: NumPy 1 may widen d_p (bfloat16 * float)
                buf = np.array(d_p, dtype=p.dtype, copy=True)
            else:
                buf *= momentum
                buf += (1 - dampening) * d_p
            d_p = d_p + momentum * buf if nesterov else buf
        p -= lr * d_p
        new_bufs.append(buf)
    return new_bufs


def adam_step_numpy(params, grads, exp_avgs, exp_avg_sqs, step, lr, beta1, beta2, eps,
                    weight_decay, decoupled, maximize=False):
    bias_correction1 = 1 - beta1 ** step
    bias_correction2_sqrt = (1 - beta2 ** step) ** 0.5
    step_size = lr / bias_correction1
    for p, g, m, v in zip(params, grads, exp_avgs, exp_avg_sqs):
        if maximize:
            g = -g
        if weight_decay:
            if decoupled:
                p *= 1 - lr * weight_decay
            else:
                g = g + weight_decay * p
        m *= beta1
        m += (1 - beta1) * g
        v *= beta2
        v += (1 - beta2) * (g * g)
        denom = np.sqrt(v) / bias_correction2_sqrt + eps
        p -= step_size * (m / denom)
