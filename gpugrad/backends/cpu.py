"""The ``cpu`` backend: the contract on NumPy. It is also the reference the other backends match."""
import math
import warnings

import numpy as np

from .. import dtypes
from .base import (BINARY_OPS, COMPARE_OPS, LOGICAL_OPS, REDUCE_OPS, UNARY_OPS, Backend,
                   array_api_table)

# NaN and inf pass through as in NumPy (documented); NumPy's RuntimeWarnings about them would
# only be noise, so they are silenced for the backends (this one and sim.backend, which reuses it).
warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"gpugrad\.(backends\.|sim\.backend)")

_NP_DTYPE = {
    dtypes.float32: np.dtype(np.float32),
    dtypes.float64: np.dtype(np.float64),
    dtypes.int32: np.dtype(np.int32),
    dtypes.int64: np.dtype(np.int64),
    dtypes.bool_: np.dtype(np.bool_),
}
_GG_DTYPE = {v: k for k, v in _NP_DTYPE.items()}
NP_DTYPE = _NP_DTYPE
_SMALL = 1 << 14  # elements; below this, materializing a broadcast is cheaper than a view


def gg_dtype(np_dtype):
    """gg.DType for a NumPy dtype, with an error naming what is unsupported."""
    try:
        return _GG_DTYPE[np_dtype]
    except KeyError:
        raise TypeError(
            f"unsupported dtype {np_dtype}; gpugrad supports float32, float64, int32, int64 "
            f"and bool (convert first, e.g. array.astype('float32'))"
        ) from None


def _sigmoid(x):
    # 0.5 * (1 + tanh(x / 2)) never overflows, unlike 1 / (1 + exp(-x)).
    y = np.tanh(x * 0.5)
    y += 1
    y *= 0.5
    return y


def _relu(x):
    return np.maximum(x, 0)


UNARY = {**array_api_table(np, UNARY_OPS), "relu": _relu, "sigmoid": _sigmoid}
BINARY = array_api_table(np, BINARY_OPS + COMPARE_OPS + LOGICAL_OPS)
REDUCE = array_api_table(np, REDUCE_OPS)
ACT_FORWARD = {"identity": None, "relu": _relu, "tanh": np.tanh, "sigmoid": _sigmoid}


_ndarray = np.ndarray


def as_array(x):
    """NumPy returns scalars for 0-d results; the contract promises arrays."""
    return x if type(x) is np.ndarray else np.asarray(x)


def host_array(data, dtype=None):
    """Host data as a fresh NumPy array, with gpugrad's dtype inference (see Backend.from_host)."""
    if dtype is not None:
        return np.array(data, dtype=_NP_DTYPE[dtypes.as_dtype(dtype)], copy=True)
    if isinstance(data, np.ndarray):
        out = np.array(data, copy=True)
    else:
        out = np.array(data)
        if out.dtype == np.float64:
            out = out.astype(np.float32)
    if out.dtype not in _GG_DTYPE:
        if out.dtype.kind in "iu":
            out = out.astype(np.int64)
        elif out.dtype.kind == "f":
            out = out.astype(np.float32 if out.dtype.itemsize <= 4 else np.float64)
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
    if act == "relu":
        return grad_out * (out > 0)
    if act == "tanh":
        return grad_out * (1 - out * out)
    return grad_out * (out * (1 - out))  # sigmoid


def bias_act_grads_numpy(grad_out, out, act):
    grad = bias_act_backward_numpy(grad_out, out, act)
    return grad, grad.sum(axis=0)


def softmax_cross_entropy_numpy(logits, target):
    rows = np.arange(logits.shape[0])
    row_max = logits.max(axis=1)
    shifted = logits - row_max[:, None]
    log_sum = np.log(np.exp(shifted).sum(axis=1))
    # log_sum - shifted[target] stays exact where lse - logits[target] would round (|x| ~ 1e4)
    return log_sum - shifted[rows, target], row_max + log_sum


def softmax_cross_entropy_backward_numpy(logits, target, lse, grad_rows, divisor=1):
    # softmax from the max-shifted logits: exp(logits - lse) loses digits when |lse| is large
    grad = np.exp(logits - logits.max(axis=1, keepdims=True))
    grad /= grad.sum(axis=1, keepdims=True)
    grad[np.arange(logits.shape[0]), target] -= 1
    scale = np.asarray(grad_rows, dtype=grad.dtype) / grad.dtype.type(divisor)
    grad *= scale[:, None] if scale.ndim else scale
    return grad


def sgd_step_numpy(params, grads, bufs, lr, momentum, dampening, weight_decay, nesterov,
                   maximize=False):
    new_bufs = []
    for p, g, buf in zip(params, grads, bufs):
        d_p = -g if maximize else g
        if weight_decay:
            d_p = d_p + weight_decay * p
        if momentum:
            if buf is None:
                buf = np.array(d_p, copy=True)
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


class NumpyBackend(Backend):
    """The contract on NumPy arrays in host memory."""

    def __init__(self, device):
        self.device = device

    def from_host(self, data, dtype=None):
        return host_array(data, dtype)

    def to_host(self, a):
        return a

    def from_backend(self, a, source):
        return np.array(source.to_host(a), copy=True)

    def dtype(self, a):
        return _GG_DTYPE[a.dtype]

    def full(self, shape, value, dtype):
        return np.full(shape, value, dtype=_NP_DTYPE[dtype])

    def arange(self, start, stop, step, dtype):
        return np.arange(start, stop, step, dtype=_NP_DTYPE[dtype])

    def random(self, kind, shape, dtype, seed):
        rng = np.random.default_rng(seed)
        np_dtype = _NP_DTYPE[dtype]
        if kind == "uniform":
            return rng.random(shape, dtype=np_dtype)
        return rng.standard_normal(shape, dtype=np_dtype)

    def randint(self, low, high, shape, seed):
        return np.random.default_rng(seed).integers(low, high, size=shape, dtype=np.int64)

    # unary/binary are the hot path of every op: as_array inlined
    def unary(self, op, a):
        out = UNARY[op](a)
        return out if type(out) is _ndarray else np.asarray(out)

    def binary(self, op, a, b):
        out = BINARY[op](a, b)
        return out if type(out) is _ndarray else np.asarray(out)

    def where(self, cond, a, b):
        return np.where(cond, a, b)

    def cast(self, a, dtype):
        return a.astype(_NP_DTYPE[dtype])

    def reduce(self, op, a, axis=None, keepdims=False):
        if op == "sum" and a.dtype.kind == "f":  # the ufunc directly: np.sum's wrapper is slow
            return as_array(np.add.reduce(a, axis=axis, keepdims=keepdims))
        return as_array(REDUCE[op](a, axis=axis, keepdims=keepdims))

    def matmul(self, a, b):
        return as_array(np.matmul(a, b))

    def reshape(self, a, shape):
        return a.reshape(shape)

    def permute(self, a, axes):
        return a.transpose(axes)

    def broadcast_to(self, a, shape):
        if math.prod(shape) <= _SMALL:  # a copy beats np.broadcast_to's slow Python wrapper
            out = np.empty(shape, dtype=a.dtype)
            np.copyto(out, a)
            return out
        return np.broadcast_to(a, shape)  # a read-only view: no memory for large results

    def contiguous(self, a):
        return np.array(a, copy=True, order="C")

    def concatenate(self, arrays, axis):
        return np.concatenate(arrays, axis=axis)

    def getitem(self, a, index):
        return as_array(a[index])

    def index_add(self, shape, index, values, dtype):
        out = np.zeros(shape, dtype=_NP_DTYPE[dtype])
        if any(isinstance(i, np.ndarray) for i in index):
            np.add.at(out, index, values)
        else:
            out[index] = values
        return out

    def setitem_(self, a, index, value):
        a[index] = value

    def copy_(self, dst, src):
        np.copyto(dst, src)

    bias_act = staticmethod(bias_act_numpy)
    bias_act_backward = staticmethod(bias_act_backward_numpy)
    bias_act_grads = staticmethod(bias_act_grads_numpy)
    softmax_cross_entropy = staticmethod(softmax_cross_entropy_numpy)
    softmax_cross_entropy_backward = staticmethod(softmax_cross_entropy_backward_numpy)
    sgd_step = staticmethod(sgd_step_numpy)
    adam_step = staticmethod(adam_step_numpy)

    def describe(self):
        return f"cpu: NumPy {np.__version__}"


def create_backend(device):
    return NumpyBackend(device)
