"""gpugrad: a GPU-aware autograd library.

One graph engine computes gradients; every array op runs on ``cpu`` (NumPy), ``sim`` (a
modeled GPU) or ``cuda`` (CuPy). See README.md and docs/ for a tour.
"""
import importlib

from .tensor import Tensor
from .tensor_api import FUNCTIONS as _FUNCTIONS

# gg.relu(x), gg.sum(x, dim=1)...: the Tensor methods PyTorch also has as functions (the same
# function objects). Names bound explicitly below (creation, where, cat) take precedence.
globals().update(_FUNCTIONS)

from .engine import (enable_grad, grad, inference_mode, is_grad_enabled, no_grad,
                     set_grad_enabled)
from .creation import (arange, as_tensor, empty, empty_like, eye, from_numpy, full, full_like,
                       get_default_device, linspace, logspace, normal, ones, ones_like, rand,
                       rand_like, randint, randint_like, randn, randn_like, randperm,
                       set_default_device, tensor, zeros, zeros_like)
from .tensor_queries import Size, is_tensor
from . import device_registry
from .device_registry import Device
from .dtypes import (DType, bfloat16, float16, float32, float64, get_default_dtype, int8,
                     int16, int32, int64, promote_types, set_default_dtype, uint8)
from .dtypes import bool_ as bool  # noqa: A001
from .errors import (DeviceUnavailableError, HostMemoryError, InvalidDeviceError,
                     OutOfMemoryError)
from .random import initial_seed, manual_seed
from .defaults import get_float32_matmul_precision, set_float32_matmul_precision
from .tensor_methods import where
from .tensor_numeric_methods import can_cast, result_type
from .finfo import finfo, iinfo
from .tensor_shape_methods import cat, stack
from .interop import from_dlpack
from . import unsupported as _unsupported
from .ops.einsum import einsum
from .tensor_structure_methods import (atleast_1d, atleast_2d, atleast_3d, block_diag,
                                       broadcast_shapes, broadcast_tensors, cartesian_prod,
                                       column_stack, dstack, hstack, meshgrid, row_stack, vstack)
from .tensor_structure_sets import bucketize, searchsorted
from .tensor_structure_linalg import cdist, tensordot

device = Device  # PyTorch's gg.device("cuda:0")
float = float32  # noqa: A001  (PyTorch's aliases)
double = float64
half = float16
long = int64
int = int32  # noqa: A001
short = int16

__version__ = "0.1.0"  # the only place it is written: pyproject.toml reads it from here

# Subpackages and helpers load on first use, so ``import gpugrad`` stays light and never needs
# CuPy, matplotlib or the simulator unless they are used.
_LAZY_MODULES = ("autograd", "nn", "optim", "data", "sim", "profiler", "viz", "value",
                 "ops", "backends", "anomaly", "cli", "engine", "utils", "accelerator", "linalg",
                 "distributed", "amp")
_LAZY_ATTRS = {
    "autocast": ("gpugrad.amp", "autocast"),
    "is_autocast_enabled": ("gpugrad.amp", "is_autocast_enabled"),
    "get_autocast_dtype": ("gpugrad.amp", "get_autocast_dtype"),
    "is_autocast_cache_enabled": ("gpugrad.amp", "is_autocast_cache_enabled"),
    "Value": ("gpugrad.value", "Value"),
    "gradcheck": ("gpugrad.gradient_check", "gradcheck"),
    "gradgradcheck": ("gpugrad.gradient_check", "gradgradcheck"),
    "GradcheckError": ("gpugrad.gradient_check", "GradcheckError"),
    "save": ("gpugrad.serialization", "save"),
    "load": ("gpugrad.serialization", "load"),
    "CheckpointError": ("gpugrad.serialization", "CheckpointError"),
    "devices": ("gpugrad.device_info", "devices"),
}


def __getattr__(name):
    if name in _LAZY_MODULES:
        return importlib.import_module(f"gpugrad.{name}")
    if name in _LAZY_ATTRS:
        module, attr = _LAZY_ATTRS[name]
        return getattr(importlib.import_module(module), attr)
    if name in device_registry.device_types():  # gg.cuda: a device package's own controls
        return importlib.import_module(f"gpugrad.backends.{name}")
    raise _unsupported.missing("module 'gpugrad'", name, _unsupported.PACKAGE_HINTS)


def __dir__():
    return sorted(set(globals()) | set(_LAZY_MODULES) | set(_LAZY_ATTRS)
                  | set(device_registry.device_types()))
