"""``gg.save`` / ``gg.load``: checkpoints without pickle.

A checkpoint is a state dict (nested dicts, lists and tuples of tensors, NumPy arrays, numbers,
strings, bools and None). Arrays go into a ``.npz`` archive or, for paths (or open files) named
``*.safetensors``, a safetensors file; everything else is JSON stored beside them. ``f`` may be
a path or a binary file object (``io.BytesIO``, ``open(path, "rb")``), as in PyTorch. Loading
reads data only (``allow_pickle=False``), so a checkpoint can never run code: gpugrad never
unpickles, which is PyTorch's ``weights_only=True``.

Writes are atomic (a temporary file in the same folder, fsync, then ``os.replace``), and a
SHA-256 of the array bytes is stored and checked, so a truncated or corrupted file raises
``CheckpointError`` naming the file instead of returning wrong numbers.
"""
import hashlib
import inspect
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
        array = arrays[node["$tensor"]]
        if _takes_storage(map_location):  # PyTorch's map_location(storage, location)
            out = map_location(from_numpy(array), node["device"])
            if not isinstance(out, Tensor):  # it named a device instead of moving the tensor
                out = from_numpy(array, device=out)
            return out.requires_grad_(True) if node.get("requires_grad") else out
        device = _target_device(node["device"], map_location)
        try:
            out = from_numpy(array, device=device)
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
        return {str(k): v for k, v in map_location.items()}.get(saved, saved)
    return map_location


def _takes_storage(map_location):
    """Whether ``map_location`` is PyTorch's two-argument form ``f(storage, location)``."""
    if not callable(map_location) or isinstance(map_location, (str, Device, dict)):
        return False
    try:
        params = inspect.signature(map_location).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2


def _digest(arrays):
    h = hashlib.sha256()
    for name, array in arrays:
        h.update(name.encode())
        h.update(str(array.dtype).encode())
        h.update(repr(array.shape).encode())
        h.update(array.tobytes())
    return h.hexdigest()


# ---- writing ------------------------------------------------------------------------------------
def _is_file(f):
    return hasattr(f, "write") or hasattr(f, "read")


def _name(f):
    """The path, or the name of a file object, for messages and the format choice."""
    if _is_file(f):
        name = getattr(f, "name", None)
        return name if isinstance(name, str) else f"<{type(f).__name__}>"
    return os.fspath(f)


def _uses_safetensors(f):
    return _name(f).endswith(".safetensors")


def save(obj, f):
    """Save ``obj`` (e.g. ``model.state_dict()`` or ``optimizer.state_dict()``) to ``f``: a
    path, or a binary file object opened for writing (``io.BytesIO``, ``open(p, "wb")``).

    ``.safetensors`` names use safetensors (``pip install safetensors``); anything else is a
    NumPy ``.npz`` archive. A write to a path is atomic: a reader sees the old file or the new
    one.
    """
    arrays = []
    structure = _encode(obj, arrays)
    meta = json.dumps({"format": FORMAT, "structure": structure, "sha256": _digest(arrays)})
    if _uses_safetensors(f):
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
    if _is_file(f):
        f.write(payload)
    else:
        atomic_write(os.fspath(f), payload)


# ---- reading ------------------------------------------------------------------------------------
def load(f, map_location=None, pickle_module=None, *, weights_only=True, mmap=None,
         **pickle_load_args):
    """Load what ``gg.save`` wrote, from a path or a binary file object (``io.BytesIO``,
    ``open(p, "rb")``; the format is read from its first bytes).

    Tensors return to the device they were saved from unless ``map_location`` says otherwise:
    a device (``"cpu"``), a dict ``{"sim:0": "cpu"}``, a function of the saved device name, or
    PyTorch's ``f(storage, location)`` (given the tensor on the cpu and the saved device name,
    it returns the tensor to use, e.g. ``lambda storage, loc: storage``). ``weights_only=True``
    is the only behaviour (gpugrad never unpickles); ``weights_only=False``, ``pickle_module``
    and ``mmap=True`` raise. Raises ``CheckpointError`` for a damaged file."""
    _refuse_pickle(weights_only, pickle_module, mmap, pickle_load_args)
    path = _name(f)
    if _is_file(f):
        data = f.read()
        reader = _read_npz if data[:2] == b"PK" else _read_safetensors
        source = io.BytesIO(data) if reader is _read_npz else data
    else:
        if not os.path.exists(path):
            raise FileNotFoundError(f"no checkpoint at {path!r}")
        reader = _read_safetensors if _uses_safetensors(path) else _read_npz
        source = path
    try:
        arrays, meta = reader(source, path)
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


def _refuse_pickle(weights_only, pickle_module, mmap, pickle_load_args):
    """PyTorch's arguments for unpickling, refused with what to do instead."""
    if weights_only is False or pickle_module is not None or pickle_load_args:
        what = ("weights_only=False" if weights_only is False else "pickle_module"
                if pickle_module is not None else ", ".join(pickle_load_args))
        raise ValueError(f"gg.load({what}): gpugrad never unpickles, so checkpoints can never "
                         f"run code. They hold tensors, arrays, numbers, strings and "
                         f"dicts/lists/tuples of them, which gg.load reads as PyTorch's "
                         f"weights_only=True does; save state_dict()s, not objects")
    if mmap:
        raise ValueError("gg.load(mmap=True) is not supported: checkpoints are read into memory "
                         "(leave mmap unset)")


def _read_npz(source, path):
    with np.load(source, allow_pickle=False) as archive:
        names = list(archive.files)
        if _META_KEY not in names:
            raise CheckpointError(f"{path!r} is an .npz archive but not a gpugrad checkpoint "
                                  f"(no {_META_KEY} entry)")
        arrays = {name: archive[name] for name in names}
    meta = arrays.pop(_META_KEY).tobytes().decode()
    return arrays, meta


def _read_safetensors(source, path):
    """Arrays and metadata of a safetensors file: ``source`` is its path or its bytes."""
    try:
        from safetensors import safe_open
        from safetensors.numpy import load as st_load
    except ImportError:
        raise ImportError("reading a .safetensors checkpoint needs the safetensors package: "
                          "pip install safetensors") from None
    if isinstance(source, bytes):
        size = int.from_bytes(source[:8], "little")  # the format: header length, JSON header
        meta = json.loads(source[8:8 + size]).get("__metadata__", {}).get(_META_KEY)
        arrays = st_load(source) if meta is not None else None
    else:
        with safe_open(source, framework="np") as f:
            meta = (f.metadata() or {}).get(_META_KEY)
            arrays = {name: f.get_tensor(name) for name in f.keys()} if meta else None
    if meta is None:
        raise CheckpointError(f"{path!r} is a safetensors file but not a gpugrad checkpoint "
                              f"(no {_META_KEY} metadata)")
    return arrays, meta


__all__ = ["save", "load", "CheckpointError"]
