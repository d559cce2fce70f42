"""``Linear`` (``y = x @ W.T + b``, initialized as PyTorch) and ``Identity``."""
import math

from ..creation import empty
from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter


class Linear(Module):
    """``y = activation(x @ weight.T + bias)`` with ``weight`` of shape (out, in).

    Initialized as ``torch.nn.Linear``: weight and bias from U(-1/sqrt(in), 1/sqrt(in)) (that is
    ``kaiming_uniform_(a=sqrt(5))``). ``activation`` (gpugrad's extension; None by default) fuses
    relu/tanh/sigmoid into the bias add, one kernel instead of two.
    """

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None,
                 activation=None):
        super().__init__()
        if activation not in (None, "relu", "tanh", "sigmoid"):
            raise ValueError(f"Linear: unknown activation {activation!r}; expected None, 'relu', "
                             f"'tanh' or 'sigmoid'")
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                wrong_type = not isinstance(value, int) or isinstance(value, bool)
                raise (TypeError if wrong_type else ValueError)(
                    f"Linear: {name} must be a non-negative int, got {value!r}")
        self.in_features = in_features
        self.out_features = out_features
        self.activation = activation
        self.weight = Parameter(empty(out_features, in_features, device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(empty(out_features, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        """Draw new initial values, as ``torch.nn.Linear`` does."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        return F.linear(input, self.weight, self.bias, self.activation)

    def extra_repr(self):
        text = (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")
        return text + (f", activation={self.activation!r}" if self.activation else "")


class Identity(Module):
    """Returns its input unchanged (a placeholder layer)."""

    def forward(self, input):
        return input
