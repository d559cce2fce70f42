"""The saved object as JSON with its tensors pulled out under readable names, and back.

A checkpoint holds nested dicts, lists and tuples of tensors, NumPy arrays, numbers, strings,
bools and None. Each tensor (and array) is stored under its path of keys joined by ``.``:
``model.state_dict()`` gives PyTorch's state-dict names (``0.weight``), an optimizer's state
``state.0.exp_avg``, and ``{"model": ..., "optim": ...}`` ``model.0.weight`` and
``optim.state.0.exp_avg``. A name already taken gets ``#2``, ``#3``... The structure JSON
records the exact nesting, key types (``0`` the int vs ``"0"`` the string) and which name holds
which tensor, so loading restores the very object saved; the names are for other tools.

Structure nodes: JSON scalars as themselves, lists as lists, and objects with one tag:
``{"$tensor": name, "device": "cpu", "requires_grad": false}``, ``{"$ndarray": name}``,
``{"$tuple": [...]}``, ``{"$dict": [[key, value], ...]}``, ``{"$device": "sim:0"}``.
"""
import json

import numpy as np

from .device_registry import Device
from .serialization_format import damaged
from .tensor import Tensor

_KEY_TYPES = (str, int, float, bool)
_FLOATS = ("float16", "bfloat16", "float32", "float64")


def encode(obj):
    """``(structure_json, arrays)``: ``arrays`` maps each stored name to a C-contiguous array
    (sharing memory with cpu tensors where it can)."""
    arrays = {}
    structure = _encode(obj, arrays, [], "obj")
    return json.dumps(structure, separators=(",", ":")), arrays


def _encode(obj, arrays, keys, where):
    if isinstance(obj, Tensor):
        name = _free_name(keys, arrays)
        arrays[name] = np.require(obj.detach().numpy(), requirements="C")
        return {"$tensor": name, "device": str(obj.device), "requires_grad": obj.requires_grad}
    if isinstance(obj, np.ndarray):
        name = _free_name(keys, arrays)
        arrays[name] = np.require(obj, requirements="C")
        return {"$ndarray": name}
    if isinstance(obj, dict):
        items = []
        for key, value in obj.items():
            if not isinstance(key, _KEY_TYPES) and key is not None:
                raise TypeError(f"gg.save: dict key {key!r} at {where} is a "
                                f"{type(key).__name__}; keys must be str, int, float or bool")
            items.append([key, _encode(value, arrays, keys + [str(key)], f"{where}[{key!r}]")])
        return {"$dict": items}
    if isinstance(obj, (list, tuple)):
        values = [_encode(v, arrays, keys + [str(i)], f"{where}[{i}]") for i, v in enumerate(obj)]
        return values if isinstance(obj, list) else {"$tuple": values}
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, Device):
        return {"$device": str(obj)}
    raise TypeError(
        f"gg.save cannot store {type(obj).__name__} at {where}: checkpoints hold tensors, arrays, "
        f"numbers, strings and dicts/lists of them (save model.state_dict(), not the model)"
    )


def _free_name(keys, taken):
    base = ".".join(keys) or "tensor"
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}#{n}"
    return name


def parse(structure_json, arrays, file_name):
    """The validated structure of ``structure_json`` over the stored ``arrays`` (name ->
    array): ``CheckpointError`` unless every node is well formed and every array is used
    exactly once."""
    try:
        structure = json.loads(structure_json)
    except ValueError as exc:
        raise damaged(file_name, f"its structure is not JSON ({exc})") from None
    unused = set(arrays)
    _check(structure, arrays, unused, file_name, "obj")
    if unused:
        raise damaged(file_name, f"it stores tensors its structure never uses: "
                                 f"{sorted(unused)[:5]}")
    return structure


def _check(node, arrays, unused, file_name, where):
    if isinstance(node, list):
        for i, value in enumerate(node):
            _check(value, arrays, unused, file_name, f"{where}[{i}]")
        return
    if node is None or isinstance(node, (bool, int, float, str)):
        return
    tags = [key for key in node if key.startswith("$")] if isinstance(node, dict) else []
    if len(tags) != 1:
        raise damaged(file_name, f"its structure at {where} is not a checkpoint node")
    tag = tags[0]
    if tag in ("$tensor", "$ndarray"):
        _check_array_node(node, tag, arrays, unused, file_name, where)
    elif tag == "$tuple" and len(node) == 1 and isinstance(node[tag], list):
        _check(node[tag], arrays, unused, file_name, where)
    elif tag == "$device" and len(node) == 1 and isinstance(node[tag], str):
        _check_device(node[tag], file_name, where)
    elif tag == "$dict" and len(node) == 1 and isinstance(node[tag], list):
        for item in node[tag]:
            if (not isinstance(item, list) or len(item) != 2
                    or not (item[0] is None or isinstance(item[0], _KEY_TYPES))):
                raise damaged(file_name, f"its structure at {where} has a malformed dict item")
            _check(item[1], arrays, unused, file_name, f"{where}[{item[0]!r}]")
    else:
        raise damaged(file_name, f"its structure at {where} is not a checkpoint node")


def _check_array_node(node, tag, arrays, unused, file_name, where):
    name = node[tag]
    expected = {tag, "device", "requires_grad"} if tag == "$tensor" else {tag}
    if set(node) != expected or not isinstance(name, str):
        raise damaged(file_name, f"its structure at {where} is a malformed {tag} node")
    if name not in arrays:
        raise damaged(file_name, f"its structure at {where} names tensor {name!r}, which the "
                                 f"file does not hold")
    if name not in unused:
        raise damaged(file_name, f"tensor {name!r} is used twice in its structure")
    unused.discard(name)
    if tag == "$tensor":
        if not isinstance(node["device"], str) or not isinstance(node["requires_grad"], bool):
            raise damaged(file_name, f"its structure at {where} has a malformed tensor entry")
        _check_device(node["device"], file_name, where)
        if node["requires_grad"] and arrays[name].dtype.name not in _FLOATS:
            raise damaged(file_name, f"tensor {name!r} of dtype {arrays[name].dtype} is marked "
                                     f"requires_grad, which only floating tensors can be")


def _check_device(text, file_name, where):
    try:
        Device(text)
    except (ValueError, TypeError, RuntimeError) as exc:
        raise damaged(file_name, f"its structure at {where} names device {text!r}: {exc}") from None


def build(structure, arrays, make_tensor):
    """The saved object from a ``parse``d structure; ``make_tensor(array, node)`` makes each
    tensor from its array and its ``$tensor`` node."""
    if isinstance(structure, list):
        return [build(v, arrays, make_tensor) for v in structure]
    if not isinstance(structure, dict):
        return structure
    tag = next(key for key in structure if key.startswith("$"))
    value = structure[tag]
    if tag == "$tensor":
        return make_tensor(arrays[value], structure)
    if tag == "$ndarray":
        return arrays[value]
    if tag == "$tuple":
        return tuple(build(v, arrays, make_tensor) for v in value)
    if tag == "$device":
        return Device(value)
    return {key: build(item, arrays, make_tensor) for key, item in value}
