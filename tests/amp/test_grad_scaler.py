"""gg.amp.GradScaler: the same scale trajectory, skipped steps and parameters as
torch.amp.GradScaler("cpu") (an inf injected), its misuse errors, its state, and a float16 MLP
trained on sim with autocast and loss scaling."""
import math

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn.functional as F

RNG = np.random.default_rng(0)
X = RNG.standard_normal((16, 6)).astype(np.float32)
Y = RNG.integers(0, 3, 16)
W0 = RNG.standard_normal((3, 6)).astype(np.float32) * 0.3
B0 = np.zeros(3, np.float32)
INF_STEPS = {2: "inf", 5: "nan"}  # the iterations whose gradient gets an inf / a NaN


def _run(lib, make_param, scaler, steps=9):
    """Train a linear classifier; returns the scales after each update and whether each
    iteration stepped (its weight changed)."""
    w, b = make_param(W0), make_param(B0)
    opt = lib.optim.SGD([w, b], lr=0.1, momentum=0.9)
    x, y = lib.tensor(X), lib.tensor(Y)
    scales, stepped = [], []
    for i in range(steps):
        opt.zero_grad()
        logits = lib.nn.functional.linear(x, w, b)
        scaler.scale(lib.nn.functional.cross_entropy(logits, y)).backward()
        if i in INF_STEPS:
            with lib.no_grad():
                w.grad[0, 0] = float(INF_STEPS[i])
        before = w.detach().clone()
        scaler.step(opt)
        scaler.update()
        stepped.append(not bool((w.detach() == before).all()))
        scales.append(scaler.get_scale())
    return scales, stepped, w.detach().numpy(), b.detach().numpy()


def test_matches_torch_scale_trajectory_skips_and_parameters():
    torch = pytest.importorskip("torch")
    kwargs = dict(init_scale=2.0 ** 4, growth_factor=2.0, backoff_factor=0.25,
                  growth_interval=2)
    ours = _run(gg, lambda a: gg.nn.Parameter(gg.tensor(a)), gg.amp.GradScaler("cpu", **kwargs))
    theirs = _run(torch, lambda a: torch.nn.Parameter(torch.from_numpy(a.copy())),
                  torch.amp.GradScaler("cpu", **kwargs))
    assert ours[0] == theirs[0]
    assert ours[1] == theirs[1] == [i not in INF_STEPS for i in range(9)]
    np.testing.assert_allclose(ours[2], theirs[2], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours[3], theirs[3], rtol=1e-5, atol=1e-6)


def test_unscale_then_clip_and_state_dict_round_trip():
    torch = pytest.importorskip("torch")
    scaler, ref = gg.amp.GradScaler("cpu", init_scale=8.0), torch.amp.GradScaler("cpu",
                                                                                init_scale=8.0)
    w, tw = gg.nn.Parameter(gg.ones(3)), torch.nn.Parameter(torch.ones(3))
    opt, topt = gg.optim.SGD([w], lr=1.0), torch.optim.SGD([tw], lr=1.0)
    scaler.scale((w * gg.tensor([1.0, 2.0, 3.0])).sum()).backward()
    ref.scale((tw * torch.tensor([1.0, 2.0, 3.0])).sum()).backward()
    scaler.unscale_(opt)
    ref.unscale_(topt)
    np.testing.assert_array_equal(w.grad.numpy(), tw.grad.numpy())  # unscaled: 1, 2, 3
    scaler.step(opt)
    scaler.update()
    assert scaler.state_dict() == {"scale": 8.0, "growth_factor": 2.0, "backoff_factor": 0.5,
                                   "growth_interval": 2000, "_growth_tracker": 1}
    other = gg.amp.GradScaler("cpu")
    other.load_state_dict(scaler.state_dict())
    assert other.state_dict() == scaler.state_dict()
    with pytest.raises(RuntimeError, match="source state dict is empty"):
        other.load_state_dict({})
    scaler.update(new_scale=4.0)
    assert scaler.get_scale() == 4.0
    scaler.update(new_scale=gg.tensor([2.0]))
    assert scaler.get_scale() == 2.0


def test_misuse_raises_pytorchs_errors():
    scaler = gg.amp.GradScaler("cpu")
    w = gg.nn.Parameter(gg.ones(2))
    opt = gg.optim.SGD([w], lr=0.1)
    for call in (lambda: scaler.unscale_(opt), lambda: scaler.step(opt), scaler.update):
        with pytest.raises(AssertionError, match="did not use scaler.scale"):
            call()
    scaler.scale(w.sum()).backward()
    scaler.unscale_(opt)
    with pytest.raises(RuntimeError, match="already been called on this optimizer"):
        scaler.unscale_(opt)
    with pytest.raises(RuntimeError, match="Closure use is not currently supported"):
        scaler.step(opt, closure=lambda: 0)
    scaler.step(opt)
    with pytest.raises(RuntimeError, match="step\\(\\) has already been called"):
        scaler.step(opt)
    with pytest.raises(RuntimeError, match="unscale_\\(\\) is being called after step"):
        scaler.unscale_(opt)
    scaler.update()
    with pytest.raises(AssertionError, match="No inf checks were recorded prior to update"):
        scaler.update()
    half = gg.nn.Parameter(gg.ones(2, dtype=gg.float16))
    scaler.scale(half.float().sum()).backward()
    with pytest.raises(ValueError, match="Attempting to unscale FP16 gradients"):
        scaler.unscale_(gg.optim.SGD([half], lr=0.1))
    with pytest.raises(AssertionError, match="growth factor must be > 1.0"):
        gg.amp.GradScaler("cpu", growth_factor=1.0)
    with pytest.raises(ValueError, match="unsupported device 'tpu'"):
        gg.amp.GradScaler("tpu")
    assert scaler.scale([w, (w,)])[1][0].shape == (2,)
    off = gg.amp.GradScaler("cpu", enabled=False)
    loss = w.sum()
    assert off.scale(loss) is loss and off.get_scale() == 1.0 and off.state_dict() == {}


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning",
                            "ignore:invalid value encountered:RuntimeWarning")
def test_float16_mlp_trains_on_sim_with_autocast_and_loss_scaling():
    gg.manual_seed(0)
    device = "sim"
    model = gg.nn.Sequential(gg.nn.Linear(6, 32, activation="relu", device=device),
                             gg.nn.Linear(32, 3, device=device))
    opt = gg.optim.SGD(model.parameters(), lr=0.2)
    # a scale so large the first float16 backward overflows: that step is skipped, backed off
    scaler = gg.amp.GradScaler("cuda", init_scale=2.0 ** 24)
    x, y = gg.tensor(X, device=device), gg.tensor(Y, device=device)
    losses, scales = [], []
    for _ in range(30):
        opt.zero_grad()
        with gg.autocast("cuda"):
            logits = model(x)
            loss = F.cross_entropy(logits, y)
        assert logits.dtype is gg.float16 and loss.dtype is gg.float32
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        losses.append(loss.item())
        scales.append(scaler.get_scale())
    assert all(p.dtype is gg.float32 and p.grad.dtype is gg.float32 for p in model.parameters())
    assert scales[0] < 2.0 ** 24  # the overflowing steps backed the scale off
    assert math.isfinite(losses[-1]) and losses[-1] < 0.7 * losses[0]
