"""``gg.amp``: automatic mixed precision, as ``torch.amp``.

``autocast`` (also ``gg.autocast``) runs matmuls and linear layers in float16 or bfloat16 and
the precision-sensitive ops in float32, following PyTorch's op lists (``op_policies``);
``GradScaler`` scales the loss so float16 gradients do not flush to zero, and skips the steps
whose gradients overflowed. Master weights stay float32: the casts are differentiable ops.
"""
from .autocast_mode import (autocast, get_autocast_dtype, is_autocast_cache_enabled,
                            is_autocast_enabled)
from .grad_scaler import GradScaler

__all__ = ["autocast", "GradScaler", "is_autocast_enabled", "get_autocast_dtype",
           "is_autocast_cache_enabled"]
