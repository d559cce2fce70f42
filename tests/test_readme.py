"""The README's Python example (and docs/sim-model.md's) runs as written, and its two quick-start commands are the ones
``.ci/run`` reads (so CI runs exactly what a new user is told to run)."""
import os
import pathlib
import re
import subprocess
import sys

from test_tutorial import python_blocks

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


# Runs a document's ```python blocks in order, in one namespace, in a fresh interpreter: the
# examples configure devices and the process-wide sim cluster, which must not leak into other tests.
_RUNNER = """
import sys
from test_tutorial import python_blocks
path = sys.argv[1]
namespace = {"__name__": "doc_example"}
for line, code in python_blocks(open(path).read()):
    exec(compile("\\n" * (line - 1) + code, path, "exec"), namespace)
"""


def run_python_blocks(path):
    """The stdout of ``path``'s Python examples, run as a user would run them."""
    assert python_blocks(path.read_text()), f"{path.name} has no ```python example"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "tests"), str(ROOT)]))
    done = subprocess.run([sys.executable, "-c", _RUNNER, str(path)], capture_output=True,
                          text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_readme_python_examples_run():
    out = run_python_blocks(ROOT / "README.md")
    # (1, 2) @ (2, 3), relu, sum and their backward: 2*1*3*2 + 3 + 3 FLOP forward, 0 + 3 + 12
    # back, in 6 kernels; x (8 B) and w (24 B) copied in
    assert "SimStats(sim:0, profile h100)" in out
    assert "kernels: 6, 33 FLOP, 160 B moved" in out and "transfers: h2d 32 B, d2h 0 B" in out
    assert "modeled time: host 343.05 µs, device busy 13.72 µs" in out


def test_sim_model_doc_python_examples_run():
    out = run_python_blocks(ROOT / "docs" / "sim-model.md")
    assert "h100 2856 us\na100 10034 us\nl4 6243 us\n" in out
    # the shape-only 7B step: the document's comment says "peak 52.1 GiB of 80 GiB"
    assert "peak 52.07 GiB of 80.00 GiB" in out and "kernels: 527, 84.92 TFLOP" in out
    assert "   16     2     3.427     0.268     0.165     0.106     80.14 MiB" in out


def test_quick_start_commands_are_marked_for_ci():
    for marker, must_contain in (("demo-command", "gpugrad demo"), ("test-command", "pytest")):
        match = re.search(rf"<!-- {marker} -->\n```bash\n(.+)\n```", README)
        assert match, f"README.md lacks the <!-- {marker} --> block"
        command = match.group(1)
        assert command.startswith("python3 -m venv .venv && . .venv/bin/activate && pip install")
        assert must_contain in command
    assert "<!-- test-command -->" in (ROOT / ".ci" / "run").read_text()
