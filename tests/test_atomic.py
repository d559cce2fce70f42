"""gpugrad.atomic: the new file appears whole or not at all, with the usual permissions."""
import os
import stat

import pytest

from gpugrad.atomic import atomic_open, atomic_write


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
