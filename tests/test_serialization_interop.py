"""Checkpoints other tools read and write: safetensors by state-dict name, PyTorch's layouts,
foreign safetensors files (bf16/f16 too), and pickles named and refused, never unpickled."""
import pickle

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.serialization import CheckpointError

safetensors = pytest.importorskip("safetensors", reason="safetensors is not installed")
from safetensors.numpy import load_file, save_file  # noqa: E402 (after the skip)


def _net(nn, **kw):
    return nn.Sequential(nn.Linear(4, 8, **kw), nn.BatchNorm1d(8, **kw), nn.ReLU(),
                         nn.Linear(8, 3, **kw))


def test_pytorch_loads_the_state_dict_and_computes_the_same(tmp_path, torch):
    from safetensors.torch import load_file as torch_load_file
    gg.manual_seed(0)
    model = _net(gg.nn)
    opt = gg.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(2):  # train, so the BatchNorm running stats and counter move
        opt.zero_grad()
        model(gg.randn(6, 4)).square().mean().backward()
        opt.step()
    path = tmp_path / "model.safetensors"
    gg.save(model.state_dict(), path)

    torch_model = _net(torch.nn)
    state = torch_load_file(path)
    assert set(state) == set(torch_model.state_dict())
    for key, value in torch_model.state_dict().items():  # PyTorch's layouts and dtypes
        assert tuple(state[key].shape) == tuple(value.shape), key
        assert state[key].dtype == value.dtype, key
    assert state["1.num_batches_tracked"].item() == 2
    torch_model.load_state_dict(state)  # strict: every key, nothing extra
    model.eval()
    torch_model.eval()
    x = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_allclose(torch_model(torch.from_numpy(x)).detach().numpy(),
                               model(gg.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_nested_checkpoints_flatten_to_dotted_names_any_reader_sees(tmp_path):
    model = gg.nn.Linear(3, 2)
    opt = gg.optim.Adam(model.parameters(), lr=0.01)
    model(gg.ones(1, 3)).sum().backward()
    opt.step()
    path = tmp_path / "ckpt.safetensors"
    gg.save({"model": model.state_dict(), "optim": opt.state_dict(), "epoch": 3}, path)
    stored = load_file(path)
    assert sorted(stored) == ["model.bias", "model.weight", "optim.state.0.exp_avg",
                              "optim.state.0.exp_avg_sq", "optim.state.1.exp_avg",
                              "optim.state.1.exp_avg_sq"]
    np.testing.assert_array_equal(stored["model.weight"], model.weight.detach().numpy())
    with safetensors.safe_open(path, framework="np") as f:
        meta = f.metadata()
    assert meta["format"] == "pt" and meta["gpugrad.format"] == "gpugrad-checkpoint/2"
    assert all(isinstance(v, str) for v in meta.values())
    back = gg.load(path)  # and gpugrad gets the exact nesting back
    assert back["epoch"] == 3 and list(back["optim"]["state"]) == [0, 1]
    assert back["optim"]["param_groups"][0]["lr"] == 0.01


def test_colliding_names_stay_apart(tmp_path):
    path = tmp_path / "c.safetensors"
    gg.save({"a.b": gg.ones(1), "a": {"b": gg.zeros(1)}}, path)
    assert sorted(load_file(path)) == ["a.b", "a.b#2"]
    back = gg.load(path)
    assert back["a.b"].tolist() == [1.0] and back["a"]["b"].tolist() == [0.0]


def test_foreign_safetensors_files_load_as_dicts_of_tensors(tmp_path, torch):
    from safetensors.torch import save_file as torch_save_file
    ml_dtypes = pytest.importorskip("ml_dtypes")
    path = tmp_path / "hf.safetensors"
    torch_save_file({"w": torch.arange(6, dtype=torch.float32).reshape(2, 3).to(torch.bfloat16),
                     "h": torch.tensor([0.5, -2.0], dtype=torch.float16),
                     "ids": torch.tensor([1, 2, 3]), "mask": torch.tensor([True, False]),
                     "scalar": torch.tensor(4.0, dtype=torch.float64)}, str(path),
                    metadata={"format": "pt"})
    got = gg.load(path)
    assert got["w"].dtype == gg.bfloat16 and got["w"].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert got["h"].dtype == gg.float16 and got["h"].tolist() == [0.5, -2.0]
    assert got["ids"].dtype == gg.int64 and got["mask"].tolist() == [True, False]
    assert got["scalar"].shape == () and got["scalar"].item() == 4.0
    assert all(t.device == "cpu" for t in got.values())
    numpy_path = tmp_path / "np.safetensors"
    save_file({"x": np.arange(4, dtype=np.int16), "b": np.ones(2, ml_dtypes.bfloat16)},
              str(numpy_path))
    got = gg.load(numpy_path, map_location="sim")
    assert got["x"].tolist() == [0, 1, 2, 3] and got["x"].device == "sim"


def test_bfloat16_and_float16_round_trip_through_pytorch(tmp_path, torch):
    from safetensors.torch import load_file as torch_load_file
    path = tmp_path / "half.safetensors"
    gg.save({"b": gg.tensor([1.5, -3.0], dtype=gg.bfloat16),
             "h": gg.tensor([0.25], dtype=gg.float16)}, path)
    state = torch_load_file(path)
    assert state["b"].dtype == torch.bfloat16 and state["b"].tolist() == [1.5, -3.0]
    assert state["h"].dtype == torch.float16
    assert gg.load(path)["b"].dtype == gg.bfloat16


def test_unsupported_foreign_dtype_is_named(tmp_path):
    path = tmp_path / "u16.safetensors"
    save_file({"x": np.arange(3, dtype=np.uint16)}, str(path))
    with pytest.raises(CheckpointError, match="'x' has dtype 'U16'"):
        gg.load(path)


def test_torch_save_files_are_named_and_never_unpickled(tmp_path, torch, monkeypatch):
    zipped, legacy = tmp_path / "model.pt", tmp_path / "old.pth"
    torch.save({"w": torch.ones(2)}, zipped)
    torch.save({"w": torch.ones(2)}, legacy, _use_new_zipfile_serialization=False)

    def unpickling(*args, **kwargs):
        raise AssertionError("gg.load unpickled")

    monkeypatch.setattr(pickle, "load", unpickling)
    monkeypatch.setattr(pickle, "loads", unpickling)
    monkeypatch.setattr(pickle, "Unpickler", unpickling)
    with pytest.raises(CheckpointError, match=r"model\.pt.*PyTorch checkpoint.*save_file"):
        gg.load(zipped)
    with pytest.raises(CheckpointError, match=r"old\.pth.*pickle.*never unpickles"):
        gg.load(legacy)


def test_plain_pickles_are_named(tmp_path):
    path = tmp_path / "state.pkl"
    path.write_bytes(pickle.dumps({"w": [1.0]}, protocol=4))
    with pytest.raises(CheckpointError, match=r"state\.pkl' is a Python pickle.*torch\.load"):
        gg.load(path)


LAYERS = [("Conv1d", (2, 4, 3)), ("Conv2d", (3, 5, (3, 2))), ("BatchNorm2d", (4,)),
          ("LayerNorm", ((3, 4),)), ("GroupNorm", (2, 6)), ("Embedding", (10, 3))]


@pytest.mark.parametrize("layer, args", LAYERS, ids=[name for name, _ in LAYERS])
def test_layer_layouts_match_pytorch(layer, args, tmp_path, torch):
    from safetensors.torch import load_file as torch_load_file
    path = tmp_path / f"{layer}.safetensors"
    gg.save(getattr(gg.nn, layer)(*args).state_dict(), path)
    torch_layer = getattr(torch.nn, layer)(*args)
    state = torch_load_file(path)
    expected = {k: (tuple(v.shape), v.dtype) for k, v in torch_layer.state_dict().items()}
    assert {k: (tuple(v.shape), v.dtype) for k, v in state.items()} == expected
    torch_layer.load_state_dict(state)
