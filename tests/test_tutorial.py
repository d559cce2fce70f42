"""Runs every ```python block of docs/tutorial.md (and of docs/semantics.md), in order, in one
namespace, so the docs and the library cannot drift apart. A failure's traceback points at the
document's own lines."""
import builtins
import io
import pathlib
import re
import sys
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


# What the tutorial's commented print statements print: the figure each comment states, exactly.
PRINTED = {
    'print(f"numerical slope at x=3: {slope:.4f}")': "numerical slope at x=3: 14.0000",
    "print(y.data, x.grad)": "20.0 14.0",
    "print(root.data, r.grad, (1 / gg.Value(0.0)).data, (gg.Value(-1.0) ** 0.5).data)":
        "0.0 inf inf nan",
    "print(a.grad, b.grad, c.grad)": "-3.0 2.0 1.0",
    "print(z.data, x.grad, y.grad)": "8.0 4.0 2.0",
    "print(z._op, sorted(v.data for v in z._prev))": "+ [2.0, 6.0]",
    "print(a._op, sorted(v.data for v in a._prev))": "* [2.0, 3.0]",
    "print(a.grad)": "2.0",
    'print(f"through 30 sigmoids: dh/dx = {x.grad:.2e}")': "through 30 sigmoids: dh/dx = 3.75e-20",
    'print(f"through 30 times 3:  dh/dx = {x.grad:.2e}")': "through 30 times 3:  dh/dx = 2.06e+14",
    "print(total.item(), w.grad.tolist())":
        "141.42135620117188 [0.7071068286895752, 0.7071068286895752]",
    "print(p.item(), loss.item(), logit.grad.item())": "1.0 inf nan",
    "print(stable.item(), logit.grad.item())": "20.0 1.0",
    "print(x.grad, y.grad)": "tensor(4., device='cpu') tensor(2., device='cpu')",
    "print(W.grad.shape, b.grad.shape)": "(3, 2) (2,)",
}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_tutorial_prints_the_numbers_it_states():
    """Each commented ``print`` of the tutorial prints the value its comment states."""
    printed = {}

    def recording_print(*args, **kwargs):
        kwargs.pop("file", None)
        text = io.StringIO()
        builtins.print(*args, file=text, **kwargs)
        caller = sys._getframe(1)
        if caller.f_code.co_filename == str(TUTORIAL):
            printed.setdefault(caller.f_lineno, []).append(text.getvalue().rstrip("\n"))

    namespace = {"__name__": "tutorial", "print": recording_print}
    for line, code in python_blocks(TUTORIAL.read_text()):
        exec(compile("\n" * (line - 1) + code, str(TUTORIAL), "exec"), namespace)
    lines = TUTORIAL.read_text().splitlines()
    for statement, expected in PRINTED.items():
        found = [i + 1 for i, text in enumerate(lines) if text.startswith(statement + " ")
                 and "#" in text[len(statement):]]
        assert found, f"docs/tutorial.md has no commented {statement}"
        for number in found:
            assert printed.get(number) == [expected], (number, statement)
