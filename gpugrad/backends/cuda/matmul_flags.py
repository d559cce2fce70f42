"""``gg.backends.cuda.matmul``: cuBLAS's float32 GEMM setting, as ``torch.backends.cuda.matmul``.

The setting itself lives in ``gpugrad.defaults`` (one process-wide value, tied to
``gg.set_float32_matmul_precision`` as in PyTorch), so that the simulator models the same
choice without importing this package. Importing this module never imports CuPy.
"""
from ... import defaults


class MatmulFlags:
    """``allow_tf32``: whether float32 matmuls may run on TF32 tensor cores (default False).

    Setting it True is ``gg.set_float32_matmul_precision("high")``, False is ``"highest"``;
    reading it is True whenever the precision is not ``"highest"``. On ``sim`` devices float32
    GEMMs are then modeled at the profile's TF32 tensor-core rate."""

    __slots__ = ()

    @property
    def allow_tf32(self):
        """True when float32 matmuls may use TF32 tensor cores."""
        return defaults.matmul_allows_tf32()

    @allow_tf32.setter
    def allow_tf32(self, value):
        if not isinstance(value, bool):
            raise TypeError(f"allow_tf32 must be a bool (True or False), got "
                            f"{type(value).__name__}")
        defaults.set_float32_matmul_precision("high" if value else "highest")

    def __repr__(self):
        return f"<gpugrad.backends.cuda.matmul allow_tf32={self.allow_tf32}>"


#: ``gg.backends.cuda.matmul``
matmul = MatmulFlags()
