"""``ReduceLROnPlateau`` at its edges, against PyTorch: a metric equal to the threshold, a
reduction equal to ``eps``, a first epoch that is not an improvement, groups added later, the
epoch warning and messages (each check kills a mutant that bench/mutation.py found surviving
the other plateau tests)."""
import math
import os
import warnings

import pytest

import gpugrad as gg


def _optimizer(lib, lrs=(1.0, 0.5)):
    groups = [{"params": [lib.nn.Parameter(lib.tensor([1.0]))], "lr": lr} for lr in lrs]
    return lib.optim.SGD(groups, lr=lrs[0])


def _lrs(optimizer):
    return [group["lr"] for group in optimizer.param_groups]


def _run(lib, metrics, **kwargs):
    optimizer = _optimizer(lib)
    scheduler = lib.optim.lr_scheduler.ReduceLROnPlateau(optimizer, **kwargs)
    out = [(_lrs(optimizer), scheduler.get_last_lr())]
    for metric in metrics:
        scheduler.step(metric)
        out.append((_lrs(optimizer), scheduler.get_last_lr(), scheduler.num_bad_epochs,
                    scheduler.cooldown_counter, scheduler.best))
    return out


def _assert_as_torch(torch, metrics, **kwargs):
    ours, theirs = _run(gg, metrics, **kwargs), _run(torch, metrics, **kwargs)
    assert ours == theirs
    assert ours[-1][0] != ours[0][0]  # the rates did change


@pytest.mark.parametrize("mode, threshold_mode, metrics", [
    ("min", "rel", [3.0, 3.0, 3.0, 3.0]),
    ("min", "abs", [3.0, 3.0, 3.0, 3.0]),
    ("max", "rel", [3.0, 3.0, 3.0, 3.0]),
    ("max", "abs", [3.0, 3.0, 3.0, 3.0]),
])
def test_a_metric_equal_to_the_bar_is_no_improvement(torch, mode, threshold_mode, metrics):
    """With ``threshold=0`` the bar is the best value itself: equalling it is a bad epoch."""
    _assert_as_torch(torch, metrics, mode=mode, threshold_mode=threshold_mode, threshold=0.0,
                     patience=1, factor=0.5)


def test_a_reduction_of_exactly_eps_is_not_applied(torch):
    """``old - new > eps`` strictly: halving 1.0 with ``eps=0.5`` is skipped, halving 0.5 (a
    change of 0.25) is not."""
    optimizer_lrs = []
    for lib in (gg, torch):
        optimizer = _optimizer(lib, lrs=(1.0, 0.4))
        scheduler = lib.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=0,
                                                             eps=0.5)
        for metric in (2.0, 3.0, 4.0):
            scheduler.step(metric)
        optimizer_lrs.append(_lrs(optimizer))
    assert optimizer_lrs[0] == optimizer_lrs[1] == [1.0, 0.4]
    _assert_as_torch(torch, [2.0, 3.0, 4.0], factor=0.25, patience=0, eps=0.5)


@pytest.mark.parametrize("patience", [0, 1, 2])
@pytest.mark.parametrize("mode", ["min", "max"])
def test_a_first_epoch_without_improvement_counts_from_a_clean_start(torch, patience, mode):
    """A first metric that does not beat the initial best (``inf``, or ``-inf`` in max mode)
    is a bad epoch: there is no cooldown and no bad epoch before it."""
    worst = math.inf if mode == "min" else -math.inf
    metrics = [worst, worst, 1.0, 1.0, 1.0, 1.0, 1.0]
    _assert_as_torch(torch, metrics, mode=mode, patience=patience, factor=0.5)


def test_get_last_lr_before_any_step_is_the_groups_rates(torch):
    ours = gg.optim.lr_scheduler.ReduceLROnPlateau(_optimizer(gg)).get_last_lr()
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(_optimizer(torch)).get_last_lr()
    assert ours == theirs == [1.0, 0.5]


def _with_added_group(lib, min_lr):
    optimizer = _optimizer(lib)
    scheduler = lib.optim.lr_scheduler.ReduceLROnPlateau(optimizer, min_lr=min_lr, patience=0,
                                                         factor=0.5)
    optimizer.add_param_group({"params": [lib.nn.Parameter(lib.tensor([1.0]))], "lr": 0.3})
    for metric in (1.0, 2.0, 3.0, 4.0):
        scheduler.step(metric)
    return _lrs(optimizer), scheduler.min_lrs


def test_a_group_added_later_takes_the_single_min_lr(torch):
    ours, theirs = _with_added_group(gg, 0.2), _with_added_group(torch, 0.2)
    assert ours == theirs
    assert ours[0] == [0.2, 0.2, 0.2] and ours[1] == [0.2, 0.2, 0.2]


def test_a_group_added_later_with_min_lr_per_group_is_refused(torch):
    def error(lib):
        with pytest.raises(RuntimeError) as info:
            _with_added_group(lib, [0.01, 0.02])
        return str(info.value)

    assert error(gg) == error(torch) == (
        "The number of param groups in the `optimizer` (3) differs from when `ReduceLROnPlateau` "
        "was initialized (2), usually due to a new param group being added to the optimizer. "
        "Please modify the `min_lrs` field to match the length of the `optimizer` param groups.")


def test_factor_of_one_is_refused_with_pytorchs_message(torch):
    for lib in (gg, torch):
        with pytest.raises(ValueError, match=r"^Factor should be < 1\.0\.$"):
            lib.optim.lr_scheduler.ReduceLROnPlateau(_optimizer(lib), factor=1.0)


def test_epoch_argument_warns_from_the_callers_line():
    scheduler = gg.optim.lr_scheduler.ReduceLROnPlateau(_optimizer(gg))
    with pytest.warns(UserWarning) as record:
        scheduler.step(1.0, epoch=4)
    assert len(record) == 1
    assert record[0].category is UserWarning
    # the caller's line (stacklevel=2), not gpugrad's (under mutation testing a trampoline
    # frame sits between the two, so the test file itself is not asserted)
    assert os.path.join("gpugrad", "optim") not in record[0].filename
    assert str(record[0].message).startswith(
        "The epoch parameter in `scheduler.step()` was not necessary and is being deprecated")
    assert scheduler.last_epoch == 4
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scheduler.step(1.0)
    assert scheduler.last_epoch == 5
