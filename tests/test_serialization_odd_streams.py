"""Streams that wrap a file of another length, and .npz members that are no .npy arrays:
read right, or refused with CheckpointError naming the file."""
import gzip
import io
import os
import tempfile
import zipfile

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.serialization import CheckpointError
from gpugrad.serialization_checksum import PLACEHOLDER


@pytest.mark.parametrize("name", ["g.safetensors", "g.npz"])
def test_gzip_stream_loads_its_uncompressed_bytes(name, tmp_path):
    # a GzipFile's fileno() is the compressed file's, whose size is not the stream's
    path = tmp_path / name
    gg.save({"w": gg.arange(300).float(), "step": 4}, path)
    packed = tmp_path / (name + ".gz")
    packed.write_bytes(gzip.compress(path.read_bytes()))
    with gzip.open(packed) as f:
        back = gg.load(f)
    assert back["w"].tolist() == list(map(float, range(300))) and back["step"] == 4


def npz_with_members(*names):
    """An in-memory .npz with a gpugrad comment whose members hold bytes that are no .npy."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.comment = b"gpugrad " + PLACEHOLDER.encode()
        archive.writestr("__gpugrad__.npy", b"not an npy")
        for name in names:
            archive.writestr(name, b"hello")
    buffer = io.BytesIO(out.getvalue())
    buffer.name = "r.npz"
    return buffer


def test_npz_member_that_is_no_npy_is_named():
    with pytest.raises(CheckpointError) as info:
        gg.load(npz_with_members("notes.txt"), verify=False)
    assert str(info.value) == ("checkpoint 'r.npz' is damaged or not a valid checkpoint: its "
                               "members ['__gpugrad__', 'notes.txt'] are not .npy arrays")


def test_npz_members_that_are_no_npy_are_named_five_at_most():
    with pytest.raises(CheckpointError) as info:
        gg.load(npz_with_members(*(f"n{i}.txt" for i in range(6))), verify=False)
    assert str(info.value).endswith(
        "its members ['__gpugrad__', 'n0.txt', 'n1.txt', 'n2.txt', 'n3.txt'] are not .npy arrays")


def test_temporary_file_wrappers_read_their_file(tmp_path):
    with tempfile.NamedTemporaryFile(suffix=".npz", dir=tmp_path) as f:
        gg.save({"w": gg.ones(2)}, f)
        f.flush()
        f.seek(0)
        assert gg.load(f)["w"].tolist() == [1.0, 1.0]
        assert os.path.getsize(f.name) > 0 and np.load(f.name)["w"].tolist() == [1.0, 1.0]
