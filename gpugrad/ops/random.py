"""Random fills in place: ``normal_`` and ``uniform_``."""
from ..engine.function import Function
from .elementwise import zero_gradient


class RandomFill(Function):
    """Overwrite ``a`` with random values: ``kind`` "normal" (``loc`` + ``scale`` * N(0, 1)) or
    "uniform" (``loc`` + ``scale`` * U[0, 1)), drawn from ``seed``. The old values get a
    zero gradient (they are gone), as in PyTorch."""

    supports_out = True

    def forward(self, a, kind="uniform", loc=0.0, scale=1.0, seed=0, out=None):
        backend = self.backend
        dtype = backend.dtype(a)
        if not dtype.is_floating_point:
            raise RuntimeError(f"{'normal_' if kind == 'normal' else 'uniform_'} expects a "
                               f"floating point tensor, got {dtype.name}")
        if out is None:
            out = backend.contiguous(a)
        backend.random(kind, tuple(a.shape), dtype, seed, out=out)
        if scale != 1:
            backend.binary("mul", out, scale, dtype, out)
        if loc != 0:
            backend.binary("add", out, loc, dtype, out)
        return out

    def backward(self, grad):
        return None if self.next_nodes[0] is None else zero_gradient(grad)
