"""The checksum covers the whole checkpoint: every flipped bit, every truncation and crafted
metadata with a valid checksum raise CheckpointError naming the file, never another error and
never wrong values."""
import io
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gpugrad as gg
from gpugrad import serialization_checksum, serialization_format, serialization_safetensors
from gpugrad.serialization import CheckpointError

pytest.importorskip("safetensors", reason="safetensors is not installed")
FORMATS = ["small.safetensors", "small.npz"]


def _small_checkpoint(name):
    buffer = io.BytesIO()
    buffer.name = name
    gg.save({"layer1.weight": gg.arange(6).float().reshape(2, 3), "layer2.weight": gg.ones(2, 3),
             "steps": gg.tensor([7]), "step": 7, "lr": 0.1}, buffer)
    return buffer.getvalue()


def _named(data, name):
    buffer = io.BytesIO(data)
    buffer.name = name
    return buffer


@pytest.mark.parametrize("name", FORMATS)
def test_every_flipped_bit_is_caught(name):
    data = _small_checkpoint(name)
    # safetensors: all 8 bits of every byte; .npz (twice the size): one bit per byte, cycling
    bits = range(8) if name.endswith(".safetensors") else [None]
    missed = []
    for i in range(len(data)):
        for bit in bits:
            damaged = bytearray(data)
            damaged[i] ^= 1 << (i % 8 if bit is None else bit)
            try:
                gg.load(_named(bytes(damaged), name))
                missed.append((i, bit))
            except CheckpointError as exc:
                assert name in str(exc)
    assert not missed, f"flips loaded without an error: {missed[:10]}"


@pytest.mark.parametrize("name", FORMATS)
def test_every_truncation_is_caught(name):
    data = _small_checkpoint(name)
    for size in range(len(data)):
        with pytest.raises(CheckpointError, match=name.replace(".", r"\.")):
            gg.load(_named(data[:size], name))


def test_flips_in_a_multi_chunk_file_on_disk_are_caught(tmp_path):
    # 9 MiB: two checksum chunks, which the path reader sums while reading
    path = tmp_path / "big.safetensors"
    gg.save({"a": gg.zeros(9 << 18), "b": gg.ones(4)}, path)
    assert gg.load(path)["b"].tolist() == [1.0] * 4
    data = bytearray(path.read_bytes())
    data_start = 8 + int.from_bytes(data[:8], "little")
    for offset in (data_start + 100, len(data) // 2, len(data) - 1):
        data[offset] ^= 0x10
        path.write_bytes(bytes(data))
        with pytest.raises(CheckpointError, match="do not match the checksum"):
            gg.load(path)
        with pytest.raises(CheckpointError, match="do not match the checksum"):
            gg.load(_named(bytes(data), "big.safetensors"))  # the in-memory reader agrees
        data[offset] ^= 0x10


def test_strings_that_look_like_the_checksum_field_are_just_strings(tmp_path):
    path = tmp_path / "odd.safetensors"
    field = '"gpugrad.checksum":"' + serialization_checksum.PLACEHOLDER + '"'
    obj = {"note": serialization_checksum.PLACEHOLDER, "field": field, field: gg.ones(2)}
    gg.save(obj, path)
    got = gg.load(path)
    assert got["note"] == obj["note"] and got["field"] == field
    assert got[field].tolist() == [1.0, 1.0]


def test_verify_false_skips_only_the_checksum(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    gg.save({"w": gg.arange(4).float()}, path)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01  # a data bit: only the checksum can tell
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError):
        gg.load(path)
    assert gg.load(path, verify=False)["w"].shape == (4,)
    path.write_bytes(bytes(data[:-3]))  # the structure is still checked
    with pytest.raises(CheckpointError, match="truncated"):
        gg.load(path, verify=False)


def test_chunked_crc_does_not_depend_on_how_bytes_are_fed():
    data = np.random.default_rng(0).integers(0, 256, (3 << 23) + 5, np.uint8).tobytes()
    whole = serialization_checksum.ChunkedCrc32()
    whole.update(data)
    pieces = serialization_checksum.ChunkedCrc32()
    for start, end in [(0, 3), (3, 9 << 20), (9 << 20, (9 << 20) + 1), ((9 << 20) + 1, len(data))]:
        pieces.update(data[start:end])
    assert whole.hexdigest() == pieces.hexdigest()
    assert serialization_checksum.DIGEST_PATTERN.match(whole.hexdigest())


# ---- crafted metadata: a valid checksum over nonsense -------------------------------------------
def _crafted(structure, arrays=None, **meta_changes):
    """A safetensors checkpoint with a valid checksum over ``structure`` (JSON text)."""
    meta = serialization_format.metadata(structure)
    meta.update(meta_changes)
    buffer = io.BytesIO()
    serialization_safetensors.write(buffer, arrays or {}, meta)
    return _named(buffer.getvalue(), "crafted.safetensors")


W = {"w": np.arange(3, dtype=np.float32)}
I = {"i": np.arange(3, dtype=np.int64)}
CRAFTED = [
    ('{"$tensor":"nope","device":"cpu","requires_grad":false}', W, "does not hold"),
    ('[{"$tensor":"w","device":"cpu","requires_grad":false},'
     '{"$tensor":"w","device":"cpu","requires_grad":false}]', W, "used twice"),
    ('{"$tensor":"w","device":"banana","requires_grad":false}', W, "names device 'banana'"),
    ('{"$tensor":"w","device":7,"requires_grad":false}', W, "malformed tensor entry"),
    ('{"$tensor":"i","device":"cpu","requires_grad":true}', I, "only floating"),
    ('{"$tensor":"w"}', W, "malformed \\$tensor node"),
    ('{"$dict":[["a"]]}', None, "malformed dict item"),
    ('{"$dict":[[{"k":1},2]]}', None, "malformed dict item"),
    ('{"$dict":{"a":1}}', None, "not a checkpoint node"),
    ('{"$set":[1]}', None, "not a checkpoint node"),
    ('{"plain":"object"}', None, "not a checkpoint node"),
    ('{"$tuple":1}', None, "not a checkpoint node"),
    ('{"$device":"nowhere:0"}', None, "names device"),
    ('7', W, "never uses"),
    ('{"$dict":', None, "not JSON"),
]


@pytest.mark.parametrize("structure, arrays, problem", CRAFTED)
def test_crafted_structures_are_refused(structure, arrays, problem):
    with pytest.raises(CheckpointError, match=f"crafted.safetensors.*{problem}"):
        gg.load(_crafted(structure, arrays))


def test_crafted_format_and_metadata_are_refused():
    ok = '{"$ndarray":"w"}'
    assert gg.load(_crafted(ok, W)).tolist() == [0.0, 1.0, 2.0]
    with pytest.raises(CheckpointError, match="gpugrad.format is 'gpugrad-checkpoint/9'"):
        gg.load(_crafted(ok, W, **{"gpugrad.format": "gpugrad-checkpoint/9"}))


def _header_file(header, data=b""):
    """A safetensors file with this header, its gpugrad checksum made valid."""
    header = dict(header)
    header["__metadata__"] = dict(serialization_format.metadata('{"$ndarray":"w"}'),
                                  **{"gpugrad.checksum": serialization_checksum.PLACEHOLDER})
    text = json.dumps(header, separators=(",", ":")).encode()
    raw = bytearray(len(text).to_bytes(8, "little") + text + data)
    at = bytes(raw).index(serialization_checksum.PLACEHOLDER.encode()) + 9
    digest = serialization_checksum.digest_with_gap(raw, at, at + 8, b"0" * 8)
    raw[at:at + 8] = digest[-8:].encode()
    return _named(bytes(raw), "crafted.safetensors")


@pytest.mark.parametrize("entry, data, problem", [
    ({"dtype": "F32", "shape": [4], "data_offsets": [0, 12]}, bytes(12), "do not hold"),
    ({"dtype": "F32", "shape": [3], "data_offsets": [0, 12]}, bytes(16), "extra bytes"),
    ({"dtype": "F32", "shape": [3], "data_offsets": [4, 16]}, bytes(16), "gap"),
    ({"dtype": "F32", "shape": [-3], "data_offsets": [0, 12]}, bytes(12), "malformed shape"),
    ({"dtype": "F32", "shape": [1 << 61, 1 << 61], "data_offsets": [0, 0]}, b"", "do not hold"),
    ({"dtype": "Q7", "shape": [3], "data_offsets": [0, 12]}, bytes(12), "dtype 'Q7'"),
    ({"dtype": "F32", "shape": [3]}, bytes(12), "not a tensor description"),
    ("F32", bytes(12), "not a tensor description"),
])
def test_crafted_headers_are_refused(entry, data, problem):
    with pytest.raises(CheckpointError, match=f"crafted.safetensors.*{problem}"):
        gg.load(_header_file({"w": entry}, data))


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=4)
    | st.sampled_from(["$tensor", "$dict", "$tuple", "$ndarray", "$device", "w", "cpu"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["$tensor", "$dict", "$tuple", "$ndarray", "$device", "device",
                         "requires_grad", "x"]), inner, max_size=3),
    max_leaves=12)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_json_values)
def test_any_crafted_structure_loads_or_raises_checkpoint_error(structure):
    try:
        gg.load(_crafted(json.dumps(structure), W))
    except CheckpointError:
        pass
