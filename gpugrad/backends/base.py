"""The backend contract: the small, flat set of array primitives every device implements.

The autograd engine and the ops call only these methods, so they never import NumPy or CuPy.
A backend's arrays are opaque to the engine except for three attributes: ``.shape`` (a tuple of
ints), ``.ndim`` and ``.dtype`` (the array library's dtype object, only ever compared by
identity: two arrays of one dtype have the same object, as NumPy's and CuPy's do). Arguments
named ``b`` in binary primitives may also be Python numbers, and so may ``a`` (``2.0 - x``); the
ops pass the dtype to compute in (PyTorch's promotion, decided in ``gpugrad.dtypes``), or None
when the operands share one.

Fused primitives (``bias_act``, ``softmax_cross_entropy``, ``sgd_step``, ``adam_step``) are the
hot paths of training. Every backend implements them; the ``cuda`` backend with the kernels in
``kernels/``, the others in a few array operations that give the same numbers.
"""
import math

from .. import device_registry
from .graph_capture import GraphCapture

UNARY_OPS: tuple[str, ...] = ("neg", "exp", "log", "sqrt", "abs", "tanh", "relu", "sigmoid", "sign", "log1p",
             "expm1")
# unary math (gpugrad/ops/unary_math.py). floor, ceil, trunc and round (half to even) take
# floating arrays only: the ops copy integer tensors, which are already whole
MATH_UNARY_OPS = ("sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh",
                  "atanh", "log2", "log10", "exp2", "erf", "erfc", "floor", "ceil", "trunc",
                  "round")
UNARY_OPS += MATH_UNARY_OPS
BINARY_OPS: tuple[str, ...] = ("add", "sub", "mul", "div", "pow", "maximum", "minimum")
# NaN-ignoring fmax/fmin and atan2, and the floating modulus family (gpugrad/ops/binary_math.py):
# fmod is C's, exact; remainder and floor_divide are Python's (from fmod: 1.0 // 0.1 is 9.0)
BINARY_OPS += ("atan2", "fmax", "fmin", "fmod", "remainder", "floor_divide")
COMPARE_OPS = ("eq", "ne", "lt", "le", "gt", "ge")
LOGICAL_OPS = ("logical_and", "logical_or")
# integer and bool operands only (gpugrad/tensor_bitwise_methods.py), and unary bitwise_not
BITWISE_OPS = ("bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift",
               "bitwise_right_shift")
REDUCE_OPS = ("sum", "mean", "max", "min", "argmax", "argmin", "prod")  # mean: floats only
SCAN_OPS = ("sum", "prod", "max", "min")  # cumsum, cumprod, cummax, cummin (values)
ACTIVATIONS = ("identity", "relu", "tanh", "sigmoid")
RANDOM_KINDS = ("uniform", "normal")

# The array-API function behind each op. NumPy and CuPy share these names, so a backend on
# either builds its dispatch tables with ``array_api_table``; relu and sigmoid have none.
ARRAY_API_FUNCTIONS = {
    "neg": "negative", "exp": "exp", "log": "log", "sqrt": "sqrt", "abs": "abs", "tanh": "tanh",
    "sign": "sign", "log1p": "log1p", "expm1": "expm1", "add": "add", "sub": "subtract", "mul": "multiply", "div": "true_divide",
    "pow": "power", "maximum": "maximum", "minimum": "minimum", "eq": "equal", "ne": "not_equal",
    "lt": "less", "le": "less_equal", "gt": "greater", "ge": "greater_equal",
    "logical_and": "logical_and", "logical_or": "logical_or", "sum": "sum", "mean": "mean",
    "max": "max", "min": "min", "argmax": "argmax", "argmin": "argmin", "prod": "prod",
    # unary and binary math; erf and erfc have none (scipy.special / cupyx.scipy.special)
    "sin": "sin", "cos": "cos", "tan": "tan", "asin": "arcsin", "acos": "arccos",
    "atan": "arctan", "sinh": "sinh", "cosh": "cosh", "asinh": "arcsinh", "acosh": "arccosh",
    "atanh": "arctanh", "log2": "log2", "log10": "log10", "exp2": "exp2", "floor": "floor",
    "ceil": "ceil", "trunc": "trunc", "round": "rint", "atan2": "arctan2", "fmax": "fmax",
    "fmin": "fmin", "fmod": "fmod", "remainder": "remainder", "floor_divide": "floor_divide", "bitwise_and": "bitwise_and", "bitwise_or": "bitwise_or",
    "bitwise_xor": "bitwise_xor", "bitwise_left_shift": "left_shift",
    "bitwise_right_shift": "right_shift", "bitwise_not": "invert",
}


def array_api_table(module, ops):
    """``{op: module.<function>}`` for the ops of ``ops`` that have an array-API function."""
    return {op: getattr(module, ARRAY_API_FUNCTIONS[op]) for op in ops
            if op in ARRAY_API_FUNCTIONS}


def window_count(size, kernel, stride, pad_before, pad_after, dilation):
    """How many windows of ``kernel`` taps spaced ``dilation`` apart fit, ``stride`` apart, along
    a dimension of ``size`` padded by ``pad_before`` and ``pad_after`` (``im2col``'s output
    positions; 0 or less when not even one fits)."""
    return (size + pad_before + pad_after - dilation * (kernel - 1) - 1) // stride + 1


def im2col_shape(shape, kernel, stride, padding, dilation):
    """The shape of ``im2col``'s result for an (N, C, H, W) input: (C*kh*kw, N*OH*OW)."""
    n, c, h, w = shape
    oh = window_count(h, kernel[0], stride[0], padding[0][0], padding[0][1], dilation[0])
    ow = window_count(w, kernel[1], stride[1], padding[1][0], padding[1][1], dilation[1])
    return (c * kernel[0] * kernel[1], n * oh * ow)


def view_strides(shape, strides, new_shape):
    """The strides (in elements) that view an array of ``shape`` and ``strides`` as
    ``new_shape`` without copying, or None when no view can (PyTorch's ``computeStride``, the
    rule NumPy's reshape also follows)."""
    if not shape:
        return (1,) * len(new_shape)
    if math.prod(shape) == 0:
        out, step = [], 1
        for size in reversed(new_shape):
            out.append(step)
            step *= max(size, 1)
        return tuple(reversed(out))
    new_strides = [0] * len(new_shape)
    view_d = len(new_shape) - 1
    chunk_base_stride = strides[-1]
    tensor_numel = view_numel = 1
    for tensor_d in range(len(shape) - 1, -1, -1):
        tensor_numel *= shape[tensor_d]
        if tensor_d == 0 or (shape[tensor_d - 1] != 1 and
                             strides[tensor_d - 1] != tensor_numel * chunk_base_stride):
            while view_d >= 0 and (view_numel < tensor_numel or new_shape[view_d] == 1):
                new_strides[view_d] = view_numel * chunk_base_stride
                view_numel *= new_shape[view_d]
                view_d -= 1
            if view_numel != tensor_numel:
                return None
            if tensor_d > 0:
                chunk_base_stride = strides[tensor_d - 1]
                tensor_numel = view_numel = 1
    return tuple(new_strides) if view_d == -1 else None


class Backend(GraphCapture):
    """Interface of an array backend serving one device (``self.device``, a ``gg.Device``).

    Primitives return new arrays unless they say "in place". Shapes are tuples of ints, axes are
    ints or tuples of ints (``None`` means all axes), dtypes are ``gg.DType`` objects.
    """

    device = None
    #: False on a device that models shapes only (a sim device configured with compute=False):
    #: its arrays hold no values
    computes = True

    def __reduce__(self):
        # one backend per device: copy.deepcopy and pickle of a tensor must keep its backend
        return (device_registry.get_backend, (str(self.device),))

    # ---- host <-> device ---------------------------------------------------------------
    def from_host(self, data, dtype=None):
        """An array on this device from host data: a NumPy array, a number or nested lists.

        With ``dtype=None``: Python floats become float32, ints int64 and bools bool; a NumPy
        array keeps its dtype. Data already on this device is copied.
        """
        raise NotImplementedError

    def to_host(self, a):
        """A NumPy array holding ``a``'s values (waits for pending device work)."""
        raise NotImplementedError

    def from_backend(self, a, source):
        """A copy on this device of array ``a`` that lives on backend ``source``."""
        return self.from_host(source.to_host(a))

    # ---- metadata ------------------------------------------------------------------------
    def dtype(self, a):
        """The gg.DType of array ``a``."""
        raise NotImplementedError

    # ---- creation ------------------------------------------------------------------------
    def full(self, shape, value, dtype):
        raise NotImplementedError

    def arange(self, start, stop, step, dtype):
        raise NotImplementedError

    def random(self, kind, shape, dtype, seed, out=None):
        """Random values: ``kind`` is "uniform" ([0, 1)) or "normal" (mean 0, std 1).

        ``seed`` is an int from ``gpugrad.random``; the same seed gives the same values. With
        ``out`` they are written into that array (``normal_``, ``uniform_``).
        """
        raise NotImplementedError

    def randint(self, low, high, shape, seed):
        """int64 values drawn uniformly from [low, high)."""
        raise NotImplementedError

    # ---- elementwise ---------------------------------------------------------------------
    def unary(self, op, a, dtype=None, out=None):
        """``op`` in UNARY_OPS applied elementwise, giving ``dtype`` (None: PyTorch's result
        dtype, ``dtypes.unary_result_type``). With ``out`` (an array of ``a``'s shape) the
        result is written into it (cast to its dtype) and ``out`` is returned: an in-place op.
        float16/bfloat16 compute in float32 and round, as PyTorch's CPU does."""
        raise NotImplementedError

    def binary(self, op, a, b, dtype=None, out=None):
        """``op`` in BINARY_OPS, COMPARE_OPS or LOGICAL_OPS, with NumPy broadcasting.

        ``dtype`` is the dtype the op computes in, chosen by gpugrad's promotion (the result's
        dtype for arithmetic; comparisons and logical ops give bool); None when both operands
        already share it. Numbers are converted to it (integers wrap, as in PyTorch). With
        ``out`` the result is written into that array (an in-place op) and returned.
        """
        raise NotImplementedError

    def where(self, cond, a, b, dtype=None, out=None):
        """Elementwise ``a if cond else b`` with broadcasting, in ``dtype`` (a and b may be
        numbers or arrays of other dtypes); written into ``out`` if given."""
        raise NotImplementedError

    def cast(self, a, dtype):
        raise NotImplementedError

    # ---- reductions and matmul -----------------------------------------------------------
    def reduce(self, op, a, axis=None, keepdims=False):
        """``op`` in REDUCE_OPS over ``axis``. argmax/argmin take a single int axis or None.

        Result dtypes as in PyTorch: ``sum`` of bool or integers is int64, of float16/bfloat16
        accumulated in float32 and rounded (``mean`` likewise; floats only); argmax/argmin give
        int64; max/min keep the dtype."""
        raise NotImplementedError

    def scan(self, op, a, axis):
        """The inclusive scan of ``op`` in SCAN_OPS along the int ``axis``: cumulative sum,
        product, max or min, ``a``'s shape. ``sum``/``prod`` of bool or integers give int64 and
        float16/bfloat16 accumulate in float32 (PyTorch's ``cumsum``/``cumprod``); ``max``/
        ``min`` keep the dtype and propagate NaN."""
        raise NotImplementedError

    def sort(self, a, axis, descending=False):
        """``(values, indices)``: ``a`` sorted along the int ``axis`` and the int64 positions
        the values came from. Always stable (equal values keep their order, also when
        ``descending``); NaN sorts above every number, as in PyTorch."""
        raise NotImplementedError

    def matmul(self, a, b):
        """Matrix product of two arrays of one dtype with NumPy's ``matmul`` rules (1-D, 2-D
        and batched); float16/bfloat16 accumulate in float32."""
        raise NotImplementedError

    # ---- layout --------------------------------------------------------------------------
    def reshape(self, a, shape):
        """``a`` in a new shape: a view when its strides allow one (always for a contiguous
        ``a``), else a copy, as NumPy and PyTorch's ``reshape`` do."""
        raise NotImplementedError

    def strides(self, a):
        """The strides of ``a`` in elements (0 along a broadcast dimension)."""
        return tuple(s // a.itemsize for s in a.strides)

    def is_contiguous(self, a):
        """True when ``a`` is dense in row-major order."""
        return a.flags.c_contiguous

    def permute(self, a, axes):
        raise NotImplementedError

    def broadcast_to(self, a, shape, view=False):
        """``a`` broadcast to ``shape``, read-only. ``view=True``: a view sharing ``a``'s memory
        (``Tensor.expand``); otherwise it may be a copy where that is cheaper (small arrays on
        NumPy), for callers that only read it (gradients of reductions)."""
        raise NotImplementedError

    def contiguous(self, a):
        """A dense copy of ``a`` in row-major order."""
        raise NotImplementedError

    def concatenate(self, arrays, axis):
        raise NotImplementedError

    # ---- gather / scatter ----------------------------------------------------------------
    def getitem(self, a, index):
        """``a[index]``: index is a tuple of ints, slices, None, Ellipsis and int64/bool arrays
        of this backend, with NumPy's basic and advanced indexing rules. Basic indexing (no
        arrays) returns a view sharing ``a``'s memory, a 0-d one too."""
        raise NotImplementedError

    def index_add(self, shape, index, values, dtype):
        """A zero array of ``shape`` into which ``values`` are added at ``index`` (repeated
        indices accumulate): the adjoint of ``getitem``."""
        raise NotImplementedError

    def setitem_(self, a, index, value):
        """``a[index] = value`` in place: ``index`` as in ``getitem``, ``value`` a number or an
        array of this backend broadcast to ``a[index]``'s shape and cast to ``a``'s dtype.
        Repeated indices write one of their values (which one is unspecified, as in PyTorch)."""
        raise NotImplementedError

    # ---- in place --------------------------------------------------------------------------
    def copy_(self, dst, src):
        """Copy ``src`` (an array of this device broadcastable to ``dst``, or a number) into
        ``dst`` in place, converting values as C casts do (PyTorch's ``copy_``)."""
        raise NotImplementedError

    def synchronize(self):
        """Wait for pending device work."""

    def owns_memory(self, a):
        """True when ``a`` is not a view of another array, so the engine may hand it out as a
        leaf's ``.grad`` without a copy (NumPy and CuPy arrays say so through ``.base``)."""
        return a.base is None

    # ---- pinned host memory ----------------------------------------------------------------
    def pin(self, a):
        """``a`` in page-locked (pinned) host memory, which host-to-device copies read at full
        speed (``Tensor.pin_memory()``): ``a`` itself when it owns its memory, else a copy. Only
        host-memory devices (cpu) can pin."""
        raise RuntimeError(f"cannot pin a tensor on {self.device}: only cpu tensors can be "
                           f"pinned (pin before moving it, e.g. x.cpu().pin_memory())")

    def is_pinned(self, a):
        """True when ``a`` is in pinned host memory (made by ``pin``)."""
        return False

    # ---- sliding windows (convolution and pooling) ------------------------------------------
    def im2col(self, a, kernel, stride, padding, dilation, pad_value=0.0):
        """The sliding windows of an (N, C, H, W) array as the columns of a matrix.

        ``kernel``, ``stride`` and ``dilation`` are (h, w) pairs of ints; ``padding`` is
        ((top, bottom), (left, right)): that many ``pad_value`` entries surround the input (0
        for a convolution, -inf for max pooling). The result is a dense (C*kh*kw, N*OH*OW)
        array (``im2col_shape``): row ``(c*kh + i)*kw + j`` holds tap (i, j) of channel ``c``,
        column ``(n*OH + oh)*OW + ow`` the window at (oh, ow) of sample ``n``, so a convolution
        is one matrix product with the (O, C*kh*kw) weight."""
        raise NotImplementedError

    def col2im(self, cols, shape, kernel, stride, padding, dilation):
        """The adjoint of ``im2col``: an array of ``shape`` (N, C, H, W) in which every entry of
        ``cols`` (laid out as ``im2col`` gives it) is added to the input element it came from;
        entries that came from the padding are dropped. The gradient of ``im2col``."""
        raise NotImplementedError

    def max_pool2d(self, a, kernel, stride, padding, dilation):
        """Max pooling of an (N, C, H, W) floating array in one pass: ``(values, indices)``,
        both (N, C, OH, OW), the windows as ``im2col`` takes them (``padding`` counts as -inf).
        ``values`` holds each window's maximum (NaN if it holds one), ``indices`` (int64) the
        chosen element's flat index in its H*W plane, PyTorch's ``return_indices``: the first
        of tied maxima (the last NaN), counting taps in (i, j) order."""
        raise NotImplementedError

    def max_pool2d_backward(self, grad, indices, shape, kernel, stride, padding, dilation):
        """The gradient of ``max_pool2d``: a zero array of ``shape`` (N, C, H, W) into which
        each entry of ``grad`` (N, C, OH, OW) is added at its window's ``indices`` (repeated
        indices of overlapping windows accumulate); the geometry is ``max_pool2d``'s."""
        raise NotImplementedError

    # ---- fused kernels -------------------------------------------------------------------
    def bias_act(self, x, bias, act):
        """``act(x + bias)`` for a 2-D ``x`` and 1-D ``bias``; ``act`` in ACTIVATIONS."""
        raise NotImplementedError

    def bias_act_backward(self, grad_out, out, act):
        """Gradient of ``act(x + bias)`` with respect to ``x``, from the saved output."""
        raise NotImplementedError

    def bias_act_grads(self, grad_out, out, act):
        """Both gradients of ``act(x + bias)`` from the saved output: ``(grad_x, grad_bias)``,
        ``grad_bias`` being ``grad_x.sum(axis=0)`` (one kernel reading the inputs once on a
        GPU; the engine uses it when no graph of the backward is recorded)."""
        raise NotImplementedError

    def softmax_cross_entropy(self, logits, target, ignore_index=-100):
        """Per-row ``logsumexp(logits) - logits[target]`` for 2-D logits and int64 targets.

        Returns ``(rows, lse)``: ``rows`` is (2, N) in the logits' dtype, ``rows[0]`` the
        per-row losses (0 where ``target == ignore_index``) and ``rows[1]`` 1 for a counted row
        and 0 for an ignored one, so one reduction over axis 1 gives the loss sum and the count
        of a mean; ``lse`` (the per-row log-sum-exp, any value on ignored rows) is saved for
        backward. A target outside [0, C) other than ``ignore_index`` raises IndexError where
        that costs no wait for the device (cpu, sim); on cuda its loss row is NaN.
        """
        raise NotImplementedError

    def softmax_cross_entropy_backward(self, logits, target, lse, grad_rows, divisor=1,
                                       ignore_index=-100):
        """``(softmax(logits) - onehot(target)) * (grad_rows / divisor)[:, None]`` in one pass,
        with zero rows where ``target == ignore_index``.

        ``grad_rows`` is (N,) or 0-d (one value for every row: the gradient of the rows' sum or
        mean); ``divisor`` is a number or a 0-d array on the device (a mean's count of counted
        rows, read by the kernel: no wait for it); ``grad_rows / divisor`` is rounded to the
        logits' dtype before the product, so the backward of a mean needs no kernel of its own.
        """
        raise NotImplementedError

    def sgd_step(self, params, grads, bufs, lr, momentum, dampening, weight_decay, nesterov,
                 maximize=False):
        """One SGD update of every array in ``params``, in place, as ``torch.optim.SGD``.

        ``bufs`` holds the momentum buffers (updated in place); ``None`` entries mean the
        buffer starts now, and the new buffers are returned as a list.
        """
        raise NotImplementedError

    def adam_step(self, params, grads, exp_avgs, exp_avg_sqs, step, lr, beta1, beta2, eps,
                  weight_decay, decoupled, maximize=False):
        """One Adam (``decoupled=False``) or AdamW (``decoupled=True``) update, in place, as
        ``torch.optim.Adam`` / ``torch.optim.AdamW`` at step number ``step`` (1-based)."""
        raise NotImplementedError

    # ---- collectives (gpugrad.distributed) ----------------------------------------------------
    def host_buffer(self, a):
        """A host (NumPy) array that *is* ``a``'s memory, for a collective library to read and
        write in place; None where the device's memory is not host memory (cuda: the caller
        stages through ``to_host``/``from_host``, or hands device pointers to NCCL)."""
        return None

    def collective_launch(self, op, nbytes, world_size):
        """A collective ``op`` ("all_reduce", "broadcast", "all_gather", "reduce_scatter",
        "send", "recv", "barrier") of ``nbytes`` per rank among ``world_size`` ranks starts on
        this device now. Returns a handle for ``collective_wait``. Devices that model time (sim)
        charge it to their communication stream; the others have nothing to do."""
        return None

    def collective_wait(self, handle):
        """Work issued on this device from now on runs after the collective ``handle`` (as
        ``work.wait()`` makes the current CUDA stream wait for an NCCL kernel)."""

    # ---- introspection -------------------------------------------------------------------
    def describe(self):
        """A one-line description for ``gg.devices()``."""
        return str(self.device)

    # ---- DLPack (gpugrad/interop.py) --------------------------------------------------------
    def dlpack(self, a, stream=None, max_version=None, dl_device=None, copy=None):
        """A DLPack capsule sharing ``a``'s memory, for ``Tensor.__dlpack__`` (the keywords are
        the DLPack protocol's). A backend without real memory to share raises BufferError."""
        raise BufferError(f"{self.device} tensors cannot be exported with DLPack; copy the "
                          f"tensor to the host first with .cpu()")

    def dlpack_device(self, a):
        """``(device_type, device_id)`` of ``a``'s memory as DLPack numbers them (1: kDLCPU,
        2: kDLCUDA), for ``Tensor.__dlpack_device__``; BufferError where there is none."""
        raise BufferError(f"{self.device} tensors have no DLPack device: they cannot be "
                          f"exported; copy the tensor to the host first with .cpu()")

    def from_dlpack(self, obj):
        """An array of this device sharing memory with ``obj`` (an array with ``__dlpack__``
        whose memory is on this device), for ``gg.from_dlpack``."""
        raise BufferError(f"{self.device} cannot import DLPack arrays")

    def _array_dlpack(self, a, stream=None, max_version=None, dl_device=None, copy=None):
        """``a.__dlpack__(...)`` passing only the keywords given; an older array library whose
        ``__dlpack__`` takes only ``stream`` (NumPy < 2.1, CuPy < 13) gets that, after this
        method honours ``dl_device`` (only ``a``'s own device) and ``copy=True`` itself. The
        capsule is then unversioned, which DLPack allows whatever ``max_version`` asked."""
        kwargs = {} if stream is None else {"stream": stream}
        extra = {name: value for name, value in (("max_version", max_version),
                                                 ("dl_device", dl_device), ("copy", copy))
                 if value is not None}
        try:
            return a.__dlpack__(**kwargs, **extra)
        except TypeError as exc:
            if not extra or "keyword" not in str(exc):
                raise
        if dl_device is not None and tuple(int(v) for v in dl_device) != \
                tuple(int(v) for v in a.__dlpack_device__()):
            raise BufferError(f"{self.device} tensors export only on their own device "
                              f"{tuple(a.__dlpack_device__())}, not dl_device={dl_device}")
        if copy:
            a = a.copy()
        return a.__dlpack__(**kwargs)
