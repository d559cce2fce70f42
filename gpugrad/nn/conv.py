"""``Conv1d`` and ``Conv2d``: convolution layers initialized as PyTorch's."""
import math

from ..creation import empty
from ..ops.conv import convolution
from ..ops.windows import as_tuple
from . import init
from .module import Module
from .parameter import Parameter

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _positive_int(value, name, cls):
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{cls}: {name} must be a positive int, got {value!r}")


class _ConvNd(Module):
    """What ``Conv1d`` and ``Conv2d`` share: arguments, parameters, initialization, repr."""

    dims = None

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__()
        cls = type(self).__name__
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            _positive_int(value, name, cls)
        if not isinstance(groups, int) or isinstance(groups, bool) or groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {list(_PADDING_MODES)}, but got "
                             f"padding_mode='{padding_mode}'")
        if padding_mode != "zeros":
            raise NotImplementedError(
                f"{cls}: padding_mode='{padding_mode}' is not supported by gpugrad; only "
                f"'zeros' is. Pad the input yourself (F.pad(x, ..., mode='{padding_mode}')) "
                f"and use padding=0")
        self.kernel_size = as_tuple(kernel_size, self.dims, "kernel_size", cls)
        self.stride = as_tuple(stride, self.dims, "stride", cls)
        self.dilation = as_tuple(dilation, self.dims, "dilation", cls)
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ValueError(f"Invalid padding string {padding!r}, should be one of "
                                 f"{{'valid', 'same'}}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
            self.padding = padding
        else:
            self.padding = as_tuple(padding, self.dims, "padding", cls)
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.padding_mode = padding_mode
        self.weight = Parameter(empty(out_channels, in_channels // groups, *self.kernel_size,
                                      device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(empty(out_channels, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        """Draw new initial values, as PyTorch's ``_ConvNd`` does: the weight from
        ``kaiming_uniform_(a=sqrt(5))`` and the bias from U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
        ``fan_in`` being in_channels/groups * prod(kernel_size)."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * math.prod(self.kernel_size)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        return convolution(input, self.weight, self.bias, self.stride, self.padding,
                           self.dilation, self.groups, self.dims, f"conv{self.dims}d")

    def extra_repr(self):
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        if self.padding != (0,) * self.dims:
            text += f", padding={self.padding}"
        if self.dilation != (1,) * self.dims:
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        return text


class Conv1d(_ConvNd):
    """1-D convolution over (N, C, L) or (C, L) inputs, as ``torch.nn.Conv1d``: weight
    (out_channels, in_channels/groups, kernel_size), optional bias (out_channels,). ``padding``:
    an int, ``'valid'`` or ``'same'``; ``padding_mode='zeros'`` only (others raise)."""

    dims = 1


class Conv2d(_ConvNd):
    """2-D convolution over (N, C, H, W) or (C, H, W) inputs, as ``torch.nn.Conv2d``: weight
    (out_channels, in_channels/groups, kh, kw), optional bias (out_channels,), initialized as
    PyTorch's. ``kernel_size``, ``stride``, ``dilation``: an int or an (h, w) pair; ``padding``:
    those, ``'valid'`` or ``'same'``; ``padding_mode='zeros'`` only (others raise). Runs as
    im2col + one GEMM (see ``gg.nn.functional.conv2d``)."""

    dims = 2
