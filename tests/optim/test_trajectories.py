"""Every optimizer configuration follows PyTorch's parameter trajectory over 50 steps in
float64 (to 1e-12), on every device, with one and with two parameter groups."""
import pytest

import gpugrad as gg
from trajectory import Problem, assert_same_history

CASES = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.2, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, momentum=0.5, nesterov=True, weight_decay=0.1, maximize=True)),
    ("Adam", dict(lr=0.05)),
    ("Adam", dict(lr=0.05, amsgrad=True)),
    ("Adam", dict(lr=0.05, amsgrad=True, weight_decay=0.1, betas=(0.8, 0.95), eps=1e-6)),
    ("Adam", dict(lr=0.05, amsgrad=True, maximize=True)),
    ("Adam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True, amsgrad=True)),
    ("AdamW", dict(lr=0.05)),
    ("AdamW", dict(lr=0.05, amsgrad=True, weight_decay=0.2)),
    ("NAdam", dict()),
    ("NAdam", dict(lr=0.01, betas=(0.8, 0.9), momentum_decay=0.01)),
    ("NAdam", dict(lr=0.05, weight_decay=0.1)),
    ("NAdam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.005, alpha=0.9, eps=1e-6)),
    ("RMSprop", dict(lr=0.005, momentum=0.8)),
    ("RMSprop", dict(lr=0.005, centered=True)),
    ("RMSprop", dict(lr=0.002, centered=True, momentum=0.7, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.005, maximize=True)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05)),
    ("Adagrad", dict(lr=0.1, initial_accumulator_value=0.5, eps=1e-6, weight_decay=0.1)),
    ("Adagrad", dict(lr=0.1, maximize=True)),
]
# Hyperparameters of the second group (parameter c) in the two-group runs.
GROUP_OPTIONS = {"SGD": dict(lr=0.01, momentum=0.3), "Adam": dict(lr=0.01, betas=(0.5, 0.6)),
                 "AdamW": dict(lr=0.01, weight_decay=0.5), "NAdam": dict(lr=0.01, eps=1e-3),
                 "RMSprop": dict(lr=0.01, alpha=0.5), "Adagrad": dict(lr=0.3, lr_decay=0.1)}


@pytest.fixture
def torch64(torch):
    """PyTorch with float64 as its default dtype, so its scalar optimizer state (NAdam's
    ``mu_product``) is kept in float64 as gpugrad keeps it."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield torch
    torch.set_default_dtype(previous)


def _ids(cases):
    return [f"{name}-" + "-".join(f"{k}={v}" for k, v in kwargs.items()) for name, kwargs in cases]


@pytest.mark.parametrize("grouped", [False, True], ids=["one_group", "two_groups"])
@pytest.mark.parametrize("name,kwargs", CASES, ids=_ids(CASES))
def test_trajectory_matches_torch(device, torch64, name, kwargs, grouped):
    steps = 50 if device == "cpu" else 8  # the sim models every kernel: a shorter run
    up = kwargs.get("maximize", False)
    ours, theirs = Problem(gg, up, device=device), Problem(torch64, up)
    options = GROUP_OPTIONS[name] if grouped else None
    ours_opt = getattr(gg.optim, name)(ours.groups(options), **kwargs)
    theirs_opt = getattr(torch64.optim, name)(theirs.groups(options), **kwargs)
    assert_same_history(ours.run(ours_opt, steps), theirs.run(theirs_opt, steps))
    for p in ours.params.values():
        assert p.device == gg.device(device) and p.is_leaf


@pytest.mark.parametrize("name,kwargs", CASES, ids=_ids(CASES))
def test_state_dict_matches_torch_and_resumes(torch64, name, kwargs):
    up = kwargs.get("maximize", False)
    ours, theirs = Problem(gg, up), Problem(torch64, up)
    ours_opt = getattr(gg.optim, name)(ours.groups(), **kwargs)
    theirs_opt = getattr(torch64.optim, name)(theirs.groups(), **kwargs)
    ours.run(ours_opt, 5)
    theirs.run(theirs_opt, 5)
    ours_sd, theirs_sd = ours_opt.state_dict(), theirs_opt.state_dict()
    assert list(ours_sd["state"]) == list(theirs_sd["state"])
    for index, state in ours_sd["state"].items():
        assert set(state) == set(theirs_sd["state"][index])
        if "step" in state:  # (SGD counts no steps)
            assert float(state["step"]) == float(theirs_sd["state"][index]["step"]) == 5
    ours_group, theirs_group = ours_sd["param_groups"][0], theirs_sd["param_groups"][0]
    assert ours_group["params"] == theirs_group["params"]
    for key, value in ours_group.items():
        assert value == theirs_group[key], key  # each of our hyperparameters, as PyTorch's

    # A fresh optimizer loaded from the state dict continues exactly as the original does.
    resumed = Problem(gg, up)
    for p, q in zip(resumed.params.values(), ours.params.values()):
        p.data = q.detach().clone()
    resumed_opt = getattr(gg.optim, name)(resumed.groups(), lr=123.0)
    resumed_opt.load_state_dict(ours_sd)
    assert_same_history(resumed.run(resumed_opt, 5), ours.run(ours_opt, 5), rtol=0)


COMPOSED = [case for case in CASES if case[0] in ("NAdam", "RMSprop", "Adagrad")
            or case[1].get("amsgrad")]


@pytest.mark.parametrize("name,kwargs", COMPOSED[::3], ids=_ids(COMPOSED[::3]))
def test_composed_optimizers_on_cuda_stand_in(fake_cuda, torch64, name, kwargs):
    """The composed optimizers' code runs on the cuda backend (here on the tests' CuPy
    stand-in) and follows PyTorch."""
    up = kwargs.get("maximize", False)
    ours, theirs = Problem(gg, up, device="cuda"), Problem(torch64, up)
    ours_opt = getattr(gg.optim, name)(ours.groups(), **kwargs)
    theirs_opt = getattr(torch64.optim, name)(theirs.groups(), **kwargs)
    assert_same_history(ours.run(ours_opt, 5), theirs.run(theirs_opt, 5))


def test_composed_step_runs_on_the_sim_device():
    """On the simulated GPU a composed step is a score of elementwise kernels per parameter,
    all on the device (no host round trip)."""
    problem = Problem(gg, device="sim")
    opt = gg.optim.RMSprop(problem.groups(), centered=True, momentum=0.5)
    problem.loss().backward()
    with gg.profiler.profile() as prof:
        opt.step()
    tracks = [track for _, track, *_ in prof.events]
    assert 3 * 10 <= tracks.count("stream") <= 3 * 25  # about 20 small kernels each
    assert "copy" not in tracks
