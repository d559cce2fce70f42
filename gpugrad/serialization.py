"""``gg.save`` / ``gg.load``: checkpoints without pickle.

A checkpoint is a state dict (nested dicts, lists and tuples of tensors, NumPy arrays, numbers,
strings, bools and None). Arrays go into a ``.npz`` archive or, for paths ending in
``.safetensors``, a safetensors file; everything else is JSON stored beside them. Loading reads
data only (``allow_pickle=False``), so a checkpoint can never run code.

Writes are atomic (a temporary file in the same folder, fsync, then ``os.replace``), and a
SHA-256 of the array bytes is stored and checked, so a truncated or corrupted file raises
``CheckpointError`` naming the file instead of returning wrong numbers.
"""
import hashlib
import io
import json
import os

import numpy as np

from .atomic import atomic_write
from .creation import from_numpy
from .device_registry import Device
from .errors import DeviceUnavailableError
from .tensor import Tensor

FORMAT = "gpugrad-checkpoint/1"
_META_KEY = "__gpugrad__"


class CheckpointError(RuntimeError):
    """A checkpoint file that cannot be read: missing, truncated, corrupt or not gpugrad's."""


# ---- encoding the structure ----------------------------------------------------------------
def _encode(obj, arrays, path="obj"):
    """A JSON-able description of ``obj``; arrays are appended to ``arrays`` and referenced."""
    if isinstance(obj, Tensor):
        name = f"t{len(arrays)}"
        arrays.append((name, np.asarray(obj.detach().numpy(), order="C")))
        return {"$tensor": name, "device": str(obj.device), "requires_grad": obj.requires_grad}
    if isinstance(obj, np.ndarray):
        name = f"t{len(arrays)}"
        arrays.append((name, np.asarray(obj, order="C")))
        return {"$ndarray": name}
    if isinstance(obj, dict):
        items = []
        for key, value in obj.items():
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                raise TypeError(f"gg.save: dict key {key!r} at {path} is a "
                                f"{type(key).__name__}; keys must be str, int, float or bool")
            items.append([key, _encode(value, arrays, f"{path}[{key!r}]")])
        return {"$dict": items}
    if isinstance(obj, (list, tuple)):
        values = [_encode(v, arrays, f"{path}[{i}]") for i, v in enumerate(obj)]
        return values if isinstance(obj, list) else {"$tuple": values}
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, Device):
        return {"$device": str(obj)}
    raise TypeError(
        f"gg.save cannot store {type(obj).__name__} at {path}: checkpoints hold tensors, arrays, "
        f"numbers, strings and dicts/lists of them (save model.state_dict(), not the model)"
    )


def _decode(node, arrays, map_location):
    if isinstance(node, list):
        return [_decode(v, arrays, map_location) for v in node]
    if not isinstance(node, dict):
        return node
    if "$tensor" in node:
        device = _target_device(node["device"], map_location)
        try:
            out = from_numpy(arrays[node["$tensor"]], device=device)
        except DeviceUnavailableError as exc:
            raise DeviceUnavailableError(
                f"{exc}. The checkpoint holds tensors saved on {node['device']}; load them "
                f"elsewhere with gg.load(path, map_location='cpu') (or 'sim')") from exc
        return out.requires_grad_(True) if node.get("requires_grad") else out
    if "$ndarray" in node:
        return arrays[node["$ndarray"]]
    if "$tuple" in node:
        return tuple(_decode(v, arrays, map_location) for v in node["$tuple"])
    if "$device" in node:
        return Device(node["$device"])
    return {key: _decode(value, arrays, map_location) for key, value in node["$dict"]}


def _target_device(saved, map_location):
    if map_location is None:
        return saved
    if callable(map_location):
        return map_location(saved)
    if isinstance(map_location, dict):
        return map_location.get(saved, saved)
    return map_location


def _digest(arrays):
    h = hashlib.sha256()
    for name, array in arrays:
        h.update(name.encode())
        h.update(str(array.dtype).encode())
        h.update(repr(array.shape).encode())
        h.update(array.tobytes())
    return h.hexdigest()


# ---- writing ------------------------------------------------------------------------------------
def _uses_safetensors(path):
    return os.fspath(path).endswith(".safetensors")


def save(obj, path):
    """Save ``obj`` (e.g. ``model.state_dict()`` or ``optimizer.state_dict()``) to ``path``.

    ``.safetensors`` paths use safetensors (``pip install safetensors``); anything else is a
    NumPy ``.npz`` archive. The write is atomic: a reader sees the old file or the new one.
    """
    path = os.fspath(path)
    arrays = []
    structure = _encode(obj, arrays)
    meta = json.dumps({"format": FORMAT, "structure": structure, "sha256": _digest(arrays)})
    if _uses_safetensors(path):
        try:
            from safetensors.numpy import save as st_save
        except ImportError:
            raise ImportError("saving to a .safetensors path needs the safetensors package: "
                              "pip install safetensors (or use a .npz path)") from None
        payload = st_save(dict(arrays), metadata={_META_KEY: meta})
    else:
        buffer = io.BytesIO()
        members = dict(arrays)
        members[_META_KEY] = np.frombuffer(meta.encode(), dtype=np.uint8)
        np.savez(buffer, **members)
        payload = buffer.getvalue()
    atomic_write(path, payload)


# ---- reading ------------------------------------------------------------------------------------
def load(path, map_location=None):
    """Load what ``gg.save`` wrote. Tensors return to the device they were saved from unless
    ``map_location`` says otherwise: a device (``"cpu"``), a dict ``{"sim:0": "cpu"}`` or a
    function of the saved device name. Raises ``CheckpointError`` for a damaged file."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no checkpoint at {path!r}")
    try:
        arrays, meta = (_read_safetensors if _uses_safetensors(path) else _read_npz)(path)
        info = json.loads(meta)
    except (CheckpointError, ImportError):
        raise
    except Exception as exc:  # noqa: BLE001 (any parse failure means a damaged file)
        raise CheckpointError(
            f"cannot read checkpoint {path!r}: the file is truncated, corrupt or not a gpugrad "
            f"checkpoint ({type(exc).__name__}: {exc})"
        ) from exc
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise CheckpointError(f"{path!r} is not a gpugrad checkpoint (format "
                              f"{info.get('format') if isinstance(info, dict) else None!r})")
    ordered = [(name, arrays[name]) for name in sorted(arrays, key=lambda n: int(n[1:]))]
    if _digest(ordered) != info.get("sha256"):
        raise CheckpointError(f"checkpoint {path!r} is corrupt: its data does not match the "
                              f"SHA-256 stored when it was saved")
    return _decode(info["structure"], arrays, map_location)


def _read_npz(path):
    with np.load(path, allow_pickle=False) as archive:
        names = list(archive.files)
        if _META_KEY not in names:
            raise CheckpointError(f"{path!r} is an .npz archive but not a gpugrad checkpoint "
                                  f"(no {_META_KEY} entry)")
        arrays = {name: archive[name] for name in names}
    meta = arrays.pop(_META_KEY).tobytes().decode()
    return arrays, meta


def _read_safetensors(path):
    try:
        from safetensors import safe_open
    except ImportError:
        raise ImportError("reading a .safetensors checkpoint needs the safetensors package: "
                          "pip install safetensors") from None
    with safe_open(path, framework="np") as f:
        meta = (f.metadata() or {}).get(_META_KEY)
        if meta is None:
            raise CheckpointError(f"{path!r} is a safetensors file but not a gpugrad checkpoint "
                                  f"(no {_META_KEY} metadata)")
        arrays = {name: f.get_tensor(name) for name in f.keys()}
    return arrays, meta


__all__ = ["save", "load", "CheckpointError"]
