"""The safetensors container, written and read here (streaming, one read, whole-file checksum).

The layout (https://huggingface.co/docs/safetensors): 8 bytes, the little-endian length ``N``
of a JSON header; the header, ``{name: {"dtype", "shape", "data_offsets": [begin, end]}}`` plus
a string-to-string ``__metadata__``, padded with spaces so the data starts 8-byte aligned; then
the tensors' bytes, back to back, offsets counted from the end of the header. gpugrad's writer
puts its ``gpugrad.checksum`` in ``__metadata__``: the digest of the whole file (length, header
and data) with the digest's own digits read as zeros. Any safetensors reader reads the files;
the reader here reads any valid safetensors file and checks every offset, shape and dtype.
"""
import json
import math

import numpy as np

from .serialization_checksum import DIGEST_PATTERN, PLACEHOLDER, ChunkedCrc32, digest_with_gap
from .serialization_format import CHECKSUM_KEY, OWN_PREFIX, damaged

_DTYPES = {"BOOL": "bool", "U8": "uint8", "I8": "int8", "I16": "int16", "I32": "int32",
           "I64": "int64", "F16": "float16", "BF16": "bfloat16", "F32": "float32",
           "F64": "float64"}
_CODES = {name: code for code, name in _DTYPES.items()}
_MAX_HEADER = 100 << 20  # the limit the reference implementation enforces


def _numpy_dtype(name):
    if name == "bfloat16":
        import ml_dtypes  # NumPy has no bfloat16; gpugrad's cpu backend uses ml_dtypes' one
        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(name).newbyteorder("<")


def write(f, arrays, meta):
    """Write ``arrays`` (name -> C-contiguous array) and ``meta`` (str -> str) to the binary
    file ``f``, each array's bytes straight from its memory: nothing is copied."""
    for name, array in arrays.items():
        if array.dtype.name not in _CODES:
            raise TypeError(f"gg.save: tensor {name!r} has dtype {array.dtype}, which "
                            f"safetensors files cannot hold as gpugrad writes them")
    # widest items first, so every tensor starts aligned to its item size
    order = sorted(arrays, key=lambda name: -arrays[name].dtype.itemsize)
    header = {"__metadata__": dict(meta, **{CHECKSUM_KEY: PLACEHOLDER})}
    offset = 0
    for name in order:
        array = arrays[name]
        header[name] = {"dtype": _CODES[array.dtype.name], "shape": list(array.shape),
                        "data_offsets": [offset, offset + array.nbytes]}
        offset += array.nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    prefix = len(text).to_bytes(8, "little") + text
    crc = ChunkedCrc32()
    crc.update(prefix)
    for name in order:
        crc.update(_bytes_of(arrays[name]))
    # the field as JSON writes it: quotes inside string values are escaped, so it is unique
    at = prefix.index(f'"{CHECKSUM_KEY}":"{PLACEHOLDER}"'.encode()) + len(CHECKSUM_KEY) + 4
    f.write(prefix[:at] + crc.hexdigest().encode() + prefix[at + len(PLACEHOLDER):])
    for name in order:
        f.write(_bytes_of(arrays[name]))


def _bytes_of(array):
    """The bytes of a C-contiguous array, as a view (works for bfloat16 and 0-d arrays too)."""
    return memoryview(array.reshape(-1).view(np.uint8))


def read(buffer, name, verify, chunk_crcs=None):
    """``(arrays, metadata)`` of the safetensors file in ``buffer``: arrays are views into it.
    ``metadata`` is ``None`` for a file gpugrad did not write. With ``verify``, a file that
    carries a gpugrad checksum must match it (``chunk_crcs``: see ``digest_with_gap``)."""
    header, data_start = _header(buffer, name)
    meta = header.pop("__metadata__", None)
    if meta is not None and (not isinstance(meta, dict)
                             or not all(isinstance(v, str) for v in meta.values())):
        raise damaged(name, "its __metadata__ is not a map of strings to strings")
    own = meta is not None and any(key.startswith(OWN_PREFIX) for key in meta)
    if own and verify:
        _verify(buffer, meta, name, chunk_crcs)
    arrays = _arrays(buffer, header, data_start, name)
    return arrays, (meta if own else None)


def _header(buffer, name):
    if len(buffer) < 8:
        raise damaged(name, f"it is {len(buffer)} bytes long, too short for a safetensors file")
    size = int.from_bytes(buffer[:8], "little")
    if size > min(_MAX_HEADER, len(buffer) - 8):
        raise damaged(name, f"its header length ({size} bytes) runs past the end of the file "
                            f"({len(buffer)} bytes): the file is truncated or corrupt")
    try:
        header = json.loads(bytes(buffer[8:8 + size]).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise damaged(name, f"its safetensors header is not valid JSON ({exc})") from None
    if not isinstance(header, dict):
        raise damaged(name, "its safetensors header is not a JSON object")
    return header, 8 + size


def _verify(buffer, meta, name, chunk_crcs):
    digest = meta.get(CHECKSUM_KEY)
    if not isinstance(digest, str) or not DIGEST_PATTERN.match(digest):
        raise damaged(name, f"its {CHECKSUM_KEY} is missing or malformed ({digest!r})")
    field = f'"{CHECKSUM_KEY}":"{digest}"'.encode()
    header_end = 8 + int.from_bytes(buffer[:8], "little")
    at = bytes(buffer[8:header_end]).find(field)
    if at < 0:
        raise damaged(name, f"its {CHECKSUM_KEY} is not written as gpugrad writes it")
    start = 8 + at + len(field) - len(digest) - 1
    digits = start + len(digest) - 8
    if digest_with_gap(buffer, digits, digits + 8, b"0" * 8, chunk_crcs) != digest:
        raise damaged(name, "its contents do not match the checksum stored when it was saved "
                            "(a flipped bit or a partial write)")


def _arrays(buffer, header, data_start, name):
    data_size = len(buffer) - data_start
    spans = []
    arrays = {}
    for key, entry in header.items():
        dtype, shape, (begin, end) = _entry(entry, key, name)
        count = math.prod(shape)  # Python ints: a crafted shape cannot overflow
        if not 0 <= begin <= end <= data_size or end - begin != count * dtype.itemsize:
            raise damaged(name, f"tensor {key!r} claims bytes {begin}..{end} for shape "
                                f"{tuple(shape)} of {dtype}, which the file's {data_size} data "
                                f"bytes do not hold (truncated or corrupt)")
        spans.append((begin, end, key))
        array = np.frombuffer(buffer, dtype, count, data_start + begin).reshape(shape)
        arrays[key] = array if array.flags.aligned else array.copy()
    position = 0
    for begin, end, key in sorted(spans):
        if begin != position:
            raise damaged(name, f"tensor {key!r} starts at data byte {begin}, not at {position}: "
                                f"the tensors overlap or leave a gap")
        position = end
    if position != data_size:
        raise damaged(name, f"its tensors end at data byte {position} but the file holds "
                            f"{data_size}: the file has extra bytes or is corrupt")
    return arrays


def _entry(entry, key, name):
    """``(dtype, shape, offsets)`` of one header entry, checked."""
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        raise damaged(name, f"its header entry {key!r} is not a tensor description")
    code, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if code not in _DTYPES:
        known = ", ".join(_DTYPES)
        raise damaged(name, f"tensor {key!r} has dtype {code!r}; gpugrad reads {known} "
                            f"(convert others first, e.g. to F32)")
    if (not isinstance(shape, list) or not all(_is_count(d) for d in shape)
            or not isinstance(offsets, list) or len(offsets) != 2
            or not all(_is_count(o) for o in offsets)):
        raise damaged(name, f"tensor {key!r} has a malformed shape or data_offsets")
    return _numpy_dtype(_DTYPES[code]), shape, offsets


def _is_count(value):
    return type(value) is int and 0 <= value < 1 << 62
