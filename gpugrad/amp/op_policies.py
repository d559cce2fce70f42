"""How ``gg.autocast`` casts an op's inputs: the policies ops declare, as PyTorch's op lists.

An op class declares one policy as its ``autocast`` attribute (``gpugrad/ops/``); inside an
autocast region ``Function.apply`` hands the op's inputs to ``cast_inputs`` before the forward
runs. PyTorch keeps one list per device type, and its CPU lists are shorter than its CUDA ones
(on CPU, softmax, exp or sum keep bfloat16; on CUDA they run in float32), so a policy says which
lists an op is on:

- ``LOWER``: on both "lower_precision_fp" lists (matmul, mm, bmm, linear, conv..., einsum):
  floating inputs run in the autocast dtype;
- ``FLOAT32``: on both float32 lists (prod, mse_loss, cross_entropy, binary_cross_entropy_with_
  logits, nll_loss, cdist...): floating inputs run in float32;
- ``GPU_FLOAT32``: on CUDA's float32 list only (softmax, log_softmax, exp, log, sum, cumsum,
  pow, norm, reciprocal, rsqrt, softplus...): float32 under GPU autocast, unchanged under cpu;
- ``PROMOTE``: the widest floating dtype among the inputs (cat, stack, atan2, index_put...);
- ``GPU_BANNED``: binary_cross_entropy, float32 under cpu autocast and refused under GPU
  autocast, where PyTorch calls it unsafe.

Only floating tensors other than float64 are cast; an op called with an explicit ``dtype=``
keeps its inputs, as in PyTorch. GPU autocast is ``device_type`` "cuda" or "sim".
"""
from .. import dtypes as _dtypes

LOWER = "lower_precision_fp"
FLOAT32 = "float32"
GPU_FLOAT32 = "gpu_float32"
PROMOTE = "promote"
GPU_BANNED = "gpu_banned"

POLICIES = (LOWER, FLOAT32, GPU_FLOAT32, PROMOTE, GPU_BANNED)

GPU_BANNED_MESSAGE = (
    "torch.nn.functional.binary_cross_entropy and torch.nn.BCELoss are unsafe to autocast.\n"
    "Many models use a sigmoid layer right before the binary cross entropy layer.\n"
    "In this case, combine the two layers using torch.nn.functional.binary_cross_entropy_with_"
    "logits\nor torch.nn.BCEWithLogitsLoss.  binary_cross_entropy_with_logits and "
    "BCEWithLogits are\nsafe to autocast.")


def target_dtype(policy, lower_dtype, is_gpu, dtypes):
    """The dtype the eligible inputs run in under ``policy`` (None: leave them), given the
    region's low-precision dtype, whether the device type is a GPU one, and the eligible
    inputs' dtypes."""
    if policy == LOWER:
        return lower_dtype
    if policy == FLOAT32:
        return _dtypes.float32
    if policy == GPU_FLOAT32:
        return _dtypes.float32 if is_gpu else None
    if policy == PROMOTE:
        widest = dtypes[0]
        for dtype in dtypes[1:]:
            widest = _dtypes.promote_types(widest, dtype)
        return widest
    if policy == GPU_BANNED:
        if is_gpu:
            raise RuntimeError(GPU_BANNED_MESSAGE)
        return _dtypes.float32
    raise ValueError(f"unknown autocast policy {policy!r}; an op's autocast attribute must be "
                     f"one of {POLICIES} or None")
