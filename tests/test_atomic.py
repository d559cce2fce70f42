"""gpugrad.atomic: the new file appears whole or not at all, with the usual permissions; read-only
targets are kept, errors name the target, and killed writes leave nothing for good."""
import os
import stat
import subprocess
import sys
import time

import pytest

from gpugrad import atomic as atomic_module
from gpugrad.atomic import (STALE_AFTER_S, TEMP_PREFIX, atomic_open, atomic_write,
                            remove_stale_temporaries)

try:
    import fcntl
except ImportError:
    fcntl = None


def test_write_replaces_whole_file_with_umask_permissions(tmp_path):
    path = tmp_path / "out.json"
    path.write_text("old")
    old_mask = os.umask(0o022)
    try:
        atomic_write(path, "new")
    finally:
        os.umask(old_mask)
    assert path.read_text() == "new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # not mkstemp's private 0600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_failure_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "model.npz"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="disk full"):
        with atomic_open(path) as f:
            f.write(b"half of the new")
            raise RuntimeError("disk full")
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]


def test_bad_mode_is_refused(tmp_path):
    with pytest.raises(ValueError, match="mode must be"):
        with atomic_open(tmp_path / "x", "a"):
            pass


def test_a_killed_write_leaves_a_temporary_the_next_write_removes(tmp_path):
    # a process that dies inside the block, as a save killed mid-write does (it loads the
    # module alone: importing all of gpugrad would cost a second)
    script = ("import importlib.util, os, sys\n"
              "spec = importlib.util.spec_from_file_location('atomic', sys.argv[2])\n"
              "atomic = importlib.util.module_from_spec(spec)\nspec.loader.exec_module(atomic)\n"
              "with atomic.atomic_open(sys.argv[1]) as f:\n    f.write(b'half')\n"
              "    f.flush()\n    os._exit(1)\n")
    target = tmp_path / "model.npz"
    done = subprocess.run([sys.executable, "-c", script, str(target), atomic_module.__file__],
                          timeout=120)
    assert done.returncode == 1
    (left,) = os.listdir(tmp_path)
    assert left.startswith(TEMP_PREFIX) and "model.npz" in left
    old = time.time() - 2 * STALE_AFTER_S
    os.utime(tmp_path / left, (old, old))
    atomic_write(tmp_path / "other.json", "{}")
    assert os.listdir(tmp_path) == ["other.json"]


@pytest.mark.skipif(fcntl is None, reason="no fcntl: Windows keeps open files from deletion")
def test_a_temporary_being_written_is_kept(tmp_path):
    busy = tmp_path / f"{TEMP_PREFIX}model.npz.0123456789ab"
    with open(busy, "wb") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)  # as a live atomic_open holds it
        old = time.time() - 2 * STALE_AFTER_S
        os.utime(busy, (old, old))
        assert remove_stale_temporaries(tmp_path) == []
    assert remove_stale_temporaries(tmp_path) == [busy.name]
    assert not busy.exists()


def test_read_only_targets_are_refused_and_errors_name_the_target(tmp_path):
    target = tmp_path / "keep.json"
    target.write_text("precious")
    target.chmod(0o444)
    with pytest.raises(PermissionError, match="read-only.*keep.json"):
        atomic_write(target, "new")
    assert target.read_text() == "precious"
    missing = tmp_path / "absent" / "x.json"
    with pytest.raises(FileNotFoundError) as caught:
        atomic_write(missing, "x")
    assert caught.value.filename == str(missing)
