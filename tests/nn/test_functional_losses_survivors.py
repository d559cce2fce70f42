"""The classification and binary losses at the edges their argument checks and shape handling
meet: each loss's name in every message, class targets of the wrong kind (bool, float, list,
int32) or out of range (C itself, negatives), 1-D and K-dimensional inputs, a single class with
ignored targets, label_smoothing of 1, soft targets of every rank, and weights, values and
gradients against PyTorch in float64."""
import re

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.nn import functional as F

torch = pytest.importorskip("torch", reason="the losses are checked against PyTorch")
TF = torch.nn.functional


def _logits(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


def _compare(name, x, t, rtol=1e-12, **kwargs):
    """Value and input gradient of loss ``name`` against PyTorch's, in float64."""
    ours_x = gg.tensor(x, requires_grad=True)
    theirs_x = torch.tensor(x, requires_grad=True)
    ours_kw = {k: gg.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    theirs_kw = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v
                 for k, v in kwargs.items()}
    ours = getattr(F, name)(ours_x, gg.tensor(t), **ours_kw)
    theirs = getattr(TF, name)(theirs_x, torch.tensor(t), **theirs_kw)
    assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=rtol,
                               atol=1e-14)
    ours.sum().backward()
    theirs.sum().backward()
    np.testing.assert_allclose(ours_x.grad.numpy(), theirs_x.grad.numpy(), rtol=rtol, atol=1e-14)


# ---- messages naming each loss -----------------------------------------------------------------
def _raises(kind, message, fn, *args, **kwargs):
    with pytest.raises(kind, match="^" + re.escape(message) + "$"):
        fn(*args, **kwargs)


@pytest.mark.parametrize("name", ["binary_cross_entropy", "binary_cross_entropy_with_logits"])
def test_binary_losses_name_themselves_in_every_message(name):
    p = gg.tensor(np.full((2, 3), 0.5))
    fn = getattr(F, name)
    _raises(TypeError, f"{name}: target must be a gg.Tensor, got list", fn, p, [1.0])
    _raises(ValueError, f"{name}: target size (3,) must be the same as input size (2, 3); "
            "reshape one of them (e.g. target.reshape([2, 3]))", fn, p, gg.tensor(np.ones(3)))
    _raises(ValueError, f"{name}: 'avg' is not a valid value for reduction; expected one of "
            "('mean', 'sum', 'none')", fn, p, p, "avg")
    w = gg.tensor(np.ones(3), requires_grad=True)
    _raises(RuntimeError, f"The function '{name}' is not differentiable with respect to argument "
            "'weight'. This input cannot have requires_grad True.", fn, p, p, weight=w)


def test_pos_weight_that_requires_grad_is_refused_by_name():
    p = gg.tensor(np.zeros((2, 3)))
    theirs = "is not differentiable with respect to argument 'pos_weight'"
    with pytest.raises(RuntimeError, match=theirs):
        TF.binary_cross_entropy_with_logits(torch.zeros(2, 3), torch.zeros(2, 3),
                                            pos_weight=torch.ones(3, requires_grad=True))
    _raises(RuntimeError, "The function 'binary_cross_entropy_with_logits' is not differentiable "
            "with respect to argument 'pos_weight'. This input cannot have requires_grad True.",
            F.binary_cross_entropy_with_logits, p, p, pos_weight=gg.tensor(np.ones(3),
                                                                           requires_grad=True))


@pytest.mark.parametrize("name", ["nll_loss", "cross_entropy"])
def test_class_losses_name_themselves_in_every_message(name):
    x = gg.tensor(_logits((4, 3)))
    t = gg.tensor(np.array([0, 1, 2, 0]))
    fn = getattr(F, name)
    probabilities = " or class probabilities of the input's shape" if name == "cross_entropy" \
        else ""
    for target, got in (([0, 1, 2, 0], "list"), (gg.tensor(np.zeros(4)), "gpugrad.float64"),
                        (gg.tensor(np.zeros(4, dtype=bool)), "gpugrad.bool")):
        _raises(TypeError, f"{name}: expected integer class targets (int64){probabilities}, got "
                f"{got}; convert with target.long()", fn, x, target)
    _raises(ValueError, f"{name}: 'avg' is not a valid value for reduction; expected one of "
            "('mean', 'sum', 'none')", fn, x, t, "avg")
    _raises(ValueError, f"{name}: expected input of shape (N, C) and target of shape (N,), or "
            "(N, C, d1, ...) and (N, d1, ...); got (4, 3) and (3,)", fn, x, t[:3])
    with pytest.raises(RuntimeError, match=re.escape(
            "weight tensor should be defined either for all 3 classes or no classes but got "
            "weight tensor of shape: [2]")):
        fn(x, t, weight=gg.tensor(np.ones(2)))
    _raises(IndexError, f"{name}: Target 3 is out of bounds for 3 classes", fn, x,
            gg.tensor(np.array([0, 1, 3, 0])))


def test_nll_loss_names_itself_for_a_bad_weight():
    x, t = gg.tensor(_logits((4, 3))), gg.tensor(np.array([0, 1, 2, 0]))
    _raises(RuntimeError, "nll_loss: weight tensor should be defined either for all 3 classes or "
            "no classes but got weight tensor of shape: [2]", F.nll_loss, x, t,
            weight=gg.tensor(np.ones(2)))
    _raises(RuntimeError, "nll_loss: weight tensor should be defined either for all 3 classes or "
            "no classes but got weight tensor of shape: [3, 1]", F.nll_loss, x, t,
            weight=gg.tensor(np.ones((3, 1))))


def test_nll_loss_weight_that_requires_grad_is_refused_by_name():
    x, t = gg.tensor(_logits((4, 3))), gg.tensor(np.array([0, 1, 2, 0]))
    with pytest.raises(RuntimeError, match="is not differentiable with respect to argument "
                       "'weight'"):
        TF.nll_loss(torch.tensor(_logits((4, 3))), torch.tensor([0, 1, 2, 0]),
                    weight=torch.ones(3, dtype=torch.float64, requires_grad=True))
    _raises(RuntimeError, "The function 'nll_loss' is not differentiable with respect to argument "
            "'weight'. This input cannot have requires_grad True.", F.nll_loss, x, t,
            weight=gg.tensor(np.ones(3), requires_grad=True))


def test_soft_targets_check_the_class_weight():
    x = gg.tensor(_logits((4, 3)))
    p = x.softmax(dim=1)
    with pytest.raises(RuntimeError, match="weight tensor should be defined either for all 3 "
                       r"classes or no classes but got weight tensor of shape: \[2\]"):
        TF.cross_entropy(torch.tensor(_logits((4, 3))), torch.tensor(_logits((4, 3))).softmax(1),
                         weight=torch.ones(2, dtype=torch.float64))
    _raises(RuntimeError, "cross_entropy: weight tensor should be defined either for all 3 "
            "classes or no classes but got weight tensor of shape: [2]", F.cross_entropy, x, p,
            weight=gg.tensor(np.ones(2)))


# ---- class targets ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["nll_loss", "cross_entropy"])
@pytest.mark.parametrize("bad", [3, -1])
def test_the_first_bad_target_is_named_as_pytorch_does(name, bad):
    """C itself is out of range (not only above it), and a negative target is named as itself
    (not as the largest target)."""
    values = [0, bad, 2, 0]
    with pytest.raises(IndexError, match=f"^Target {bad} is out of bounds.$"):
        getattr(TF, name)(torch.tensor(_logits((4, 3))), torch.tensor(values))
    _raises(IndexError, f"{name}: Target {bad} is out of bounds for 3 classes", getattr(F, name),
            gg.tensor(_logits((4, 3))), gg.tensor(np.array(values)))


def test_class_targets_on_sim_are_not_read_back_to_the_host():
    """The range check is a host check on cpu only: on a device it would force a sync."""
    x = gg.tensor(_logits((4, 3)), device="sim")
    t = gg.tensor(np.array([0, 1, 2, -100]), device="sim")
    before = gg.sim.stats("sim:0").d2h_bytes
    F.nll_loss(x, t)
    F.cross_entropy(x, t, label_smoothing=0.1)
    assert gg.sim.stats("sim:0").d2h_bytes == before


@pytest.mark.parametrize("kwargs", [{}, {"label_smoothing": 0.2}, {"weight": [1.0, 2.0, 3.0]},
                                    {"reduction": "none"}])
@pytest.mark.parametrize("name", ["nll_loss", "cross_entropy"])
def test_int32_targets_give_the_int64_result(name, kwargs):
    if name == "nll_loss" and "label_smoothing" in kwargs:
        return
    kw = {k: gg.tensor(np.array(v)) if isinstance(v, list) else v for k, v in kwargs.items()}
    for shape, t in (((4, 3), [0, 1, 2, -100]), ((2, 3, 2), [[0, 2], [1, -100]])):
        x = _logits(shape)
        results = []
        for dtype in ("int64", "int32"):
            ours_x = gg.tensor(x, requires_grad=True)
            loss = getattr(F, name)(ours_x, gg.tensor(np.array(t, dtype=dtype)), **kw)
            loss.sum().backward()
            results.append((loss.dtype, loss.detach().numpy(), ours_x.grad.numpy()))
        assert results[0][0] == results[1][0]
        np.testing.assert_array_equal(results[0][1], results[1][1])
        np.testing.assert_array_equal(results[0][2], results[1][2])


def test_class_targets_of_any_integer_dtype_come_back_as_int64():
    """The helper's contract: the targets it returns are int64, whatever integer dtype came in."""
    from gpugrad.nn.functional_losses import _check_class_targets
    x = gg.tensor(_logits((4, 3)))
    for dtype in ("int32", "int16", "uint8", "int64"):
        t = gg.tensor(np.array([0, 1, 2, 0], dtype=dtype))
        out = _check_class_targets("nll_loss", x, t)
        assert out.dtype == gg.int64
        np.testing.assert_array_equal(out.numpy(), [0, 1, 2, 0])


# ---- values and gradients against PyTorch -------------------------------------------------------
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_loss_of_a_single_row(reduction):
    _compare("nll_loss", _logits(4), np.array(2), reduction=reduction)
    _compare("nll_loss", _logits(4), np.array(1), reduction=reduction,
             weight=np.array([1.0, 2.0, 3.0, 4.0]))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_a_single_class_with_ignored_targets(reduction):
    """With one class, an ignored target must not pick class 1 (there is none)."""
    x = np.array([[0.5], [1.0], [2.0]])
    t = np.array([0, -100, 0])
    _compare("nll_loss", x, t, reduction=reduction)
    _compare("nll_loss", x, t, reduction=reduction, weight=np.array([2.0]))
    _compare("cross_entropy", x, t, reduction=reduction, weight=np.array([2.0]),
             label_smoothing=0.3)


def test_ignored_rows_stay_zero_where_class_one_is_impossible():
    """An ignored row whose log-probability is -inf everywhere but class 0 gives a loss of 0."""
    x = np.array([[0.0, -np.inf, -1.0], [-0.5, -np.inf, -2.0]])
    t = np.array([2, -100])
    _compare("nll_loss", x, t, reduction="none")
    _compare("nll_loss", x, t, reduction="sum")


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 2, 2), (3,)])
def test_full_label_smoothing(shape, reduction):
    """label_smoothing=1 is allowed and leaves only the uniform term."""
    x = _logits(shape)
    t = np.array(1) if len(shape) == 1 else \
        np.random.default_rng(1).integers(0, 3, (shape[0],) + shape[2:])
    _compare("cross_entropy", x, t, reduction=reduction, label_smoothing=1.0)
    _compare("cross_entropy", x, t, reduction=reduction, label_smoothing=1.0,
             weight=np.array([0.5, 2.0, 1.0]))


def test_a_weight_of_another_dtype_is_summed_at_the_input_precision():
    """gpugrad takes a float32 weight for float64 logits (PyTorch refuses it); the weighted
    mean then equals PyTorch's with that weight's values in float64."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3000, 3))
    t = rng.integers(0, 3, 3000)
    t[::7] = -100
    w32 = np.array([0.1, 0.7, 0.3], dtype=np.float32)
    for name, kwargs in (("nll_loss", {}), ("cross_entropy", {"label_smoothing": 0.4})):
        ours = getattr(F, name)(gg.tensor(x), gg.tensor(t), weight=gg.tensor(w32), **kwargs)
        theirs = getattr(TF, name)(torch.tensor(x), torch.tensor(t),
                                   weight=torch.tensor(w32.astype(np.float64)), **kwargs)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-13)


@pytest.mark.parametrize("label_smoothing", [0.0, 0.25])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(3,), (4, 3), (2, 3, 2)])
def test_soft_targets_of_every_rank(shape, reduction, label_smoothing):
    class_dim = 0 if len(shape) == 1 else 1
    probs = torch.tensor(_logits(shape, seed=3)).softmax(class_dim).numpy()
    _compare("cross_entropy", _logits(shape), probs, reduction=reduction,
             label_smoothing=label_smoothing)
    _compare("cross_entropy", _logits(shape), probs, reduction=reduction,
             label_smoothing=label_smoothing, weight=np.array([0.5, 2.0, 1.0]))


def test_soft_targets_of_negative_zero_give_pytorchs_gradient_bit_for_bit():
    """Without smoothing the target is used as given (not rescaled): a target of -0.0 gives
    PyTorch's input gradient of +0.0, sign included."""
    x, t = _logits((2, 3)), np.full((2, 3), -0.0)
    ours_x, theirs_x = gg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    F.cross_entropy(ours_x, gg.tensor(t), reduction="sum").backward()
    TF.cross_entropy(theirs_x, torch.tensor(t), reduction="sum").backward()
    np.testing.assert_array_equal(ours_x.grad.numpy(), theirs_x.grad.numpy())
    np.testing.assert_array_equal(np.signbit(ours_x.grad.numpy()),
                                  np.signbit(theirs_x.grad.numpy()))
