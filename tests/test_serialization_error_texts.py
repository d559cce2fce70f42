"""Each way a checkpoint can be unreadable raises its own error, whose text names the file and
says exactly what is wrong (pickles, foreign bytes, safetensors headers, .npz members)."""
import io
import json
import os
import pickle
import zipfile

import numpy as np
import pytest

import gpugrad as gg
from gpugrad import serialization_safetensors
from gpugrad.serialization import CheckpointError
from gpugrad.serialization_checksum import PLACEHOLDER, ChunkedCrc32
from gpugrad.serialization_format import metadata

DTYPE_CODES = "BOOL, U8, I8, I16, I32, I64, F16, BF16, F32, F64"


def _named(data, name):
    buffer = io.BytesIO(bytes(data))
    buffer.name = name
    return buffer


def _damaged(name, problem):
    return f"checkpoint {name!r} is damaged or not a valid checkpoint: {problem}"


def _error_text(data, name, **kwargs):
    with pytest.raises(CheckpointError) as info:
        gg.load(_named(data, name), **kwargs)
    return str(info.value)


def _safetensors(header, data=b""):
    """A safetensors file with this header (a dict, or JSON text as is) and data bytes."""
    text = (header if isinstance(header, str) else json.dumps(header)).encode()
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + data


def _sealed_safetensors(arrays, meta):
    out = io.BytesIO()
    serialization_safetensors.write(out, arrays, meta)
    return out.getvalue()


def _sealed_npz(members, comment_digest=True):
    """An .npz of ``members`` (name -> array) with a valid gpugrad checksum in its comment."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.comment = b"gpugrad " + PLACEHOLDER.encode()
        for key, array in members.items():
            with archive.open(key + ".npy", "w") as member:
                np.lib.format.write_array(member, array, allow_pickle=True)
    data = out.getvalue()[:-len(PLACEHOLDER)]
    crc = ChunkedCrc32()
    crc.update(data[:-len(b"gpugrad ")])
    return data + (crc.hexdigest().encode() if comment_digest else b"x" * len(PLACEHOLDER))


def _meta_member(meta):
    return np.frombuffer(json.dumps(meta).encode(), np.uint8)


def _gpugrad_meta(**extra):
    return dict(metadata('{"$dict":[["a",{"$ndarray":"a"}]]}'), **extra)


# pickles and foreign files


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_each_pickle_protocol_is_named(protocol, tmp_path):
    path = tmp_path / "old" / "model.pt"
    path.parent.mkdir()
    path.write_bytes(pickle.dumps({"w": [1.0, 2.0]}, protocol=protocol))
    name = os.fspath(path)
    stem = os.fspath(tmp_path / "old" / "model")
    with pytest.raises(CheckpointError) as info:
        gg.load(path)
    assert str(info.value) == (
        f"{name!r} is a Python pickle (PyTorch's legacy torch.save format, or pickle.dump). "
        f"gpugrad never unpickles, since unpickling can run code; convert its state dict where "
        f"you trust the file, with PyTorch: python -c \"import torch; from safetensors.torch "
        f"import save_file; save_file(torch.load('{name}', weights_only=True), "
        f"'{stem}.safetensors')\", then gg.load('{stem}.safetensors')")


def test_a_zip_of_pickles_is_named_as_torch_save():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({}))
    text = _error_text(out.getvalue(), "net.pth")
    assert text.startswith("'net.pth' is a PyTorch checkpoint (torch.save's zip of pickles). "
                           "gpugrad never unpickles")
    assert text.endswith("then gg.load('net.safetensors')")


def test_a_broken_zip_is_damaged():
    assert _error_text(b"PK\x03\x04" + b"\x00" * 40, "w.npz") == _damaged(
        "w.npz", "BadZipFile: File is not a zip file")


def test_unknown_bytes_are_not_a_checkpoint():
    # byte 8 is not "{", so no safetensors header either
    assert _error_text(b"\x01" * 20, "w.bin") == (
        "'w.bin' is not a checkpoint gpugrad reads: neither a safetensors file nor an .npz "
        "archive (empty, truncated or another format)")


def test_nine_bytes_with_a_brace_are_read_as_safetensors():
    data = (1).to_bytes(8, "little") + b"{"
    assert _error_text(data, "n.safetensors").startswith(
        _damaged("n.safetensors", "its safetensors header is not valid JSON ("))


# gg.load's arguments and the file itself


def test_pickle_arguments_are_each_named(tmp_path):
    path = tmp_path / "x.npz"
    gg.save({"a": 1}, path)
    tail = ("gpugrad never unpickles, so checkpoints can never run code. They hold tensors, "
            "arrays, numbers, strings and dicts/lists/tuples of them, which gg.load reads as "
            "PyTorch's weights_only=True does; save state_dict()s, not objects")
    cases = [({"weights_only": False}, "weights_only=False"),
             ({"pickle_module": pickle}, "pickle_module"),
             ({"encoding": "latin1"}, "encoding"),
             ({"encoding": "latin1", "errors": "strict"}, "encoding, errors")]
    for kwargs, what in cases:
        with pytest.raises(ValueError) as info:
            gg.load(path, **kwargs)
        assert str(info.value) == f"gg.load({what}): {tail}"
    with pytest.raises(ValueError) as info:
        gg.load(path, mmap=True)
    assert str(info.value) == ("gg.load(mmap=True) is not supported: checkpoints are read into "
                               "memory (leave mmap unset)")


def test_a_missing_file_is_file_not_found_with_errno(tmp_path):
    name = os.fspath(tmp_path / "none.safetensors")
    with pytest.raises(FileNotFoundError) as info:
        gg.load(name)
    assert (info.value.errno, info.value.strerror, info.value.filename) == (
        2, "no checkpoint at this path", name)


@pytest.mark.filterwarnings("error")
def test_loading_a_path_warns_nothing(tmp_path):
    path = tmp_path / "x.safetensors"
    gg.save({"a": gg.arange(3)}, path)
    assert gg.load(path)["a"].tolist() == [0, 1, 2]


# safetensors headers


def test_safetensors_reader_refuses_a_stub_shorter_than_its_length_field():
    for size in (0, 7):
        with pytest.raises(CheckpointError) as info:
            serialization_safetensors.read(bytearray(size), "s.safetensors", True)
        assert str(info.value) == _damaged(
            "s.safetensors", f"it is {size} bytes long, too short for a safetensors file")
    with pytest.raises(CheckpointError) as info:  # 8 bytes: a length field, an empty header
        serialization_safetensors.read(bytearray(8), "s.safetensors", True)
    assert str(info.value).startswith(
        _damaged("s.safetensors", "its safetensors header is not valid JSON ("))
    arrays, meta = serialization_safetensors.read(bytearray(_safetensors({})), "e", True)
    assert (arrays, meta) == ({}, None)


def test_header_length_just_past_the_end_is_named():
    data = bytearray(_safetensors({"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}},
                                  b"\x07"))
    data[:8] = (len(data) - 8 + 3).to_bytes(8, "little")
    assert _error_text(data, "h.safetensors") == _damaged(
        "h.safetensors", f"its header length ({len(data) - 5} bytes) runs past the end of the "
                         f"file ({len(data)} bytes): the file is truncated or corrupt")


def test_header_that_is_not_an_object_is_named():
    # gg.load sends only files whose header starts with "{" here; the reader checks anyway
    with pytest.raises(CheckpointError) as info:
        serialization_safetensors.read(bytearray(_safetensors("[1, 2]")), "l.safetensors", True)
    assert str(info.value) == _damaged("l.safetensors",
                                       "its safetensors header is not a JSON object")
    bad = _safetensors("{}")[:8] + b"{\xff" + b" " * 6
    assert _error_text(bad, "u.safetensors").startswith(
        _damaged("u.safetensors", "its safetensors header is not valid JSON ("))


@pytest.mark.parametrize("meta", [["a"], {"a": 1}])
def test_metadata_that_is_not_a_string_map_is_named(meta):
    assert _error_text(_safetensors({"__metadata__": meta}), "m.safetensors") == _damaged(
        "m.safetensors", "its __metadata__ is not a map of strings to strings")


def test_unknown_dtype_lists_the_dtypes_gpugrad_reads():
    header = {"a": {"dtype": "C64", "shape": [1], "data_offsets": [0, 8]}}
    assert _error_text(_safetensors(header, b"\0" * 8), "c.safetensors") == _damaged(
        "c.safetensors", f"tensor 'a' has dtype 'C64'; gpugrad reads {DTYPE_CODES} (convert "
                         f"others first, e.g. to F32)")


@pytest.mark.parametrize("field, value", [
    ("data_offsets", [0, 4, 8]), ("data_offsets", 4), ("data_offsets", [0, 2 ** 62]),
    ("shape", [2 ** 62]), ("shape", [-1]), ("shape", "4"),
])
def test_malformed_shapes_and_offsets_are_named(field, value):
    entry = dict({"dtype": "U8", "shape": [4], "data_offsets": [0, 4]}, **{field: value})
    assert _error_text(_safetensors({"t": entry}, b"\0" * 4), "o.safetensors") == _damaged(
        "o.safetensors", "tensor 't' has a malformed shape or data_offsets")


def test_largest_count_is_accepted_as_a_count():
    entry = {"dtype": "U8", "shape": [2 ** 62 - 1], "data_offsets": [0, 4]}
    assert _error_text(_safetensors({"t": entry}, b"\0" * 4), "o.safetensors") == _damaged(
        "o.safetensors", f"tensor 't' claims bytes 0..4 for shape ({2 ** 62 - 1},) of uint8, "
                         f"which the file's 4 data bytes do not hold (truncated or corrupt)")


def test_empty_tensors_take_no_bytes_in_foreign_files():
    header = {"e": {"dtype": "F32", "shape": [0, 3], "data_offsets": [0, 0]},
              "f": {"dtype": "I16", "shape": [2], "data_offsets": [0, 4]}}
    out = gg.load(_named(_safetensors(header, b"\x01\x00\xff\xff"), "e.safetensors"))
    assert out["e"].shape == (0, 3) and out["e"].dtype == gg.float32
    assert out["f"].tolist() == [1, -1]


def test_reader_gives_views_when_aligned_and_aligned_copies_when_not():
    header = {"b": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]},
              "f": {"dtype": "F32", "shape": [2], "data_offsets": [1, 9]}}
    data = b"\x05" + np.array([1.5, -2.0], "<f4").tobytes()
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    buffer = np.frombuffer(len(text).to_bytes(8, "little") + text + data, np.uint8).copy()
    arrays, meta = serialization_safetensors.read(buffer, "a.safetensors", True)
    assert meta is None
    assert np.shares_memory(arrays["b"], buffer) and arrays["b"].tolist() == [5]
    assert arrays["f"].flags.aligned and not np.shares_memory(arrays["f"], buffer)
    assert arrays["f"].tolist() == [1.5, -2.0]


# gpugrad's checksum field in safetensors


def test_malformed_checksum_is_named():
    data = _safetensors({"__metadata__": {"gpugrad.checksum": "crc32c8m:XYZ"}})
    assert _error_text(data, "k.safetensors") == _damaged(
        "k.safetensors", "its gpugrad.checksum is missing or malformed ('crc32c8m:XYZ')")


def test_checksum_not_written_compactly_is_named_even_if_the_data_holds_it():
    digest = "crc32c8m:0123abcd"
    field = f'"gpugrad.checksum":"{digest}"'.encode()
    header = (f'{{"__metadata__": {{"gpugrad.checksum": "{digest}"}}, '
              f'"t": {{"dtype": "U8", "shape": [{len(field)}], '
              f'"data_offsets": [0, {len(field)}]}}}}')
    assert _error_text(_safetensors(header, field), "k.safetensors") == _damaged(
        "k.safetensors", "its gpugrad.checksum is not written as gpugrad writes it")


def test_safetensors_checksum_mismatch_is_named():
    data = bytearray(_sealed_safetensors({"a": np.arange(4, dtype=np.int32)}, _gpugrad_meta()))
    data[-1] ^= 1
    assert _error_text(data, "c.safetensors") == _damaged(
        "c.safetensors", "its contents do not match the checksum stored when it was saved "
                         "(a flipped bit or a partial write)")


def test_metadata_without_format_or_structure_is_named():
    arrays = {"a": np.arange(2)}
    meta = dict(_gpugrad_meta(), **{"gpugrad.format": "gpugrad-checkpoint/1"})
    assert _error_text(_sealed_safetensors(arrays, meta), "f.safetensors") == _damaged(
        "f.safetensors", "its gpugrad.format is 'gpugrad-checkpoint/1', not "
                         "'gpugrad-checkpoint/2' (a checkpoint from another gpugrad version, "
                         "or damaged)")
    meta = _gpugrad_meta()
    del meta["gpugrad.structure"]
    assert _error_text(_sealed_safetensors(arrays, meta), "f.safetensors") == _damaged(
        "f.safetensors", "its metadata has no gpugrad.structure")


# .npz members and comment


def test_npz_comment_without_checksum_is_named():
    data = _sealed_npz({"a": np.arange(2), "__gpugrad__": _meta_member(_gpugrad_meta())},
                       comment_digest=False)
    assert _error_text(data, "z.npz") == _damaged(
        "z.npz", "its zip comment holds no gpugrad checksum")


def test_npz_checksum_mismatch_is_named():
    data = bytearray(_sealed_npz({"a": np.arange(2),
                                  "__gpugrad__": _meta_member(_gpugrad_meta())}))
    at = bytes(data).index(np.arange(2).tobytes())
    data[at] ^= 4
    assert _error_text(data, "z.npz") == _damaged(
        "z.npz", "its contents do not match the checksum stored when it was saved (a flipped "
                 "bit or a partial write)")


def test_npz_object_arrays_are_never_unpickled():
    data = _sealed_npz({"a": np.array([1, "x"], dtype=object),
                        "__gpugrad__": _meta_member(_gpugrad_meta())})
    assert _error_text(data, "p.npz") == _damaged(
        "p.npz", "it is not a readable .npz archive (ValueError: Object arrays cannot be loaded "
                 "when allow_pickle=False)")


def test_saving_object_arrays_to_npz_is_refused():
    with pytest.raises(ValueError, match="allow_pickle=False"):
        gg.save({"a": np.array([1, "x"], dtype=object)}, _named(b"", "o.npz"))


@pytest.mark.parametrize("member", [
    np.frombuffer(json.dumps({"gpugrad.format": 2}).encode(), np.uint8),  # a number value
    np.frombuffer(b"[1]", np.uint8),  # not an object
    np.frombuffer(json.dumps(_gpugrad_meta()).encode(), np.int8),  # not stored as bytes
])
def test_npz_metadata_member_is_checked(member):
    data = _sealed_npz({"a": np.arange(2), "__gpugrad__": member})
    assert _error_text(data, "m.npz") == _damaged(
        "m.npz", "its __gpugrad__ entry is not gpugrad metadata")


@pytest.mark.parametrize("listed", ["{}", '["missing"]', "[1]", "nonsense"])
def test_npz_bfloat16_list_is_checked(listed):
    meta = _gpugrad_meta(**{"gpugrad.npz_bfloat16": listed})
    data = _sealed_npz({"a": np.arange(2, dtype=np.uint16), "__gpugrad__": _meta_member(meta)})
    assert _error_text(data, "b.npz") == _damaged(
        "b.npz", "its gpugrad.npz_bfloat16 does not list stored arrays")


def test_npz_bfloat16_stored_as_other_bits_is_named():
    meta = _gpugrad_meta(**{"gpugrad.npz_bfloat16": '["a"]'})
    data = _sealed_npz({"a": np.arange(2, dtype=np.int16), "__gpugrad__": _meta_member(meta)})
    assert _error_text(data, "b.npz") == _damaged(
        "b.npz", "its bfloat16 array 'a' is stored as int16, not as uint16 bits")
