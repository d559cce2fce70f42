"""How the ``gpugrad`` command behaves around its work: ``--version``, strict JSON output, help
text free of reStructuredText markup, exit statuses (0 success, 1 runtime failure, 2 usage
error) and a reader that goes away (``gpugrad devices | head -1``)."""
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

import gpugrad as gg
from gpugrad import cli
from gpugrad.cli_demo_report import strict_json
from support.cli_tools import run_cli, strict_loads, subcommands

ROOT = Path(__file__).resolve().parents[1]

#: reStructuredText that a help screen would show raw: ``literals``, :func:`roles`, `refs`_
RST_MARKUP = re.compile(r"``|:[a-z]+:`|`_\b|`[^`'\n]+`")


def test_version_prints_the_package_version(capsys):
    assert run_cli(capsys, "--version") == (0, f"gpugrad {gg.__version__}\n", "")
    assert re.fullmatch(r"\d+\.\d+\.\d+", gg.__version__)


def test_devices_json_is_strict_json_with_the_table_rows(capsys):
    status, out, err = run_cli(capsys, "devices", "--json")
    assert (status, err) == (0, "")
    rows = strict_loads(out)
    table = gg.devices()
    assert [row["name"] for row in rows] == [d.name for d in table]
    assert rows[0] == {"name": "cpu", "device": "cpu", "available": True,
                       "detail": table[0].detail, "profile": None}
    assert all(set(row) == {"name", "device", "available", "detail", "profile"} for row in rows)


def test_help_of_every_subcommand_is_free_of_rst_markup(capsys):
    seen = []
    for words, parser in subcommands(cli.build_parser()):
        text = parser.format_help()
        assert not RST_MARKUP.search(text), (words, RST_MARKUP.search(text)[0])
        assert text.startswith(f"usage: {' '.join(words)}")
        seen.append(" ".join(words[1:]))
    assert {"demo", "devices", "plan", "run", "sim", "sim fidelity", "sim calibrate",
            "sim probe-host"} <= set(seen)
    assert RST_MARKUP.search("see ``gg.save`` and :func:`gg.load`")  # the pattern finds RST
    status, out, _ = run_cli(capsys, "demo", "--help")
    assert status == 0 and "--quiet" in out and "trace.json" in out


@pytest.mark.parametrize("argv, status, message", [
    (["run", "-n", "0", "x.py"], 2, "argument -n/--nprocs: must be at least 1, got 0"),
    (["run", "-n", "2", "no-such-script.py"], 2, "gpugrad run: script not found: "
                                                 "no-such-script.py\n"),
    (["run", "-n", "2", "--timeout", "nan", "x.py"], 2, "argument --timeout: must be a finite"),
    (["plan", "--memory-gb", "nan"], 2, "gpugrad plan: --memory-gb must be a positive number"),
    (["plan", "--batch", "0"], 2, "gpugrad plan: batch must be a positive int, got 0\n"),
    (["sim", "probe-host", "--seconds", "nan"], 2, "--seconds must be within (0, 600], got nan"),
    (["devices", "--jsn"], 2, "unrecognized arguments: --jsn"),
])
def test_usage_errors_exit_2_naming_the_option(argv, status, message, capsys):
    got, out, err = run_cli(capsys, *argv)
    assert (got, out) == (status, "") and message in err and "Traceback" not in err


def test_a_missing_mpiexec_is_a_runtime_failure(capsys, monkeypatch, tmp_path):
    script = tmp_path / "job.py"
    script.write_text("print('hi')\n")

    def no_mpiexec(*args, **kwargs):
        raise FileNotFoundError("mpiexec not found on PATH; pip install 'gpugrad[mpi]'")

    monkeypatch.setattr(cli, "launch", no_mpiexec)
    assert run_cli(capsys, "run", "-n", "2", script) == (
        1, "", "gpugrad run: mpiexec not found on PATH; pip install 'gpugrad[mpi]'\n")


def test_plan_json_is_strict_json_even_with_out_of_memory_rows(tmp_path, capsys):
    path = tmp_path / "plan.json"
    # 1.13 MiB per GPU: one GPU's step fits, two GPUs' (with gradient buckets) do not
    status, out, err = run_cli(capsys, "plan", "--model", "mlp:256x2", "--gpus", "1,2",
                               "--memory-gb", "0.0011", "--json", path)
    assert (status, err) == (0, "") and out.count("OOM") == 1
    text = path.read_text()
    assert strict_loads(text) and "null" in text  # the row that does not fit has no times


def test_a_reader_that_goes_away_is_not_an_error_with_a_traceback():
    """``gpugrad devices | head -0``: the pipe is closed before the command writes."""
    proc = subprocess.Popen([sys.executable, "-m", "gpugrad", "devices"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # long before the import is done and the table printed
    _, err = proc.communicate(timeout=120)
    assert (proc.returncode, err) == (1, b"")


def test_summary_json_writes_a_diverged_loss_as_null():
    """A run whose loss diverged (``--lr 1e30``) still writes strict JSON."""
    history = {"epoch_loss": [2.3, math.nan], "grad_norm": [math.inf, -math.inf, 0.5],
               "step_loss": [(0, 2.3), (5, math.nan)]}
    assert strict_loads(strict_json({"history": history, "test_accuracy": 0.1})) == {
        "history": {"epoch_loss": [2.3, None], "grad_norm": [None, None, 0.5],
                    "step_loss": [[0, 2.3], [5, None]]}, "test_accuracy": 0.1}
