"""``gg.save`` / ``gg.load``: checkpoints other tools read, without pickle.

A checkpoint is a state dict (nested dicts, lists and tuples of tensors, NumPy arrays, numbers,
strings, bools and None). Paths (or file objects) named ``*.safetensors`` get a safetensors
file, anything else a NumPy ``.npz`` archive. Each tensor is stored under its state-dict name
(``serialization_structure``), so ``safetensors.torch.load_file(path)`` gives a state dict
PyTorch's ``load_state_dict`` takes for the same architecture; the rest (nesting, numbers such
as ``step`` and ``lr``, devices) is string metadata (``serialization_format``).

A checksum covers the whole file, header and data (``serialization_checksum``): a flipped bit,
a truncation or nonsense metadata raises ``CheckpointError`` naming the file, never wrong
numbers. ``gg.load`` reads any valid safetensors file, whoever wrote it, into a dict of
tensors; it never unpickles, which is PyTorch's ``weights_only=True``, and names a pickle or
``torch.save`` file as such. Saves to a path are atomic (``gpugrad.atomic``).
"""
import inspect
import io
import os
import zipfile

import numpy as np

from . import serialization_npz, serialization_safetensors
from .atomic import atomic_open
from .creation import from_numpy
from .device_registry import Device
from .errors import DeviceUnavailableError
from .serialization_checksum import read_into
from .serialization_format import CheckpointError, check_metadata, damaged, metadata
from .serialization_structure import build, encode, parse
from .tensor import Tensor


def _is_file(f):
    return hasattr(f, "write") or hasattr(f, "read")


def _name(f):
    """The path, or the name of a file object, for messages and the format choice."""
    if _is_file(f):
        name = getattr(f, "name", None)
        return name if isinstance(name, str) else f"<{type(f).__name__}>"
    return os.fspath(f)


def save(obj, f):
    """Save ``obj`` (e.g. ``model.state_dict()`` or ``optimizer.state_dict()``) to ``f``: a
    path, or a binary file object opened for writing (``io.BytesIO``, ``open(p, "wb")``).

    ``*.safetensors`` names give a safetensors file, anything else a NumPy ``.npz``. Tensors
    stream from memory to the file, so a save needs little memory beyond the model. A save to
    a path is atomic (a reader sees the old file or the new one), refuses to replace a
    read-only file (``PermissionError``), and removes temporaries a killed save left behind.
    """
    structure_json, arrays = encode(obj)
    container = (serialization_safetensors if _name(f).endswith(".safetensors")
                 else serialization_npz)
    meta = metadata(structure_json)
    if _is_file(f):
        container.write(f, arrays, meta)
    else:
        with atomic_open(f) as out:
            container.write(out, arrays, meta)


def load(f, map_location=None, pickle_module=None, *, weights_only=True, mmap=None,
         verify=True, **pickle_load_args):
    """Load a checkpoint from a path or a binary file object (``io.BytesIO``, ``open(p, "rb")``);
    the format is read from the first bytes, not the name.

    What ``gg.save`` wrote comes back as saved. Any other safetensors file (written by
    ``safetensors.torch.save_file``, Hugging Face...) gives a dict of cpu tensors by name.
    Tensors return to the device they were saved from unless ``map_location`` says otherwise:
    a device (``"cpu"``), a dict ``{"sim:0": "cpu"}``, a function of the saved device name, or
    PyTorch's ``f(storage, location)`` (given the tensor on the cpu and the saved device name,
    it returns the tensor to use, e.g. ``lambda storage, loc: storage``).

    ``verify=False`` skips the checksum of gpugrad's files (the structure is still checked),
    for speed on trusted storage. ``weights_only=True`` is the only behaviour (gpugrad never
    unpickles); ``weights_only=False``, ``pickle_module`` and ``mmap=True`` raise. Raises
    ``CheckpointError`` naming the file for a damaged, foreign or pickled file."""
    _refuse_pickle(weights_only, pickle_module, mmap, pickle_load_args)
    name = _name(f)
    buffer, chunk_crcs = _read_all(f, name, verify)
    reader = _container_of(buffer, name)
    arrays, meta = reader.read(buffer, name, verify, chunk_crcs)
    if meta is None:  # a safetensors file another tool wrote: its tensors by name
        return {key: _tensor(array, "cpu", False, map_location) for key, array in arrays.items()}
    structure = parse(check_metadata(meta, name), arrays, name)
    return build(structure, arrays, lambda array, node: _tensor(
        array, node["device"], node["requires_grad"], map_location))


def _read_all(f, name, sum_chunks):
    """``(buffer, chunk_crcs)``: the file's bytes in one writable buffer, read once (tensors
    are views into it), and, for a file on disk read with ``sum_chunks``, its chunks' CRC-32s,
    summed while it was read (see ``serialization_checksum.read_into``)."""
    try:
        if not _is_file(f):
            with open(name, "rb", buffering=0) as stream:
                return _read_file(stream, os.fstat(stream.fileno()).st_size, sum_chunks)
        size = _size_left(f)
        if size is None:  # a stream of unknown length (io.BytesIO, a pipe)
            return bytearray(f.read()), None
        return _read_file(f, size, sum_chunks)
    except FileNotFoundError:
        raise FileNotFoundError(2, "no checkpoint at this path", name) from None
    except EOFError as exc:
        raise damaged(name, f"it shrank while it was read ({exc})") from None


def _read_file(stream, size, sum_chunks):
    # NumPy asks the kernel for huge pages for large arrays: fewer page faults
    buffer = np.empty(size, np.uint8)
    return buffer, read_into(stream, buffer, sum_chunks)


def _size_left(f):
    """The bytes from ``f``'s position to the end of the file on disk it reads, or None."""
    # only a plain file reads its fd's bytes as they are: gzip.open(path)'s fd is the
    # compressed file, of another length
    if not isinstance(getattr(f, "raw", f), io.FileIO):
        return None
    try:
        return os.fstat(f.fileno()).st_size - f.tell() if f.seekable() else None
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return None


def _container_of(buffer, name):
    """The reader for ``buffer``'s format, or ``CheckpointError`` saying what the file is."""
    head = bytes(buffer[:16])
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        raise _pickled(name, "a Python pickle (PyTorch's legacy torch.save format, or "
                             "pickle.dump)")
    if head[:4] == b"PK\x03\x04":
        members = _zip_members(buffer, name)
        if any(member.endswith(".pkl") for member in members):
            raise _pickled(name, "a PyTorch checkpoint (torch.save's zip of pickles)")
        return serialization_npz
    if len(head) > 8 and head[8:9] == b"{":
        return serialization_safetensors
    raise CheckpointError(f"{name!r} is not a checkpoint gpugrad reads: neither a safetensors "
                          f"file nor an .npz archive (empty, truncated or another format)")


def _pickled(name, what):
    """The ``CheckpointError`` for a pickled file: what it is and how to convert it."""
    stem = os.path.splitext(name)[0]
    return CheckpointError(
        f"{name!r} is {what}. gpugrad never unpickles, since unpickling can run code; convert "
        f"its state dict where you trust the file, with PyTorch: python -c \"import torch; from "
        f"safetensors.torch import save_file; save_file(torch.load('{name}', weights_only=True), "
        f"'{stem}.safetensors')\", then gg.load('{stem}.safetensors')")


def _zip_members(buffer, name):
    try:
        with zipfile.ZipFile(io.BytesIO(buffer)) as archive:
            return archive.namelist()
    except Exception as exc:  # noqa: BLE001 (zipfile raises many kinds on bad bytes)
        raise damaged(name, f"{type(exc).__name__}: {exc}") from None


def _tensor(array, saved_device, requires_grad, map_location):
    """The tensor for ``array``, placed as ``map_location`` says."""
    if _takes_storage(map_location):  # PyTorch's map_location(storage, location)
        out = map_location(from_numpy(array), saved_device)
        if not isinstance(out, Tensor):  # it named a device instead of moving the tensor
            out = from_numpy(array, device=out)
    else:
        device = _target_device(saved_device, map_location)
        try:
            out = from_numpy(array, device=device)
        except DeviceUnavailableError as exc:
            raise DeviceUnavailableError(
                f"{exc}. The checkpoint holds tensors saved on {saved_device}; load them "
                f"elsewhere with gg.load(path, map_location='cpu') (or 'sim')") from exc
    return out.requires_grad_(True) if requires_grad else out


def _target_device(saved, map_location):
    if map_location is None:
        return saved
    if callable(map_location) and not isinstance(map_location, (str, Device)):
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


__all__ = ["save", "load", "CheckpointError"]
