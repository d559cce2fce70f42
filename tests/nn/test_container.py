"""Containers (gpugrad/nn/container.py): ModuleList, Sequential, ModuleDict, ParameterList and
ParameterDict register what they hold, so the parent sees its parameters, saves them under
PyTorch's keys and moves them; compared with PyTorch's keys where it is installed."""
import pytest

import gpugrad as gg
from gpugrad import nn


def _names(module):
    return [type(m).__name__ for m in module]


def test_module_list_edits_keep_positions_as_keys():
    layers = nn.ModuleList([nn.Linear(1, 1)])
    layers.append(nn.ReLU()).extend([nn.Tanh()])
    layers.insert(0, nn.Linear(2, 1))
    assert _names(layers) == ["Linear", "Linear", "ReLU", "Tanh"]
    assert list(layers.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]
    del layers[0]
    assert _names(layers) == ["Linear", "ReLU", "Tanh"]
    assert list(layers.state_dict()) == ["0.weight", "0.bias"]
    layers[-1] = nn.Linear(3, 3)
    assert list(layers.state_dict())[-2:] == ["2.weight", "2.bias"]
    layers += [nn.ReLU()]
    assert len(layers) == 4 and len(layers + nn.ModuleList([nn.ReLU()])) == 5
    with pytest.raises(IndexError, match="index 9 is out of range for ModuleList of length 4"):
        layers[9] = nn.ReLU()


def test_sequential_grows_like_a_list_and_runs_in_order():
    net = nn.Sequential(nn.Linear(2, 2))
    net.append(nn.ReLU())
    net.insert(1, nn.Sigmoid())
    assert _names(net) == ["Linear", "Sigmoid", "ReLU"]
    assert net(gg.ones(3, 2)).shape == (3, 2)


def test_module_dict_by_name():
    blocks = nn.ModuleDict({"encoder": nn.Linear(2, 3), "act": nn.ReLU()})
    blocks.update([("decoder", nn.Linear(3, 2))])
    assert list(blocks) == ["encoder", "act", "decoder"] and "act" in blocks
    assert list(blocks.state_dict()) == ["encoder.weight", "encoder.bias", "decoder.weight",
                                         "decoder.bias"]
    assert type(blocks.pop("act")).__name__ == "ReLU" and len(blocks) == 2
    del blocks["decoder"]
    assert list(blocks.keys()) == ["encoder"]
    assert [type(m).__name__ for m in blocks.values()] == ["Linear"]
    with pytest.raises(TypeError, match="ModuleDict keys must be strings"):
        blocks[1] = nn.ReLU()
    with pytest.raises(KeyError, match="without '.'"):
        blocks["a.b"] = nn.ReLU()


def test_parameter_containers_make_tensors_parameters():
    weights = nn.ParameterList([gg.ones(2), nn.Parameter(gg.zeros(3))])
    weights.append(gg.ones(1))
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in weights)
    assert list(weights.state_dict()) == ["0", "1", "2"] and len(list(weights.parameters())) == 3
    scales = nn.ParameterDict({"a": gg.ones(1)})
    scales["b"] = gg.zeros(2)
    assert list(scales.state_dict()) == ["a", "b"] and isinstance(scales["b"], nn.Parameter)
    with pytest.raises(TypeError, match="a parameter container holds tensors, got list"):
        weights.append([1.0])


def test_a_parent_sees_what_its_containers_hold(device):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleDict({"a": nn.Linear(2, 2)})
            self.scales = nn.ParameterList([gg.ones(2)])

        def forward(self, x):
            return self.blocks["a"](x) * self.scales[0]

    net = Net().to(device)
    assert [n for n, _ in net.named_parameters()] == ["blocks.a.weight", "blocks.a.bias",
                                                      "scales.0"]
    net(gg.ones(1, 2, device=device)).sum().backward()
    assert all(p.grad is not None and p.device == device for p in net.parameters())


def test_container_keys_match_torch(torch):
    ours = nn.ModuleDict({"x": nn.ModuleList([nn.Linear(1, 2), nn.ReLU(), nn.Linear(2, 1)])})
    theirs = torch.nn.ModuleDict({"x": torch.nn.ModuleList([torch.nn.Linear(1, 2),
                                                            torch.nn.ReLU(),
                                                            torch.nn.Linear(2, 1)])})
    del ours["x"][1]
    del theirs["x"][1]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    pl, tpl = nn.ParameterList([gg.ones(1)] * 2), torch.nn.ParameterList([torch.ones(1)] * 2)
    assert list(pl.state_dict()) == list(tpl.state_dict())
