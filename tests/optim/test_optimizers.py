"""Optimizers: steps equal PyTorch's from the same values, state dicts, param groups, errors."""
import numpy as np
import pytest

import gpugrad as gg

SGD_CASES = [
    dict(lr=0.1),
    dict(lr=0.1, momentum=0.9),
    dict(lr=0.1, momentum=0.9, dampening=0.3),
    dict(lr=0.1, momentum=0.9, nesterov=True),
    dict(lr=0.05, momentum=0.8, weight_decay=0.1),
    dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01, maximize=True),
]
ADAM_CASES = [
    dict(lr=0.01),
    dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
    dict(lr=0.02, maximize=True),
]
ADAMW_CASES = [dict(lr=0.01), dict(lr=0.01, weight_decay=0.3, betas=(0.5, 0.9))]


def _values(rng):
    return [rng.standard_normal((3, 4)).astype(np.float32),
            rng.standard_normal(4).astype(np.float32)]


def _run_both(torch, device, rng, name, kwargs, steps=3):
    """``steps`` updates from the same parameters and gradients, in gpugrad and in torch."""
    inits = _values(rng)
    grads = [[rng.standard_normal(v.shape).astype(np.float32) for v in inits]
             for _ in range(steps)]
    ours = [gg.nn.Parameter(gg.tensor(v, device=device)) for v in inits]
    theirs = [torch.nn.Parameter(torch.tensor(v)) for v in inits]
    ours_opt = getattr(gg.optim, name)(ours, **kwargs)
    theirs_opt = getattr(torch.optim, name)(theirs, **kwargs)
    for step_grads in grads:
        for p, q, g in zip(ours, theirs, step_grads):
            p.grad = gg.tensor(g, device=device)
            q.grad = torch.tensor(g)
        ours_opt.step()
        theirs_opt.step()
    return ours, theirs, ours_opt, theirs_opt


@pytest.mark.parametrize("name,kwargs", [("SGD", k) for k in SGD_CASES]
                         + [("Adam", k) for k in ADAM_CASES]
                         + [("AdamW", k) for k in ADAMW_CASES])
def test_steps_match_torch(device, torch, rng, name, kwargs):
    ours, theirs, _, _ = _run_both(torch, device, rng, name, kwargs)
    for p, q in zip(ours, theirs):
        assert p.device == device
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_one_sgd_step_by_hand():
    p = gg.nn.Parameter(gg.tensor([1.0, -2.0]))
    opt = gg.optim.SGD([p], lr=0.5, momentum=0.9, weight_decay=0.1)
    p.grad = gg.tensor([0.2, 0.4])
    opt.step()
    # d = g + 0.1 p = [0.3, 0.2]; buf = d; p -= 0.5 d
    np.testing.assert_allclose(p.detach().numpy(), [0.85, -2.1], rtol=1e-6)
    p.grad = gg.tensor([0.2, 0.4])
    opt.step()
    d = np.array([0.2, 0.4]) + 0.1 * np.array([0.85, -2.1])
    buf = 0.9 * np.array([0.3, 0.2]) + d
    np.testing.assert_allclose(p.detach().numpy(), np.array([0.85, -2.1]) - 0.5 * buf, rtol=1e-6)


def test_state_dict_matches_torch_layout_and_round_trips(torch, rng):
    ours, theirs, ours_opt, theirs_opt = _run_both(torch, "cpu", rng, "Adam", dict(lr=0.01))
    ours_sd, theirs_sd = ours_opt.state_dict(), theirs_opt.state_dict()
    assert set(ours_sd) == set(theirs_sd) == {"state", "param_groups"}
    assert list(ours_sd["state"]) == list(theirs_sd["state"]) == [0, 1]
    assert set(ours_sd["state"][0]) == set(theirs_sd["state"][0])
    assert ours_sd["state"][0]["step"] == 3
    np.testing.assert_allclose(ours_sd["state"][1]["exp_avg_sq"].numpy(),
                               theirs_sd["state"][1]["exp_avg_sq"].numpy(), rtol=1e-5)
    assert ours_sd["param_groups"][0]["params"] == theirs_sd["param_groups"][0]["params"]
    for key in ("lr", "betas", "eps", "weight_decay", "amsgrad", "maximize"):
        assert ours_sd["param_groups"][0][key] == theirs_sd["param_groups"][0][key]

    # A fresh optimizer loaded from the state dict continues exactly like the original.
    clones = [gg.nn.Parameter(gg.tensor(p.detach().numpy())) for p in ours]
    resumed = gg.optim.Adam(clones, lr=0.5)
    resumed.load_state_dict(ours_sd)
    assert resumed.param_groups[0]["lr"] == 0.01
    grads = [rng.standard_normal(p.shape).astype(np.float32) for p in ours]
    for params, opt in ((ours, ours_opt), (clones, resumed)):
        for p, g in zip(params, grads):
            p.grad = gg.tensor(g)
        opt.step()
    for a, b in zip(ours, clones):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


def test_load_state_dict_checks_group_sizes():
    opt = gg.optim.SGD([gg.nn.Parameter(gg.zeros(2))], lr=0.1, momentum=0.9)
    other = gg.optim.SGD([gg.nn.Parameter(gg.zeros(2)), gg.nn.Parameter(gg.zeros(1))], lr=0.1)
    with pytest.raises(ValueError, match="doesn't match the size"):
        opt.load_state_dict(other.state_dict())


def test_param_groups_and_skipped_parameters():
    a, b, c = (gg.nn.Parameter(gg.ones(2)) for _ in range(3))
    opt = gg.optim.SGD([{"params": [a]}, {"params": [b, c], "lr": 0.5}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    a.grad, b.grad = gg.ones(2), gg.ones(2)  # c has no gradient: left alone
    opt.step()
    np.testing.assert_allclose(a.detach().numpy(), 0.9)
    np.testing.assert_allclose(b.detach().numpy(), 0.5)
    np.testing.assert_allclose(c.detach().numpy(), 1.0)
    opt.zero_grad()
    assert a.grad is None and b.grad is None
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})


def test_adam_counts_steps_per_parameter(torch):
    # A parameter without a gradient on some steps keeps its own step count (bias correction).
    ours = [gg.nn.Parameter(gg.ones(2)), gg.nn.Parameter(gg.ones(2))]
    theirs = [torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(2))]
    ours_opt, theirs_opt = gg.optim.Adam(ours, lr=0.1), torch.optim.Adam(theirs, lr=0.1)
    for step in range(3):
        for i in range(2):
            if i == 0 or step == 2:
                ours[i].grad = gg.tensor([0.5, -1.0])
                theirs[i].grad = torch.tensor([0.5, -1.0])
            else:
                ours[i].grad, theirs[i].grad = None, None
        ours_opt.step()
        theirs_opt.step()
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-6)


def test_one_fused_call_per_device_per_step(monkeypatch):
    from gpugrad.device_registry import get_backend

    backend = get_backend("cpu")
    calls = []
    original = backend.adam_step
    monkeypatch.setattr(backend, "adam_step", lambda *a, **k: calls.append(len(a[0])) or
                        original(*a, **k))
    model = gg.nn.MLP([3, 5, 5, 2])
    opt = gg.optim.AdamW(model.parameters())
    model(gg.randn(4, 3)).sum().backward()
    opt.step()
    assert calls == [6]


def test_closure_and_errors():
    p = gg.nn.Parameter(gg.tensor([3.0]))
    opt = gg.optim.SGD([p], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == 9.0
    np.testing.assert_allclose(p.detach().numpy(), [1.5])
    with pytest.raises(ValueError, match="Nesterov momentum requires"):
        gg.optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="Invalid learning rate"):
        gg.optim.Adam([p], lr=-1)
    with pytest.raises(ValueError, match="Invalid beta"):
        gg.optim.Adam([p], betas=(1.0, 0.9))
    with pytest.raises(TypeError, match="wrap it in a list"):
        gg.optim.SGD(p, lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        gg.optim.SGD([], lr=0.1)
