"""The base ``Optimizer``: its argument checks and messages, ``add_param_group``, ``zero_grad``,
the grouping of parameters for fused steps, ``state_dict``/``load_state_dict`` and ``__repr__``
(each check kills a mutant that bench/mutation.py found surviving the other optimizer tests)."""
import re

import pytest

import gpugrad as gg


def _leaf(values, **kwargs):
    return gg.tensor(values, requires_grad=True, **kwargs)


def test_a_bare_tensor_is_refused_with_pytorchs_words():
    with pytest.raises(TypeError, match=re.escape(
            "params argument given to the optimizer should be an iterable of Tensors or dicts, "
            "but got a Tensor; wrap it in a list: [tensor]")):
        gg.optim.SGD(_leaf([1.0]), lr=0.1)


def test_an_empty_parameter_list_is_refused():
    with pytest.raises(ValueError, match=re.escape(
            "optimizer got an empty parameter list; pass model.parameters() of a model that has "
            "parameters")):
        gg.optim.Adam([])


def test_a_group_given_one_tensor_holds_that_tensor():
    p, q = _leaf([1.0, 2.0]), _leaf([[1.0, 2.0], [3.0, 4.0]])
    opt = gg.optim.SGD([p], lr=0.1)
    opt.add_param_group({"params": q, "lr": 0.5})
    assert len(opt.param_groups[1]["params"]) == 1
    assert opt.param_groups[1]["params"][0] is q
    q.grad = gg.ones_like(q)
    opt.step()
    assert q.tolist() == [[0.5, 1.5], [2.5, 3.5]]


def test_add_param_group_messages():
    opt = gg.optim.SGD([_leaf([1.0])], lr=0.1)
    with pytest.raises(TypeError, match="^optimizer can only optimize Tensors, got int$"):
        opt.add_param_group({"params": [3]})
    with pytest.raises(ValueError, match="^can't optimize a non-leaf Tensor; optimize the leaf it "
                                         "was computed from$"):
        opt.add_param_group({"params": [_leaf([1.0]) * 2]})
    with pytest.raises(ValueError,
                       match="^some parameters appear in more than one parameter group$"):
        opt.add_param_group({"params": opt.param_groups[0]["params"]})


def test_zero_grad_to_zeros_keeps_a_zero_gradient_of_the_parameters_shape():
    p = _leaf([[1.0, 2.0, 3.0]])
    p.grad = gg.tensor([[4.0, 5.0, 6.0]])
    gg.optim.SGD([p], lr=0.1).zero_grad(set_to_none=False)
    assert p.grad is not None
    assert p.grad.tolist() == [[0.0, 0.0, 0.0]]
    gg.optim.SGD([p], lr=0.1).zero_grad()
    assert p.grad is None


@pytest.mark.parametrize("name", ["SGD", "Adam", "Adagrad", "RMSprop", "NAdam"])
def test_a_parameter_without_gradient_does_not_stop_the_ones_after_it(name):
    skipped, p = _leaf([1.0, 2.0]), _leaf([1.0, 2.0])
    p.grad = gg.tensor([1.0, -1.0])
    opt = getattr(gg.optim, name)([skipped, p], lr=0.1)
    opt.step()
    assert skipped.tolist() == [1.0, 2.0]
    assert p.tolist()[0] < 1.0 and p.tolist()[1] > 2.0


@pytest.mark.parametrize("name", ["SGD", "Adam", "Adagrad"])
def test_gradient_of_the_wrong_shape_is_reported(name):
    p = _leaf([1.0, 2.0])
    p.grad = gg.tensor([1.0, 2.0, 3.0])
    with pytest.raises(RuntimeError, match=re.escape(
            "gradient of shape (3,) does not match parameter of shape (2,)")):
        getattr(gg.optim, name)([p], lr=0.1).step()


def test_gradient_on_another_device_is_reported():
    p = _leaf([1.0, 2.0])
    p.grad = gg.tensor([1.0, 2.0], device="sim")
    with pytest.raises(RuntimeError, match="parameter on cpu has its gradient on sim:0; move both "
                                           "with model.to"):
        gg.optim.Adam([p], lr=0.1).step()


@pytest.mark.parametrize("name", ["SGD", "Adam"])
def test_parameters_on_two_devices_each_get_their_devices_update(name):
    """One fused call per device: a cpu and a sim parameter in one group both step, each on its
    own device, to the values the same parameters get in two separate optimizers."""
    def make():
        a, b = _leaf([1.0, -2.0]), _leaf([3.0, 0.5], device="sim")
        a.grad, b.grad = gg.tensor([0.5, 0.25]), gg.tensor([-1.0, 2.0], device="sim")
        return a, b

    a, b = make()
    getattr(gg.optim, name)([a, b], lr=0.1).step()
    a1, b1 = make()
    getattr(gg.optim, name)([a1], lr=0.1).step()
    getattr(gg.optim, name)([b1], lr=0.1).step()
    assert str(b.device) == "sim:0" and str(a.device) == "cpu"
    assert a.tolist() == a1.tolist() and b.tolist() == b1.tolist()
    assert b.tolist() != [3.0, 0.5]


def test_state_dict_lists_params_last_as_pytorch(torch):
    p = _leaf([1.0])
    ours = gg.optim.Adam([p], lr=0.1).state_dict()["param_groups"][0]
    theirs = torch.optim.Adam([torch.nn.Parameter(torch.ones(1))], lr=0.1).state_dict()
    assert list(theirs["param_groups"][0])[-1] == "params"
    assert list(ours)[-1] == "params"
    assert ours["params"] == [0]


def test_loading_a_state_dict_with_another_group_count_is_refused():
    p, q = _leaf([1.0]), _leaf([2.0])
    two = gg.optim.SGD([{"params": [p]}, {"params": [q]}], lr=0.1).state_dict()
    with pytest.raises(ValueError, match="^loaded state dict has 2 parameter groups, the "
                                         "optimizer has 1$"):
        gg.optim.SGD([_leaf([1.0])], lr=0.1).load_state_dict(two)


def _adam_state(dtype, device="cpu"):
    p = gg.tensor([1.0, -2.0], dtype=dtype, device=device, requires_grad=True)
    p.grad = gg.tensor([0.5, 0.25], dtype=dtype, device=device)
    opt = gg.optim.Adam([p], lr=0.1)
    opt.step()
    return p, opt


def test_loaded_float_state_takes_the_parameters_dtype_and_device():
    _, saved = _adam_state(gg.float64)
    p, opt = _adam_state(gg.float32, device="sim")
    opt.load_state_dict(saved.state_dict())
    for name in ("exp_avg", "exp_avg_sq"):
        value = opt.state[p][name]
        assert value.dtype == gg.float32
        assert str(value.device) == "sim:0"
        assert value.tolist() == pytest.approx(saved.state[saved.param_groups[0]["params"][0]]
                                               [name].tolist())


def test_loaded_integer_state_keeps_its_dtype_and_moves_to_the_parameters_device():
    _, saved = _adam_state(gg.float64)
    state = saved.state_dict()
    state["state"][0]["count"] = gg.tensor([3, 4], dtype=gg.int64)
    p, opt = _adam_state(gg.float32, device="sim")
    opt.load_state_dict(state)
    count = opt.state[p]["count"]
    assert count.dtype == gg.int64
    assert str(count.device) == "sim:0"
    assert count.tolist() == [3, 4]


def test_loaded_state_and_hyperparameters_are_deep_copies():
    _, saved = _adam_state(gg.float64)
    state = saved.state_dict()
    state["state"][0]["history"] = [[1.0, 2.0]]
    state["param_groups"][0]["notes"] = {"tags": ["warm"]}
    p, opt = _adam_state(gg.float64)
    opt.load_state_dict(state)
    state["state"][0]["history"][0].append(3.0)
    state["param_groups"][0]["notes"]["tags"].append("cold")
    assert opt.state[p]["history"] == [[1.0, 2.0]]
    assert opt.param_groups[0]["notes"] == {"tags": ["warm"]}


def test_repr_is_pytorchs_for_the_shared_hyperparameters(torch):
    """PyTorch's text, less the keys gpugrad does not have (foreach, fused...) and the blank
    line PyTorch puts between groups."""
    kwargs = dict(lr=0.01, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.1, amsgrad=True,
                  maximize=True)
    ours = gg.optim.Adam([{"params": [_leaf([1.0])]}, {"params": [_leaf([2.0])], "lr": 0.5}],
                         **kwargs)
    theirs = torch.optim.Adam([{"params": [torch.nn.Parameter(torch.ones(1))]},
                               {"params": [torch.nn.Parameter(torch.ones(1))], "lr": 0.5}],
                              **kwargs)
    shared = set(ours.param_groups[0])
    expected = [line for line in repr(theirs).split("\n")
                if line and not line.startswith("    ") or line.split(":")[0].strip() in shared]
    assert repr(ours) == "\n".join(expected)
    assert "params" not in repr(ours)


@pytest.mark.parametrize("name", ["Adam", "RMSprop", "Adagrad", "NAdam"])
def test_step_returns_the_closures_loss_computed_with_grad(name):
    p = _leaf([1.0, -2.0])
    opt = getattr(gg.optim, name)([p], lr=0.1)
    calls = []

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        calls.append(loss.item())
        return loss

    with gg.no_grad():
        loss = opt.step(closure)
    assert calls == [5.0]
    assert loss.item() == 5.0
    assert p.tolist()[0] < 1.0

