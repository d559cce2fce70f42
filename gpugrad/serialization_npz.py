"""The ``.npz`` container: a zip of ``.npy`` arrays NumPy reads with ``np.load``.

Each tensor is the member ``<name>.npy``; the metadata (see ``serialization_format``) is the
member ``__gpugrad__.npy``, its JSON as uint8. The zip's comment, the last bytes of the file,
is ``gpugrad `` and the ``serialization_checksum`` digest of every byte before it, so the whole
file is covered: zip headers and directory as well as the data. Arrays stream into the zip (in
NumPy's 16 MiB pieces), so a save holds no second copy of the model. ``.npy`` has no
bfloat16: such arrays are stored as their uint16 bits and listed in ``gpugrad.npz_bfloat16``.
"""
import io
import json
import zipfile

import numpy as np

from .serialization_checksum import DIGEST_PATTERN, PLACEHOLDER, ChunkedCrc32, digest_with_gap
from .serialization_format import CheckpointError, damaged

META_MEMBER = "__gpugrad__"
_BFLOAT16_KEY = "gpugrad.npz_bfloat16"
_COMMENT_PREFIX = b"gpugrad "
_COMMENT_SIZE = len(_COMMENT_PREFIX) + len(PLACEHOLDER)


class _ChecksummingWriter:
    """A write-only stream over ``f`` that sums all it passes on but its last ``hold`` bytes
    (the zip comment, written last). It cannot seek, so zipfile never rewrites what it wrote."""

    def __init__(self, f, hold):
        self._f = f
        self._hold = hold
        self._tail = b""
        self.crc = ChunkedCrc32()

    def write(self, data):
        view = memoryview(data).cast("B")
        self._f.write(view)
        if len(view) >= self._hold:
            self.crc.update(self._tail)
            self.crc.update(view[:len(view) - self._hold])
            self._tail = bytes(view[len(view) - self._hold:])
        else:
            joined = self._tail + bytes(view)
            self.crc.update(joined[:-self._hold])
            self._tail = joined[-self._hold:]
        return len(view)

    def flush(self):
        self._f.flush()


def write(f, arrays, meta):
    """Write ``arrays`` (name -> array) and ``meta`` (str -> str) to the binary file ``f``."""
    bfloat16 = [name for name, array in arrays.items() if array.dtype.name == "bfloat16"]
    if bfloat16:  # .npy has no bfloat16: its bits go as uint16, listed in the metadata
        arrays = {name: array.view(np.uint16) if name in bfloat16 else array
                  for name, array in arrays.items()}
        meta = dict(meta, **{_BFLOAT16_KEY: json.dumps(bfloat16)})
    target = f if _seekable(f) else io.BytesIO()  # the comment is patched in at the end
    writer = _ChecksummingWriter(target, _COMMENT_SIZE)
    with zipfile.ZipFile(writer, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        archive.comment = _COMMENT_PREFIX + PLACEHOLDER.encode()
        for name, array in arrays.items():
            with archive.open(name + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)
        with archive.open(META_MEMBER + ".npy", "w") as member:
            text = json.dumps(meta, separators=(",", ":")).encode()
            np.lib.format.write_array(member, np.frombuffer(text, np.uint8))
    end = target.tell()
    target.seek(end - _COMMENT_SIZE)
    target.write(_COMMENT_PREFIX + writer.crc.hexdigest().encode())
    if target is not f:
        f.write(target.getvalue())


def _seekable(f):
    try:
        return f.seekable()
    except (AttributeError, OSError, ValueError):
        return False


def read(buffer, name, verify, chunk_crcs=None):
    """``(arrays, metadata)`` of the gpugrad ``.npz`` checkpoint in ``buffer`` (``chunk_crcs``:
    see ``digest_with_gap``)."""
    comment = bytes(buffer[-_COMMENT_SIZE:])
    digest = comment[len(_COMMENT_PREFIX):].decode("ascii", "replace")
    sealed = comment.startswith(_COMMENT_PREFIX) and DIGEST_PATTERN.match(digest)
    try:
        with np.load(io.BytesIO(buffer), allow_pickle=False) as archive:
            if META_MEMBER not in archive.files:
                raise CheckpointError(f"{name!r} is an .npz archive but not a gpugrad "
                                      f"checkpoint (no {META_MEMBER} entry)")
            if not sealed:
                raise damaged(name, "its zip comment holds no gpugrad checksum")
            if verify:
                end = len(buffer)
                if digest_with_gap(buffer, end - _COMMENT_SIZE, end, b"", chunk_crcs) != digest:
                    raise damaged(name, "its contents do not match the checksum stored when it "
                                        "was saved (a flipped bit or a partial write)")
            arrays = {key: archive[key] for key in archive.files}
            odd = sorted(key for key, array in arrays.items() if not isinstance(array, np.ndarray))
            if odd:  # np.load gives a member that is no .npy as its bytes
                raise damaged(name, f"its members {odd[:5]} are not .npy arrays")
    except CheckpointError:
        raise
    except Exception as exc:  # noqa: BLE001 (zipfile and NumPy raise many kinds on bad bytes)
        raise damaged(name, f"it is not a readable .npz archive ({type(exc).__name__}: "
                            f"{exc})") from None
    meta = _metadata(arrays.pop(META_MEMBER), name)
    _restore_bfloat16(arrays, meta.pop(_BFLOAT16_KEY, "[]"), name)
    return arrays, meta


def _restore_bfloat16(arrays, listed, name):
    try:
        names = json.loads(listed)
    except ValueError:
        names = None
    if not isinstance(names, list) or not all(n in arrays and isinstance(n, str) for n in names):
        raise damaged(name, f"its {_BFLOAT16_KEY} does not list stored arrays")
    if names:
        import ml_dtypes  # NumPy has no bfloat16; gpugrad's cpu backend uses ml_dtypes' one
        for key in names:
            if arrays[key].dtype != np.uint16:
                raise damaged(name, f"its bfloat16 array {key!r} is stored as "
                                    f"{arrays[key].dtype}, not as uint16 bits")
            arrays[key] = arrays[key].view(ml_dtypes.bfloat16)


def _metadata(member, name):
    try:
        meta = json.loads(member.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        meta = None
    if (not isinstance(meta, dict) or member.dtype != np.uint8
            or not all(isinstance(v, str) for v in meta.values())):
        raise damaged(name, f"its {META_MEMBER} entry is not gpugrad metadata")
    return meta
