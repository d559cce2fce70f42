"""Boundaries against PyTorch, values and gradients (NaN == NaN): property tests whose arrays mix
ordinary floats with 0, -0.0, +-inf, NaN, exact ties and huge magnitudes, for the losses,
std/var/norm, logsumexp/softmax/log_softmax, sqrt/abs/pow and max/min/amax/amin/maximum/
minimum/clamp; then table-driven cases for the elementwise ones (pow at 0, ties, clamp bounds).

Slices stay at most 4 elements long: NumPy and PyTorch then sum in the same order, so even a
reduction centered on a rounded mean (``x.var()`` of a constant) agrees bit for bit. Values for
var/std/norm are multiples of 1/8, whose small sums are exact: near-ties of arbitrary floats
make std's gradient depend on the summation algorithm, in PyTorch as anywhere.
"""
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gpugrad as gg
from gpugrad.nn import functional as F

INF, NAN = math.inf, math.nan
SETTINGS = settings(max_examples=30, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])

SPECIAL = [0.0, -0.0, INF, -INF, NAN, 1e300, -1e300]
EIGHTHS = st.integers(-40, 40).map(lambda k: k / 8)
ORDINARY = st.one_of(EIGHTHS, st.floats(-20, 20, allow_subnormal=False))
ELEMENTS = st.one_of(ORDINARY, st.sampled_from(SPECIAL))
EXACT_ELEMENTS = st.one_of(EIGHTHS, st.sampled_from(SPECIAL))
LOGITS = st.one_of(ORDINARY, st.sampled_from([0.0, -0.0, 1e4, -1e4, INF, -INF, NAN]))
PROBABILITIES = st.one_of(st.integers(0, 8).map(lambda k: k / 8), st.floats(0, 1),
                          st.sampled_from([0.0, 1.0, 1e-300, 1.0 - 2 ** -53]))
UPSTREAM = st.sampled_from([1.0, -2.0, 0.5, 0.0])
SHAPES = st.sampled_from([(), (1,), (2,), (3,), (4,), (2, 2), (1, 3), (3, 1)])
MATRIX_SHAPES = st.sampled_from([(1, 2), (2, 2), (1, 4), (3, 2), (2, 3)])


@st.composite
def arrays(draw, elements=ELEMENTS, shapes=SHAPES):
    """An array whose entries come from ``elements`` or from a small pool drawn once, so exact
    ties (and repeated infinities and NaNs) are common."""
    shape = draw(shapes)
    pool = draw(st.lists(elements, min_size=1, max_size=2))
    values = draw(st.lists(st.one_of(st.sampled_from(pool), elements), min_size=math.prod(shape),
                           max_size=math.prod(shape)))
    return np.array(values, dtype=np.float64).reshape(shape)


def _host(x):
    return None if x is None else (x.detach().cpu().numpy() if isinstance(x, gg.Tensor)
                                   else x.detach().numpy())


def assert_matches(torch, device, fn, torch_fn, arrays, upstream=1.0, grad_of=None,
                   rtol=1e-7, atol=1e-10):
    """``fn`` and ``torch_fn`` agree in value and in the gradients of the inputs listed in
    ``grad_of`` (default: all) for an upstream gradient of ``upstream`` everywhere; NaN equals
    NaN, and an absent gradient equals zeros."""
    grad_of = range(len(arrays)) if grad_of is None else grad_of
    xs = [gg.tensor(a, dtype=gg.float64, device=device, requires_grad=i in grad_of)
          for i, a in enumerate(arrays)]
    ts = [torch.tensor(a, dtype=torch.float64, requires_grad=i in grad_of)
          for i, a in enumerate(arrays)]
    out, expected = fn(*xs), torch_fn(*ts)
    np.testing.assert_allclose(_host(out), _host(expected), rtol=rtol, atol=atol,
                               equal_nan=True, err_msg="values")
    seed = np.full(tuple(expected.shape), upstream)
    got = gg.grad(out, [xs[i] for i in grad_of], gg.tensor(seed, dtype=gg.float64,
                                                            device=device), allow_unused=True)
    want = torch.autograd.grad(expected, [ts[i] for i in grad_of], torch.tensor(seed),
                               allow_unused=True)
    for i, g, w in zip(grad_of, got, want):
        g = np.zeros(arrays[i].shape) if g is None else _host(g)
        w = np.zeros(arrays[i].shape) if w is None else _host(w)
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, equal_nan=True,
                                   err_msg=f"gradient of input {i}")


def _dims(data, x):
    """None, or a random non-empty set of ``x``'s dims as a tuple."""
    if x.ndim == 0 or data.draw(st.booleans(), label="all dims"):
        return None
    return tuple(sorted(data.draw(st.sets(st.integers(0, x.ndim - 1), min_size=1), label="dims")))


# ---- losses ----------------------------------------------------------------------------------
REDUCTIONS = st.sampled_from(["none", "mean", "sum"])


@SETTINGS
@given(data=st.data(), reduction=REDUCTIONS, upstream=UPSTREAM)
def test_regression_losses(device, torch, data, reduction, upstream):
    x = data.draw(arrays(), label="input")
    t = data.draw(arrays(shapes=st.just(x.shape)), label="target")
    for name in ("mse_loss", "l1_loss"):
        assert_matches(torch, device, lambda a, b: getattr(F, name)(a, b, reduction=reduction),
                       lambda a, b: getattr(torch.nn.functional, name)(a, b, reduction=reduction),
                       [x, t], upstream)


@SETTINGS
@given(data=st.data(), reduction=REDUCTIONS, upstream=UPSTREAM)
def test_bce_with_logits(device, torch, data, reduction, upstream):
    x = data.draw(arrays(LOGITS), label="logits")
    t = data.draw(arrays(PROBABILITIES, shapes=st.just(x.shape)), label="target")
    options = {}
    if data.draw(st.booleans(), label="pos_weight"):
        options["pos_weight"] = data.draw(arrays(EIGHTHS.map(abs), st.just(x.shape[-1:])))
    if data.draw(st.booleans(), label="weight"):
        options["weight"] = data.draw(arrays(EIGHTHS, st.just(x.shape)))
    ours = {k: gg.tensor(v, dtype=gg.float64, device=device) for k, v in options.items()}
    theirs = {k: torch.tensor(v) for k, v in options.items()}
    assert_matches(torch, device,
                   lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction, **ours),
                   lambda a, b: torch.nn.functional.binary_cross_entropy_with_logits(
                       a, b, reduction=reduction, **theirs), [x, t], upstream)


@SETTINGS
@given(data=st.data(), reduction=REDUCTIONS, upstream=UPSTREAM)
def test_bce_on_probabilities(device, torch, data, reduction, upstream):
    p = data.draw(arrays(PROBABILITIES), label="probabilities")
    t = data.draw(arrays(PROBABILITIES, shapes=st.just(p.shape)), label="target")
    weight = data.draw(st.none() | arrays(EIGHTHS, st.just(p.shape)), label="weight")
    ours = None if weight is None else gg.tensor(weight, dtype=gg.float64, device=device)
    theirs = None if weight is None else torch.tensor(weight)
    assert_matches(torch, device,
                   lambda a, b: F.binary_cross_entropy(a, b, reduction, weight=ours),
                   lambda a, b: torch.nn.functional.binary_cross_entropy(
                       a, b, weight=theirs, reduction=reduction), [p, t], upstream)


@SETTINGS
@given(data=st.data(), reduction=REDUCTIONS, upstream=UPSTREAM)
def test_class_losses(device, torch, data, reduction, upstream):
    x = data.draw(arrays(LOGITS, MATRIX_SHAPES), label="logits")
    classes = data.draw(st.lists(st.integers(0, x.shape[1] - 1), min_size=x.shape[0],
                                 max_size=x.shape[0]), label="classes")
    ours, theirs = gg.tensor(classes, device=device), torch.tensor(classes)
    for name in ("cross_entropy", "nll_loss"):
        assert_matches(torch, device, lambda a: getattr(F, name)(a, ours, reduction=reduction),
                       lambda a: getattr(torch.nn.functional, name)(a, theirs,
                                                                     reduction=reduction),
                       [x], upstream)


# ---- std / var / norm --------------------------------------------------------------------------
@SETTINGS
@given(data=st.data(), upstream=UPSTREAM)
def test_var_and_std(device, torch, data, upstream):
    x = data.draw(arrays(EXACT_ELEMENTS), label="x")
    dim = _dims(data, x)
    correction = data.draw(st.sampled_from([0, 1, 2]), label="correction")
    keepdim = data.draw(st.booleans(), label="keepdim")
    for name in ("var", "std"):
        assert_matches(torch, device,
                       lambda a: getattr(a, name)(dim, keepdim=keepdim, correction=correction),
                       lambda a: getattr(a, name)(dim, keepdim=keepdim, correction=correction),
                       [x], upstream)


@SETTINGS
@given(data=st.data(), upstream=UPSTREAM,
       p=st.sampled_from(["fro", 2, 1, INF, -INF, 0, 0.5, 1.5, 3, -1]))
def test_norm(device, torch, data, upstream, p):
    x = data.draw(arrays(EXACT_ELEMENTS), label="x")
    dim = _dims(data, x)
    if dim is not None and p == "fro" and len(dim) > 2:
        dim = dim[:2]
    keepdim = data.draw(st.booleans(), label="keepdim")
    assert_matches(torch, device, lambda a: a.norm(p, dim, keepdim),
                   lambda a: a.norm(p, dim, keepdim), [x], upstream)


# ---- logsumexp / softmax / log_softmax -------------------------------------------------------
@SETTINGS
@given(data=st.data(), upstream=UPSTREAM)
def test_logsumexp_softmax_log_softmax(device, torch, data, upstream):
    x = data.draw(arrays(LOGITS, st.sampled_from([(1,), (3,), (2, 2), (2, 3), (3, 1)])))
    dim = data.draw(st.integers(-x.ndim, x.ndim - 1), label="dim")
    keepdim = data.draw(st.booleans(), label="keepdim")
    assert_matches(torch, device, lambda a: a.logsumexp(dim, keepdim),
                   lambda a: a.logsumexp(dim, keepdim), [x], upstream)
    for name in ("softmax", "log_softmax"):
        # a random upstream: softmax's gradient of a constant upstream is 0 by cancellation
        seed = data.draw(arrays(EIGHTHS, st.just(x.shape)), label="upstream")
        weights = gg.tensor(seed, dtype=gg.float64, device=device)
        assert_matches(torch, device, lambda a: getattr(a, name)(dim) * weights,
                       lambda a: getattr(a, name)(dim) * torch.tensor(seed), [x])


# ---- sqrt / abs / pow --------------------------------------------------------------------------
@SETTINGS
@given(x=arrays(), upstream=UPSTREAM)
def test_sqrt_and_abs(device, torch, x, upstream):
    assert_matches(torch, device, lambda a: a.sqrt(), torch.sqrt, [x], upstream)
    assert_matches(torch, device, lambda a: a.abs(), torch.abs, [x], upstream)


EXPONENTS = st.sampled_from([0, 1, 2, 3, -1, -2, 0.5, -0.5, 2.5, 0.0, INF, -INF, NAN])
BASES = st.sampled_from([0.0, -0.0, 1.0, 2.0, 0.5, -2.0, INF, NAN])


@SETTINGS
@given(data=st.data(), upstream=UPSTREAM, exponent=EXPONENTS, base=BASES)
def test_pow(device, torch, data, upstream, exponent, base):
    x = data.draw(arrays(), label="x")
    y = data.draw(arrays(shapes=st.just(x.shape)), label="y")
    assert_matches(torch, device, lambda a: a ** exponent, lambda a: a ** exponent, [x],
                   upstream)
    assert_matches(torch, device, lambda a: base ** a, lambda a: base ** a, [y], upstream)
    assert_matches(torch, device, lambda a, b: a ** b, lambda a, b: a ** b, [x, y], upstream)


# ---- max / min / amax / amin / maximum / minimum / clamp ---------------------------------------
@SETTINGS
@given(data=st.data(), upstream=UPSTREAM)
def test_max_min_amax_amin(device, torch, data, upstream):
    x = data.draw(arrays(), label="x")
    keepdim = data.draw(st.booleans(), label="keepdim")
    for name in ("max", "min"):
        assert_matches(torch, device, lambda a: getattr(a, name)(),
                       lambda a: getattr(a, name)(), [x], upstream)
        dim = data.draw(st.integers(-max(x.ndim, 1), max(x.ndim, 1) - 1), label="dim")
        assert_matches(torch, device, lambda a: getattr(a, name)(dim, keepdim).values,
                       lambda a: getattr(a, name)(dim, keepdim).values, [x], upstream)
        ours = getattr(gg.tensor(x, dtype=gg.float64, device=device), name)(dim, keepdim)
        theirs = getattr(torch.tensor(x), name)(dim, keepdim)
        assert ours.indices.tolist() == theirs.indices.tolist()
        dims = _dims(data, x)
        amax = "a" + name
        assert_matches(torch, device, lambda a: getattr(a, amax)(dims or (), keepdim),
                       lambda a: getattr(a, amax)(dims or (), keepdim), [x], upstream)


@SETTINGS
@given(data=st.data(), upstream=UPSTREAM)
def test_maximum_minimum_clamp(device, torch, data, upstream):
    x = data.draw(arrays(), label="x")
    y = data.draw(arrays(shapes=st.sampled_from([x.shape, x.shape[-1:], ()])), label="y")
    for name in ("maximum", "minimum"):
        assert_matches(torch, device, lambda a, b: getattr(a, name)(b),
                       lambda a, b: getattr(torch, name)(a, b), [x, y], upstream)
    low = data.draw(st.none() | ELEMENTS, label="min")
    high = data.draw(st.none() | ELEMENTS, label="max") if low is not None else 1.0
    assert_matches(torch, device, lambda a: a.clamp(low, high), lambda a: a.clamp(low, high),
                   [x], upstream)
    # tensor bounds: the Clamp op (``Tensor.clamp`` takes them through maximum/minimum)
    from gpugrad.ops.selection import Clamp

    lo = data.draw(arrays(shapes=st.just(y.shape)), label="lo")
    assert_matches(torch, device, lambda a, b, c: Clamp.apply(a, b, c),
                   lambda a, b, c: torch.clamp(a, b, c), [x, lo, y], upstream)
    assert_matches(torch, device, lambda a, b: Clamp.apply(a, b, None),
                   lambda a, b: torch.clamp(a, min=b), [x, lo], upstream)
    assert_matches(torch, device, lambda a, b: Clamp.apply(a, None, b),
                   lambda a, b: torch.clamp(a, max=b), [x, y], upstream)


# ---- tables: the elementwise boundary cases, spelled out -----------------------------------
ZERO_BASE = [0.0, -0.0, 0.0, 0.0, 0.0, 2.0, NAN, -1.0]
EXPONENT = [0.0, 0.0, 2.0, -1.0, 0.5, NAN, 0.0, 0.5]
ELEMENTWISE = {
    # pow_backward_exponent: a ** b * log(a) is 0 at a == 0 for b >= 0, so -inf at 0 ** -1
    "tensor ** tensor at 0": (lambda a, b: a ** b, lambda a, b: a ** b, [ZERO_BASE, EXPONENT]),
    "number ** tensor, base 0": (lambda b: 0.0 ** b, lambda b: 0.0 ** b, [[0.0, 2.0, -1.0, NAN]]),
    "number ** tensor, base 2": (lambda b: 2.0 ** b, lambda b: 2.0 ** b, [[0.0, -1.0, INF]]),
    "tensor ** 0": (lambda a: a ** 0, lambda a: a ** 0, [[0.0, NAN, INF]]),
    "tensor ** 0.5 at 0": (lambda a: a ** 0.5, lambda a: a ** 0.5, [[0.0, -0.0, 4.0]]),
    "tensor ** -1 at 0": (lambda a: a ** -1, lambda a: a ** -1, [[0.0, -0.0]]),
    "sqrt at 0 and -0": (lambda a: a.sqrt(), lambda a: a.sqrt(), [[0.0, -0.0, -1.0, INF]]),
    "abs at 0 and NaN": (lambda a: a.abs(), lambda a: a.abs(), [[0.0, -0.0, NAN, -INF]]),
    "maximum ties and NaN": (lambda a, b: a.maximum(b), lambda a, b: a.maximum(b),
                             [[1.0, 2.0, NAN, 1.0], [1.0, 1.0, 1.0, NAN]]),
    "minimum ties and NaN": (lambda a, b: a.minimum(b), lambda a, b: a.minimum(b),
                             [[1.0, 2.0, NAN, 1.0], [1.0, 1.0, 1.0, NAN]]),
    "maximum with a broadcast number tensor": (lambda a, b: a.maximum(b),
                                               lambda a, b: a.maximum(b), [[1.0, 2.0, 1.0], 1.0]),
    "clamp at the bounds": (lambda a: a.clamp(0.0, 1.0), lambda a: a.clamp(0.0, 1.0),
                            [[0.0, 1.0, -1.0, 2.0, 0.5, NAN]]),
    "clamp min > max": (lambda a: a.clamp(1.0, 0.0), lambda a: a.clamp(1.0, 0.0),
                        [[0.0, 0.5, 1.0, 2.0]]),
    "max ties": (lambda a: a.max(), lambda a: a.max(), [[3.0, 1.0, 3.0]]),
    "max NaN": (lambda a: a.max(), lambda a: a.max(), [[1.0, NAN, 3.0, NAN]]),
    "max(dim) ties": (lambda a: a.max(1).values, lambda a: a.max(1).values,
                      [[[3.0, 1.0, 3.0], [2.0, 2.0, 2.0]]]),
    "min(dim) ties": (lambda a: a.min(0).values, lambda a: a.min(0).values,
                      [[[3.0, 1.0, 3.0], [3.0, 1.0, 0.0]]]),
    "amax ties": (lambda a: a.amax(1), lambda a: a.amax(1), [[[3.0, 1.0, 3.0], [2.0, 2.0, 2.0]]]),
    "amin NaN": (lambda a: a.amin(), lambda a: a.amin(), [[1.0, NAN, 3.0]]),
}


@pytest.mark.parametrize("upstream", [1.0, 0.0], ids=["upstream 1", "upstream 0"])
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_boundaries_match_torch(device, torch, name, upstream):
    fn, torch_fn, inputs = ELEMENTWISE[name]
    assert_matches(torch, device, fn, torch_fn, [np.array(a, dtype=np.float64) for a in inputs],
                   upstream)


def test_clamp_with_tensor_bounds_gives_the_bounds_their_gradient(device, torch):
    from gpugrad.ops.selection import Clamp

    x, lo, hi = [0.0, 1.0, NAN, 2.0, -1.0, 0.5], [0.0] * 5 + [1.0], [1.0] * 5 + [0.0]
    assert_matches(torch, device, lambda a, b, c: Clamp.apply(a, b, c), torch.clamp,
                   [np.array(v) for v in (x, lo, hi)])
    assert gg.gradcheck(lambda a, b, c: Clamp.apply(a, b, c),
                        [gg.tensor(v, dtype=gg.float64, device=device, requires_grad=True)
                         for v in ([0.3, 1.5, -0.5], [0.0, 0.0, 0.0], [1.0, 1.0, 1.0])])
