"""The API that editors and type checkers see: gpugrad ships ``py.typed`` and stubs written from
the running library (``tests/support/stubgen.py``), the package passes mypy with them, a typed
user program passes, and mistakes in one (a misspelled method or function, a wrong argument
type) are reported, which proves the stubs are read."""
import importlib.util
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STUBGEN = os.path.join(ROOT, "tests", "support", "stubgen.py")
TYPING_DIR = os.path.join(ROOT, "tests", "typing")

needs_mypy = pytest.mark.skipif(importlib.util.find_spec("mypy") is None,
                                reason="mypy is not installed (pip install 'gpugrad[test]')")


def run_mypy(*args, cache):
    """mypy's report (exit status, output), run from the repository root with its
    ``[tool.mypy]`` settings; the cache goes to ``cache``, outside the tree."""
    done = subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", str(cache), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    return done.returncode, done.stdout + done.stderr


@pytest.fixture(scope="module")
def mypy_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("mypy_cache")  # shared: the second run reuses the first's


def test_package_ships_py_typed_and_stubs():
    for name in ("py.typed", "tensor.pyi", "__init__.pyi"):
        assert os.path.isfile(os.path.join(ROOT, "gpugrad", name)), name


def test_stubs_match_the_running_library():
    # a fresh interpreter: what the stubs hold must not depend on what the tests imported
    done = subprocess.run([sys.executable, STUBGEN, "--check"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, (
        f"{done.stdout}{done.stderr}\nThe shipped type stubs differ from the library: run "
        f"`python tests/support/stubgen.py` and commit gpugrad/tensor.pyi and "
        f"gpugrad/__init__.pyi.")


def test_every_tensor_method_and_gg_function_is_in_the_stubs():
    import gpugrad as gg
    from gpugrad.tensor_api import FUNCTIONS, METHODS

    with open(os.path.join(ROOT, "gpugrad", "tensor.pyi")) as f:
        tensor_stub = f.read()
    with open(os.path.join(ROOT, "gpugrad", "__init__.pyi")) as f:
        package_stub = f.read()
    declared = set(re.findall(r"^    def (\w+)\(", tensor_stub, re.M))
    bound = {name for name, value in vars(gg.Tensor).items()
             if callable(value) and value in METHODS}
    assert bound and not bound - declared
    published = [name for name, fn in FUNCTIONS.items() if getattr(gg, name) is fn]
    missing = [name for name in published
               if not re.search(rf"^{name} = Tensor\.{name}$", package_stub, re.M)]
    assert published and not missing
    assert "__getattr__" not in package_stub  # a misspelled gg name must be an error


@needs_mypy
@pytest.mark.slow
def test_mypy_passes_on_the_package(mypy_cache):
    status, report = run_mypy("-p", "gpugrad", cache=mypy_cache)
    assert status == 0, report


@needs_mypy
@pytest.mark.slow
def test_mypy_passes_on_a_typed_user_program(mypy_cache):
    # the package's own errors are the test above's: here only the user's file is judged
    program = os.path.join(TYPING_DIR, "user_program.py")
    status, report = run_mypy("--follow-imports=silent", program, cache=mypy_cache)
    assert status == 0, report


@needs_mypy
@pytest.mark.slow
def test_mypy_rejects_each_deliberate_mistake(mypy_cache):
    path = os.path.join(TYPING_DIR, "mistakes.py")
    with open(path) as f:
        expected = {i for i, line in enumerate(f, 1) if re.search(r"#\s*error:", line)}
    status, report = run_mypy("--follow-imports=silent", path, cache=mypy_cache)
    reported = {int(n) for n in re.findall(r"mistakes\.py:(\d+): error", report)}
    assert status == 1 and expected, report
    assert reported == expected, report


def test_the_user_program_runs():
    # the typed program is real code: it runs as written
    done = subprocess.run([sys.executable, os.path.join(TYPING_DIR, "user_program.py")],
                          cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    assert done.returncode == 0, done.stderr
