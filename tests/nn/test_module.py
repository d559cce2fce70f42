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


# ---- assignments to registered names -----------------------------------------------------------
@pytest.mark.parametrize("name, value, kind, expected", [
    ("scale", gg.ones(2), "parameter", "gg.nn.Parameter"),
    ("body", 3, "child module", "gg.nn.Module"),
    ("offset", [0.0, 0.0], "buffer", "gg.Tensor"),
])
def test_assigning_the_wrong_kind_to_a_registered_name_is_refused(name, value, kind, expected):
    # (``net.scale = tensor`` dropped the parameter from parameters() and state_dict())
    net = Net()
    with pytest.raises(TypeError, match=f"cannot assign '{type(value).__name__}' as {kind} "
                                        f"'{name}' \\({expected} or None expected\\)"):
        setattr(net, name, value)
    assert name in net._parameters or name in net._modules or name in net._buffers


def test_a_tensor_assigned_to_a_buffer_stays_a_buffer_and_none_keeps_it_registered():
    net = Net()
    net.offset = gg.ones(2)
    assert [n for n, _ in net.named_buffers()] == ["offset"]
    net.offset = None
    assert net.offset is None and "offset" not in net.state_dict()


# ---- non-persistent buffers, dtypes, lookups by path ------------------------------------------
def test_a_non_persistent_buffer_moves_but_is_not_saved(device):
    net = Net()
    net.register_buffer("mask", gg.ones(2), persistent=False)
    assert "mask" not in net.state_dict() and "offset" in net.state_dict()
    assert [n for n, _ in net.named_buffers()] == ["offset", "mask"]
    net.to(device)
    assert net.mask.device == device
    assert net.load_state_dict(net.state_dict()) == ([], [])  # nor expected when loading
    net.register_buffer("mask", gg.ones(2))  # registered again as persistent: saved
    assert "mask" in net.state_dict()


@pytest.mark.parametrize("method, dtype", [("half", "float16"), ("bfloat16", "bfloat16"),
                                           ("double", "float64")])
def test_half_and_bfloat16_cast_floating_state(method, dtype):
    net = Net()
    net.register_buffer("steps", gg.zeros(1, dtype=gg.int64))
    assert getattr(net, method)() is net
    assert all(p.dtype == dtype for p in net.parameters()) and net.offset.dtype == dtype
    assert net.steps.dtype == gg.int64


def test_get_submodule_parameter_and_buffer_by_dotted_path():
    net = Net()
    assert net.get_submodule("body.2") is net.body[2] and net.get_submodule("") is net
    assert net.get_parameter("body.0.bias") is net.body[0].bias
    assert net.get_buffer("offset") is net.offset
    with pytest.raises(AttributeError, match="Sequential has no attribute `7`"):
        net.get_submodule("body.7")
    with pytest.raises(AttributeError, match="`note` is not an nn.Module"):
        net.get_submodule("note")
    with pytest.raises(AttributeError, match="`offset` is not an nn.Parameter"):
        net.get_parameter("offset")
    with pytest.raises(AttributeError, match="Net has no attribute `nothing`"):
        net.get_buffer("nothing")


def test_a_shared_module_is_saved_under_each_name_as_pytorch(torch):
    def build(lib):
        model = lib.nn.Module()
        model.encoder = lib.nn.Linear(2, 2)
        model.decoder = model.encoder
        return model
    ours, theirs = build(gg), build(torch)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_parameters()] == ["encoder.weight", "encoder.bias"]
    assert [n for n, _ in ours.named_parameters(remove_duplicate=False)] == \
        [n for n, _ in theirs.named_parameters(remove_duplicate=False)]
    ours.load_state_dict(ours.state_dict())  # both names load


# ---- forward hooks -------------------------------------------------------------------------------
def _unit_linear():
    layer = nn.Linear(2, 1)
    with gg.no_grad():
        layer.weight.fill_(1.0)
        layer.bias.fill_(0.0)
    return layer


def test_forward_hooks_see_and_replace_inputs_and_outputs_in_order():
    layer, calls = _unit_linear(), []
    pre = layer.register_forward_pre_hook(lambda m, args: calls.append("pre") or (args[0] * 2,))
    post = layer.register_forward_hook(lambda m, args, out: calls.append("post") or out + 1)
    layer.register_forward_hook(lambda m, args, out: calls.append("first"), prepend=True)
    assert layer(gg.ones(1, 2)).tolist() == [[5.0]]  # (1 + 1) * 2 = 4, then + 1
    assert calls == ["pre", "first", "post"]
    pre.remove()
    pre.remove()  # again: harmless
    assert layer(gg.ones(1, 2)).tolist() == [[3.0]]
    post.remove()
    assert layer(gg.ones(1, 2)).tolist() == [[2.0]]


def test_forward_hooks_with_kwargs_and_as_a_context():
    layer = _unit_linear()
    layer.register_forward_pre_hook(lambda m, args, kwargs: ((args[0] * 3,), kwargs),
                                    with_kwargs=True)
    with layer.register_forward_hook(lambda m, args, kwargs, out: out * 10, with_kwargs=True):
        assert layer(gg.ones(1, 2)).tolist() == [[60.0]]
    assert layer(gg.ones(1, 2)).tolist() == [[6.0]]
    bad = nn.ReLU()
    bad.register_forward_pre_hook(lambda m, args, kwargs: 5, with_kwargs=True)
    with pytest.raises(RuntimeError, match=r"must return None or a tuple of \(new_args"):
        bad(gg.ones(1))
    with pytest.raises(TypeError, match="a hook must be callable"):
        bad.register_forward_hook(3)


def test_a_forward_hook_stays_in_the_graph_and_collects_features():
    net = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    features = {}
    net[1].register_forward_hook(lambda m, args, out: features.update(relu=out))
    net[2].register_forward_hook(lambda m, args, out: out * 2)
    x = gg.ones(4, 2, requires_grad=True)
    net(x).sum().backward()
    assert features["relu"].shape == (4, 3)
    expected = 2 * net[2].weight.detach() @ (net[0].weight.detach() *
                                             (features["relu"] > 0).float()[0:1].T)
    np.testing.assert_allclose(x.grad.numpy()[0], expected.numpy()[0], rtol=1e-6)
