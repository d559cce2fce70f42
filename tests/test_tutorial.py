"""Runs every ```python block of docs/tutorial.md (and of docs/semantics.md), in order, in one
namespace, so the docs and the library cannot drift apart. A failure's traceback points at the
document's own lines."""
import pathlib
import re
import traceback

import pytest

TUTORIAL = pathlib.Path(__file__).resolve().parent.parent / "docs" / "tutorial.md"
SEMANTICS = TUTORIAL.with_name("semantics.md")
BLOCK = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)


def python_blocks(text):
    """``(first line number, code)`` of each ```python block, in order."""
    return [(text.count("\n", 0, m.start(1)) + 1, m.group(1)) for m in BLOCK.finditer(text)]


def test_blocks_are_found():
    blocks = python_blocks(TUTORIAL.read_text())
    assert len(blocks) >= 10
    # a block that does not close would swallow the rest of the tutorial
    assert TUTORIAL.read_text().count("```python") == len(blocks)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the NaN section makes NumPy warn
@pytest.mark.parametrize("document", [TUTORIAL, SEMANTICS], ids=lambda p: p.name)
def test_tutorial_runs(document, capsys):
    namespace = {"__name__": "tutorial"}
    for line, code in python_blocks(document.read_text()):
        # pad with blank lines so tracebacks (and anomaly reports) show the document's lines
        compiled = compile("\n" * (line - 1) + code, str(document), "exec")
        trace = None
        try:
            exec(compiled, namespace)
        except Exception as error:
            # a compact traceback, one line per frame (pytest's own would print the whole file)
            trace = "".join(traceback.format_exception(error)[1:])
        if trace is not None:
            pytest.fail(f"the block at docs/{document.name}:{line} failed:\n{trace}",
                        pytrace=False)
    capsys.readouterr()
