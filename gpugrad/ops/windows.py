"""The sliding windows that convolution and pooling are built from: ``Im2Col`` and its adjoint
``Col2Im``, each the other's gradient, so convolutions and pools composed from them (and matmul,
reductions, ``where``) have first and second derivatives on every device.

Both work on 4-D (N, C, H, W) arrays with (h, w) pairs for ``kernel``, ``stride`` and
``dilation`` and ((top, bottom), (left, right)) for ``padding``: the 1-D ops add a unit height.
The column layout is the backend contract's (``Backend.im2col``): (C*kh*kw, N*OH*OW).
"""
from ..backends.base import window_count
from ..engine.function import Function


def output_size(shape, kernel, stride, padding, dilation):
    """(OH, OW): the number of window positions along each spatial dimension of ``shape``."""
    return tuple(window_count(shape[2 + d], kernel[d], stride[d], padding[d][0], padding[d][1],
                              dilation[d]) for d in range(2))


class Im2Col(Function):
    """The windows of ``a`` as columns (``Backend.im2col``); padding reads ``pad_value``."""

    def forward(self, a, kernel, stride, padding, dilation, pad_value=0.0):
        self.shape = a.shape
        self.geometry = (kernel, stride, padding, dilation)
        return self.backend.im2col(a, kernel, stride, padding, dilation, pad_value)

    def backward(self, grad):
        kernel, stride, padding, dilation = self.geometry
        return Col2Im.apply(grad, shape=self.shape, kernel=kernel, stride=stride,
                            padding=padding, dilation=dilation)


class Col2Im(Function):
    """Columns added back into an image of ``shape`` (``Backend.col2im``)."""

    def forward(self, cols, shape, kernel, stride, padding, dilation):
        self.geometry = (kernel, stride, padding, dilation)
        return self.backend.col2im(cols, shape, kernel, stride, padding, dilation)

    def backward(self, grad):
        kernel, stride, padding, dilation = self.geometry
        return Im2Col.apply(grad, kernel=kernel, stride=stride, padding=padding,
                            dilation=dilation)


def as_tuple(value, n, name, op):
    """``value`` (an int, or a tuple or list of 1 or ``n`` ints) as a tuple of ``n`` ints, as
    PyTorch expands ``stride=2`` to ``(2, 2)``; a TypeError or ValueError naming ``op`` and the
    argument ``name`` otherwise."""
    items = (value,) if isinstance(value, int) else value
    try:
        items = tuple(items)
    except TypeError:
        raise TypeError(f"{op}(): argument '{name}' must be an int or a tuple of {n} ints, not "
                        f"{type(value).__name__}") from None
    if len(items) == 1:
        items = items * n
    if len(items) != n or not all(isinstance(v, int) and not isinstance(v, bool)
                                  for v in items):
        raise ValueError(f"{op}(): argument '{name}' must be an int or a tuple of {n} ints, "
                         f"got {value!r}")
    return items


def spatial_input(input, dims, op):
    """``input`` with a batch dimension (an unbatched input, PyTorch's (C, *spatial), gets one)
    and whether it had one; a RuntimeError in PyTorch's words for any other rank."""
    if input.ndim == dims + 2:
        return input, True
    if input.ndim == dims + 1:
        return input.unsqueeze(0), False
    raise RuntimeError(f"Expected {dims + 1}D (unbatched) or {dims + 2}D (batched) input to "
                       f"{op}, but got input of size: {list(input.shape)}")
