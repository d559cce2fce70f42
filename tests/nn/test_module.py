"""Module semantics: registration, traversal, train/eval, zero_grad, to(device), state dicts."""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
        self.scale = nn.Parameter(gg.ones(2))
        self.register_buffer("offset", gg.zeros(2))
        self.note = "not a parameter"

    def forward(self, x):
        return self.body(x) * self.scale + self.offset


def test_parameters_children_and_modules_are_registered_in_order():
    net = Net()
    names = [name for name, _ in net.named_parameters()]
    assert names == ["scale", "body.0.weight", "body.0.bias", "body.2.weight", "body.2.bias"]
    assert [type(m).__name__ for m in net.children()] == ["Sequential"]
    assert [name for name, _ in net.named_modules()] == ["", "body", "body.0", "body.1", "body.2"]
    assert [name for name, _ in net.named_buffers()] == ["offset"]
    assert all(p.requires_grad and isinstance(p, nn.Parameter) for p in net.parameters())
    assert net.note == "not a parameter"


def test_shared_parameters_are_listed_once():
    layer = nn.Linear(2, 2)
    seq = nn.Sequential(layer, layer)
    assert len(list(seq.parameters())) == 2


def test_assigning_before_init_names_the_fix():
    class Broken(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(gg.ones(1))

    with pytest.raises(AttributeError, match="super"):
        Broken()


def test_train_eval_reach_every_descendant():
    net = Net()
    assert net.training and net.body[1].training
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())


@pytest.mark.parametrize("set_to_none", [True, False])
def test_zero_grad(set_to_none):
    net = Net()
    net(gg.randn(5, 3)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=set_to_none)
    for p in net.parameters():
        if set_to_none:
            assert p.grad is None
        else:
            assert p.grad.shape == p.shape and not p.grad.numpy().any()


def test_to_device_moves_in_place_and_keeps_identity(device):
    net = Net()
    net(gg.randn(5, 3)).sum().backward()
    params = list(net.parameters())
    values = [p.detach().numpy().copy() for p in params]
    grads = [p.grad.numpy().copy() for p in params]
    opt = gg.optim.SGD(net.parameters(), lr=0.1)
    assert net.to(device) is net
    moved = list(net.parameters())
    assert all(a is b for a, b in zip(params, moved))
    for p, v, g in zip(moved, values, grads):
        assert p.device == device and p.grad.device == device
        np.testing.assert_array_equal(p.detach().numpy(), v)
        np.testing.assert_array_equal(p.grad.numpy(), g)
    assert net.offset.device == device
    opt.step()  # the optimizer built before the move updates the moved parameters
    np.testing.assert_allclose(moved[0].detach().numpy(), values[0] - 0.1 * grads[0], rtol=1e-6)
    out = net(gg.randn(2, 3, device=device))
    assert out.device == device


def test_double_casts_floating_parameters():
    net = Net().double()
    assert all(p.dtype == gg.float64 for p in net.parameters())
    assert net(gg.randn(1, 3, dtype=gg.float64)).dtype == gg.float64


def test_state_dict_keys_match_torch(torch):
    ours = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    mlp = nn.MLP([3, 4, 2])
    assert list(mlp.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]


def test_state_dict_round_trip_loads_values_in_place():
    src, dst = Net(), Net()
    src.offset.copy_(gg.tensor([1.0, 2.0]))
    dst_params = list(dst.parameters())
    result = dst.load_state_dict(src.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert all(a is b for a, b in zip(dst_params, dst.parameters()))
    for (k, a), (_, b) in zip(src.state_dict().items(), dst.state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)


def test_load_state_dict_across_devices(device):
    src = Net()
    dst = Net().to(device)
    dst.load_state_dict(src.state_dict())
    assert dst.body[0].weight.device == device
    np.testing.assert_array_equal(dst.body[0].weight.detach().numpy(), src.body[0].weight.detach().numpy())


def test_load_state_dict_errors_name_the_key():
    net = Net()
    state = net.state_dict()
    missing = dict(state)
    del missing["body.2.bias"]
    with pytest.raises(RuntimeError, match=r'Missing key\(s\) in state_dict: "body.2.bias"'):
        net.load_state_dict(missing)
    extra = dict(state, **{"body.9.weight": gg.zeros(1)})
    with pytest.raises(RuntimeError, match=r'Unexpected key\(s\) in state_dict: "body.9.weight"'):
        net.load_state_dict(extra)
    result = net.load_state_dict(extra, strict=False)
    assert result.unexpected_keys == ["body.9.weight"]
    wrong = dict(state, **{"body.0.weight": gg.zeros(4, 5)})
    with pytest.raises(RuntimeError, match=r"size mismatch for body.0.weight.*\(4, 5\).*\(4, 3\)"):
        net.load_state_dict(wrong, strict=False)


def test_repr_matches_torch_layout(torch):
    ours = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2, bias=False))
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(),
                                 torch.nn.Linear(4, 2, bias=False))
    assert repr(ours) == repr(theirs)


def test_forward_missing_is_a_clear_error():
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(1)


def test_assigning_none_keeps_the_slot_and_leaves_state_dict():
    layer = nn.Linear(2, 3)
    layer.bias = None
    assert layer.bias is None and "bias" in layer._parameters
    assert list(layer.state_dict()) == ["weight"]
    assert layer(gg.randn(4, 2)).shape == (4, 3)
