"""Every schedule follows PyTorch over 50 steps: the learning rates (and momenta/betas that
``OneCycleLR`` cycles) of each group before every step, and the parameters' trajectory in
float64; state dicts resume, and ``last_epoch`` resumes, as PyTorch's do."""
import copy

import pytest

import gpugrad as gg
from trajectory import Problem, assert_same_history

STEPS = 50


class Halve:
    """A callable object (its attributes go in ``LambdaLR``'s state dict; functions don't)."""

    def __init__(self, every):
        self.every = every

    def __call__(self, epoch):
        return 0.5 ** (epoch // self.every)


# (optimizer, its options, schedule factory taking the lr_scheduler module and the optimizer)
CASES = {
    "LambdaLR": ("SGD", {}, lambda S, o: S.LambdaLR(o, lambda e: 0.95 ** e)),
    "LambdaLR-per-group": ("SGD", {}, lambda S, o: S.LambdaLR(
        o, [lambda e: 1 / (1 + e), Halve(7)])),
    "MultiplicativeLR": ("SGD", {}, lambda S, o: S.MultiplicativeLR(o, lambda e: 0.97)),
    "StepLR": ("SGD", {}, lambda S, o: S.StepLR(o, step_size=7, gamma=0.5)),
    "MultiStepLR": ("SGD", {}, lambda S, o: S.MultiStepLR(o, milestones=[5, 12, 12, 30],
                                                          gamma=0.5)),
    "ExponentialLR": ("SGD", {}, lambda S, o: S.ExponentialLR(o, gamma=0.95)),
    "LinearLR-warmup": ("SGD", {}, lambda S, o: S.LinearLR(o, start_factor=0.25,
                                                           total_iters=10)),
    "LinearLR-decay": ("Adam", {}, lambda S, o: S.LinearLR(o, start_factor=1.0, end_factor=0.1,
                                                           total_iters=30)),
    "ConstantLR": ("SGD", {}, lambda S, o: S.ConstantLR(o, factor=0.5, total_iters=8)),
    "PolynomialLR": ("SGD", {}, lambda S, o: S.PolynomialLR(o, total_iters=30, power=2.0)),
    "CosineAnnealingLR": ("SGD", {}, lambda S, o: S.CosineAnnealingLR(o, T_max=10,
                                                                      eta_min=0.001)),
    "OneCycleLR-cos": ("SGD", {}, lambda S, o: S.OneCycleLR(o, max_lr=0.03, total_steps=STEPS)),
    "OneCycleLR-linear": ("SGD", {}, lambda S, o: S.OneCycleLR(
        o, max_lr=[0.03, 0.01], epochs=5, steps_per_epoch=10, anneal_strategy="linear",
        pct_start=0.4, div_factor=10.0, final_div_factor=100.0)),
    "OneCycleLR-three-phase": ("SGD", {}, lambda S, o: S.OneCycleLR(
        o, max_lr=0.03, total_steps=STEPS, three_phase=True, base_momentum=[0.8, 0.7],
        max_momentum=0.9)),
    "OneCycleLR-betas": ("Adam", {}, lambda S, o: S.OneCycleLR(o, max_lr=0.05,
                                                               total_steps=STEPS + 3)),
    "OneCycleLR-no-momentum": ("NAdam", {}, lambda S, o: S.OneCycleLR(
        o, max_lr=0.05, total_steps=STEPS, cycle_momentum=False)),
    "SequentialLR": ("SGD", {}, lambda S, o: S.SequentialLR(
        o, [S.LinearLR(o, start_factor=0.1, total_iters=10), S.ExponentialLR(o, gamma=0.9),
            S.StepLR(o, step_size=5)], milestones=[10, 30])),
    "ChainedScheduler": ("SGD", {}, lambda S, o: S.ChainedScheduler(
        [S.ConstantLR(o, factor=0.2, total_iters=6), S.ExponentialLR(o, gamma=0.95)])),
}
OPTIMIZERS = {"SGD": dict(lr=0.02, momentum=0.5), "Adam": dict(lr=0.05), "NAdam": dict(lr=0.05)}
SECOND_GROUP = {"lr": 0.02}


def _setup(lib, case):
    name, _, factory = CASES[case]
    problem = Problem(lib)
    optimizer = getattr(lib.optim, name)(problem.groups(SECOND_GROUP), **OPTIMIZERS[name])
    return problem, optimizer, factory(lib.optim.lr_scheduler, optimizer)


def _hyper(optimizer):
    """Each group's lr and (where the optimizer has one) momentum or betas."""
    return [(g["lr"], g.get("momentum"), g.get("betas")) for g in optimizer.param_groups]


def _run(problem, optimizer, scheduler, steps):
    hypers, history = [], []
    for _ in range(steps):
        hypers.append(_hyper(optimizer))
        history += problem.run(optimizer, 1, scheduler)
    return hypers, history


def _assert_close_hypers(ours, theirs):
    for a, b in zip(ours, theirs):
        for (lr, momentum, betas), (lr_t, momentum_t, betas_t) in zip(a, b):
            assert lr == pytest.approx(lr_t, rel=1e-12, abs=1e-15)
            assert momentum == (momentum_t if momentum_t is None else
                                pytest.approx(momentum_t, rel=1e-12))
            assert betas == (betas_t if betas_t is None else pytest.approx(betas_t, rel=1e-12))


@pytest.fixture
def torch64(torch):
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield torch
    torch.set_default_dtype(previous)


@pytest.mark.parametrize("case", list(CASES))
def test_schedule_matches_torch(torch64, case):
    ours, theirs = _setup(gg, case), _setup(torch64, case)
    ours_hypers, ours_history = _run(*ours, STEPS)
    theirs_hypers, theirs_history = _run(*theirs, STEPS)
    _assert_close_hypers(ours_hypers, theirs_hypers)
    assert ours[2].get_last_lr() == pytest.approx(theirs[2].get_last_lr(), rel=1e-12)
    assert getattr(ours[2], "last_epoch", None) == getattr(theirs[2], "last_epoch", None)
    assert_same_history(ours_history, theirs_history)


@pytest.mark.parametrize("case", list(CASES))
def test_state_dicts_resume(case):
    """Save the parameters, optimizer and schedule after 20 steps and load them into fresh
    ones: the next 30 steps equal the uninterrupted run's."""
    problem, optimizer, scheduler = _setup(gg, case)
    _run(problem, optimizer, scheduler, 20)
    saved_params = [p.detach().clone() for p in problem.params.values()]
    # (deep copies: a state dict shares the optimizer's state tensors, as in PyTorch)
    saved_opt = copy.deepcopy(optimizer.state_dict())
    saved_sched = copy.deepcopy(scheduler.state_dict())
    assert "optimizer" not in saved_sched
    expected_hypers, expected_history = _run(problem, optimizer, scheduler, 30)

    resumed, resumed_opt, resumed_sched = _setup(gg, case)
    for p, value in zip(resumed.params.values(), saved_params):
        p.data = value
    resumed_opt.load_state_dict(saved_opt)
    resumed_sched.load_state_dict(saved_sched)
    hypers, history = _run(resumed, resumed_opt, resumed_sched, 30)
    _assert_close_hypers(hypers, expected_hypers)
    assert_same_history(history, expected_history, rtol=0)


@pytest.mark.parametrize("name,kwargs", [("StepLR", dict(step_size=3, gamma=0.5)),
                                         ("CosineAnnealingLR", dict(T_max=7, eta_min=0.01)),
                                         ("ExponentialLR", dict(gamma=0.9)),
                                         ("MultiStepLR", dict(milestones=[4, 9]))])
def test_resuming_with_last_epoch_matches_torch(torch64, name, kwargs):
    def lrs(lib):
        problem = Problem(lib)
        optimizer = lib.optim.SGD(problem.groups(SECOND_GROUP), lr=0.1)
        scheduler = getattr(lib.optim.lr_scheduler, name)(optimizer, **kwargs)
        for _ in range(6):
            optimizer.step()  # (no gradients: changes nothing)
            scheduler.step()
        # A new schedule resuming at epoch 5, as after a restart from a checkpoint.
        resumed = getattr(lib.optim.lr_scheduler, name)(optimizer, last_epoch=5, **kwargs)
        out = [resumed.get_last_lr()]
        for _ in range(12):
            optimizer.step()
            resumed.step()
            out.append(resumed.get_last_lr())
        return out

    for a, b in zip(lrs(gg), lrs(torch64)):
        assert a == pytest.approx(b, rel=1e-12)
