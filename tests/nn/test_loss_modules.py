"""Loss functions and layers beyond tests/nn/test_functional.py's: values and gradients
against PyTorch (float64), gradcheck/gradgradcheck on every device, PyTorch's weighted means,
ignore_index, label smoothing, probability targets and constructor signatures."""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad.nn import functional as F
from support.gradtools import OpCase, assert_close, op_tests

R = np.random.default_rng(5)
REDUCTIONS = ["mean", "sum", "none"]


def normal(*shape):
    return R.standard_normal(shape)


def _tf(name, **kwargs):
    def call(*args):
        import torch.nn.functional as TF

        return getattr(TF, name)(*args, **kwargs)

    return call


def _pair_case(name, second_order=True, inputs=None, **kwargs):
    reduction = kwargs.get("reduction", "mean")
    extra = {k: v for k, v in kwargs.items() if k != "reduction"}
    return OpCase(f"{name}_{reduction}{extra or ''}",
                  lambda a, b: getattr(F, name)(a, b, reduction, **extra),
                  _tf(name, reduction=reduction, **extra),
                  inputs or [normal(3, 4), normal(3, 4)], second_order=second_order)


def _log_probs(*shape):
    x = normal(*shape)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


CASES = [
    *[_pair_case("l1_loss", False, reduction=r) for r in REDUCTIONS],
    *[_pair_case("smooth_l1_loss", False, reduction=r, beta=b) for r in REDUCTIONS
      for b in (1.0, 0.5)],
    _pair_case("smooth_l1_loss", False, beta=0.0),
    *[_pair_case("huber_loss", False, reduction=r, delta=d) for r in REDUCTIONS
      for d in (1.0, 0.7)],
    *[_pair_case("kl_div", inputs=[_log_probs(3, 4), np.exp(_log_probs(3, 4))], reduction=r)
      for r in REDUCTIONS + ["batchmean"]],
    _pair_case("kl_div", inputs=[_log_probs(3, 4), _log_probs(3, 4)], reduction="batchmean",
               log_target=True),
]

test_gradcheck, test_matches_torch = op_tests(CASES)


def test_kl_div_of_zero_targets_is_zero(torch):
    x = gg.tensor([[-1.0, -0.5]], dtype=gg.float64)
    t = gg.tensor([[0.0, 1.0]], dtype=gg.float64)
    want = torch.nn.functional.kl_div(torch.tensor(x.numpy()), torch.tensor(t.numpy()),
                                      reduction="none")
    assert_close(F.kl_div(x, t, "none"), want)


# ---- classes: weight, ignore_index, label smoothing, K-dimensional, probabilities ------------
def _class_problem(shape, classes, rng, ignore=(), ignore_index=-100):
    logits = rng.standard_normal(shape)
    target_shape = shape[:1] + shape[2:] if len(shape) > 1 else ()
    target = rng.integers(0, classes, target_shape)
    for position in ignore:
        target[position] = ignore_index
    return logits, target


CLASS_SETUPS = {
    "2d": ((6, 4), ()),
    "2d_ignored": ((6, 4), ((1,), (4,))),
    "kdim": ((3, 4, 2, 5), ((0, 1, 2),)),
    "unbatched": ((4,), ()),
}
CLASS_OPTIONS = [{}, {"weight": True}, {"label_smoothing": 0.2},
                 {"weight": True, "label_smoothing": 0.3}, {"ignore_index": 1}]


@pytest.mark.parametrize("setup", list(CLASS_SETUPS))
@pytest.mark.parametrize("options", CLASS_OPTIONS, ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
def test_class_losses_match_torch(device, torch, rng, setup, options, reduction, name):
    shape, ignore = CLASS_SETUPS[setup]
    if name == "nll_loss" and "label_smoothing" in options:
        pytest.skip("nll_loss has no label smoothing")
    if (device != "cpu" and name == "cross_entropy" and setup == "2d_ignored"
            and not options.get("weight") and not options.get("label_smoothing")):
        pytest.skip("documented: off the cpu the fused kernel does not look for ignore_index")
    logits, target = _class_problem(shape, 4, rng, ignore, options.get("ignore_index", -100))
    if name == "nll_loss":
        logits = logits - np.log(np.exp(logits).sum(axis=1 if len(shape) > 1 else 0,
                                                   keepdims=True))
    kwargs = dict(options)
    weight = rng.uniform(0.5, 2.0, 4)
    ours_kwargs, torch_kwargs = dict(kwargs), dict(kwargs)
    if kwargs.get("weight"):
        ours_kwargs["weight"] = gg.tensor(weight, dtype=gg.float64, device=device)
        torch_kwargs["weight"] = torch.tensor(weight)
    x = gg.tensor(logits, dtype=gg.float64, device=device, requires_grad=True)
    tx = torch.tensor(logits, requires_grad=True)
    ours = getattr(F, name)(x, gg.tensor(target, device=device), reduction, **ours_kwargs)
    theirs = getattr(torch.nn.functional, name)(tx, torch.tensor(target), reduction=reduction,
                                                **torch_kwargs)
    assert_close(ours, theirs, what="loss")
    g = rng.standard_normal(tuple(theirs.shape))
    (ours * gg.tensor(g, dtype=gg.float64, device=device)).sum().backward()
    (theirs * torch.tensor(g)).sum().backward()
    assert_close(x.grad, tx.grad, what="gradient")


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_weighted_cross_entropy_gradcheck_and_gradgradcheck(device, rng, reduction):
    logits, target = _class_problem((5, 3, 2), 3, rng, ((1, 0),))
    target = gg.tensor(target, device=device)
    weight = gg.tensor([0.5, 2.0, 1.0], dtype=gg.float64, device=device)
    x = gg.tensor(logits, dtype=gg.float64, device=device, requires_grad=True)

    def loss(x):
        return F.cross_entropy(x, target, reduction, weight=weight, label_smoothing=0.1)

    assert gg.gradcheck(loss, (x,))
    assert gg.gradgradcheck(loss, (x,))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.25])
def test_cross_entropy_with_probability_targets_matches_torch(device, torch, rng, reduction,
                                                             smoothing):
    logits = rng.standard_normal((4, 3, 2))
    probs = np.exp(logits[::-1].copy())
    probs /= probs.sum(axis=1, keepdims=True)
    weight = np.array([1.0, 0.5, 3.0])
    x = gg.tensor(logits, dtype=gg.float64, device=device, requires_grad=True)
    tx = torch.tensor(logits, requires_grad=True)
    ours = F.cross_entropy(x, gg.tensor(probs, dtype=gg.float64, device=device), reduction,
                           weight=gg.tensor(weight, dtype=gg.float64, device=device),
                           label_smoothing=smoothing)
    theirs = torch.nn.functional.cross_entropy(tx, torch.tensor(probs), reduction=reduction,
                                               weight=torch.tensor(weight),
                                               label_smoothing=smoothing)
    assert_close(ours, theirs)
    ours.sum().backward()
    theirs.sum().backward()
    assert_close(x.grad, tx.grad)


def test_ignored_targets_take_the_fused_path_too():
    x = gg.randn(3, 4, requires_grad=True)
    for target in ([0, 1, 2], [0, -100, 2]):  # the fused op honours ignore_index itself
        loss = F.cross_entropy(x, gg.tensor(target))
        assert type(loss.grad_fn).__name__ == "SoftmaxCrossEntropy"


def test_class_loss_errors():
    x = gg.randn(3, 4)
    with pytest.raises(RuntimeError, match="weight tensor should be defined"):
        F.nll_loss(x, gg.tensor([0, 1, 2]), weight=gg.ones(3))
    with pytest.raises(ValueError, match="label_smoothing must be between"):
        F.cross_entropy(x, gg.tensor([0, 1, 2]), label_smoothing=1.5)
    with pytest.raises(IndexError, match="Target 7 is out of bounds"):
        F.nll_loss(x, gg.tensor([0, 7, -100]))
    with pytest.raises(RuntimeError, match="not differentiable with respect to argument 'weight'"):
        F.cross_entropy(x, gg.tensor([0, 1, 2]), weight=gg.ones(4, requires_grad=True))


def test_every_target_ignored_gives_nan_as_torch(torch):
    x = gg.randn(2, 3, dtype=gg.float64)
    ours = F.cross_entropy(x, gg.tensor([-100, -100]))
    theirs = torch.nn.functional.cross_entropy(torch.tensor(x.numpy()),
                                               torch.tensor([-100, -100]))
    assert np.isnan(ours.item()) and np.isnan(theirs.item())


# ---- layers ------------------------------------------------------------------------------------
LAYERS = [
    ("L1Loss", {}, "pair"), ("L1Loss", {"reduction": "sum"}, "pair"),
    ("SmoothL1Loss", {"beta": 0.5}, "pair"), ("HuberLoss", {"delta": 0.3}, "pair"),
    ("MSELoss", {"reduction": "none"}, "pair"),
    ("KLDivLoss", {"reduction": "batchmean"}, "kl"),
    ("KLDivLoss", {"reduction": "sum", "log_target": True}, "kl_log"),
    ("BCELoss", {}, "prob"), ("BCELoss", {"weight": [0.5, 1.0, 2.0, 1.0]}, "prob"),
    ("BCEWithLogitsLoss", {"pos_weight": [2.0, 1.0, 1.0, 0.5]}, "pair_target01"),
    ("CrossEntropyLoss", {"weight": [1.0, 2.0, 0.5, 1.0], "label_smoothing": 0.1}, "class"),
    ("CrossEntropyLoss", {"ignore_index": 2}, "class"),
    ("NLLLoss", {"weight": [1.0, 2.0, 0.5, 1.0]}, "class_logp"),
]


def _layer_inputs(kind, rng):
    x = rng.standard_normal((3, 4))
    if kind == "pair":
        return x, rng.standard_normal((3, 4))
    if kind == "pair_target01":
        return x, rng.uniform(0, 1, (3, 4))
    if kind == "prob":
        return 1 / (1 + np.exp(-x)), rng.uniform(0, 1, (3, 4))
    logp = x - np.log(np.exp(x).sum(axis=1, keepdims=True))
    if kind == "kl":
        return logp, np.exp(logp[::-1].copy())
    if kind == "kl_log":
        return logp, logp[::-1].copy()
    target = np.array([0, 2, 3])
    return (logp if kind == "class_logp" else x), target


@pytest.mark.parametrize("name,kwargs,kind", LAYERS, ids=[f"{n}{k}" for n, k, _ in LAYERS])
def test_loss_layers_match_torch(torch, rng, name, kwargs, kind):
    x, t = _layer_inputs(kind, rng)
    ours_kwargs = {k: gg.tensor(v, dtype=gg.float64) if isinstance(v, list) else v
                   for k, v in kwargs.items()}
    torch_kwargs = {k: torch.tensor(v, dtype=torch.float64) if isinstance(v, list) else v
                    for k, v in kwargs.items()}
    ours = getattr(gg.nn, name)(**ours_kwargs)
    theirs = getattr(torch.nn, name)(**torch_kwargs)
    gx = gg.tensor(x, dtype=gg.float64, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    got = ours(gx, gg.tensor(t, dtype=gg.float64 if t.dtype.kind == "f" else None))
    want = theirs(tx, torch.tensor(t))
    assert_close(got, want)
    got.sum().backward()
    want.sum().backward()
    assert_close(gx.grad, tx.grad)
    assert list(ours.state_dict()) == list(theirs.state_dict())


def test_weighted_loss_takes_weight_first_and_refuses_legacy_arguments():
    weight = gg.tensor([1.0, 2.0])
    assert gg.nn.CrossEntropyLoss(weight).weight is weight
    assert gg.nn.NLLLoss(weight, ignore_index=0).ignore_index == 0
    with pytest.raises(TypeError, match="size_average and reduce are deprecated"):
        gg.nn.L1Loss(size_average=True)
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        gg.nn.L1Loss(reduction="batchmean")
    assert repr(gg.nn.KLDivLoss(reduction="batchmean")) == "KLDivLoss(reduction='batchmean')"
