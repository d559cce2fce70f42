"""What every part of the cuda backend shares: the CuPy module and the kernels' dtype suffixes.

CuPy is bound by ``bind`` when the first cuda backend is created (after
``availability.require`` found a usable GPU), so the package imports without CuPy.
"""
import numpy as np

cupy = None  # the CuPy module, once bound
KERNEL_SUFFIX = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}  # kernels/*.cu


def bind(module):
    """Use ``module`` (CuPy) from now on."""
    global cupy
    cupy = module


def dense(a):
    """``a`` as a C-contiguous array (itself when it already is): what the raw kernels read."""
    return a if a.flags.c_contiguous else cupy.ascontiguousarray(a)
