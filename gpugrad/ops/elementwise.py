"""Elementwise ops with broadcasting: arithmetic, unary math, activations, where, clamp."""
from ..dtypes import float32, float64
from ..function import Function
from .broadcast import checked_binary, sum_to
from .fused import BiasActGrad


class _Binary(Function):
    """A broadcasting binary op; ``op`` names the backend primitive. Operands may be numbers,
    whose ``shapes`` entry is None (they get no gradient)."""

    op = None

    def forward(self, a, b):
        self.shapes = (getattr(a, "shape", None), getattr(b, "shape", None))
        backend = self.backend
        try:
            out = backend.binary(self.op, a, b)
        except ValueError:  # name the op and both shapes (checked only on failure: hot path)
            out = checked_binary(backend, self.op, a, b)
        if backend.dtype(out) is float64 and not _has_float64(backend, a, b):
            # NumPy makes int64 op float32 (and int / int) float64; PyTorch gives float32
            out = backend.cast(out, float32)
        return out


def _has_float64(backend, a, b):
    return any(getattr(x, "shape", None) is not None and backend.dtype(x) is float64
               for x in (a, b))


class Add(_Binary):
    op = "add"

    def backward(self, grad):
        return sum_to(grad, self.shapes[0]), sum_to(grad, self.shapes[1])


class Sub(_Binary):
    op = "sub"

    def backward(self, grad):
        gb = None if self.shapes[1] is None else sum_to(-grad, self.shapes[1])
        return sum_to(grad, self.shapes[0]), gb


class Mul(_Binary):
    save_inputs = True
    op = "mul"

    def backward(self, grad):
        a, b = self.inputs
        ga = None if self.shapes[0] is None else sum_to(grad * b, self.shapes[0])
        gb = None if self.shapes[1] is None else sum_to(grad * a, self.shapes[1])
        return ga, gb


class Div(_Binary):
    save_inputs = True
    op = "div"

    def backward(self, grad):
        a, b = self.inputs
        ga = None if self.shapes[0] is None else sum_to(grad / b, self.shapes[0])
        gb = None if self.shapes[1] is None else sum_to(-grad * a / (b * b), self.shapes[1])
        return ga, gb


class Pow(_Binary):
    save_inputs = True
    save_output = True

    op = "pow"

    def backward(self, grad):
        a, b = self.inputs
        ga = gb = None
        if self.shapes[0] is not None:
            if self.shapes[1] is None:  # x ** number
                if b == 0:
                    ga = grad * 0.0
                elif b == 1:
                    ga = grad
                elif b == 2:
                    ga = grad * (a * 2.0)
                else:
                    ga = grad * (b * a ** (b - 1))
            else:
                ga = grad * (b * a ** (b - 1))
            ga = sum_to(ga, self.shapes[0])
        if self.shapes[1] is not None:
            # (``gpugrad.tensor`` is the creation function, so import from the module itself)
            from ..tensor import as_tensor_like

            base = as_tensor_like(a, b)
            # d/db a**b = a**b * log(a), taken as 0 where a == 0 (as PyTorch does)
            gb = grad * where_zero(base == 0, self.output() * base.log())
            gb = sum_to(gb, self.shapes[1])
        return ga, gb


def where_zero(mask, x):
    """``x`` with entries under ``mask`` set to 0 (a mask carries no gradient)."""
    return Where.apply(mask, 0.0, x)


class Neg(Function):
    def forward(self, a):
        return self.backend.unary("neg", a)

    def backward(self, grad):
        return -grad


class Exp(Function):
    save_output = True

    def forward(self, a):
        return self.backend.unary("exp", a)

    def backward(self, grad):
        return grad * self.output()


class Log(Function):
    save_inputs = True

    def forward(self, a):
        return self.backend.unary("log", a)

    def backward(self, grad):
        return grad / self.inputs[0]


class Sqrt(Function):
    save_output = True

    def forward(self, a):
        return self.backend.unary("sqrt", a)

    def backward(self, grad):
        return grad * 0.5 / self.output()


class Abs(Function):
    save_inputs = True

    def forward(self, a):
        return self.backend.unary("abs", a)

    def backward(self, grad):
        return grad * self.inputs[0].sign()


class _Activation(Function):
    """tanh, relu or sigmoid (``act``). Backward is one kernel, bias_act's gradient from the
    saved output, instead of three elementwise ops; that kernel has its own backward."""

    save_output = True
    act = None

    def forward(self, a):
        return self.backend.unary(self.act, a)

    def backward(self, grad):
        return BiasActGrad.apply(grad, self.output(), act=self.act)


class Tanh(_Activation):
    act = "tanh"


class Relu(_Activation):
    act = "relu"


class Sigmoid(_Activation):
    act = "sigmoid"


class _MaxMin(_Binary):
    save_inputs = True
    winner = None  # comparison under which ``a`` takes the whole gradient

    def backward(self, grad):
        from ..tensor import as_tensor_like

        a, b = self.inputs
        ta = as_tensor_like(a, b)
        # ties split the gradient evenly, as PyTorch does
        share_a = ta._compare(self.winner, b).to(grad.dtype) + (ta == b).to(grad.dtype) * 0.5
        ga = None if self.shapes[0] is None else sum_to(grad * share_a, self.shapes[0])
        gb = None if self.shapes[1] is None else sum_to(grad * (1.0 - share_a), self.shapes[1])
        return ga, gb


class Maximum(_MaxMin):
    op, winner = "maximum", "gt"


class Minimum(_MaxMin):
    op, winner = "minimum", "lt"


class Where(Function):
    """``where(cond, a, b)``; ``cond`` is a bool tensor and never gets a gradient."""

    save_inputs = True

    def forward(self, cond, a, b):
        self.shapes = (getattr(a, "shape", None), getattr(b, "shape", None))
        try:
            out = self.backend.where(cond, a, b)
        except ValueError:
            from .broadcast import broadcast_shapes

            shape = broadcast_shapes("where", cond.shape, self.shapes[0] or ())
            broadcast_shapes("where", shape, self.shapes[1] or ())
            raise
        if self.backend.dtype(out) is float64 and not _has_float64(self.backend, a, b):
            out = self.backend.cast(out, float32)  # where(c, 1.0, 0.0) is float32, as in PyTorch
        return out

    def backward(self, grad):
        cond = self.inputs[0]
        ga = None if self.shapes[0] is None else sum_to(Where.apply(cond, grad, 0.0), self.shapes[0])
        gb = None if self.shapes[1] is None else sum_to(Where.apply(cond, 0.0, grad), self.shapes[1])
        return None, ga, gb


class Clamp(Function):
    """``clamp(x, min, max)``; the gradient passes where ``min <= x <= max``, as in PyTorch."""

    save_inputs = True

    def forward(self, a, min=None, max=None):
        self.bounds = (min, max)
        out = a
        if min is not None:
            out = self.backend.binary("maximum", out, min)
        if max is not None:
            out = self.backend.binary("minimum", out, max)
        return out if out is not a else self.backend.contiguous(a)

    def backward(self, grad):
        x = self.inputs[0]
        lo, hi = self.bounds
        if lo is not None:
            grad = Where.apply(x >= lo, grad, 0.0)
        if hi is not None:
            grad = Where.apply(x <= hi, grad, 0.0)
        return grad


class Cast(Function):
    """A dtype conversion; the gradient is cast back to the input's dtype."""

    def forward(self, a, dtype=None):
        self.in_dtype = self.backend.dtype(a)
        return self.backend.cast(a, dtype)

    def backward(self, grad):
        return grad.to(self.in_dtype)


class ToDevice(Function):
    """A copy to another device; the gradient is copied back."""

    def forward(self, a, target=None):
        self.source = self.backend
        self.backend = target
        return target.from_backend(a, self.source)

    def backward(self, grad):
        return grad.to(self.source.device)


class Identity(Function):
    """A copy that keeps the graph (``clone``)."""

    def forward(self, a):
        return self.backend.contiguous(a)

    def backward(self, grad):
        return grad
