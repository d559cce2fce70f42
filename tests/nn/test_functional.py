"""Losses and functional layers: values and gradients against PyTorch, finite differences,
stability at extreme logits, reductions and error messages; every loss's values and gradients
(input and target) against PyTorch at its boundaries, in float64 and float32."""
import math

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.nn import functional as F

REDUCTIONS = ["mean", "sum", "none"]


def _pair(torch, array, device="cpu"):
    return (gg.tensor(array, device=device, requires_grad=True),
            torch.tensor(array, requires_grad=True))


def _check(ours, theirs, ours_inputs, theirs_inputs, rtol=1e-5, atol=1e-6):
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=rtol,
                               atol=atol)
    weights = np.linspace(0.5, 1.5, max(ours.numel(), 1)).reshape(ours.shape).astype(np.float32)
    (ours * gg.tensor(weights, device=ours.device)).sum().backward()
    (theirs * __import__("torch").from_numpy(weights)).sum().backward()
    for a, b in zip(ours_inputs, theirs_inputs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_matches_torch(device, torch, rng, reduction):
    logits = rng.standard_normal((6, 5)).astype(np.float32) * 3
    target = rng.integers(0, 5, 6)
    ours_x, theirs_x = _pair(torch, logits, device)
    ours = F.cross_entropy(ours_x, gg.tensor(target, device=device), reduction=reduction)
    theirs = torch.nn.functional.cross_entropy(theirs_x, torch.from_numpy(target),
                                               reduction=reduction)
    _check(ours, theirs, [ours_x], [theirs_x])


def test_cross_entropy_is_stable_for_huge_logits(device, torch):
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4], [1e4, 1e4, -1e4]], np.float32)
    target = np.array([1, 2, 0])
    ours_x, theirs_x = _pair(torch, logits, device)
    ours = F.cross_entropy(ours_x, gg.tensor(target, device=device), reduction="none")
    theirs = torch.nn.functional.cross_entropy(theirs_x, torch.from_numpy(target),
                                               reduction="none")
    assert np.isfinite(ours.detach().numpy()).all()
    np.testing.assert_allclose(ours.detach().numpy(), [2e4, 0.0, np.log(2)], rtol=1e-6)
    _check(ours, theirs, [ours_x], [theirs_x])
    assert np.isfinite(ours_x.grad.numpy()).all()


def test_cross_entropy_uses_the_fused_op():
    x = gg.randn(3, 4, requires_grad=True)
    loss = F.cross_entropy(x, gg.tensor([0, 1, 2]), reduction="none")
    assert type(loss.grad_fn).__name__ == "SoftmaxCrossEntropy"


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_reductions_gradcheck_and_gradgradcheck(device, rng, reduction):
    # the mean and sum are folded into the fused op (and its backward kernel): check both orders
    x = gg.tensor(rng.standard_normal((5, 4)), dtype=gg.float64, device=device,
                  requires_grad=True)
    target = gg.tensor([0, 3, 1, 3, 2], device=device)
    assert gg.gradcheck(lambda x: F.cross_entropy(x, target, reduction=reduction), (x,))
    assert gg.gradgradcheck(lambda x: F.cross_entropy(x, target, reduction=reduction), (x,))


def test_cross_entropy_mean_is_folded_into_the_fused_kernels():
    gg.sim.configure("sim:0")
    x = gg.randn(64, 10, device="sim", requires_grad=True)
    target = gg.randint(0, 10, (64,), device="sim")
    gg.sim.reset("sim:0")
    F.cross_entropy(x, target).backward()
    by_op, _ = gg.device_registry.get_backend("sim:0").kernel_totals()
    # forward: the fused rows (losses and counted-row flags), one sum of both and the division
    # (the mean is over the rows whose target is not ignore_index, counted on the device: one
    # launch more than a plain mean); backward: the seed gradient and the fused backward, which
    # reads the count from the device
    assert {name: row[0] for name, row in by_op.items()} == {
        "softmax_cross_entropy": 1, "reduce:sum": 1, "binary:div": 1, "full": 1,
        "softmax_cross_entropy_backward": 1}


def test_cross_entropy_gradcheck_float64(rng):
    x = gg.tensor(rng.standard_normal((4, 3)), dtype=gg.float64, requires_grad=True)
    target = gg.tensor([0, 2, 1, 2])
    assert gg.gradcheck(lambda x: F.cross_entropy(x, target), (x,))
    assert gg.gradcheck(lambda x: F.nll_loss(F.log_softmax(x, dim=1), target, "sum"), (x,))


def test_class_target_errors():
    x = gg.randn(3, 4)
    with pytest.raises(TypeError, match="integer class targets"):
        F.cross_entropy(x, gg.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"\(N, C\).*\(N,\)"):
        F.cross_entropy(x, gg.tensor([0, 1]))
    with pytest.raises(IndexError, match="Target 4 is out of bounds"):
        F.cross_entropy(x, gg.tensor([0, 1, 4]))
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        F.cross_entropy(x, gg.tensor([0, 1, 2]), reduction="avg")


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_matches_torch(torch, rng, reduction):
    logp = np.log(rng.dirichlet(np.ones(4), size=5)).astype(np.float32)
    target = rng.integers(0, 4, 5)
    ours_x, theirs_x = _pair(torch, logp)
    _check(F.nll_loss(ours_x, gg.tensor(target), reduction=reduction),
           torch.nn.functional.nll_loss(theirs_x, torch.from_numpy(target), reduction=reduction),
           [ours_x], [theirs_x])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_loss_matches_torch(device, torch, rng, reduction):
    a = rng.standard_normal((3, 4)).astype(np.float32)
    b = rng.standard_normal((3, 4)).astype(np.float32)
    ours_a, theirs_a = _pair(torch, a, device)
    ours_b, theirs_b = _pair(torch, b, device)
    _check(F.mse_loss(ours_a, ours_b, reduction=reduction),
           torch.nn.functional.mse_loss(theirs_a, theirs_b, reduction=reduction),
           [ours_a, ours_b], [theirs_a, theirs_b])


def test_mse_loss_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match=r"target size \(3,\) must be the same as input size"):
        F.mse_loss(gg.randn(3, 1), gg.randn(3))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("pos_weight", [None, 2.5])
def test_bce_with_logits_matches_torch_and_is_stable(device, torch, rng, reduction, pos_weight):
    logits = np.concatenate([rng.standard_normal(6) * 3, [1e4, -1e4, 80.0, -80.0]])
    logits = logits.astype(np.float32)
    target = np.array([0, 1, 1, 0, 0.3, 1, 1, 0, 0, 1], np.float32)
    ours_x, theirs_x = _pair(torch, logits, device)
    ours = F.binary_cross_entropy_with_logits(ours_x, gg.tensor(target, device=device),
                                              reduction=reduction, pos_weight=pos_weight)
    theirs = torch.nn.functional.binary_cross_entropy_with_logits(
        theirs_x, torch.from_numpy(target), reduction=reduction,
        pos_weight=None if pos_weight is None else torch.tensor(pos_weight))
    assert np.isfinite(ours.detach().numpy()).all()
    _check(ours, theirs, [ours_x], [theirs_x], rtol=1e-5, atol=1e-5)


def test_bce_with_logits_gradcheck_float64(rng):
    x = gg.tensor(rng.standard_normal(5) * 2, dtype=gg.float64, requires_grad=True)
    t = gg.tensor(rng.random(5), dtype=gg.float64)
    assert gg.gradcheck(lambda x: F.binary_cross_entropy_with_logits(x, t), (x,))


def test_binary_cross_entropy_matches_torch(torch, rng):
    p = rng.uniform(0.05, 0.95, 6).astype(np.float32)
    t = rng.integers(0, 2, 6).astype(np.float32)
    ours_p, theirs_p = _pair(torch, p)
    _check(F.binary_cross_entropy(ours_p, gg.tensor(t)),
           torch.nn.functional.binary_cross_entropy(theirs_p, torch.from_numpy(t)),
           [ours_p], [theirs_p])


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_and_log_softmax_match_torch(torch, rng, name):
    x = (rng.standard_normal((3, 5)) * 50).astype(np.float32)
    ours_x, theirs_x = _pair(torch, x)
    _check(getattr(F, name)(ours_x, dim=1), getattr(torch.nn.functional, name)(theirs_x, dim=1),
           [ours_x], [theirs_x], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("activation", [None, "relu", "tanh", "sigmoid"])
def test_linear_functional_fuses_bias_and_activation(torch, rng, activation):
    x = rng.standard_normal((4, 3)).astype(np.float32)
    w = rng.standard_normal((2, 3)).astype(np.float32)
    b = rng.standard_normal(2).astype(np.float32)
    gx, tx = _pair(torch, x)
    gw, tw = _pair(torch, w)
    gb, tb = _pair(torch, b)
    ours = F.linear(gx, gw, gb, activation)
    assert type(ours.grad_fn).__name__ == "BiasAct"
    theirs = torch.nn.functional.linear(tx, tw, tb)
    if activation:
        theirs = getattr(torch, activation)(theirs)
    _check(ours, theirs, [gx, gw, gb], [tx, tw, tb])


@pytest.mark.parametrize("x_shape", [(3,), (4, 3), (2, 4, 3), (0, 3)], ids=str)
@pytest.mark.parametrize("bias", [True, False])
def test_linear_gradients_every_input_rank(device, torch, rng, x_shape, bias):
    """linear's backward on arrays (plain backward) and as ops (create_graph) against PyTorch,
    for 1-D, 2-D, batched and empty inputs; and its second derivatives."""
    x = rng.standard_normal(x_shape)
    w = rng.standard_normal((2, 3))
    b = rng.standard_normal(2) if bias else None
    seed = rng.standard_normal(x_shape[:-1] + (2,))
    tx, tw = (torch.tensor(a, requires_grad=True) for a in (x, w))
    tb = torch.tensor(b, requires_grad=True) if bias else None
    torch.nn.functional.linear(tx, tw, tb).backward(torch.from_numpy(seed))
    for create_graph in (False, True):
        gx, gw = (gg.tensor(a, dtype=gg.float64, device=device, requires_grad=True)
                  for a in (x, w))
        gb = gg.tensor(b, dtype=gg.float64, device=device, requires_grad=True) if bias else None
        inputs = [gx, gw] + ([gb] if bias else [])
        out = F.linear(gx, gw, gb)
        grads = gg.autograd.grad(out, inputs, gg.tensor(seed, dtype=gg.float64, device=device),
                                 create_graph=create_graph)
        wanted = [tx.grad, tw.grad] + ([tb.grad] if bias else [])
        for got, want in zip(grads, wanted):
            np.testing.assert_allclose(got.detach().numpy(), want.numpy(), rtol=1e-12,
                                       atol=1e-12)
    if x_shape[0]:
        assert gg.gradgradcheck(lambda x, w: F.linear(x, w, gb), (gx, gw))


def test_loss_modules_wrap_functional(torch, rng):
    x = rng.standard_normal((4, 3)).astype(np.float32)
    t = np.array([0, 2, 1, 1])
    ours = gg.nn.CrossEntropyLoss(reduction="sum")(gg.tensor(x), gg.tensor(t)).item()
    theirs = torch.nn.CrossEntropyLoss(reduction="sum")(torch.from_numpy(x),
                                                         torch.from_numpy(t)).item()
    assert ours == pytest.approx(theirs, rel=1e-5)
    with pytest.raises(ValueError, match="reduction"):
        gg.nn.MSELoss(reduction="avg")


# ---- boundaries: every loss against PyTorch, input and target gradients ----------------------
INF, NAN = math.inf, math.nan
LOGITS = [0.0, 0.0, -0.0, 1e4, -1e4, 1e4, -1e4, 3.0, -2.0, 80.0]
LOGIT_TARGETS = [0.0, 1.0, 0.5, 0.0, 1.0, 1.0, 0.0, 0.25, 0.5, 1.0]
PROBS = [0.0, 1.0, 0.0, 1.0, 0.5, 0.25, 1e-30, 1.0 - 1e-7, 0.5, 0.75]
PROB_TARGETS = [0.0, 1.0, 1.0, 0.0, 0.5, 1.0, 0.0, 1.0, 0.0, 0.75]
WEIGHTS = [0.5, 2.0, 1.0, 0.0, 1.5, 1.0, 3.0, 0.25, 1.0, 2.0]


def _loss_case(torch_name, ours, values, targets, **weights):
    return torch_name, ours, values, targets, weights


# name -> (torch.nn.functional name, gpugrad call, input, target, weight tensors by keyword)
LOSS_BOUNDARIES = {
    "bce_with_logits": _loss_case("binary_cross_entropy_with_logits",
                                  F.binary_cross_entropy_with_logits, LOGITS, LOGIT_TARGETS),
    "bce_with_logits_pos_weight": _loss_case(
        "binary_cross_entropy_with_logits", F.binary_cross_entropy_with_logits, LOGITS,
        LOGIT_TARGETS, pos_weight=[2.5] * 10),
    "bce_with_logits_both_weights": _loss_case(
        "binary_cross_entropy_with_logits", F.binary_cross_entropy_with_logits, LOGITS,
        LOGIT_TARGETS, pos_weight=[0.5] * 10, weight=WEIGHTS),
    "bce_with_logits_infinite_logits": _loss_case(
        "binary_cross_entropy_with_logits", F.binary_cross_entropy_with_logits,
        [INF, -INF, INF, -INF, NAN], [1.0, 0.0, 0.0, 1.0, 0.5]),
    "bce": _loss_case("binary_cross_entropy", F.binary_cross_entropy, PROBS, PROB_TARGETS),
    "bce_weight": _loss_case("binary_cross_entropy", F.binary_cross_entropy, PROBS,
                             PROB_TARGETS, weight=WEIGHTS),
    "mse": _loss_case("mse_loss", F.mse_loss, [0.0, 1.0, -1e4, 2.0, INF, NAN],
                      [0.0, 1.0, 1e4, -3.0, 1.0, 0.0]),
    "l1": _loss_case("l1_loss", F.l1_loss, [0.0, 1.0, -1e4, 2.0, INF, NAN],
                     [0.0, 1.0, 1e4, -3.0, 1.0, 0.0]),
}


def _float_tolerances(dtype):
    return (1e-7, 1e-12) if dtype == "float64" else (1e-5, 1e-6)


def _assert_close_nan(ours, theirs, rtol, atol, what):
    np.testing.assert_allclose(ours.detach().cpu().numpy(), theirs.detach().numpy(), rtol=rtol,
                               atol=atol, equal_nan=True, err_msg=what)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", LOSS_BOUNDARIES)
def test_loss_boundaries_match_torch(device, torch, name, reduction, dtype):
    torch_name, ours_fn, values, targets, weights = LOSS_BOUNDARIES[name]
    gdt, tdt = getattr(gg, dtype), getattr(torch, dtype)
    x = gg.tensor(values, dtype=gdt, device=device, requires_grad=True)
    t = gg.tensor(targets, dtype=gdt, device=device, requires_grad=True)
    tx = torch.tensor(values, dtype=tdt, requires_grad=True)
    tt = torch.tensor(targets, dtype=tdt, requires_grad=True)
    ours_w = {k: gg.tensor(v, dtype=gdt, device=device) for k, v in weights.items()}
    theirs_w = {k: torch.tensor(v, dtype=tdt) for k, v in weights.items()}
    ours = ours_fn(x, t, reduction, **ours_w)
    theirs = getattr(torch.nn.functional, torch_name)(tx, tt, reduction=reduction, **theirs_w)
    rtol, atol = _float_tolerances(dtype)
    _assert_close_nan(ours, theirs, rtol, atol, f"{name} value")
    seed = np.linspace(-1.0, 2.0, max(ours.numel(), 1)).reshape(ours.shape)
    ours.backward(gg.tensor(seed, dtype=gdt, device=device))
    theirs.backward(torch.tensor(seed, dtype=tdt))
    _assert_close_nan(x.grad, tx.grad, rtol, atol, f"{name} input gradient")
    _assert_close_nan(t.grad, tt.grad, rtol, atol, f"{name} target gradient")


def test_bce_with_logits_gradient_at_zero_logits_is_half_minus_target(device):
    x = gg.zeros(3, dtype=gg.float64, device=device, requires_grad=True)
    t = gg.tensor([0.0, 1.0, 0.25], dtype=gg.float64, device=device)
    F.binary_cross_entropy_with_logits(x, t, "sum").backward()
    assert x.grad.tolist() == [0.5, -0.5, 0.25]


def test_bce_at_probabilities_0_and_1_is_finite(device):
    p = gg.tensor([0.0, 1.0, 0.0, 1.0], dtype=gg.float64, device=device, requires_grad=True)
    t = gg.tensor([0.0, 1.0, 1.0, 0.0], dtype=gg.float64, device=device)
    loss = F.binary_cross_entropy(p, t, "none")
    assert loss.tolist() == [0.0, 0.0, 100.0, 100.0]
    loss.sum().backward()
    grad = p.grad.numpy()
    assert np.isfinite(grad).all() and grad[0] == grad[1] == 0.0 and grad[2] < -1e11 < 1e11 < grad[3]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_class_losses_at_zero_and_huge_logits_match_torch(device, torch, reduction, dtype):
    logits = [[0.0, 0.0, 0.0], [1e4, -1e4, 0.0], [-1e4, -1e4, 1e4], [1e4, 1e4, -1e4]]
    target = [1, 1, 2, 0]
    gdt, tdt = getattr(gg, dtype), getattr(torch, dtype)
    rtol, atol = _float_tolerances(dtype)
    for name in ("cross_entropy", "nll_loss"):
        x = gg.tensor(logits, dtype=gdt, device=device, requires_grad=True)
        tx = torch.tensor(logits, dtype=tdt, requires_grad=True)
        ours = getattr(F, name)(x, gg.tensor(target, device=device), reduction=reduction)
        theirs = getattr(torch.nn.functional, name)(tx, torch.tensor(target),
                                                    reduction=reduction)
        _assert_close_nan(ours, theirs, rtol, atol, f"{name} value")
        seed = np.linspace(-1.0, 2.0, max(ours.numel(), 1)).reshape(ours.shape)
        ours.backward(gg.tensor(seed, dtype=gdt, device=device))
        theirs.backward(torch.tensor(seed, dtype=tdt))
        _assert_close_nan(x.grad, tx.grad, rtol, atol, f"{name} gradient")


@pytest.mark.parametrize("beta, threshold", [(1.0, 20.0), (2.0, 5.0), (0.5, 1.0)])
def test_softplus_and_logsigmoid_match_torch(device, torch, beta, threshold):
    values = [0.0, -1e4, 1e4, 20.0, 20.5, 2.5, 2.6, -30.0, INF, -INF, NAN]
    for ours_fn, theirs_fn in (
            (lambda a: F.softplus(a, beta, threshold),
             lambda a: torch.nn.functional.softplus(a, beta, threshold)),
            (F.logsigmoid, torch.nn.functional.logsigmoid)):
        x = gg.tensor(values, dtype=gg.float64, device=device, requires_grad=True)
        tx = torch.tensor(values, dtype=torch.float64, requires_grad=True)
        ours, theirs = ours_fn(x), theirs_fn(tx)
        _assert_close_nan(ours, theirs, 1e-12, 0, "value")
        ours.sum().backward()
        theirs.sum().backward()
        _assert_close_nan(x.grad, tx.grad, 1e-12, 0, "gradient")


# ---- pad, interpolate, one_hot, embedding, feature dropout ---------------------------------
def _resample_cases():
    from support.gradtools import OpCase

    rng = np.random.default_rng(21)
    x3, x4 = rng.standard_normal((2, 2, 5)), rng.standard_normal((1, 2, 4, 3))

    def case(name, fn, x):
        def torch_fn(t):
            import torch.nn.functional as TF

            return fn(TF, t)

        return OpCase(name, lambda t: fn(F, t), torch_fn, [x])

    return [
        case("pad_constant", lambda f, t: f.pad(t, (1, 2, 0, 1), value=1.5), x4),
        case("pad_crop", lambda f, t: f.pad(t, (-1, 2, 1, -2)), x4),
        case("pad_reflect", lambda f, t: f.pad(t, (2, 1, 1, 2), mode="reflect"), x4),
        case("pad_replicate", lambda f, t: f.pad(t, (3, 1), mode="replicate"), x3),
        case("pad_circular", lambda f, t: f.pad(t, (2, 3, 1, 0), mode="circular"), x4),
        case("nearest_size", lambda f, t: f.interpolate(t, size=(7, 2)), x4),
        case("nearest_scale", lambda f, t: f.interpolate(t, scale_factor=2.5), x3),
        case("nearest_exact", lambda f, t: f.interpolate(t, size=8, mode="nearest-exact"), x3),
        case("linear", lambda f, t: f.interpolate(t, size=9, mode="linear"), x3),
        case("linear_corners", lambda f, t: f.interpolate(t, scale_factor=1.7, mode="linear",
                                                          align_corners=True), x3),
        case("bilinear_up", lambda f, t: f.interpolate(t, scale_factor=(2, 1.5),
                                                       mode="bilinear"), x4),
        case("bilinear_down", lambda f, t: f.interpolate(t, size=(3, 2), mode="bilinear"), x4),
        case("bilinear_corners", lambda f, t: f.interpolate(t, size=(6, 5), mode="bilinear",
                                                            align_corners=True), x4),
    ]


RESAMPLE = _resample_cases()


@pytest.mark.parametrize("case", RESAMPLE, ids=[c.name for c in RESAMPLE])
def test_pad_and_interpolate_match_torch_and_gradcheck(case, device, torch):
    from support.gradtools import check_against_torch, check_gradcheck

    check_against_torch(case, device, torch)
    check_gradcheck(case, device)


def test_pad_and_interpolate_errors():
    x = gg.randn(1, 1, 3, 3)
    with pytest.raises(RuntimeError, match="divisible by 2"):
        F.pad(x, (1, 2, 3))
    with pytest.raises(RuntimeError, match="Padding size should be less than"):
        F.pad(x, (3, 0), mode="reflect")
    with pytest.raises(NotImplementedError, match="mode 'wrap'"):
        F.pad(x, (1, 1), mode="wrap")
    with pytest.raises(NotImplementedError, match="3-D .* and 4-D"):
        F.interpolate(gg.randn(1, 1, 2, 2, 2), scale_factor=2)
    with pytest.raises(NotImplementedError, match="mode 'bicubic'"):
        F.interpolate(x, scale_factor=2, mode="bicubic")
    with pytest.raises(ValueError, match="align_corners option can only be set"):
        F.interpolate(x, scale_factor=2, align_corners=True)
    with pytest.raises(ValueError, match="either size or scale_factor"):
        F.interpolate(x)
    with pytest.raises(NotImplementedError, match="bilinear mode needs 4D"):
        F.interpolate(gg.randn(1, 1, 3), scale_factor=2, mode="bilinear")


def test_one_hot_matches_torch(device, torch):
    labels = np.array([[0, 3], [2, 1]])
    for classes in (-1, 6):
        got = F.one_hot(gg.tensor(labels, device=device), classes)
        want = torch.nn.functional.one_hot(torch.tensor(labels), classes)
        assert got.dtype == gg.int64 and got.requires_grad is False
        np.testing.assert_array_equal(got.cpu().numpy(), want.numpy())
    with pytest.raises(RuntimeError, match="smaller than num_classes"):
        F.one_hot(gg.tensor([0, 4]), 3)
    with pytest.raises(RuntimeError, match="non-negative"):
        F.one_hot(gg.tensor([-1, 0]))
    with pytest.raises(RuntimeError, match="LongTensor"):
        F.one_hot(gg.tensor([0.0]))


@pytest.mark.parametrize("padding_idx", [None, 1, -2])
def test_embedding_matches_torch(device, torch, padding_idx):
    rng = np.random.default_rng(2)
    table = rng.standard_normal((5, 3))
    idx = np.array([[1, 3, 1], [4, 0, 3]])
    w = gg.tensor(table, dtype=gg.float64, device=device, requires_grad=True)
    tw = torch.tensor(table, requires_grad=True)
    got = F.embedding(gg.tensor(idx, device=device), w, padding_idx=padding_idx)
    want = torch.nn.functional.embedding(torch.tensor(idx), tw, padding_idx=padding_idx)
    np.testing.assert_allclose(got.detach().cpu().numpy(), want.detach().numpy())
    g = rng.standard_normal(tuple(want.shape))
    (got * gg.tensor(g, dtype=gg.float64, device=device)).sum().backward()
    (want * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(w.grad.cpu().numpy(), tw.grad.numpy(), rtol=1e-12)
    assert gg.gradgradcheck(lambda w: F.embedding(gg.tensor(idx, device=device), w,
                                                  padding_idx=padding_idx) ** 2, (w,))


def test_embedding_refuses_what_it_does_not_support():
    w = gg.randn(4, 2)
    with pytest.raises(NotImplementedError, match="max_norm"):
        F.embedding(gg.tensor([0]), w, max_norm=1.0)
    with pytest.raises(NotImplementedError, match="sparse"):
        F.embedding(gg.tensor([0]), w, sparse=True)
    with pytest.raises(RuntimeError, match="int64 or int32"):
        F.embedding(gg.tensor([0.0]), w)


@pytest.mark.parametrize("name,shape,channel_dims", [("dropout1d", (4, 30, 5), 2),
                                                     ("dropout2d", (4, 30, 3, 2), 2),
                                                     ("dropout2d", (30, 3, 2), 2),
                                                     ("dropout3d", (2, 30, 2, 2, 2), 2)])
@pytest.mark.filterwarnings("ignore:dropout2d")  # a 3-D input is taken as (N, C, L)
def test_feature_dropout_drops_whole_channels(device, name, shape, channel_dims):
    gg.manual_seed(3)
    x = gg.ones(*shape, device=device, requires_grad=True)
    out = getattr(F, name)(x, 0.5)
    values = out.detach().cpu().numpy().reshape(shape[:channel_dims] + (-1,))
    assert set(np.unique(values)) <= {0.0, 2.0}
    assert (values.min(axis=-1) == values.max(axis=-1)).all()  # one decision per channel
    assert 0.2 < (values[..., 0] == 0).mean() < 0.8
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.cpu().numpy(), out.detach().cpu().numpy())
    assert getattr(F, name)(x, 0.5, training=False) is x


def test_dropout2d_of_3d_input_warns_as_torch():
    with pytest.warns(UserWarning, match="dropout1d"):
        F.dropout2d(gg.ones(2, 3, 4))
    with pytest.raises(RuntimeError, match="Expected 4D or 5D input"):
        F.dropout3d(gg.ones(2, 3))
