"""The backend contract: the small, flat set of array primitives every device implements.

The autograd engine and the ops call only these methods, so they never import NumPy or CuPy.
A backend's arrays are opaque to the engine except for two attributes: ``.shape`` (a tuple of
ints) and ``.ndim``. Arguments named ``b`` in binary primitives may also be Python numbers, and
so may ``a`` (``2.0 - x``); a number adopts the array's dtype where the value fits, as in NumPy 2.

Fused primitives (``bias_act``, ``softmax_cross_entropy``, ``sgd_step``, ``adam_step``) are the
hot paths of training. Every backend implements them; the ``cuda`` backend with the kernels in
``kernels/``, the others in a few array operations that give the same numbers.
"""

UNARY_OPS = ("neg", "exp", "log", "sqrt", "abs", "tanh", "relu", "sigmoid", "sign", "log1p",
             "expm1")
BINARY_OPS = ("add", "sub", "mul", "div", "pow", "maximum", "minimum")
COMPARE_OPS = ("eq", "ne", "lt", "le", "gt", "ge")
LOGICAL_OPS = ("logical_and", "logical_or")
REDUCE_OPS = ("sum", "mean", "max", "min", "argmax", "argmin")  # mean: floating inputs only
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
    "max": "max", "min": "min", "argmax": "argmax", "argmin": "argmin",
}


def array_api_table(module, ops):
    """``{op: module.<function>}`` for the ops of ``ops`` that have an array-API function."""
    return {op: getattr(module, ARRAY_API_FUNCTIONS[op]) for op in ops
            if op in ARRAY_API_FUNCTIONS}


class Backend:
    """Interface of an array backend serving one device (``self.device``, a ``gg.Device``).

    Primitives return new arrays unless they say "in place". Shapes are tuples of ints, axes are
    ints or tuples of ints (``None`` means all axes), dtypes are ``gg.DType`` objects.
    """

    device = None

    def __reduce__(self):
        # one backend per device: copy.deepcopy and pickle of a tensor must keep its backend
        from ..device import get_backend

        return (get_backend, (str(self.device),))

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

    def random(self, kind, shape, dtype, seed):
        """Random values: ``kind`` is "uniform" ([0, 1)) or "normal" (mean 0, std 1).

        ``seed`` is an int from ``gpugrad.random``; the same seed gives the same values.
        """
        raise NotImplementedError

    def randint(self, low, high, shape, seed):
        """int64 values drawn uniformly from [low, high)."""
        raise NotImplementedError

    # ---- elementwise ---------------------------------------------------------------------
    def unary(self, op, a):
        """``op`` in UNARY_OPS applied elementwise."""
        raise NotImplementedError

    def binary(self, op, a, b):
        """``op`` in BINARY_OPS, COMPARE_OPS or LOGICAL_OPS, with NumPy broadcasting."""
        raise NotImplementedError

    def where(self, cond, a, b):
        """Elementwise ``a if cond else b`` with broadcasting; a and b may be numbers."""
        raise NotImplementedError

    def cast(self, a, dtype):
        raise NotImplementedError

    # ---- reductions and matmul -----------------------------------------------------------
    def reduce(self, op, a, axis=None, keepdims=False):
        """``op`` in REDUCE_OPS over ``axis``. argmax/argmin take a single int axis or None."""
        raise NotImplementedError

    def matmul(self, a, b):
        """Matrix product with NumPy's ``matmul`` rules (1-D, 2-D and batched)."""
        raise NotImplementedError

    # ---- layout --------------------------------------------------------------------------
    def reshape(self, a, shape):
        raise NotImplementedError

    def permute(self, a, axes):
        raise NotImplementedError

    def broadcast_to(self, a, shape):
        raise NotImplementedError

    def contiguous(self, a):
        """A dense copy of ``a`` in row-major order."""
        raise NotImplementedError

    def concatenate(self, arrays, axis):
        raise NotImplementedError

    # ---- gather / scatter ----------------------------------------------------------------
    def getitem(self, a, index):
        """``a[index]``: index is a tuple of ints, slices, None, Ellipsis and int64/bool arrays
        of this backend, with NumPy's basic and advanced indexing rules."""
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
        """Copy ``src`` (broadcastable, same device) into ``dst`` in place."""
        raise NotImplementedError

    def synchronize(self):
        """Wait for pending device work."""

    def owns_memory(self, a):
        """True when ``a`` is not a view of another array, so the engine may hand it out as a
        leaf's ``.grad`` without a copy (NumPy and CuPy arrays say so through ``.base``)."""
        return a.base is None

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

    def softmax_cross_entropy(self, logits, target):
        """Per-row ``logsumexp(logits) - logits[target]`` for 2-D logits and int64 targets.

        Returns ``(loss_rows, lse)``; ``lse`` (the per-row log-sum-exp) is saved for backward.
        """
        raise NotImplementedError

    def softmax_cross_entropy_backward(self, logits, target, lse, grad_rows, divisor=1):
        """``(softmax(logits) - onehot(target)) * (grad_rows / divisor)[:, None]`` in one pass.

        ``grad_rows`` is (N,) or 0-d (one value for every row: the gradient of the rows' sum or
        mean); ``grad_rows / divisor`` is rounded to the logits' dtype before the product, so
        the backward of a mean (``divisor`` = N) needs no kernel of its own.
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

    # ---- introspection -------------------------------------------------------------------
    def describe(self):
        """A one-line description for ``gg.devices()``."""
        return str(self.device)
