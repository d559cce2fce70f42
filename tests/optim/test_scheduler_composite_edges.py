"""``SequentialLR``, ``ChainedScheduler`` and ``OneCycleLR`` at their edges, against PyTorch:
argument checks and messages, one member, a milestone at epoch 1, rates right after
construction, phase boundaries (each check kills a mutant that bench/mutation.py found
surviving the other schedule tests)."""
import pytest

import gpugrad as gg

LRS = (0.1, 0.03)


def _optimizer(lib, name="SGD", lrs=LRS, **kwargs):
    groups = [{"params": [lib.nn.Parameter(lib.tensor([1.0]))], "lr": lr} for lr in lrs]
    return getattr(lib.optim, name)(groups, lr=lrs[0], **kwargs)


def _lrs(optimizer):
    return [group["lr"] for group in optimizer.param_groups]


def _error(call):
    with pytest.raises(Exception) as info:
        call()
    return type(info.value), str(info.value)


def _run(lib, factory, steps, name="SGD", **kwargs):
    """Rates (and momenta) after construction and after each step, with ``get_last_lr()``."""
    optimizer = _optimizer(lib, name, **kwargs)
    scheduler = factory(lib.optim.lr_scheduler, optimizer)
    out = [(_lrs(optimizer), scheduler.get_last_lr(),
            [g.get("momentum", g.get("betas")) for g in optimizer.param_groups])]
    for _ in range(steps):
        optimizer.step()
        scheduler.step()
        out.append((_lrs(optimizer), scheduler.get_last_lr(),
                    [g.get("momentum", g.get("betas")) for g in optimizer.param_groups]))
    return optimizer, scheduler, out


def _assert_runs_equal(ours, theirs, exact=False):
    for (lrs, last, moms), (lrs_t, last_t, moms_t) in zip(ours, theirs):
        if exact:
            assert (lrs, last) == (lrs_t, last_t)
        else:
            assert lrs == pytest.approx(lrs_t, rel=1e-12, abs=1e-15)
            assert last == pytest.approx(last_t, rel=1e-12, abs=1e-15)
        for m, m_t in zip(moms, moms_t):
            assert m == (pytest.approx(m_t, rel=1e-12) if not exact else m_t)


COMPOSITES = {
    "sequential-milestone-1": lambda S, o: S.SequentialLR(
        o, [S.ConstantLR(o, factor=0.5, total_iters=3), S.ExponentialLR(o, gamma=0.8)],
        milestones=[1]),
    "sequential-one-member": lambda S, o: S.SequentialLR(o, [S.StepLR(o, step_size=2)],
                                                         milestones=[]),
    "sequential-three": lambda S, o: S.SequentialLR(
        o, [S.LinearLR(o, start_factor=0.2, total_iters=3), S.StepLR(o, step_size=2),
            S.ExponentialLR(o, gamma=0.9)], milestones=[3, 6]),
    "chained-one-member": lambda S, o: S.ChainedScheduler([S.ExponentialLR(o, gamma=0.7)]),
    "chained-two": lambda S, o: S.ChainedScheduler(
        [S.ConstantLR(o, factor=0.5, total_iters=2), S.ExponentialLR(o, gamma=0.7)]),
}


@pytest.mark.parametrize("case", list(COMPOSITES))
def test_composites_match_pytorch_from_construction(torch, case):
    ours_opt, ours, ours_run = _run(gg, COMPOSITES[case], 9)
    theirs_opt, theirs, theirs_run = _run(torch, COMPOSITES[case], 9)
    _assert_runs_equal(ours_run, theirs_run)
    assert ours.optimizer is ours_opt
    assert getattr(ours, "last_epoch", None) == getattr(theirs, "last_epoch", None)


def test_composite_state_dicts_list_members_last_as_pytorch(torch):
    ours = COMPOSITES["sequential-three"](gg.optim.lr_scheduler, _optimizer(gg)).state_dict()
    theirs = COMPOSITES["sequential-three"](torch.optim.lr_scheduler,
                                            _optimizer(torch)).state_dict()
    assert list(ours)[-1] == list(theirs)[-1] == "_schedulers"
    assert [s["last_epoch"] for s in ours["_schedulers"]] == [
        s["last_epoch"] for s in theirs["_schedulers"]]


@pytest.mark.parametrize("owner", ["SequentialLR", "ChainedScheduler"])
def test_composite_argument_messages_are_pytorchs(torch, owner):
    def make(lib, members):
        S = lib.optim.lr_scheduler
        if owner == "SequentialLR":
            return lambda: S.SequentialLR(members[0].optimizer if members and hasattr(
                members[0], "optimizer") else _optimizer(lib), members,
                milestones=[2] * (len(members) - 1))
        return lambda: S.ChainedScheduler(members)

    def errors(lib):
        S = lib.optim.lr_scheduler
        optimizer, other = _optimizer(lib), _optimizer(lib)
        own = S.StepLR(optimizer, step_size=2)
        return [_error(make(lib, [])),
                _error(make(lib, [own, object()])),
                _error(make(lib, [own, S.ExponentialLR(other, gamma=0.5)]))]

    ours, theirs = errors(gg), errors(torch)
    assert ours[0] == theirs[0]
    assert ours[1] == theirs[1] == (
        TypeError, f"{owner} at index 1 should have `optimizer` as its attribute.")
    assert ours[2][0] is theirs[2][0] is ValueError
    assert ours[2][1].startswith(
        f"{owner} expects all schedulers to belong to the same optimizer, but got scheduler "
        f"ExponentialLR at index 1 has ")
    assert ours[2][1].endswith(", which is different from SGD.")


# ---- OneCycleLR -------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [
    dict(total_steps=0), dict(total_steps=2.5), dict(total_steps=-3),
    dict(epochs=0, steps_per_epoch=2), dict(epochs=1.5, steps_per_epoch=2),
    dict(epochs=-1, steps_per_epoch=2),
    dict(epochs=2, steps_per_epoch=0), dict(epochs=2, steps_per_epoch=2.5),
    dict(epochs=2, steps_per_epoch=-1),
    dict(epochs=3), dict(steps_per_epoch=3), dict(),
    dict(total_steps=10, pct_start=-0.1), dict(total_steps=10, pct_start=1.5),
    dict(total_steps=10, pct_start=1), dict(total_steps=10, anneal_strategy="step"),
    dict(total_steps=10, max_momentum=[0.9]), dict(total_steps=10, base_momentum=[0.8]),
])
def test_one_cycle_argument_messages_are_pytorchs(torch, kwargs):
    def error(lib):
        return _error(lambda: lib.optim.lr_scheduler.OneCycleLR(_optimizer(lib, momentum=0.9),
                                                                max_lr=0.1, **kwargs))

    ours, theirs = error(gg), error(torch)
    assert ours == theirs
    assert ours[0] is ValueError


def test_one_cycle_needs_momentum_or_betas(torch):
    def error(lib):
        return _error(lambda: lib.optim.lr_scheduler.OneCycleLR(_optimizer(lib, "Adagrad"),
                                                                max_lr=0.1, total_steps=5))

    assert error(gg) == error(torch) == (
        ValueError, "optimizer must support momentum or beta1 with `cycle_momentum` option "
                    "enabled")


@pytest.mark.parametrize("kwargs", [
    dict(total_steps=1), dict(epochs=1, steps_per_epoch=1), dict(epochs=2, steps_per_epoch=1),
    dict(total_steps=10, pct_start=0.0), dict(total_steps=10, pct_start=1.0),
])
def test_one_cycle_boundary_arguments_run_as_pytorch(torch, kwargs):
    steps = kwargs.get("total_steps", kwargs.get("epochs", 1) * kwargs.get("steps_per_epoch", 1))
    factory = lambda S, o: S.OneCycleLR(o, max_lr=[0.2, 0.05], **kwargs)  # noqa: E731
    _, _, ours = _run(gg, factory, steps - 1, momentum=0.9)
    _, _, theirs = _run(torch, factory, steps - 1, momentum=0.9)
    _assert_runs_equal(ours, theirs)


@pytest.mark.parametrize("anneal", ["cos", "linear"])
@pytest.mark.parametrize("three_phase", [False, True])
@pytest.mark.parametrize("total_steps, pct_start", [(10, 0.3), (20, 0.25), (7, 0.5)])
def test_one_cycle_phase_boundaries_are_pytorchs_to_the_bit(torch, anneal, three_phase,
                                                            total_steps, pct_start):
    """At a step that ends a phase, the rate and momentum come from that phase's end (``<=``),
    bit for bit as PyTorch."""
    def factory(S, o):
        return S.OneCycleLR(o, max_lr=[0.3, 0.07], total_steps=total_steps, pct_start=pct_start,
                            anneal_strategy=anneal, three_phase=three_phase, div_factor=7.0,
                            final_div_factor=3.0, base_momentum=0.81, max_momentum=0.93)

    for name, kwargs in (("SGD", dict(momentum=0.9)), ("Adam", {})):
        _, _, ours = _run(gg, factory, total_steps - 1, name, **kwargs)
        _, _, theirs = _run(torch, factory, total_steps - 1, name, **kwargs)
        _assert_runs_equal(ours, theirs, exact=True)


@pytest.mark.parametrize("name, kwargs", [("SGD", dict(momentum=0.5)), ("Adam", {})])
def test_one_cycle_failing_at_its_first_step_leaves_pytorchs_momentum(torch, name, kwargs):
    """With ``pct_start * total_steps == 1`` the first phase is 0 steps long and the
    construction step divides by zero, as in PyTorch; the groups keep the ``max_momentum``
    (or beta1) set before that step, as PyTorch's do."""
    def groups_after(lib):
        optimizer = _optimizer(lib, name, **kwargs)
        with pytest.raises(ZeroDivisionError):
            lib.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=10,
                                              pct_start=0.1, max_momentum=[0.9, 0.8])
        return [(g.get("momentum"), g.get("betas"), g["max_momentum"], g["initial_lr"])
                for g in optimizer.param_groups]

    ours, theirs = groups_after(gg), groups_after(torch)
    assert ours == theirs
    assert ours[1][:2] in [(0.8, None), (None, (0.8, 0.999))]
