"""Stateless layers and losses (``gg.nn.functional``, usually imported as ``F``).

The activations, dropout and ``linear`` are here; the rest live in modules of their own and are
re-exported: losses (``functional_losses``: every loss takes ``reduction`` as the third
positional argument, as documented there), further activations (``functional_activations``),
normalization (``functional_norm``), convolution and pooling (``gpugrad.ops.conv``,
``gpugrad.ops.pool``), lookups (``functional_sparse``: ``embedding``,
``one_hot``) and resampling (``functional_resample``: ``pad``, ``interpolate``).
``cross_entropy`` runs the fused softmax-cross-entropy op (one kernel on devices that have it)
and ``linear`` the fused bias + activation op, so the hot path of training is a few kernels per
layer.
"""
import warnings

from ..creation import rand
from ..ops import losses as _losses
from ..ops.matmul import Linear as _Linear
from ..ops.conv import conv1d, conv2d  # noqa: F401  (F.conv1d, F.conv2d)
from ..ops.pool import (adaptive_avg_pool1d, adaptive_avg_pool2d, avg_pool1d,  # noqa: F401
                        avg_pool2d, max_pool1d, max_pool2d)
from .functional_activations import (celu, elu, gelu, hardsigmoid, hardswish, hardtanh,
                                     implicit_dim, leaky_relu, mish, relu6, selu, silu, softmin,
                                     softsign, tanhshrink)
from .functional_losses import (_REDUCTIONS, binary_cross_entropy,
                                binary_cross_entropy_with_logits, cross_entropy, huber_loss,
                                kl_div, l1_loss, mse_loss, nll_loss, smooth_l1_loss)
from .functional_norm import batch_norm, group_norm, layer_norm, normalize
from .functional_resample import interpolate, pad
from .functional_sparse import embedding, one_hot

_ACTIVATIONS = (None, "identity", "relu", "tanh", "sigmoid")


# ---- activations ---------------------------------------------------------------------------
def relu(input, inplace=False):
    """``max(x, 0)`` elementwise; ``inplace=True`` writes into ``input`` (``relu_``)."""
    return input.relu_() if inplace else input.relu()


def tanh(input):
    """``tanh(x)`` elementwise."""
    return input.tanh()


def sigmoid(input):
    """``1 / (1 + exp(-x))`` elementwise, computed without overflow."""
    return input.sigmoid()


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """``exp(x) / sum(exp(x))`` along ``dim``, stable for any finite input (NaN for a slice
    whose max is infinite, as in PyTorch); ``dtype`` casts the input first. Without ``dim``,
    PyTorch's deprecated implicit choice, with its warning: dim 0 of a 0-, 1- or 3-d input,
    else dim 1. (``_stacklevel`` is PyTorch's positional slot, unused.)"""
    dim = implicit_dim("softmax", input.ndim) if dim is None else dim
    return input.softmax(dim=dim, dtype=dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """``x - logsumexp(x)`` along ``dim``, stable for any finite input (NaN for a slice whose
    max is infinite, as in PyTorch); ``dtype`` casts the input first. Without ``dim``, the
    implicit choice of ``softmax``."""
    dim = implicit_dim("log_softmax", input.ndim) if dim is None else dim
    return input.log_softmax(dim=dim, dtype=dtype)


def softplus(input, beta=1.0, threshold=20.0):
    """``log(1 + exp(beta * x)) / beta`` elementwise, and ``x`` itself where
    ``beta * x > threshold`` (PyTorch's definition and gradient)."""
    return _losses.Softplus.apply(input, beta=beta, threshold=threshold)


def logsigmoid(input):
    """``log(sigmoid(x))`` elementwise, exact for any finite ``x`` (``min(x, 0) -
    log1p(exp(-|x|))``, as PyTorch)."""
    return _losses.LogSigmoid.apply(input)


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)``.

    The mask comes from gpugrad's generator (``gg.manual_seed``); without ``training`` this is
    the identity. ``inplace=True`` writes the result into ``input``.
    """
    return _dropout(input, p, training, inplace, input.shape)


def _dropout(input, p, training, inplace, mask_shape):
    """Dropout with one random draw per element of ``mask_shape`` (broadcast to ``input``)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        scale = 0.0
    else:
        keep = (rand(mask_shape, dtype=input.dtype, device=input.device) >= p).to(input.dtype)
        scale = keep * (1.0 / (1.0 - p))
    return input.mul_(scale) if inplace else input * scale


def _feature_dropout(name, input, p, training, inplace, feature_dims):
    """Dropout of whole channels: ``input`` is (N, C, *features) or (C, *features) with
    ``feature_dims`` trailing dimensions, and each channel is kept or zeroed as one."""
    if input.ndim not in (feature_dims + 1, feature_dims + 2):
        raise RuntimeError(f"{name}: Expected {feature_dims + 1}D or {feature_dims + 2}D input, "
                           f"but received a {input.ndim}D input")
    mask_shape = input.shape[:input.ndim - feature_dims] + (1,) * feature_dims
    return _dropout(input, p, training, inplace, mask_shape)


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, L) or (C, L) input with probability ``p``, scaling the
    rest by ``1 / (1 - p)``."""
    return _feature_dropout("dropout1d", input, p, training, inplace, 1)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, H, W) or (C, H, W) input with probability ``p``, scaling
    the rest by ``1 / (1 - p)``. A 3-D input is taken as (N, C, L), as PyTorch does (with its
    warning): use ``dropout1d`` for that."""
    if input.ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that "
                      "channel-wise 1D dropout behavior is desired - input is interpreted as "
                      "shape (N, C, L), where C is the channel dim. This behavior will change "
                      "in a future release to interpret the input as one without a batch "
                      "dimension, i.e. shape (C, H, W). To maintain the 1D channel-wise "
                      "dropout behavior, please switch to using dropout1d instead.",
                      stacklevel=2)
        return _feature_dropout("dropout2d", input, p, training, inplace, 1)
    return _feature_dropout("dropout2d", input, p, training, inplace, 2)


def dropout3d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) input with probability ``p``,
    scaling the rest by ``1 / (1 - p)``."""
    return _feature_dropout("dropout3d", input, p, training, inplace, 3)


def linear(input, weight, bias=None, activation=None):
    """``activation(input @ weight.T + bias)``; ``weight`` is (out_features, in_features), or a
    vector (in_features,): then ``input @ weight``, as in PyTorch.

    For 2-D input with a bias, the bias and activation run as one fused op (``bias_act``).
    """
    if activation not in _ACTIVATIONS:
        raise ValueError(f"linear: unknown activation {activation!r}; expected one of "
                         f"{_ACTIVATIONS}")
    if getattr(weight, "ndim", None) == 1:  # PyTorch's ``input @ weight``
        if bias is not None and input.ndim == 2:  # (its addmm path refuses a vector)
            raise RuntimeError("mat2 must be a matrix, got 1-D tensor")
        out = input @ weight
        out = out if bias is None else out + bias
        return out if activation in (None, "identity") else getattr(out, activation)()
    out = _Linear.apply(input, weight)
    if bias is not None and out.ndim == 2:
        return out.bias_act(bias, activation or "identity")
    if bias is not None:
        out = out + bias
    if activation in (None, "identity"):
        return out
    return getattr(out, activation)()
