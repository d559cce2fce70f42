"""gg.save / gg.load: exact round trips (across devices), no pickle, atomic writes, damaged
files."""
import io
import os
import zipfile

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.serialization import CheckpointError

FORMATS = ["ckpt.npz", "ckpt.safetensors"]


def _trained(device):
    gg.manual_seed(0)
    model = gg.nn.MLP([4, 6, 3]).to(device)
    opt = gg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for _ in range(2):
        opt.zero_grad()
        gg.nn.functional.cross_entropy(model(gg.randn(5, 4, device=device)),
                                       gg.tensor([0, 1, 2, 0, 1], device=device)).backward()
        opt.step()
    return model, opt


@pytest.fixture(params=FORMATS)
def path(request, tmp_path):
    if request.param.endswith(".safetensors"):
        pytest.importorskip("safetensors", reason="safetensors is not installed")
    return tmp_path / request.param


def test_round_trip_is_exact_and_lands_on_cpu(device, path):
    model, opt = _trained(device)
    gg.save({"model": model.state_dict(), "optim": opt.state_dict(), "epoch": 7,
             "note": "hi", "pair": (1, 2.5), "none": None}, path)
    loaded = gg.load(path, map_location="cpu")
    assert loaded["epoch"] == 7 and loaded["note"] == "hi" and loaded["none"] is None
    assert loaded["pair"] == (1, 2.5)
    for key, value in model.state_dict().items():
        assert loaded["model"][key].device == "cpu"
        assert loaded["model"][key].dtype == value.dtype
        np.testing.assert_array_equal(loaded["model"][key].numpy(), value.numpy(), err_msg=key)
    # optimizer state keeps its integer keys and nested structure
    assert list(loaded["optim"]["state"]) == [0, 1, 2, 3]
    assert loaded["optim"]["param_groups"] == opt.state_dict()["param_groups"]
    fresh = gg.nn.MLP([4, 6, 3])
    fresh.load_state_dict(loaded["model"])
    fresh_opt = gg.optim.SGD(fresh.parameters(), lr=1.0)
    fresh_opt.load_state_dict(loaded["optim"])
    np.testing.assert_array_equal(fresh_opt.state[fresh[0].weight]["momentum_buffer"].numpy(),
                                  opt.state[model[0].weight]["momentum_buffer"].numpy())


def test_default_location_is_the_saved_device(device, path):
    model, _ = _trained(device)
    gg.save(model.state_dict(), path)
    loaded = gg.load(path)
    assert all(t.device == device for t in loaded.values())


def test_dtypes_arrays_and_requires_grad_survive(path):
    obj = {"f64": gg.tensor([1.5, 2.5], dtype=gg.float64), "i64": gg.tensor([1, -2]),
           "i32": gg.tensor([3], dtype=gg.int32), "b": gg.tensor([True, False]),
           "scalar": gg.tensor(3.25), "param": gg.nn.Parameter(gg.ones(2)),
           "array": np.arange(6, dtype=np.float32).reshape(2, 3), 5: "int key", "inf": float("inf")}
    gg.save(obj, path)
    got = gg.load(path)
    for key in ("f64", "i64", "i32", "b", "scalar"):
        assert got[key].dtype == obj[key].dtype and got[key].shape == obj[key].shape
        np.testing.assert_array_equal(got[key].numpy(), obj[key].numpy())
    assert got["param"].requires_grad
    np.testing.assert_array_equal(got["array"], obj["array"])
    assert got[5] == "int key" and got["inf"] == float("inf")


def test_npz_holds_no_pickles(tmp_path):
    path = tmp_path / "ckpt.npz"
    gg.save({"w": gg.ones(2, 2), "meta": {"a": [1, 2]}}, path)
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            assert b"\x80" not in z.read(name)[:2], f"{name} starts like a pickle"
    with np.load(path, allow_pickle=False) as archive:  # every member loads without pickle
        for name in archive.files:
            assert archive[name].dtype != object


def test_unsupported_objects_are_refused(tmp_path):
    with pytest.raises(TypeError, match="save model.state_dict"):
        gg.save({"model": gg.nn.Linear(2, 2)}, tmp_path / "x.npz")
    assert not os.listdir(tmp_path)  # nothing half-written


def test_atomic_write_keeps_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    gg.save({"v": gg.tensor([1.0])}, path)

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        gg.save({"v": gg.tensor([2.0])}, path)
    monkeypatch.undo()
    assert gg.load(path)["v"].tolist() == [1.0]
    assert os.listdir(tmp_path) == ["ckpt.npz"]  # the temporary file was removed


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage"])
def test_damaged_files_raise_naming_the_file(path, damage):
    gg.save({"w": gg.arange(200).float(), "step": 3}, path)
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        # flip a byte inside the array values (the float for 100.0 sits in the middle)
        offset = bytes(data).find(np.float32(100.0).tobytes())
        assert offset > 0
        data[offset + 2] ^= 0xFF
    else:
        data = b"not a checkpoint at all"
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=str(path.name)):
        gg.load(path)


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        gg.load(tmp_path / "nope.npz")


def test_foreign_npz_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "plain.npz"
    np.savez(path, a=np.ones(3))
    with pytest.raises(CheckpointError, match="not a gpugrad checkpoint"):
        gg.load(path)


def test_unavailable_target_device_suggests_map_location(tmp_path):
    if gg.cuda.is_available():
        pytest.skip("cuda is usable here")
    path = tmp_path / "ckpt.npz"
    gg.save({"w": gg.ones(2)}, path)
    with pytest.raises(gg.DeviceUnavailableError, match="map_location='cpu'"):
        gg.load(path, map_location={"cpu": "cuda"})


@pytest.mark.parametrize("fmt", FORMATS)
def test_file_objects_round_trip(tmp_path, fmt):
    if fmt.endswith(".safetensors"):
        pytest.importorskip("safetensors", reason="safetensors is not installed")
    obj = {"w": gg.arange(6).float().reshape(2, 3), "step": 4, "names": ("a", "b")}
    buffer = io.BytesIO()
    buffer.name = fmt  # io.BytesIO has no name: a safetensors buffer says so through it
    gg.save(obj, buffer)
    buffer.seek(0)
    got = gg.load(buffer, weights_only=True)
    assert got["w"].tolist() == obj["w"].tolist() and got["step"] == 4
    assert got["names"] == ("a", "b")
    with open(tmp_path / fmt, "wb") as f:  # open files, the format taken from their name
        gg.save(obj, f)
    with open(tmp_path / fmt, "rb") as f:
        assert gg.load(f, map_location="cpu")["w"].tolist() == obj["w"].tolist()
    assert gg.load(tmp_path / fmt)["names"] == ("a", "b")


def test_plain_bytes_io_is_npz():
    buffer = io.BytesIO()
    gg.save({"v": gg.ones(2)}, buffer)
    assert buffer.getvalue()[:2] == b"PK"
    assert gg.load(io.BytesIO(buffer.getvalue()))["v"].tolist() == [1.0, 1.0]


def test_weights_only_false_and_pickle_arguments_are_refused(tmp_path):
    path = tmp_path / "x.npz"
    gg.save({"v": gg.ones(2)}, path)
    assert gg.load(path, weights_only=True)["v"].tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match="weights_only=False.*never unpickles"):
        gg.load(path, weights_only=False)
    with pytest.raises(ValueError, match="pickle_module.*never unpickles"):
        gg.load(path, pickle_module=object())
    with pytest.raises(ValueError, match="mmap=True"):
        gg.load(path, mmap=True)


def test_map_location_forms(device, tmp_path):
    path = tmp_path / "x.npz"
    gg.save({"v": gg.ones(2, device=device)}, path)
    assert gg.load(path, map_location=gg.device("cpu"))["v"].device == gg.device("cpu")
    keep = gg.load(path, map_location=lambda storage, loc: storage)  # PyTorch's idiom
    assert keep["v"].device == gg.device("cpu")
    moved = gg.load(path, map_location=lambda storage, loc: storage.to(device))
    assert moved["v"].device == gg.device(device)
    saved = str(gg.ones(1, device=device).device)
    by_dict = gg.load(path, map_location={gg.device(saved): "cpu"})
    assert by_dict["v"].device == gg.device("cpu")
