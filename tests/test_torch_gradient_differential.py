"""Gradients against PyTorch's: every one-tensor ``gg`` function PyTorch also has, the
elementwise binary functions and the reductions along a dim, differentiated in float32 and
float64 at special values (NaN, ±inf, ±0, a subnormal, ties, zeros) as well as ordinary ones.

``test_torch_differential.py`` checks the values; a silent wrong gradient (``xlogy``'s at
``x = 0``, which is ``log y``; ``remainder``'s from ``floor(1.0 / 0.1) = 10``; ``relu``'s at a
NaN output) fails here by name. The cotangent differs per element, so a gradient sent to the
wrong element fails too. Where the gradients differ on purpose, ``KNOWN`` says why."""
import math

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.tensor_api import FUNCTIONS

SPECIAL = [float("nan"), float("inf"), -float("inf"), -0.0, 0.0, 1e-40, -2.5, 0.5, 1.0, -1.0,
           -20.5, 3.0, 100.0, 1e30, -7.0]
# (operands: a list or array becomes a tensor, a Python number stays a number)
ONE_TENSOR = [SPECIAL, [[1.0, 1.0, 2.0], [3.0, 3.0, 3.0]], [[0.5, -0.25, 2.0], [0.0, 1.5, -3.0]],
              np.array(0.75), [[0.0, 0.0], [0.0, 0.0]]]
# one-tensor calls that are not differentiable functions of one tensor in both libraries
SKIP = {"manual_seed", "seed", "empty", "empty_like", "rand_like", "randn_like", "randint_like",
        "bernoulli", "multinomial", "normal", "poisson", "rand", "randn", "randperm", "nonzero",
        "argwhere", "unique", "unique_consecutive", "bincount", "histc", "tensor_split", "split",
        "chunk", "tensor", "as_tensor", "zeros_like", "ones_like", "full_like"}
BINARY = ["add", "sub", "mul", "div", "true_divide", "maximum", "minimum", "fmax", "fmin",
          "atan2", "remainder", "fmod", "pow", "float_power", "hypot", "copysign", "xlogy",
          "logaddexp", "logaddexp2", "dist", "lerp", "inner", "outer", "dot", "matmul",
          "floor_divide"]
_EDGE = [float("nan"), float("inf"), -float("inf"), -0.0, 0.0, -2.5, 0.5, 1.0, -1.0, 3.0]
PAIRS = [([x for x in _EDGE for _ in _EDGE], [y for _ in _EDGE for y in _EDGE]),
         ([[0.5, -1.5, 2.0], [3.0, 0.0, -0.25]], [1.5, -2.0, 0.5]),
         ([1.0, 2.0, 2.0], 2.0), ([[1.0, 2.0], [2.0, 1.0]], [[1.0, 2.0], [1.0, 1.0]]),
         ([1.0, 7.0, -1.0], [0.1, 0.7, 0.1])]  # (floor(1.0 / 0.1) rounds to 10, not 9)
REDUCTIONS = ["sum", "mean", "prod", "amax", "amin", "max", "min", "std", "var", "norm",
              "logsumexp", "median", "nanmedian", "nansum", "nanmean", "cumsum", "cumprod",
              "cummax", "cummin", "softmax", "log_softmax", "std_mean", "var_mean",
              "logcumsumexp", "quantile", "nanquantile", "sort", "topk", "aminmax", "diff",
              "flip", "roll", "renorm"]
MATRICES = [[[1.0, 1.0, 2.0], [3.0, 3.0, 3.0]], [[0.0, 2.0, 0.0], [-1.0, 0.0, 4.0]],
            [[float("nan"), 2.0, 1.0], [float("inf"), -1.0, 0.5]],
            [[0.5, -0.25, 2.0], [0.0, 1.5, -3.0]]]
ARGUMENTS = {"quantile": [(0.3, 1), (0.5, 0)], "nanquantile": [(0.3, 1), (0.5, 0)],
             "topk": [(2, 1)], "roll": [(1, 1)], "renorm": [(2, 0, 1.0)], "diff": [(1, 1)],
             "flip": [((1,),)]}
KEEPDIM = {"sum", "mean", "prod", "amax", "amin", "max", "min", "std", "var", "norm",
           "logsumexp", "median", "nanmedian", "nansum", "nanmean", "std_mean", "var_mean",
           "quantile", "nanquantile"}
# Differences kept on purpose: function -> why (checked only outside these functions)
KNOWN = {
    "prod": "the product of the other entries, computed exactly, where PyTorch divides the "
            "product by each entry (NaN beside an inf) or gives zeros for two or more zeros",
    "logaddexp": "two equal infinities share the gradient evenly, where PyTorch gives NaN",
    "logaddexp2": "two equal infinities share the gradient evenly, where PyTorch gives NaN",
    "copysign": "a NaN input gets 0, where PyTorch gives NaN",
    "heaviside": "no gradient at all: gpugrad's result does not require grad, where PyTorch's "
                 "backward raises",
}
RTOL = {"float32": 1e-4, "float64": 1e-9}
ATOL = {"float32": 1e-6, "float64": 1e-12}  # (a gradient that is 0 up to rounding noise)


def _gradients(lib, fn, operands, dtype):
    """What differentiating ``fn`` gives: ("ok", grads per tensor operand), or how it stopped."""
    tensors = [x if isinstance(x, float) else
               lib.tensor(x, dtype=getattr(lib, dtype), requires_grad=True) for x in operands]
    try:
        out = fn(*tensors)
    except Exception as exc:  # noqa: BLE001  (any refusal; compared below)
        return ("refused", type(exc).__name__)
    if isinstance(out, (tuple, list)):
        out = out[0]
    if not getattr(out, "requires_grad", False):
        return ("no gradient",)
    n = math.prod(out.shape)
    cotangent = (np.arange(n, dtype=np.float64).reshape(tuple(out.shape)) % 5 + 1) / 4
    try:
        out.backward(lib.tensor(cotangent, dtype=out.dtype))
    except RuntimeError as exc:  # PyTorch has no derivative for floor_divide, for one
        return ("refused", f"backward: {exc}")
    return ("ok", [_host(t.grad) for t in tensors if not isinstance(t, float)])


def _host(grad):
    if grad is None:
        return None
    if isinstance(grad, gg.Tensor):
        return np.asarray(grad.detach().cpu().numpy(), dtype=np.float64)
    return np.asarray(grad.detach().numpy(force=True), dtype=np.float64)


def _same(ours, theirs, dtype):
    if ours is None or theirs is None:
        other = theirs if ours is None else ours
        return other is None or not other.any()  # None and zeros agree (PyTorch's ZeroTensor)
    if ours.shape != theirs.shape:
        return False
    close = np.isfinite(ours) & np.isfinite(theirs) & (
        np.abs(ours - theirs) <= RTOL[dtype] * np.abs(theirs) + ATOL[dtype])
    return bool(((ours == theirs) | (np.isnan(ours) & np.isnan(theirs)) | close).all())


def _difference(torch, name, ours_fn, theirs_fn, operands, dtype):
    ours = _gradients(gg, ours_fn, operands, dtype)
    theirs = _gradients(torch, theirs_fn, operands, dtype)
    if ours[0] != theirs[0]:
        if ours[0] == "ok" and theirs[0] == "refused":
            return None  # gpugrad computes where PyTorch refuses the call (its value test)
        return f"{name}{operands}: gpugrad {ours[0]}, PyTorch {theirs[0]}"
    if ours[0] != "ok":
        return None
    for i, (a, b) in enumerate(zip(ours[1], theirs[1])):
        if not _same(a, b, dtype):
            return (f"{name} argument {i} at {operands}:\n"
                    f"  gpugrad {None if a is None else a.tolist()}\n"
                    f"  PyTorch {None if b is None else b.tolist()}")
    return None


def _check(torch, dtype, calls):
    """Every ``(name, gpugrad's function, PyTorch's, operands)`` of ``calls`` must agree."""
    differences = [why for name, ours, theirs, operands in calls
                   if name.split("(")[0] not in KNOWN
                   for why in [_difference(torch, name, ours, theirs, operands, dtype)] if why]
    assert not differences, "\n".join(differences)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_one_tensor_functions_gradient_agrees_with_pytorch(torch, dtype):
    names = sorted(n for n in FUNCTIONS if n not in SKIP and hasattr(torch, n))
    _check(torch, dtype, [(name, getattr(gg, name), getattr(torch, name), [values])
                          for name in names for values in ONE_TENSOR])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_binary_functions_gradients_agree_with_pytorch(torch, dtype):
    _check(torch, dtype, [(name, getattr(gg, name), getattr(torch, name), [a, b])
                          for name in BINARY for a, b in PAIRS])


def _along(lib, name, args, kwargs):
    function = getattr(lib, name)
    return lambda t: function(t, *args, **kwargs)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_reduction_along_a_dims_gradient_agrees_with_pytorch(torch, dtype):
    calls = []
    for name in REDUCTIONS:
        for args in ARGUMENTS.get(name, [(0,), (1,), (-1,)]):
            for kwargs in ({}, {"keepdim": True}) if name in KEEPDIM else ({},):
                calls += [(f"{name}{args}{kwargs}", _along(gg, name, args, kwargs),
                           _along(torch, name, args, kwargs), [values]) for values in MATRICES]
    _check(torch, dtype, calls)
