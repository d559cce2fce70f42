"""Constructors of the optimizers and schedules: PyTorch's defaults and error messages."""
import inspect
import warnings

import pytest

import gpugrad as gg

S = gg.optim.lr_scheduler


def _param():
    return gg.nn.Parameter(gg.ones(2))


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "NAdam", "RMSprop", "Adagrad"])
def test_defaults_match_torch(torch, name):
    ours = inspect.signature(getattr(gg.optim, name)).parameters
    theirs = inspect.signature(getattr(torch.optim, name)).parameters
    for key, parameter in ours.items():
        assert parameter.default == theirs[key].default, key
    # Our positional arguments are PyTorch's, in its order (the rest are keyword-only).
    positional = [k for k, p in ours.items() if p.kind == p.POSITIONAL_OR_KEYWORD]
    assert positional == list(theirs)[:len(positional)]


@pytest.mark.parametrize("name,kwargs,message", [
    ("SGD", dict(nesterov=True), "Nesterov momentum requires a momentum and zero dampening"),
    ("SGD", dict(nesterov=True, momentum=0.9, dampening=0.1), "Nesterov momentum requires"),
    ("RMSprop", dict(alpha=-0.1), "Invalid alpha value: -0.1"),
    ("RMSprop", dict(momentum=-1), "Invalid momentum value: -1"),
    ("RMSprop", dict(lr=-1), "Invalid learning rate: -1"),
    ("Adagrad", dict(lr_decay=-1), "Invalid lr_decay value: -1"),
    ("Adagrad", dict(initial_accumulator_value=-1),
     "Invalid initial_accumulator_value value: -1"),
    ("Adagrad", dict(eps=-1), "Invalid epsilon value: -1"),
    ("NAdam", dict(momentum_decay=-1), "Invalid momentum_decay value: -1"),
    ("NAdam", dict(betas=(0.9, 1.0)), "Invalid beta parameter at index 1: 1.0"),
    ("NAdam", dict(weight_decay=-1), "Invalid weight_decay value: -1"),
    ("AdamW", dict(eps=-1), "Invalid epsilon value: -1"),
])
def test_invalid_hyperparameters(torch, name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        getattr(gg.optim, name)([_param()], **kwargs)
    with pytest.raises(ValueError, match=message):  # the same error as PyTorch's
        getattr(torch.optim, name)([torch.nn.Parameter(torch.ones(2))], **kwargs)


def test_adagrad_state_exists_from_construction():
    p = _param()
    opt = gg.optim.Adagrad([p], initial_accumulator_value=0.25)
    assert opt.state[p]["step"] == 0
    assert opt.state[p]["sum"].tolist() == [0.25, 0.25]


def test_amsgrad_state_and_fused_fallback(monkeypatch):
    from gpugrad.device_registry import get_backend

    calls = []
    backend = get_backend("cpu")
    monkeypatch.setattr(backend, "adam_step", lambda *a, **k: calls.append(a))
    p = _param()
    opt = gg.optim.AdamW([p], amsgrad=True)
    p.grad = gg.ones(2)
    opt.step()
    assert calls == []  # amsgrad runs composed ops, not the fused kernel
    assert set(opt.state[p]) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    assert opt.param_groups[0]["amsgrad"] is True


def test_schedule_errors(torch):
    opt = gg.optim.SGD([_param()], lr=1.0)
    with pytest.raises(ValueError, match="Constant multiplicative factor"):
        S.ConstantLR(opt, factor=2.0)
    with pytest.raises(ValueError, match="Starting multiplicative factor"):
        S.LinearLR(opt, start_factor=0)
    with pytest.raises(ValueError, match="Expected 1 lr_lambdas, but got 2"):
        S.LambdaLR(opt, [lambda e: 1, lambda e: 1])
    with pytest.raises(TypeError, match="lr_lambda should be a function"):
        S.MultiplicativeLR(opt, 0.5)
    with pytest.raises(TypeError, match="is not an Optimizer"):
        S.StepLR("sgd", step_size=1)
    with pytest.raises(ValueError, match="You must define either total_steps"):
        S.OneCycleLR(opt, max_lr=1.0)
    with pytest.raises(ValueError, match="Expected float between 0 and 1 pct_start"):
        S.OneCycleLR(opt, max_lr=1.0, total_steps=10, pct_start=1)
    with pytest.raises(ValueError, match="anneal_strategy must be one of"):
        S.OneCycleLR(opt, max_lr=1.0, total_steps=10, anneal_strategy="exp")
    with pytest.raises(ValueError, match="max_lr must have the same length"):
        S.OneCycleLR(opt, max_lr=[1.0, 2.0], total_steps=10)
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
        S.OneCycleLR(gg.optim.Adagrad([_param()]), max_lr=1.0, total_steps=10)
    with pytest.raises(ValueError, match="number of milestone points"):
        S.SequentialLR(opt, [S.ExponentialLR(opt, 0.9)], milestones=[3])
    with pytest.raises(ValueError, match="does not support `ReduceLROnPlateau`"):
        S.ChainedScheduler([S.ReduceLROnPlateau(opt)])
    other = gg.optim.SGD([_param()], lr=1.0)
    with pytest.raises(ValueError, match="expects all schedulers to belong to the same"):
        S.SequentialLR(opt, [S.ExponentialLR(opt, 0.9), S.ExponentialLR(other, 0.9)], [2])
    with pytest.raises(KeyError, match="initial_lr"):
        S.StepLR(gg.optim.SGD([_param()], lr=1.0), step_size=2, last_epoch=3)


def test_one_cycle_stops_at_total_steps():
    opt = gg.optim.SGD([_param()], lr=1.0, momentum=0.9)
    scheduler = S.OneCycleLR(opt, max_lr=1.0, total_steps=3)
    for _ in range(3):
        opt.step()
        scheduler.step()
    with pytest.raises(ValueError, match="Tried to step 4 times. The specified number of total "
                                         "steps is 3"):
        scheduler.step()


def test_step_order_warning_and_epoch_argument(torch):
    opt = gg.optim.SGD([_param()], lr=1.0)
    scheduler = S.StepLR(opt, step_size=2, gamma=0.5)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        scheduler.step()
    with pytest.warns(UserWarning, match="epoch parameter in `scheduler.step\\(\\)`"):
        scheduler.step(5)  # the closed form: 0.5 ** (5 // 2)
    assert scheduler.get_last_lr() == [0.25] and scheduler.last_epoch == 5
    opt = gg.optim.SGD([_param()], lr=1.0)
    scheduler = S.ExponentialLR(opt, gamma=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # optimizer first: no warning
        opt.step()
        scheduler.step()
    assert scheduler.get_last_lr() == [0.5]


def test_lambda_state_dict_keeps_callable_objects():
    class Scale:
        def __init__(self):
            self.factor = 0.5

        def __call__(self, epoch):
            return self.factor ** epoch

    opt = gg.optim.SGD([_param(), ], lr=1.0)
    scale = Scale()
    scheduler = S.LambdaLR(opt, scale)
    scale.factor = 0.25
    saved = scheduler.state_dict()
    assert saved["lr_lambdas"] == [{"factor": 0.25}]
    fresh_scale = Scale()
    fresh = S.LambdaLR(gg.optim.SGD([_param()], lr=1.0), fresh_scale)
    fresh.load_state_dict(saved)
    assert fresh_scale.factor == 0.25 and fresh.lr_lambdas == [fresh_scale]
    plain = S.LambdaLR(gg.optim.SGD([_param()], lr=1.0), lambda e: 1.0)
    assert plain.state_dict()["lr_lambdas"] == [None]
