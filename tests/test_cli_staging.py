"""``gpugrad.cli_staging.StagedFolder``: an output folder replaced whole or not at all; the
temporaries it leaves when killed are removed (or put back) by the next run."""
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from gpugrad.cli_args import UsageError
from gpugrad.cli_staging import StagedFolder

NAMES = ("a.txt", "b.txt")


def contents(folder):
    return {p.name: p.read_text() for p in folder.iterdir()}


def write_set(folder, tag):
    for name in NAMES:
        (folder / name).write_text(f"{tag} {name}")


def dead_pid():
    """The id of a process that has exited (and been reaped)."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, timeout=60)
    return int(done.stdout)


def test_commit_replaces_the_previous_set_whole_and_leaves_nothing_beside(tmp_path):
    out = tmp_path / "out"
    for tag in ("first", "second"):
        with StagedFolder(out, NAMES) as staged:
            assert not os.path.relpath(staged.dir, tmp_path).startswith("out")  # a sibling
            write_set(type(out)(staged.dir), tag)
            staged.commit()
        assert contents(out) == {name: f"{tag} {name}" for name in NAMES}
        assert [p.name for p in tmp_path.iterdir()] == ["out"]


@pytest.mark.parametrize("failure", [KeyboardInterrupt, OSError])
def test_leaving_without_commit_keeps_the_previous_set(tmp_path, failure):
    out = tmp_path / "out"
    out.mkdir()
    write_set(out, "old")
    with pytest.raises(failure):
        with StagedFolder(out, NAMES) as staged:
            (type(out)(staged.dir) / "a.txt").write_text("new, half done")
            raise failure()
    assert contents(out) == {name: f"old {name}" for name in NAMES}
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_a_failed_swap_puts_the_previous_set_back(tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    write_set(out, "old")
    real_rename = os.rename

    def rename(src, dst):
        if str(src).endswith(f"gpugrad-new-{os.getpid()}"):
            raise OSError(28, "No space left on device")
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(OSError, match="No space"):
        with StagedFolder(out, NAMES) as staged:
            write_set(type(out)(staged.dir), "new")
            staged.commit()
    assert contents(out) == {name: f"old {name}" for name in NAMES}
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_ctrl_c_during_the_swap_lands_after_it(tmp_path, monkeypatch, ctrl_c):
    out = tmp_path / "out"
    out.mkdir()
    write_set(out, "old")
    real_rename = os.rename

    def rename(src, dst):  # Ctrl-C between the two renames, taken by another thread
        real_rename(src, dst)
        if str(dst).endswith(f"gpugrad-old-{os.getpid()}"):
            other = threading.Thread(target=os.kill, args=(os.getpid(), signal.SIGINT))
            other.start()
            other.join(timeout=60)
            time.sleep(0.01)  # time for the main thread to see the signal, were it not held

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(KeyboardInterrupt):
        with StagedFolder(out, NAMES) as staged:
            write_set(type(out)(staged.dir), "new")
            staged.commit()
            raise AssertionError("the interrupt should land when the swap is done")
    assert contents(out) == {name: f"new {name}" for name in NAMES}


def test_stale_temporaries_of_gone_processes_are_removed_or_put_back(tmp_path):
    gone = dead_pid()
    out = tmp_path / "out"
    stale_new = tmp_path / f".out.gpugrad-new-{gone}"
    stale_old = tmp_path / f".out.gpugrad-old-{gone}"
    live = tmp_path / f".out.gpugrad-new-{os.getppid()}"  # a running process's: kept
    for folder in (stale_new, stale_old, live):
        folder.mkdir()
    write_set(stale_old, "killed mid-swap")
    with StagedFolder(out, NAMES):  # the killed swap's previous set is put back first
        assert contents(out) == {name: f"killed mid-swap {name}" for name in NAMES}
        assert not stale_new.exists() and not stale_old.exists() and live.exists()
    assert live.exists()


def test_a_folder_holding_other_files_or_a_file_is_refused(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.txt").write_text("ours")
    (out / ".a.txt.1234.tmp").write_text("ours, from a killed write")
    (out / "notes.txt").write_text("the user's")
    with pytest.raises(UsageError, match=r"--out '.*out' holds files this command did not "
                                         r"write \(notes.txt\)"):
        StagedFolder(out, NAMES).__enter__()
    with pytest.raises(UsageError, match=r"--out '.*a.txt' is not a writable folder"):
        StagedFolder(out / "a.txt", NAMES).__enter__()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
