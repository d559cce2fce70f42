"""The cuda backend's fused kernels: bias + activation and softmax cross-entropy, each one
launch of kernels/bias_act.cu or kernels/softmax_cross_entropy.cu, for float32, float64, float16
and (where the installed CuPy has it) bfloat16; the 16-bit kernels compute in float32.

``FusedLaunches`` is a mixin of ``CupyBackend`` (backend.py), which provides ``_use``, ``_kernel``,
``unary`` and ``binary``; CuPy is ``runtime.cupy``, bound when
the first backend was created, so this file imports without CuPy.
"""
import numpy as np

from ..launch_plans import GRAD_ROW_LANES, bias_grad_slabs
from . import runtime

_ACT_CODE = {"identity": 0, "relu": 1, "tanh": 2, "sigmoid": 3}  # as in kernels/bias_act.cu
# dtype -> the suffix of its fused kernels: every kernel has runtime.KERNEL_SUFFIX's; only the
# fused ones have the 16-bit types (bfloat16 joins when the backend finds CuPy supports it)
FUSED_SUFFIX = {**runtime.KERNEL_SUFFIX, np.dtype(np.float16): "f16"}
_FLOAT32 = np.dtype(np.float32)


def add_fused_dtype(np_dtype, suffix):
    """Launch the fused kernels ``*_<suffix>`` for arrays of ``np_dtype`` from now on."""
    FUSED_SUFFIX[np.dtype(np_dtype)] = suffix


def _fused_dtypes():
    return ", ".join(str(d) for d in FUSED_SUFFIX)


def _compute_dtype(dtype):
    """The dtype the fused kernels compute (and keep partial sums) in: float32 for 16-bit types."""
    return _FLOAT32 if dtype.itemsize == 2 else dtype

def _stride(a):
    """The element stride of a vector: 0 for a broadcast view or a 0-d array (one value)."""
    if a.ndim == 0:
        return 0
    if a.ndim != 1:
        raise ValueError(f"expected a 1-D array of per-row values, got shape {tuple(a.shape)}")
    return a.strides[0] // a.itemsize


def _aligned16(*arrays):
    """True when every array starts on a 16-byte boundary: the kernels' float4 / double2 loads
    need it (CuPy's pool aligns blocks to 512 bytes; a view into an array may not be)."""
    for a in arrays:
        if a.data.ptr % 16:
            return False
    return True


def _pow2_at_least(n, low, high):
    p = low
    while p < n and p < high:
        p *= 2
    return p


class FusedLaunches:
    """``bias_act`` (and its backwards) and ``softmax_cross_entropy`` (and its backward)."""

    def bias_act(self, x, bias, act):
        cupy = runtime.cupy
        code = _ACT_CODE[act]
        if x.dtype not in FUSED_SUFFIX or bias.dtype != x.dtype:
            out = self.binary("add", x, bias)  # mixed or integer dtypes: NumPy's promotion
            return out if act == "identity" else self.unary(act, out)
        self._use()
        x, bias = runtime.dense(x), runtime.dense(bias)
        rows, cols = x.shape
        out = cupy.empty((rows, cols), dtype=x.dtype)
        if out.size:
            lanes = 16 // x.itemsize
            packed = cols % lanes == 0 and _aligned16(x, bias, out)
            threads_x = cols // lanes if packed else cols  # one thread per 16 bytes or element
            bx = _pow2_at_least(threads_x, 32, 256)
            by = 256 // bx
            grid = ((threads_x + bx - 1) // bx, min((rows + by - 1) // by, 65535))
            self._kernel("bias_act_forward", x.dtype)(grid, (bx, by), (x, bias, out, rows, cols,
                                                                        code, int(packed)))
        return out

    def _activation_grad_inputs(self, name, grad_out, out):
        """Dense ``grad_out`` (cast, broadcast to ``out``'s shape) and ``out`` for the backward
        kernels, which read both as plain row-major arrays of ``out``'s float dtype."""
        cupy = runtime.cupy
        dtype = out.dtype
        if dtype not in FUSED_SUFFIX:
            raise TypeError(f"{name}: expected an output of one of {_fused_dtypes()}, got "
                            f"{dtype}")
        self._use()
        grad_out = runtime.dense(grad_out if grad_out.dtype == dtype else grad_out.astype(dtype))
        grad_out = grad_out if grad_out.shape == out.shape else runtime.dense(
            cupy.broadcast_to(grad_out, out.shape))
        return grad_out, runtime.dense(out), dtype

    def bias_act_backward(self, grad_out, out, act):
        cupy = runtime.cupy
        code = _ACT_CODE[act]
        grad_out, out, dtype = self._activation_grad_inputs("bias_act_backward", grad_out, out)
        grad_in = cupy.empty(out.shape, dtype=dtype)
        n = grad_in.size
        if n:
            packed = _aligned16(grad_out, out, grad_in)
            threads = n // (16 // grad_in.itemsize) if packed else n
            blocks = max(1, min((threads + 255) // 256, 65536))
            self._kernel("bias_act_backward", dtype)((blocks,), (256,), (grad_out, out, grad_in, n,
                                                                          code, int(packed)))
        return grad_in

    def bias_act_grads(self, grad_out, out, act):
        cupy = runtime.cupy
        grad_out, out, dtype = self._activation_grad_inputs("bias_act_grads", grad_out, out)
        rows, cols = out.shape
        grad_in = cupy.empty((rows, cols), dtype=dtype)
        if rows == 0 or cols == 0:
            return grad_in, cupy.zeros(cols, dtype=dtype)
        grad_bias = cupy.empty(cols, dtype=dtype)
        packed, blocks_x, slabs, rows_per_slab = bias_grad_slabs(
            rows, cols, grad_in.itemsize, _aligned16(grad_out, out, grad_in))
        # one slab: the kernel writes grad_bias and does not read partial (any pointer fills it)
        partial = grad_bias if slabs == 1 else cupy.empty((slabs, cols),
                                                          dtype=_compute_dtype(dtype))
        self._kernel("bias_act_grads", dtype)(
            (blocks_x, slabs), (32, GRAD_ROW_LANES),
            (grad_out, out, grad_in, partial, grad_bias, rows, cols, _ACT_CODE[act], int(packed),
             rows_per_slab))
        if slabs > 1:
            self._kernel("bias_grad_sum", dtype)(((cols + 255) // 256,), (256,),
                                                 (partial, grad_bias, slabs, cols))
        return grad_in, grad_bias

    def _row_launch(self, rows, cols):
        """(grid, block) for the row kernels: one warp per row up to 1024 classes."""
        tx = 32 if cols <= 1024 else (256 if cols <= 16384 else 1024)
        ty = max(1, 256 // tx)
        return ((rows + ty - 1) // ty,), (tx, ty)

    def _targets(self, target):
        return target if target.dtype == np.int64 else target.astype(np.int64)

    def softmax_cross_entropy(self, logits, target, ignore_index=-100):
        cupy = runtime.cupy
        dtype = logits.dtype
        if dtype not in FUSED_SUFFIX:
            raise TypeError(f"cross_entropy: expected logits of one of {_fused_dtypes()}, got "
                            f"{dtype}")
        rows, cols = logits.shape
        if cols == 0:
            raise RuntimeError("cross_entropy: logits have 0 classes (shape "
                               f"{tuple(logits.shape)}); expected at least one column")
        self._use()
        logits, target = runtime.dense(logits), self._targets(target)
        out = cupy.empty((2, rows), dtype=dtype)  # the losses, then the counted-row flags
        lse = cupy.empty(rows, dtype=np.float64)  # double: exact backward at |logits| ~ 1e4
        if rows:
            grid, block = self._row_launch(rows, cols)
            self._kernel("softmax_xent_forward", dtype)(
                grid, block, (logits, target, _stride(target), int(ignore_index), out, lse, rows,
                              cols))
        return out, lse

    def softmax_cross_entropy_backward(self, logits, target, lse, grad_rows, divisor=1,
                                       ignore_index=-100):
        cupy = runtime.cupy
        dtype = logits.dtype
        self._use()
        logits, target = runtime.dense(logits), self._targets(target)
        lse = runtime.dense(lse.astype(np.float64, copy=False))
        if grad_rows.dtype != dtype:
            grad_rows = grad_rows.astype(dtype)
        use_count = isinstance(divisor, cupy.ndarray)  # a mean's count, read by the kernel
        if use_count:
            if divisor.size != 1:
                raise ValueError(f"softmax_cross_entropy_backward: expected one divisor value, "
                                 f"got shape {tuple(divisor.shape)}")
            count = divisor if divisor.dtype == dtype else divisor.astype(dtype)
        else:
            count = grad_rows  # not read (any device pointer fills the argument)
        rows, cols = logits.shape
        grad = cupy.empty((rows, cols), dtype=dtype)
        if grad.size:
            grid, block = self._row_launch(rows, cols)
            self._kernel("softmax_xent_backward", dtype)(
                grid, block, (logits, target, _stride(target), int(ignore_index), lse, grad_rows,
                              _stride(grad_rows), count, use_count,
                              float(1 if use_count else divisor), grad, rows, cols))
        return grad
