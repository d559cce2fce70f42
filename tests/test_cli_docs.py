"""docs/cli.md describes every ``gpugrad`` subcommand and option, and each command line it shows
in a bash block runs as written from the repository's root with exit status 0 (blocks marked
``<!-- slow -->`` only in the full run)."""
import importlib.util
import re
import shlex
import shutil
import sys
from pathlib import Path

import pytest

import gpugrad as gg
from gpugrad import cli
from support.cli_tools import run_cli, subcommands

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "cli.md").read_text()
BLOCK = re.compile(r"(<!-- slow -->\n)?```bash\n(.*?)```", re.S)
HEADING = re.compile(r"^#+ (gpugrad.*)$", re.M)


def documented_commands():
    """pytest params of every command line in docs/cli.md's bash blocks."""
    for block in BLOCK.finditer(DOC):
        for line in block[2].splitlines():
            assert line.startswith("gpugrad "), f"docs/cli.md: not a gpugrad command: {line}"
            yield pytest.param(line, marks=[pytest.mark.slow] if block[1] else [],
                               id=line[len("gpugrad "):])


def sections():
    """{command words: its section's text} of docs/cli.md; the text before the first
    command's heading belongs to ``gpugrad`` itself."""
    found = {"gpugrad": DOC[:HEADING.search(DOC).start()]}
    marks = list(HEADING.finditer(DOC))
    for mark, following in zip(marks, marks[1:] + [None]):
        found[mark[1]] = DOC[mark.end():following.start() if following else len(DOC)]
    return found


def test_every_subcommand_and_option_is_documented():
    documented = sections()
    parsers = list(subcommands(cli.build_parser()))
    assert len(parsers) >= 9
    for words, parser in parsers:
        name = " ".join(words)
        assert name in documented, f"docs/cli.md has no section '# {name}'"
        for action in parser._actions:
            for option in action.option_strings:
                if option not in ("-h", "--help"):
                    assert f"`{option}" in documented[name], f"{name} {option} is undocumented"
    for status in ("0", "1", "2", "130"):
        assert re.search(rf"^\| {status} \| ", DOC, re.M), f"exit status {status} undocumented"


def skip_reason(command):
    """Why ``command`` cannot run on this machine, or None."""
    words = command.split()
    if words[1] == "demo" and any(importlib.util.find_spec(m) is None
                                  for m in ("sklearn", "matplotlib", "tqdm")):
        return "the demo needs gpugrad[demo]"
    if words[1] == "run" or "--procs" in words:
        if importlib.util.find_spec("mpi4py") is None or not (
                shutil.which("mpiexec") or (Path(sys.executable).parent / "mpiexec").exists()):
            return "needs gpugrad[mpi] and mpiexec"
    if "cuda" in words and not gg.cuda.is_available():
        return "needs a usable GPU"
    return None


@pytest.mark.parametrize("command", list(documented_commands()))
def test_documented_command_runs(command, tmp_path, monkeypatch, capsys):
    reason = skip_reason(command)
    if reason:
        pytest.skip(reason)
    for shipped in ("bench", "examples"):  # the repository's files, outputs kept out of it
        (tmp_path / shipped).symlink_to(ROOT / shipped)
    monkeypatch.chdir(tmp_path)
    try:
        status, out, err = run_cli(capsys, *shlex.split(command)[1:])
    finally:
        gg.sim.configure("sim:0")  # put back the default profile a command may have set
    assert status == 0, out[-2000:] + err[-2000:]
    assert "Traceback" not in err
