"""Epoch schedules against PyTorch: the closed forms that ``step(epoch)`` uses, defaults,
``last_epoch`` resumption, argument checks and warnings (each check kills a mutant that
bench/mutation.py found surviving the other schedule tests)."""
import os
import sys
import warnings

import pytest

import gpugrad as gg

LRS = (0.1, 0.03)  # two groups with different rates


def _optimizer(lib, lrs=LRS):
    groups = [{"params": [lib.nn.Parameter(lib.tensor([1.0]))], "lr": lr} for lr in lrs]
    return lib.optim.SGD(groups, lr=lrs[0])


def _lrs(optimizer):
    return [group["lr"] for group in optimizer.param_groups]


def _tenth(epoch):
    return 1.0 / (1.0 + 0.1 * epoch)


SCHEDULES = {
    "StepLR": lambda S, o, **k: S.StepLR(o, step_size=3, gamma=0.5, **k),
    "MultiStepLR": lambda S, o, **k: S.MultiStepLR(o, milestones=[5, 2, 5, 9], gamma=0.5,
                                                   **k),
    "ConstantLR": lambda S, o, **k: S.ConstantLR(o, factor=0.4, total_iters=4, **k),
    "LinearLR": lambda S, o, **k: S.LinearLR(o, start_factor=0.25, end_factor=0.75,
                                             total_iters=6, **k),
    "ExponentialLR": lambda S, o, **k: S.ExponentialLR(o, gamma=0.9, **k),
    "PolynomialLR": lambda S, o, **k: S.PolynomialLR(o, total_iters=6, power=1.5, **k),
    "CosineAnnealingLR": lambda S, o, **k: S.CosineAnnealingLR(o, T_max=6, eta_min=0.01, **k),
    "CosineAnnealingLR-T1": lambda S, o, **k: S.CosineAnnealingLR(o, T_max=1, eta_min=0.01, **k),
    "LambdaLR": lambda S, o, **k: S.LambdaLR(o, _tenth, **k),
    "MultiplicativeLR": lambda S, o, **k: S.MultiplicativeLR(o, [_tenth, lambda e: 0.9], **k),
}
EPOCHS = [0, 1, 2, 3, 4, 5, 6, 7, 9, 12, 3, 0, 8]


@pytest.mark.parametrize("case", list(SCHEDULES))
def test_step_with_epoch_matches_pytorch(torch, case):
    """``step(epoch)``: the closed form at each epoch (milestones, ``total_iters`` and beyond,
    going back), for two groups with different rates."""
    def run(lib):
        optimizer = _optimizer(lib)
        scheduler = SCHEDULES[case](lib.optim.lr_scheduler, optimizer)
        out = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for epoch in EPOCHS:
                optimizer.step()
                scheduler.step(epoch)
                out.append((scheduler.last_epoch, scheduler.get_last_lr(), _lrs(optimizer)))
        return out

    ours, theirs = run(gg), run(torch)
    for (epoch, last, lrs), (epoch_t, last_t, lrs_t) in zip(ours, theirs):
        assert epoch == epoch_t
        assert last == pytest.approx(last_t, rel=1e-12, abs=1e-15)
        assert lrs == pytest.approx(lrs_t, rel=1e-12, abs=1e-15)


def _steps(lib, scheduler, optimizer, n):
    out = []
    for _ in range(n):
        optimizer.step()
        scheduler.step()
        out.append(_lrs(optimizer))
    return out


@pytest.mark.parametrize("name", ["ConstantLR", "LinearLR", "PolynomialLR"])
def test_defaults_match_pytorch(torch, name):
    def run(lib):
        optimizer = _optimizer(lib)
        scheduler = getattr(lib.optim.lr_scheduler, name)(optimizer)
        return [_lrs(optimizer)] + _steps(lib, scheduler, optimizer, 9)

    ours, theirs = run(gg), run(torch)
    for a, b in zip(ours, theirs):
        assert a == pytest.approx(b, rel=1e-12, abs=1e-15)


RESUMABLE = dict(SCHEDULES, **{
    "MultiplicativeLR": lambda S, o, **k: S.MultiplicativeLR(o, _tenth, **k),
    "OneCycleLR": lambda S, o, **k: S.OneCycleLR(o, max_lr=[0.2, 0.05], total_steps=20, **k),
})


@pytest.mark.parametrize("case", [c for c in RESUMABLE if c != "CosineAnnealingLR-T1"])
def test_resuming_with_last_epoch_matches_pytorch(torch, case):
    """Run 7 epochs, then build the schedule again on the same optimizer with
    ``last_epoch=7`` and go on: the rates are PyTorch's."""
    def run(lib):
        optimizer = _optimizer(lib)
        factory = RESUMABLE[case]
        first = factory(lib.optim.lr_scheduler, optimizer)
        before = _steps(lib, first, optimizer, 7)
        resumed = factory(lib.optim.lr_scheduler, optimizer, last_epoch=7)
        return before + [_lrs(optimizer), resumed.last_epoch] + _steps(lib, resumed, optimizer, 8)

    ours, theirs = run(gg), run(torch)
    assert ours[8] == theirs[8]
    for i, (a, b) in enumerate(zip(ours, theirs)):
        if i != 8:
            assert a == pytest.approx(b, rel=1e-12, abs=1e-15), f"epoch {i}"


@pytest.mark.parametrize("last_epoch", [-1, 0, 1, 3])
def test_cosine_resumed_rates_and_get_lr_match_pytorch(torch, last_epoch):
    """``get_lr()`` right after construction (PyTorch's ``_step_count == 1`` branch: the
    closed form from ``initial_lr`` when resumed) and the steps after it."""
    def run(lib):
        optimizer = _optimizer(lib)
        for group in optimizer.param_groups:  # the rate had changed when it was saved
            group["initial_lr"] = 2 * group["lr"]
        scheduler = lib.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=7, eta_min=0.01,
                                                             last_epoch=last_epoch)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            direct = scheduler.get_lr()
        return [direct] + _steps(lib, scheduler, optimizer, 4)

    ours, theirs = run(gg), run(torch)
    for a, b in zip(ours, theirs):
        assert a == pytest.approx(b, rel=1e-12)


def test_cosine_follows_a_manual_change_of_the_rate_as_pytorch(torch):
    """The chainable form scales the current rate, so a rate set by hand carries on."""
    def run(lib):
        optimizer = _optimizer(lib)
        scheduler = lib.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=10, eta_min=0.001)
        out = _steps(lib, scheduler, optimizer, 3)
        for group in optimizer.param_groups:
            group["lr"] *= 0.5
        return out + _steps(lib, scheduler, optimizer, 12)

    ours, theirs = run(gg), run(torch)
    for a, b in zip(ours, theirs):
        assert a == pytest.approx(b, rel=1e-12, abs=1e-15)


def _from_outside_the_library(warning):
    """The warning points at the caller's line (``stacklevel=2``), not into gpugrad (under
    mutation testing a trampoline frame sits between the two, so the test file itself is not
    asserted)."""
    return os.path.join("gpugrad", "optim") not in warning.filename


def _error(call):
    with pytest.raises(Exception) as info:
        call()
    return type(info.value), str(info.value)


@pytest.mark.parametrize("name, kwargs", [
    ("ConstantLR", dict(factor=1.5)), ("ConstantLR", dict(factor=-0.1)),
    ("LinearLR", dict(start_factor=1.5)), ("LinearLR", dict(start_factor=0.0)),
    ("LinearLR", dict(end_factor=1.5)), ("LinearLR", dict(end_factor=-0.1)),
])
def test_invalid_factors_raise_as_pytorch(torch, name, kwargs):
    ours = _error(lambda: getattr(gg.optim.lr_scheduler, name)(_optimizer(gg), **kwargs))
    theirs = _error(lambda: getattr(torch.optim.lr_scheduler, name)(_optimizer(torch), **kwargs))
    assert ours[0] is ValueError and theirs[0] is ValueError
    assert ours[1] == theirs[1]


def test_cosine_needs_a_positive_period():
    """(PyTorch takes ``T_max=0`` and divides by zero on the first step.)"""
    assert _error(lambda: gg.optim.lr_scheduler.CosineAnnealingLR(_optimizer(gg), T_max=0)) == (
        ValueError, "T_max must be positive, got 0")


@pytest.mark.parametrize("name, kwargs", [
    ("ConstantLR", dict(factor=1.0)),
    ("LinearLR", dict(start_factor=1.0, end_factor=0.0, total_iters=4)),
    ("LinearLR", dict(start_factor=1.0, end_factor=1.0)),
])
def test_boundary_factors_are_allowed_as_in_pytorch(torch, name, kwargs):
    def run(lib):
        optimizer = _optimizer(lib)
        scheduler = getattr(lib.optim.lr_scheduler, name)(optimizer, **kwargs)
        return [_lrs(optimizer)] + _steps(lib, scheduler, optimizer, 6)

    ours, theirs = run(gg), run(torch)
    for a, b in zip(ours, theirs):
        assert a == pytest.approx(b, rel=1e-12, abs=1e-15)


def test_constant_factor_zero_is_allowed(torch):
    """(Both libraries then divide by zero when the rate is restored at ``total_iters``.)"""
    for lib in (gg, torch):
        optimizer = _optimizer(lib)
        lib.optim.lr_scheduler.ConstantLR(optimizer, factor=0.0, total_iters=3)
        assert _lrs(optimizer) == [0.0, 0.0]


def test_a_schedule_of_something_else_than_an_optimizer_is_refused(torch):
    ours = _error(lambda: gg.optim.lr_scheduler.StepLR(object(), step_size=2))
    theirs = _error(lambda: torch.optim.lr_scheduler.StepLR(object(), step_size=2))
    assert ours == theirs == (TypeError, "object is not an Optimizer")


def test_multiplicative_lambda_list_needs_callables():
    ours = _error(lambda: gg.optim.lr_scheduler.MultiplicativeLR(_optimizer(gg), [_tenth, 2]))
    assert ours == (TypeError, "lr_lambda should be a function, but got int")


def test_lambda_state_dict_lists_lambdas_last_as_pytorch(torch):
    ours = gg.optim.lr_scheduler.LambdaLR(_optimizer(gg), _tenth).state_dict()
    theirs = torch.optim.lr_scheduler.LambdaLR(_optimizer(torch), _tenth).state_dict()
    assert list(ours)[-1] == list(theirs)[-1] == "lr_lambdas"
    assert ours["lr_lambdas"] == [None, None]


def test_epoch_argument_warns_from_the_callers_line():
    optimizer = _optimizer(gg)
    scheduler = gg.optim.lr_scheduler.StepLR(optimizer, step_size=2)
    optimizer.step()
    with pytest.warns(UserWarning) as record:
        scheduler.step(3)
    assert len(record) == 1
    assert record[0].category is UserWarning
    assert _from_outside_the_library(record[0])
    assert str(record[0].message) == (
        "The epoch parameter in `scheduler.step()` was not necessary and is being deprecated "
        "where possible. Please use `scheduler.step()` to step the scheduler. During the "
        "deprecation, if epoch is different from None, the closed form is used instead of the "
        "new chainable form, where available.")


def test_stepping_the_schedule_before_the_optimizer_warns_once_from_the_callers_line():
    optimizer = _optimizer(gg)
    scheduler = gg.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.5)
    with pytest.warns(UserWarning) as record:
        for _ in range(3):
            scheduler.step()
    assert len(record) == 1
    assert record[0].category is UserWarning
    assert _from_outside_the_library(record[0])
    assert str(record[0].message) == (
        "Detected call of `lr_scheduler.step()` before `optimizer.step()`: call "
        "`optimizer.step()` first, or the first value of the learning rate schedule is skipped.")
    assert _lrs(optimizer) == pytest.approx([lr * 0.125 for lr in LRS])


def test_many_schedules_on_one_optimizer_wrap_its_step_once():
    """Each schedule marks ``optimizer.step`` as wrapped, so a later one does not wrap it again
    (wrappers of wrappers would exhaust the recursion limit)."""
    optimizer = _optimizer(gg)
    original = optimizer.step
    for _ in range(sys.getrecursionlimit() + 50):
        gg.optim.lr_scheduler.ExponentialLR(optimizer, gamma=1.0)
    assert optimizer.step.__wrapped__ == original
    optimizer.step()
    assert optimizer._opt_called is True


@pytest.mark.parametrize("case", ["StepLR", "LinearLR", "CosineAnnealingLR"])
def test_state_dict_values_are_pytorchs_for_the_shared_keys(torch, case):
    def state(lib):
        optimizer = _optimizer(lib)
        scheduler = SCHEDULES[case](lib.optim.lr_scheduler, optimizer)
        _steps(lib, scheduler, optimizer, 3)
        return scheduler.state_dict()

    ours, theirs = state(gg), state(torch)
    shared = set(ours) & set(theirs)
    assert {"_is_initial", "_step_count", "last_epoch", "base_lrs", "_last_lr"} <= shared
    for key in shared:
        assert ours[key] == pytest.approx(theirs[key], rel=1e-12), key
    assert ours["_is_initial"] is False


@pytest.mark.parametrize("T_max", [1 / 3, 0.2, 1 / 7])  # noqa: N803 (torch name)
def test_cosine_with_a_fractional_period_matches_pytorch(torch, T_max):
    """The restart test ``(t - 1 - T_max) % (2 T_max) == 0`` is PyTorch's to the bit, so a
    fractional period takes the same branch at every epoch (and divides by zero where
    PyTorch does)."""
    def run(lib):
        optimizer = _optimizer(lib)
        scheduler = lib.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=T_max,
                                                             eta_min=0.001)
        out = []
        for _ in range(8):
            try:
                out += _steps(lib, scheduler, optimizer, 1)
            except ZeroDivisionError:
                out.append("ZeroDivisionError")
                break
        return out

    ours, theirs = run(gg), run(torch)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert a == (b if isinstance(b, str) else pytest.approx(b, rel=1e-9, abs=1e-15))
