"""``gpugrad demo`` interrupted or failing: one line on stderr, exit status 130 (Ctrl-C) or 1,
and the ``--out`` folder holding the previous complete set of files or the new one, never a
mix; the progress bar drawn only on a terminal."""
import io
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import gpugrad as gg
from gpugrad import cli, cli_demo_report
from gpugrad.cli_demo_report import OUTPUTS
from support.cli_tools import needs_demo

ROOT = Path(__file__).resolve().parents[1]
QUICK = ["demo", "--device", "cpu", "--epochs", "1", "--batch-size", "1024"]


class Terminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self):
        return True


def previous_set(out):
    """Fill ``out`` with a stand-in for an earlier run's files; returns their bytes."""
    out.mkdir()
    files = {name: f"previous {name}".encode() for name in OUTPUTS}
    for name, data in files.items():
        (out / name).write_bytes(data)
    return files


def folder(path):
    return {p.name: p.read_bytes() for p in path.iterdir()}


@needs_demo
def test_ctrl_c_in_the_final_writes_keeps_the_previous_set(tmp_path, capsys, monkeypatch):
    """Interrupted after the trace, the figure and the weights are written, before the
    summary: nothing of the new run reaches --out, and --quiet printed nothing on stdout."""
    out = tmp_path / "demo"
    previous = previous_set(out)
    write = cli_demo_report.atomic_write

    def interrupted_at_the_summary(path, data):
        if path.endswith("summary.json"):
            raise KeyboardInterrupt
        write(path, data)

    monkeypatch.setattr(cli_demo_report, "atomic_write", interrupted_at_the_summary)
    assert cli.main([*QUICK, "--out", str(out), "--quiet"]) == 130
    assert capsys.readouterr() == ("", "interrupted\n")
    assert folder(out) == previous
    assert [p.name for p in tmp_path.iterdir()] == ["demo"]  # the staged files are gone


@needs_demo
def test_a_failed_write_is_one_line_naming_out_and_the_bar_shows_on_a_terminal(
        tmp_path, capsys, monkeypatch):
    out = tmp_path / "demo"
    previous = previous_set(out)

    def disk_full(obj, path):
        raise OSError(28, "No space left on device", path)

    monkeypatch.setattr(gg, "save", disk_full)
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert cli.main([*QUICK, "--out", str(out)]) == 1
    assert "test accuracy" in capsys.readouterr().out  # the report came before the writes
    *bar, error = terminal.getvalue().split("\n")[:-1]
    assert "\r" in "".join(bar) and "step" in "".join(bar)  # tqdm drew on the "terminal"
    assert error == f"gpugrad demo: [Errno 28] cannot write {out}: No space left on device"
    assert folder(out) == previous
    assert [p.name for p in tmp_path.iterdir()] == ["demo"]


def _ctrl_c_default():
    """In the child: SIGINT as in an interactive run, even where this test process has it
    ignored (a job started in the background by a non-interactive shell)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_demo(out, *options):
    """``python -m gpugrad demo`` in a subprocess, its stdout unbuffered so that lines arrive
    as they are printed; a watchdog kills it after 180 s."""
    proc = subprocess.Popen([sys.executable, "-m", "gpugrad", "demo", "--device", "cpu",
                             "--out", str(out), *options], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"),
                            preexec_fn=_ctrl_c_default)
    watchdog = threading.Timer(180, proc.kill)
    watchdog.start()
    return proc, watchdog


def interrupt_after(proc, watchdog, line_start):
    """Send Ctrl-C once a stdout line starts with ``line_start``; (status, stdout, stderr)."""
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if line.startswith(line_start):
            proc.send_signal(signal.SIGINT)
            break
    out, err = proc.communicate(timeout=180)
    watchdog.cancel()
    return proc.returncode, "".join(seen) + out, err


@needs_demo
@pytest.mark.slow  # two demo processes
def test_ctrl_c_from_outside_leaves_a_complete_set(tmp_path):
    out = tmp_path / "demo"
    previous = previous_set(out)
    # during training (15 epochs: far from the end)
    status, stdout, err = interrupt_after(*start_demo(out), "gpugrad demo:")
    assert (status, err) == (130, "interrupted\n"), stdout + err
    assert folder(out) == previous
    # as the final writes begin: the previous set, or the new one complete
    status, stdout, err = interrupt_after(*start_demo(out, "--epochs", "1", "--batch-size",
                                                      "1024"), "test accuracy")
    assert (status, err) in ((130, "interrupted\n"), (0, "")), stdout + err
    if folder(out) != previous:
        assert sorted(folder(out)) == sorted(OUTPUTS)
        assert json.loads((out / "summary.json").read_text())["epochs"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["demo"]
