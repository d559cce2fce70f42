"""Learning-rate schedules follow PyTorch's values epoch by epoch."""
import math

import pytest

import gpugrad as gg
from gpugrad.optim.lr_scheduler import CosineAnnealingLR, StepLR


def _lrs(opt, scheduler, epochs):
    out = []
    for _ in range(epochs):
        out.append([group["lr"] for group in opt.param_groups])
        opt.step()
        scheduler.step()
    return out


def _optimizers(torch):
    ours = gg.optim.SGD([{"params": [gg.nn.Parameter(gg.ones(1))]},
                         {"params": [gg.nn.Parameter(gg.ones(1))], "lr": 0.5}], lr=0.1)
    theirs = torch.optim.SGD([{"params": [torch.nn.Parameter(torch.ones(1))]},
                              {"params": [torch.nn.Parameter(torch.ones(1))], "lr": 0.5}], lr=0.1)
    return ours, theirs


@pytest.mark.parametrize("name,kwargs", [("StepLR", dict(step_size=3, gamma=0.5)),
                                         ("CosineAnnealingLR", dict(T_max=5)),
                                         ("CosineAnnealingLR", dict(T_max=4, eta_min=0.01))])
def test_schedules_match_torch(torch, name, kwargs):
    ours_opt, theirs_opt = _optimizers(torch)
    ours = getattr(gg.optim.lr_scheduler, name)(ours_opt, **kwargs)
    theirs = getattr(torch.optim.lr_scheduler, name)(theirs_opt, **kwargs)
    expected = _lrs(theirs_opt, theirs, 14)  # past T_max: the cosine turns back up
    got = _lrs(ours_opt, ours, 14)
    for a, b in zip(got, expected):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-12)
    assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr())


def test_step_lr_closed_form():
    opt = gg.optim.SGD([gg.nn.Parameter(gg.ones(1))], lr=1.0)
    scheduler = StepLR(opt, step_size=2, gamma=0.1)
    got = _lrs(opt, scheduler, 6)
    assert [g[0] for g in got] == pytest.approx([1, 1, 0.1, 0.1, 0.01, 0.01])


def test_cosine_reaches_eta_min_at_t_max():
    opt = gg.optim.SGD([gg.nn.Parameter(gg.ones(1))], lr=1.0)
    scheduler = CosineAnnealingLR(opt, T_max=10, eta_min=0.1)
    got = [g[0] for g in _lrs(opt, scheduler, 11)]
    assert got[5] == pytest.approx(0.1 + 0.9 * (1 + math.cos(math.pi / 2)) / 2)
    assert got[10] == pytest.approx(0.1)
    state = scheduler.state_dict()
    assert state["last_epoch"] == 11 and "optimizer" not in state


def test_invalid_arguments():
    opt = gg.optim.SGD([gg.nn.Parameter(gg.ones(1))], lr=1.0)
    with pytest.raises(ValueError, match="step_size"):
        StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match="T_max"):
        CosineAnnealingLR(opt, T_max=0)
