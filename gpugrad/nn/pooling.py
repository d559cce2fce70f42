"""Pooling layers with PyTorch's names and arguments: ``MaxPool1d/2d``, ``AvgPool1d/2d`` and
``AdaptiveAvgPool1d/2d``, each a front on its function in ``gpugrad.ops.pool``."""
from ..ops import pool as P
from .module import Module


class _MaxPoolNd(Module):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    """The largest value of each window over (N, C, L) or (C, L), as ``torch.nn.MaxPool1d``
    (see ``gg.nn.functional.max_pool1d``)."""

    def forward(self, input):
        return P.max_pool1d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            self.ceil_mode, self.return_indices)


class MaxPool2d(_MaxPoolNd):
    """The largest value of each window over (N, C, H, W) or (C, H, W), as
    ``torch.nn.MaxPool2d``: ``stride`` defaults to ``kernel_size``; with ``return_indices`` the
    layer returns ``(values, indices)`` (see ``gg.nn.functional.max_pool2d``)."""

    def forward(self, input):
        return P.max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            self.ceil_mode, self.return_indices)


class _AvgPoolNd(Module):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad = count_include_pad

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(_AvgPoolNd):
    """The mean of each window over (N, C, L) or (C, L), as ``torch.nn.AvgPool1d`` (see
    ``gg.nn.functional.avg_pool1d``)."""

    def forward(self, input):
        return P.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)


class AvgPool2d(_AvgPoolNd):
    """The mean of each window over (N, C, H, W) or (C, H, W), as ``torch.nn.AvgPool2d``:
    ``stride`` defaults to ``kernel_size``, ``count_include_pad`` and ``divisor_override`` as
    in PyTorch (see ``gg.nn.functional.avg_pool2d``)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None):
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)
        self.divisor_override = divisor_override

    def forward(self, input):
        return P.avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)


class _AdaptiveAvgPoolNd(Module):
    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    """Average pooling to ``output_size`` positions over (N, C, L) or (C, L), as
    ``torch.nn.AdaptiveAvgPool1d``."""

    def forward(self, input):
        return P.adaptive_avg_pool1d(input, self.output_size)


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    """Average pooling to ``output_size`` (an int or an (h, w) pair; None keeps a size) over
    (N, C, H, W) or (C, H, W), as ``torch.nn.AdaptiveAvgPool2d``."""

    def forward(self, input):
        return P.adaptive_avg_pool2d(input, self.output_size)
