"""``ReduceLROnPlateau`` follows PyTorch for every mode, threshold mode, patience, cooldown,
``min_lr`` and ``eps``, over 50 epochs of a metric that improves, stalls and wobbles."""
import copy
import math

import pytest

import gpugrad as gg
from trajectory import Problem, assert_same_history

# Improves for 10 epochs, then stalls with small wobbles (some beat the best by a little).
METRICS = [1.0 / (1 + t) if t < 10 else 0.09 + 0.001 * math.sin(3 * t) for t in range(50)]

CASES = [
    dict(),
    dict(patience=2),
    dict(patience=1, factor=0.5, cooldown=3),
    dict(patience=0, factor=0.5, min_lr=[0.001, 0.004]),
    dict(patience=1, factor=0.5, min_lr=0.002, eps=1e-3),
    dict(patience=2, threshold=0.05, threshold_mode="rel"),
    dict(patience=2, threshold=0.0005, threshold_mode="abs"),
    dict(mode="max", patience=3, factor=0.3),
    dict(mode="max", patience=1, threshold=0.01, threshold_mode="abs", cooldown=2),
]


def _run(lib, kwargs, metrics):
    problem = Problem(lib)
    optimizer = lib.optim.SGD(problem.groups({"lr": 0.02}), lr=0.01, momentum=0.5)
    scheduler = lib.optim.lr_scheduler.ReduceLROnPlateau(optimizer, **kwargs)
    lrs, history = [], []
    for metric in metrics:
        history += problem.run(optimizer, 1)
        scheduler.step(metric)
        lrs.append(scheduler.get_last_lr())
    state = {k: scheduler.state_dict()[k] for k in ("best", "num_bad_epochs",
                                                     "cooldown_counter", "last_epoch")}
    return lrs, history, state


@pytest.mark.parametrize("kwargs", CASES, ids=[str(c) for c in CASES])
def test_plateau_matches_torch(torch, kwargs):
    metrics = METRICS if kwargs.get("mode") != "max" else [-m for m in METRICS]
    ours_lrs, ours_history, ours_state = _run(gg, kwargs, metrics)
    theirs_lrs, theirs_history, theirs_state = _run(torch, kwargs, metrics)
    assert ours_lrs == theirs_lrs  # the same float operations: equal
    assert ours_lrs[-1] != ours_lrs[0]  # the case does reduce
    assert ours_state == theirs_state
    assert_same_history(ours_history, theirs_history)


def test_plateau_state_dict_and_tensor_metric():
    optimizer = gg.optim.SGD([gg.nn.Parameter(gg.ones(1))], lr=1.0)
    scheduler = gg.optim.lr_scheduler.ReduceLROnPlateau(optimizer, patience=0)
    scheduler.step(gg.tensor(1.0))  # a 0-d tensor metric (a loss) is read as a number
    saved = copy.deepcopy(scheduler.state_dict())
    scheduler.step(2.0)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.1)
    restored = gg.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max")
    restored.load_state_dict(saved)
    assert restored.mode == "min" and restored.best == 1.0 and restored.last_epoch == 1
    restored.step(0.5)
    assert restored.best == 0.5


def test_plateau_errors():
    optimizer = gg.optim.SGD([gg.nn.Parameter(gg.ones(1))], lr=1.0)
    Plateau = gg.optim.lr_scheduler.ReduceLROnPlateau
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        Plateau(optimizer, factor=1.0)
    with pytest.raises(ValueError, match="mode maximum is unknown"):
        Plateau(optimizer, mode="maximum")
    with pytest.raises(ValueError, match="threshold mode relative is unknown"):
        Plateau(optimizer, threshold_mode="relative")
    with pytest.raises(ValueError, match="expected 1 min_lrs, got 2"):
        Plateau(optimizer, min_lr=[0.1, 0.2])
    with pytest.raises(TypeError, match="is not an Optimizer"):
        Plateau("sgd")
