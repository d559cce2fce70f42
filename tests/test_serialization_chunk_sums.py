"""Reading a checkpoint sums its chunks as they arrive and verification reuses those sums;
files are read from where a file object stands, in whatever pieces its reads return, and a
file that shrinks while it is read is named as such. Chunks are made small here, so a few
hundred bytes cross many chunk boundaries."""
import io
import os
import zlib

import numpy as np
import pytest

import gpugrad as gg
from gpugrad import serialization_checksum, serialization_npz, serialization_safetensors
from gpugrad.serialization import CheckpointError
from gpugrad.serialization_checksum import ChunkedCrc32, digest_with_gap, read_into

CHUNK = 64
NAMES = ["c.safetensors", "c.npz"]


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    monkeypatch.setattr(serialization_checksum, "CHUNK", CHUNK)


def _checkpoint():
    return {"w": gg.arange(40).float().reshape(8, 5), "b": gg.arange(7), "step": 3}


def _check(back):
    assert back["w"].tolist() == gg.arange(40).float().reshape(8, 5).tolist()
    assert back["b"].tolist() == list(range(7)) and back["step"] == 3


def _chunk_crcs(data):
    return [zlib.crc32(data[i:i + CHUNK]) for i in range(0, len(data), CHUNK)]


class _Trickle(io.FileIO):
    """A file on disk whose reads return at most ``step`` bytes each and, with ``keep``, that
    ends after that many bytes while its size on disk stays larger (it shrank)."""

    def __init__(self, path, step, keep=None):
        super().__init__(os.fspath(path), "rb")
        self._data = path.read_bytes()[:keep]
        self._pos = 0
        self._step = step

    def readinto(self, b):
        n = min(len(b), self._step, len(self._data) - self._pos)
        b[:n] = self._data[self._pos:self._pos + n]
        self._pos += n
        return n

    def tell(self):
        return self._pos


@pytest.mark.parametrize("name", NAMES)
def test_verification_reuses_the_chunk_sums_of_the_read(name, tmp_path, monkeypatch):
    path = tmp_path / name
    gg.save(_checkpoint(), path)
    data = path.read_bytes()
    assert len(data) > 4 * CHUNK
    seen = []
    module = serialization_safetensors if name.endswith(".safetensors") else serialization_npz

    def spy(buffer, start, end, filler, chunk_crcs=None):
        seen.append(chunk_crcs)
        return digest_with_gap(buffer, start, end, filler, chunk_crcs)

    monkeypatch.setattr(module, "digest_with_gap", spy)
    _check(gg.load(path))
    with open(path, "rb") as f:
        _check(gg.load(f))
    _check(gg.load(io.BytesIO(data)))  # unknown length: read whole, summed when verified
    assert seen == [_chunk_crcs(data), _chunk_crcs(data), None]


@pytest.mark.parametrize("name", NAMES)
def test_load_reads_from_where_the_file_object_stands(name, tmp_path):
    out = io.BytesIO()
    out.name = name
    gg.save(_checkpoint(), out)
    path = tmp_path / name
    path.write_bytes(b"#" * 100 + out.getvalue())
    with open(path, "rb") as f:
        f.seek(100)
        _check(gg.load(f))


@pytest.mark.parametrize("name", NAMES)
def test_reads_in_small_pieces_fill_every_chunk(name, tmp_path):
    path = tmp_path / name
    gg.save(_checkpoint(), path)
    with _Trickle(path, 5) as f:
        _check(gg.load(f))


@pytest.mark.parametrize("name", NAMES)
def test_a_file_that_shrinks_while_read_is_named(name, tmp_path):
    path = tmp_path / name
    gg.save(_checkpoint(), path)
    keep = 3 * CHUNK + 10
    with _Trickle(path, 7, keep) as f, pytest.raises(CheckpointError) as info:
        gg.load(f)
    assert str(info.value) == (
        f"checkpoint {os.fspath(path)!r} is damaged or not a valid checkpoint: it shrank while "
        f"it was read (the stream ended after {keep} bytes)")


def test_read_into_returns_chunk_sums_only_when_asked():
    data = bytes(range(256)) * 2 + b"tail"
    for sum_chunks, expected in ((True, _chunk_crcs(data)), (False, None)):
        buffer = bytearray(len(data))
        assert read_into(io.BytesIO(data), buffer, sum_chunks) == expected
        assert buffer == data


def test_extend_chunks_refuses_a_partial_chunk():
    crc = ChunkedCrc32()
    crc.update(b"abc")
    with pytest.raises(ValueError) as info:
        crc.extend_chunks([0])
    assert str(info.value) == "extend_chunks: the bytes fed so far end inside a chunk"


@pytest.mark.parametrize("start", [0, 3, CHUNK - 8, CHUNK, 2 * CHUNK + 5])
def test_digest_with_gap_takes_later_chunks_from_their_sums(start):
    # two buffers that differ only after the gap: given b's chunk sums, a's digest is b's
    rng = np.random.default_rng(start)
    a = rng.integers(0, 256, 6 * CHUNK + 9, dtype=np.uint8)
    b = a.copy()
    b[5 * CHUNK + 1] ^= 0xFF
    end = start + 8
    assert digest_with_gap(a, start, end, b"0" * 8, _chunk_crcs(bytes(b))) == \
        digest_with_gap(b, start, end, b"0" * 8)
    assert digest_with_gap(a, start, end, b"0" * 8, _chunk_crcs(bytes(a))) != \
        digest_with_gap(b, start, end, b"0" * 8)
