"""Every kind of value a checkpoint holds comes back as saved (tensors inside lists and tuples,
devices, empty and bfloat16 tensors), where map_location puts it; crafted structure nodes are
refused with the path of the bad node."""
import io
import json
import struct
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import gpugrad as gg
from gpugrad import serialization_safetensors
from gpugrad.serialization import CheckpointError
from gpugrad.serialization_format import metadata

NAMES = ["k.safetensors", "k.npz"]


def _named(data, name):
    buffer = io.BytesIO(bytes(data))
    buffer.name = name
    return buffer


def _round_trip(obj, name, **kwargs):
    out = _named(b"", name)
    gg.save(obj, out)
    return gg.load(_named(out.getvalue(), name), **kwargs)


def _damaged(name, problem):
    return f"checkpoint {name!r} is damaged or not a valid checkpoint: {problem}"


def _crafted_error(structure, arrays=None):
    out = io.BytesIO()
    serialization_safetensors.write(out, arrays or {}, metadata(json.dumps(structure)))
    with pytest.raises(CheckpointError) as info:
        gg.load(_named(out.getvalue(), "s.safetensors"))
    return str(info.value)


@pytest.mark.parametrize("name", NAMES)
def test_tensors_inside_lists_tuples_and_dicts(name):
    obj = {"list": [gg.tensor([1.0, 2.0]), 3], "tuple": (gg.tensor([4, 5]), "x", None),
           "nested": [(gg.tensor([[True], [False]]),)], "device": gg.device("sim"),
           "devices": (gg.device("cpu"),)}
    back = _round_trip(obj, name)
    assert back["list"][0].tolist() == [1.0, 2.0] and back["list"][1] == 3
    assert isinstance(back["tuple"], tuple) and back["tuple"][0].tolist() == [4, 5]
    assert back["tuple"][1:] == ("x", None)
    assert isinstance(back["nested"][0], tuple)
    assert back["nested"][0][0].tolist() == [[True], [False]]
    assert back["device"] == gg.device("sim") and isinstance(back["device"], gg.Device)
    assert back["devices"] == (gg.device("cpu"),)


@pytest.mark.parametrize("name", NAMES)
def test_empty_zero_dim_and_half_tensors(name):
    obj = {"empty": gg.zeros(0, 3), "scalar": gg.tensor(2.5),
           "bf16": gg.tensor([1.5, -3.0], dtype=gg.bfloat16),
           "f16": gg.tensor([0.25], dtype=gg.float16)}
    back = _round_trip(obj, name)
    assert back["empty"].shape == (0, 3) and back["empty"].dtype == gg.float32
    assert back["scalar"].shape == () and back["scalar"].item() == 2.5
    assert back["bf16"].dtype == gg.bfloat16 and back["bf16"].float().tolist() == [1.5, -3.0]
    assert back["f16"].dtype == gg.float16 and back["f16"].tolist() == [0.25]


def test_bfloat16_safetensors_load_in_a_fresh_process(tmp_path):
    # a fresh process has not imported ml_dtypes yet: reading BF16 must import it
    path = tmp_path / "b.safetensors"
    header = json.dumps({"w": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]}}).encode()
    header += b" " * (-len(header) % 8)
    bits = np.array([0x3FC0, 0xC040], "<u2").tobytes()  # 1.5, -3.0
    path.write_bytes(len(header).to_bytes(8, "little") + header + bits)
    code = ("import sys, gpugrad as gg; w = gg.load(sys.argv[1])['w']; "
            "print(w.dtype, w.float().tolist())")
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                          text=True, timeout=60)
    assert done.stdout.split("\n")[0] == "gpugrad.bfloat16 [1.5, -3.0]", done.stderr


# map_location


def _saved_on_sim(name):
    out = _named(b"", name)
    gg.save({"w": gg.tensor([1.0, 2.0], device="sim")}, out)
    return out.getvalue()


@pytest.mark.parametrize("name", NAMES)
def test_one_argument_function_gets_the_saved_device(name):
    seen = []
    back = gg.load(_named(_saved_on_sim(name), name),
                   map_location=lambda location: seen.append(location) or "cpu")
    assert seen == ["sim:0"]
    assert back["w"].device == gg.device("cpu") and back["w"].tolist() == [1.0, 2.0]


@pytest.mark.parametrize("name", NAMES)
def test_storage_function_naming_a_device_moves_the_tensor(name):
    seen = []
    back = gg.load(_named(_saved_on_sim(name), name),
                   map_location=lambda storage, location: seen.append(location) or "cpu")
    assert seen == ["sim:0"]
    assert back["w"].device == gg.device("cpu") and back["w"].tolist() == [1.0, 2.0]
    seen.clear()
    back = _round_trip({"w": gg.tensor([3.0])}, name,
                       map_location=lambda storage, location: seen.append(location) or "sim")
    assert seen == ["cpu"]
    assert back["w"].device == gg.device("sim") and back["w"].tolist() == [3.0]


@pytest.mark.parametrize("name", NAMES)
def test_dict_without_the_saved_device_keeps_it(name):
    back = gg.load(_named(_saved_on_sim(name), name), map_location={"cpu": "cpu"})
    assert back["w"].device == gg.device("sim") and back["w"].tolist() == [1.0, 2.0]


def test_callable_without_a_signature_is_a_device_function(tmp_path):
    class NoSignature:
        __signature__ = property(lambda self: (_ for _ in ()).throw(ValueError("none")))

        def __call__(self, location):
            return "sim" if location == "cpu" else "cpu"

    back = _round_trip({"w": gg.ones(2)}, "k.npz", map_location=NoSignature())
    assert back["w"].device == gg.device("sim")


def test_foreign_files_are_saved_on_cpu_for_map_location():
    header = json.dumps({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
    header += b" " * (-len(header) % 8)
    data = len(header).to_bytes(8, "little") + header + np.float32(7).tobytes()
    seen = []
    back = gg.load(_named(data, "f.safetensors"), map_location=seen.append)
    assert seen == ["cpu"]
    moved = gg.load(_named(data, "f.safetensors"), map_location={"cpu": "sim"})
    assert moved["w"].device == gg.device("sim") and moved["w"].tolist() == [7.0]
    assert back["w"].requires_grad is False


# crafted structures


@pytest.mark.parametrize("structure, problem", [
    ({"$bogus": 1}, "its structure at obj is not a checkpoint node"),
    ([1, {"$bogus": 1}], "its structure at obj[1] is not a checkpoint node"),
    ({"$tuple": [{"$bogus": 1}]}, "its structure at obj[0] is not a checkpoint node"),
    ({"$dict": "cpu"}, "its structure at obj is not a checkpoint node"),
    ({"$device": 5}, "its structure at obj is not a checkpoint node"),
    ({"$dict": [["a", {"$bogus": 1}]]}, "its structure at obj['a'] is not a checkpoint node"),
    ({"$dict": [[[1], None]]}, "its structure at obj has a malformed dict item"),
    ({"$dict": [["d", {"$device": "warp:0"}]]}, "its structure at obj['d'] names device "),
    ({"$tuple": [{"$device": "warp:0"}]}, "its structure at obj[0] names device "),
])
def test_bad_nodes_are_named_by_path(structure, problem):
    assert _crafted_error(structure).startswith(_damaged("s.safetensors", problem))


def test_bad_tensor_device_is_named_by_path():
    node = {"$tensor": "a", "device": "warp:0", "requires_grad": False}
    text = _crafted_error([{"$dict": [["x", node]]}], {"a": np.arange(2)})
    assert text.startswith(_damaged("s.safetensors",
                                    "its structure at obj[0]['x'] names device 'warp:0': "))


def test_tensor_nodes_inside_tuples_are_checked():
    node = {"$tensor": "a", "device": "cpu", "requires_grad": False}
    assert _crafted_error({"$tuple": [node, dict(node)]}, {"a": np.arange(2)}) == _damaged(
        "s.safetensors", "tensor 'a' is used twice in its structure")
    assert _crafted_error({"$tuple": [{"$ndarray": "b"}]}, {"a": np.arange(2)}) == _damaged(
        "s.safetensors", "its structure at obj[0] names tensor 'b', which the file does not hold")


def test_unused_tensors_are_listed_five_at_most():
    arrays = {f"t{i}": np.arange(1) for i in range(7)}
    assert _crafted_error(None, arrays) == _damaged(
        "s.safetensors", "it stores tensors its structure never uses: "
                         "['t0', 't1', 't2', 't3', 't4']")


def test_npz_tensor_members_are_zip64_so_any_size_streams():
    # zipfile must know before a member streams whether it may pass 4 GiB: zip64 headers say so
    out = _named(b"", "z.npz")
    gg.save({"w": gg.ones(3), "b": gg.zeros(2)}, out)
    data = out.getvalue()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = {info.filename: info for info in archive.infolist()}
    assert set(infos) == {"w.npy", "b.npy", "__gpugrad__.npy"}
    for member in ("w.npy", "b.npy"):
        at = infos[member].header_offset
        sizes = struct.unpack("<II", data[at + 18:at + 26])
        name_size, extra_size = struct.unpack("<HH", data[at + 26:at + 30])
        extra = data[at + 30 + name_size:at + 30 + name_size + extra_size]
        assert sizes == (0xFFFFFFFF, 0xFFFFFFFF) and extra[:2] == b"\x01\x00"
    assert infos["w.npy"].compress_type == zipfile.ZIP_STORED
