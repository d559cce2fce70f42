"""PyTorch's beginner tutorials, translated to gpugrad by renaming ``torch`` to ``gg`` and
nothing else, run on every device; PyTorch runs the same files (renamed back) as the oracle.

Each program leaves ``RESULTS`` (numbers, lists, strings: compared with PyTorch's to ``RTOL``,
default 1e-6) and asserts what cannot be aligned with PyTorch's random streams itself.
"""
import math
import pathlib
import re

import pytest

import gpugrad as gg

HERE = pathlib.Path(__file__).parent
PROGRAMS = sorted(p.name for p in HERE.glob("*.py") if not p.name.startswith("test_"))
NEEDS = {"quickstart.py": "sklearn"}


def run(name, library_name):
    """Execute program ``name`` with its ``gpugrad`` imports pointing at ``library_name``."""
    source = (HERE / name).read_text()
    if library_name != "gpugrad":
        source = re.sub(r"\bgpugrad\b", library_name, source)
    namespace = {"__name__": "program"}
    exec(compile(source, str(HERE / name), "exec"), namespace)
    return namespace


def assert_same(ours, theirs, rtol, where="RESULTS"):
    if isinstance(theirs, dict):
        assert ours.keys() == theirs.keys(), where
        for key in theirs:
            assert_same(ours[key], theirs[key], rtol, f"{where}[{key!r}]")
    elif isinstance(theirs, (list, tuple)):
        assert len(ours) == len(theirs), f"{where}: length {len(ours)} != {len(theirs)}"
        for i, (a, b) in enumerate(zip(ours, theirs)):
            assert_same(a, b, rtol, f"{where}[{i}]")
    elif isinstance(theirs, float) and not isinstance(ours, bool):
        assert math.isclose(ours, theirs, rel_tol=rtol, abs_tol=rtol * 1e-3), \
            f"{where}: {ours} != PyTorch's {theirs}"
    else:
        assert ours == theirs, f"{where}: {ours!r} != PyTorch's {theirs!r}"


@pytest.fixture
def on_device(device):
    previous = gg.get_default_device()
    gg.set_default_device(device)
    yield device
    gg.set_default_device(previous)


def test_every_tutorial_is_here():
    assert {"tensors_tutorial.py", "autograd_tutorial.py", "build_model.py", "optimization.py",
            "custom_function.py", "blitz_cnn.py", "quickstart.py"} <= set(PROGRAMS)


@pytest.mark.parametrize("name", PROGRAMS)
def test_program_runs_as_written(name, on_device):
    if name in NEEDS:
        pytest.importorskip(NEEDS[name], reason=f"{name} needs {NEEDS[name]}")
    assert isinstance(run(name, "gpugrad")["RESULTS"], dict)


@pytest.mark.parametrize("name", PROGRAMS)
def test_program_gives_pytorchs_results(name, on_device, torch):
    if name in NEEDS:
        pytest.importorskip(NEEDS[name], reason=f"{name} needs {NEEDS[name]}")
    theirs = run(name, "torch")
    ours = run(name, "gpugrad")
    assert_same(ours["RESULTS"], theirs["RESULTS"], ours.get("RTOL", 1e-6))
