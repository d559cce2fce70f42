"""The README's Python example (and docs/sim-model.md's) runs as written, and its two quick-start commands are the ones
``.ci/run`` reads (so CI runs exactly what a new user is told to run)."""
import pathlib
import re

from test_tutorial import python_blocks

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_readme_python_examples_run(capsys):
    blocks = python_blocks(README)
    assert blocks, "README.md has no ```python example"
    namespace = {"__name__": "readme"}
    for line, code in blocks:
        exec(compile("\n" * (line - 1) + code, str(ROOT / "README.md"), "exec"), namespace)
    assert "SimStats" in capsys.readouterr().out


def test_sim_model_doc_python_examples_run(capsys):
    path = ROOT / "docs" / "sim-model.md"
    blocks = python_blocks(path.read_text())
    assert blocks, "docs/sim-model.md has no ```python example"
    namespace = {"__name__": "sim_model_doc"}
    for line, code in blocks:
        exec(compile("\n" * (line - 1) + code, str(path), "exec"), namespace)
    assert "h100" in capsys.readouterr().out


def test_quick_start_commands_are_marked_for_ci():
    for marker, must_contain in (("demo-command", "gpugrad demo"), ("test-command", "pytest")):
        match = re.search(rf"<!-- {marker} -->\n```bash\n(.+)\n```", README)
        assert match, f"README.md lacks the <!-- {marker} --> block"
        command = match.group(1)
        assert command.startswith("python3 -m venv .venv && . .venv/bin/activate && pip install")
        assert must_contain in command
    assert "<!-- test-command -->" in (ROOT / ".ci" / "run").read_text()
