"""gg.save and files: read-only targets, the user's path in every error, file objects,
streaming (peak memory near the model's size) and stale temporaries."""
import io
import os
import tracemalloc

import numpy as np
import pytest

import gpugrad as gg
from gpugrad import atomic

FORMATS = ["ckpt.npz", "ckpt.safetensors"]


@pytest.fixture(params=FORMATS)
def name(request):
    if request.param.endswith(".safetensors"):
        pytest.importorskip("safetensors", reason="safetensors is not installed")
    return request.param


def test_read_only_checkpoint_is_not_replaced(tmp_path, name):
    path = tmp_path / name
    gg.save({"v": gg.ones(2)}, path)
    before = path.read_bytes()
    path.chmod(0o444)
    with pytest.raises(PermissionError, match=f"read-only.*{name}") as caught:
        gg.save({"v": gg.zeros(2)}, path)
    assert caught.value.filename == str(path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == [name]


def test_errors_name_the_users_path_not_the_temporary(tmp_path, name, monkeypatch):
    missing = tmp_path / "no-such-folder" / name
    with pytest.raises(FileNotFoundError) as caught:
        gg.save({"v": gg.ones(2)}, missing)
    assert caught.value.filename == str(missing) and atomic.TEMP_PREFIX not in str(caught.value)

    real_open = os.open

    def read_only_folder(path, *args, **kwargs):  # as a folder without write permission does
        if os.path.basename(path).startswith(atomic.TEMP_PREFIX):
            raise PermissionError(13, "Permission denied", path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", read_only_folder)
    target = tmp_path / name
    with pytest.raises(PermissionError) as caught:
        gg.save({"v": gg.ones(2)}, target)
    assert caught.value.filename == str(target) and atomic.TEMP_PREFIX not in str(caught.value)
    monkeypatch.undo()

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left") as caught:
        gg.save({"v": gg.ones(2)}, target)
    assert caught.value.filename == str(target)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == []  # no temporary left behind


def test_file_objects_and_unseekable_streams(name):
    obj = {"w": gg.arange(6).float().reshape(2, 3), "step": 4}
    buffer = io.BytesIO()
    buffer.name = name
    gg.save(obj, buffer)
    buffer.seek(0)
    assert gg.load(buffer)["w"].tolist() == obj["w"].tolist()

    class Pipe:  # write-only, no seek or tell, as a pipe or socket
        name = buffer.name

        def __init__(self):
            self.chunks = []

        def write(self, data):
            self.chunks.append(bytes(data))
            return len(data)

    pipe = Pipe()
    gg.save(obj, pipe)
    assert b"".join(pipe.chunks) == buffer.getvalue()


def test_save_streams_tensors_without_copying_the_model(tmp_path, name):
    state = {f"{i}.weight": gg.randn(256, 1024) for i in range(4)}  # 4 MiB
    model_bytes = sum(t.numel() * 4 for t in state.values())
    gg.save(state, tmp_path / ("warm-" + name))  # first-call imports stay out of the count
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        gg.save(state, tmp_path / name)
        peak = tracemalloc.get_traced_memory()[1] - baseline
    finally:
        tracemalloc.stop()
    assert peak < 1.2 * model_bytes, f"save allocated {peak} bytes for a {model_bytes}-byte model"
    loaded = gg.load(tmp_path / name)
    for key, value in state.items():
        np.testing.assert_array_equal(loaded[key].numpy(), value.numpy())


def test_stale_temporaries_are_removed_live_ones_kept(tmp_path, name):
    stale = tmp_path / f"{atomic.TEMP_PREFIX}{name}.deadbeef0000"
    stale.write_bytes(b"x" * 1000)  # what a save killed mid-write leaves
    fresh = tmp_path / f"{atomic.TEMP_PREFIX}other.npz.0123456789ab"
    fresh.write_bytes(b"y")  # possibly a save that has just begun
    old = os.path.getmtime(stale) - 2 * atomic.STALE_AFTER_S
    os.utime(stale, (old, old))
    gg.save({"v": gg.ones(1)}, tmp_path / name)
    assert sorted(os.listdir(tmp_path)) == sorted([name, fresh.name])


def test_every_dtype_round_trips(name):
    dtypes = [gg.bool, gg.uint8, gg.int8, gg.int16, gg.int32, gg.int64, gg.float16, gg.bfloat16,
              gg.float32, gg.float64]
    obj = {d.name: gg.tensor([[0, 1, 3]]).to(d) for d in dtypes}
    obj["scalar"] = gg.tensor(2.5, dtype=gg.bfloat16)
    buffer = io.BytesIO()
    buffer.name = name
    gg.save(obj, buffer)
    buffer.seek(0)
    got = gg.load(buffer)
    for key, value in obj.items():
        assert got[key].dtype == value.dtype and got[key].shape == value.shape, key
        assert got[key].tolist() == value.tolist(), key
