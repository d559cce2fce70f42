"""What every gpugrad checkpoint carries besides its tensors, and the error for a bad file.

Both containers (safetensors and ``.npz``) hold the same string-to-string metadata: in
safetensors, the header's standard ``__metadata__``; in ``.npz``, a ``__gpugrad__`` member
holding it as JSON. The keys:

- ``gpugrad.format``: ``FORMAT``, the version of this layout;
- ``gpugrad.version``: the gpugrad that wrote the file;
- ``gpugrad.structure``: the saved object as JSON (see ``serialization_structure``): nesting,
  key types, numbers and strings such as ``step`` and ``lr``, and for each tensor its stored
  name, device and ``requires_grad``;
- ``gpugrad.checksum`` (safetensors only; ``.npz`` keeps it in the zip comment): the
  ``serialization_checksum`` digest of the whole file;
- ``format``: ``"pt"``, the tag Hugging Face libraries look for: the tensors are in PyTorch's
  layouts and names.
"""
import functools
import importlib.metadata

FORMAT = "gpugrad-checkpoint/2"
FORMAT_KEY = "gpugrad.format"
VERSION_KEY = "gpugrad.version"
STRUCTURE_KEY = "gpugrad.structure"
CHECKSUM_KEY = "gpugrad.checksum"
OWN_PREFIX = "gpugrad."


class CheckpointError(RuntimeError):
    """A checkpoint file that cannot be read: missing, truncated, corrupt or not gpugrad's."""


def damaged(name, problem):
    """The ``CheckpointError`` for the file ``name`` with ``problem``."""
    return CheckpointError(f"checkpoint {name!r} is damaged or not a valid checkpoint: {problem}")


def metadata(structure_json):
    """The metadata of a checkpoint whose structure is ``structure_json`` (without checksum)."""
    return {"format": "pt", FORMAT_KEY: FORMAT, VERSION_KEY: _version(),
            STRUCTURE_KEY: structure_json}


def check_metadata(meta, name):
    """The structure JSON of gpugrad metadata ``meta``, or ``CheckpointError``."""
    if meta.get(FORMAT_KEY) != FORMAT:
        raise damaged(name, f"its {FORMAT_KEY} is {meta.get(FORMAT_KEY)!r}, not {FORMAT!r} "
                            f"(a checkpoint from another gpugrad version, or damaged)")
    structure = meta.get(STRUCTURE_KEY)
    if not isinstance(structure, str):
        raise damaged(name, f"its metadata has no {STRUCTURE_KEY}")
    return structure


@functools.lru_cache(maxsize=1)
def _version():  # looking it up scans the installed packages: once is enough
    try:
        return importlib.metadata.version("gpugrad")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
