"""Every gpugrad function against PyTorch's of the same name, over the dtypes and operand kinds a
user can mix: the result's dtype and values must agree, and so must refusing. A silent wrong
answer (``~int_tensor`` as a logical not, ``xlogy(int_tensor, 1.5)`` reading 1.5 as 1) fails
here by name. gpugrad may accept a few inputs PyTorch refuses (listed below with the reason);
it may never refuse what PyTorch computes, nor compute something else."""
import math

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.tensor_api import FUNCTIONS


SPECIAL = [float("nan"), float("inf"), -float("inf"), -0.0, 0.0, 1e-40, -2.5, 0.5, 1.0, -1.0,
           -20.5, 3.0, 100.0, 1e30, -7.0]
VALUES = {"float32": SPECIAL, "float64": SPECIAL, "float16": SPECIAL, "bfloat16": SPECIAL,
          "int64": [-7, -1, 0, 1, 3, 100], "int32": [-7, -1, 0, 1, 3, 100],
          "uint8": [0, 1, 3, 100, 255], "bool": [True, False]}
# relative tolerance per result dtype (low precision: about one unit in the last place), and
# the smallest normal number, below which either side may flush a subnormal result to zero
RTOL = {"float32": 1e-5, "float64": 1e-12, "float16": 2.0 ** -9, "bfloat16": 2.0 ** -6}
TINY = {"float32": 2.0 ** -126, "float64": 2.0 ** -1022, "float16": 2.0 ** -14,
        "bfloat16": 2.0 ** -126}

# one-tensor calls whose argument list or output PyTorch defines otherwise (random draws,
# constructors, required extra arguments), or whose output order is unspecified
UNARY_SKIP = {"manual_seed", "seed", "empty", "empty_like", "rand_like", "randn_like",
              "randint_like", "bernoulli", "multinomial", "normal", "poisson", "rand", "randn",
              "randperm", "nonzero", "argwhere", "unique", "unique_consecutive", "bincount",
              "histc", "tensor_split", "split", "chunk", "tensor", "as_tensor", "zeros_like",
              "ones_like", "full_like"}
# gpugrad computes these where PyTorch refuses the dtype (the values are the obvious ones);
# (function, dtype) pairs, and functions that pick a default dim PyTorch requires
UNARY_LENIENT = {("abs", "bool"), ("absolute", "bool"), ("relu", "bool"), ("argmax", "bool"),
                 ("argmin", "bool"), ("median", "bool"), ("nanmedian", "bool"), ("cov", "bool"),
                 ("corrcoef", "bool"), ("repeat_interleave", "uint8"),
                 ("repeat_interleave", "bool")}
DEFAULT_DIM = {"flip", "softmax", "log_softmax"}  # dim=-1 / all dims where PyTorch needs one


def _host(result):
    if result.dtype in (gg.bfloat16, _torch_bfloat16()):
        result = result.float()
    result = result.detach()
    return np.asarray(result.cpu().numpy() if isinstance(result, gg.Tensor) else result.numpy(),
                      dtype=np.float64).ravel()


def _torch_bfloat16():
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    return torch.bfloat16


def _outcome(fn, *args):
    try:
        result = fn(*args)
    except Exception as exc:  # noqa: BLE001  (any refusal; the kind is compared below)
        return "refused", type(exc).__name__
    if isinstance(result, (tuple, list)):
        result = result[0]
    if isinstance(result, (bool, int, float)):  # a query (is_floating_point, numel...)
        return "computed", (type(result).__name__, (), np.array([float(result)]))
    return "computed", (str(result.dtype).split(".")[-1], tuple(result.shape), _host(result))


def _agree(ours, theirs):
    """None when the outcomes agree, else what differs."""
    if ours[0] != theirs[0]:
        return f"gpugrad {ours[0]} ({ours[1] if ours[0] == 'refused' else ours[1][0]}), " \
               f"PyTorch {theirs[0]} ({theirs[1] if theirs[0] == 'refused' else theirs[1][0]})"
    if ours[0] == "refused":
        return None
    (dtype, shape, got), (want_dtype, want_shape, want) = ours[1], theirs[1]
    if (dtype, shape) != (want_dtype, want_shape):
        return f"dtype/shape {dtype} {shape} != {want_dtype} {want_shape}"
    rtol, tiny = RTOL.get(dtype, 0.0), TINY.get(dtype, 0.0)
    for x, y in zip(got, want):
        if not (x == y or (x != x and y != y) or (math.isfinite(x) and math.isfinite(y) and
                                                   abs(x - y) <= max(rtol * abs(y), tiny))):
            return f"values {got.tolist()} != {want.tolist()}"
    return None


def _unary_names(torch):
    return sorted(n for n in FUNCTIONS if n not in UNARY_SKIP and hasattr(torch, n))


@pytest.mark.parametrize("dtype", sorted(VALUES))
def test_every_one_tensor_function_agrees_with_pytorch(torch, dtype):
    differences = []
    for name in _unary_names(torch):
        ours = _outcome(getattr(gg, name), gg.tensor(VALUES[dtype], dtype=getattr(gg, dtype)))
        theirs = _outcome(getattr(torch, name),
                          torch.tensor(VALUES[dtype], dtype=getattr(torch, dtype)))
        if ours[0] == "computed" and theirs[0] == "refused" and (
                (name, dtype) in UNARY_LENIENT or name in DEFAULT_DIM):
            continue
        why = _agree(ours, theirs)
        if why:
            differences.append(f"{name}({dtype}): {why}")
    assert not differences, "\n".join(differences)


BINARY = ["add", "sub", "mul", "div", "true_divide", "maximum", "minimum", "fmax", "fmin",
          "atan2", "eq", "ne", "lt", "le", "gt", "ge", "remainder", "fmod", "floor_divide", "pow",
          "float_power", "logical_and", "logical_or", "logical_xor", "bitwise_and", "bitwise_or",
          "bitwise_xor", "bitwise_left_shift", "bitwise_right_shift", "hypot", "copysign",
          "xlogy", "logaddexp", "logaddexp2"]
LEFT = {"bool": [True, False, True], "uint8": [1, 3, 250], "int8": [-100, 1, 5],
        "int16": [-3, 2, 300], "int64": [-3, 1, 7], "float16": [-1.5, 0.5, 2.25],
        "bfloat16": [-1.5, 0.5, 2.25], "float32": [-1.5, 0.5, 2.25], "float64": [-0.5, 0.25, 3.0]}
RIGHT = {"bool": [True, True, False], "uint8": [2, 3, 5], "int8": [3, 1, 2],
         "int16": [2, 5, 3], "int64": [1, 2, 6], "float16": [0.75, -2.0, 1.5],
         "bfloat16": [0.75, -2.0, 1.5], "float32": [0.75, -2.0, 1.5], "float64": [0.75, -2.0, 1.5]}
NUMBERS = {"int": 2, "float": 1.5, "bool": True}
# gpugrad computes where PyTorch refuses: a Python number where PyTorch's function takes only
# tensors (its TypeError), and logaddexp/logaddexp2 of integers (in the default float)
BINARY_INTEGER_LENIENT = {"logaddexp", "logaddexp2"}


def _right_operands(lib, dtype):
    yield f"{dtype}[3]", lib.tensor(RIGHT[dtype], dtype=getattr(lib, dtype))
    yield f"{dtype}[]", lib.tensor(RIGHT[dtype][0], dtype=getattr(lib, dtype))


@pytest.mark.parametrize("left", sorted(LEFT))
def test_every_elementwise_binary_function_agrees_with_pytorch(torch, left):
    differences = []
    for name in BINARY:
        for right in sorted(RIGHT) + sorted(NUMBERS):
            pairs = []
            for lib in (gg, torch):
                a = lib.tensor(LEFT[left], dtype=getattr(lib, left))
                bs = dict(_right_operands(lib, right)) if right in RIGHT else \
                    {right: NUMBERS[right]}
                pairs.append({k: _outcome(getattr(lib, name), a, b) for k, b in bs.items()})
            for kind in pairs[0]:
                ours, theirs = pairs[0][kind], pairs[1][kind]
                if ours[0] == "computed" and theirs[0] == "refused" and (
                        theirs[1] == "TypeError" and kind in NUMBERS or
                        name in BINARY_INTEGER_LENIENT):
                    continue
                why = _agree(ours, theirs)
                if why:
                    differences.append(f"{name}({left}, {kind}): {why}")
    assert not differences, "\n".join(differences)
