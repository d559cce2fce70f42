"""A plain (non-editable) install carries the CUDA sources: the wheel holds gpugrad/kernels/*.cu
and the installed package finds them there, away from the source tree. It also carries
``py.typed`` and the type stubs, so type checkers see the API."""
import glob
import os
import re
import shutil
import subprocess
import sys
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROJECT_FILES = ["pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "gpugrad", "kernels"]


def _skip_unless_wheels_build_offline():
    setuptools = pytest.importorskip("setuptools", reason="building a wheel needs setuptools")
    try:
        import wheel  # noqa: F401  (bdist_wheel for setuptools < 70.1)
    except ImportError:
        version = tuple(int(p) for p in re.findall(r"\d+", setuptools.__version__)[:2])
        if version < (70, 1):
            pytest.skip(f"setuptools {setuptools.__version__} without the wheel package cannot "
                        f"build a wheel offline (pip install 'setuptools>=70.1')")


@pytest.mark.slow
def test_wheel_ships_kernels_and_installed_package_finds_them(tmp_path):
    _skip_unless_wheels_build_offline()
    src = tmp_path / "src"
    src.mkdir()
    for name in PROJECT_FILES:  # a copy, so the build leaves nothing in the working tree
        path = os.path.join(ROOT, name)
        if os.path.isdir(path):
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(path, src / name)
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "-q", "-w", str(wheels), str(src)], capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stdout + build.stderr
    (wheel,) = glob.glob(str(wheels / "gpugrad-*.whl"))
    expected = sorted(os.path.basename(p) for pattern in ("*.cu", "*.cuh")
                      for p in glob.glob(os.path.join(ROOT, "kernels", pattern)))
    with zipfile.ZipFile(wheel) as zf:
        shipped = sorted(os.path.basename(n) for n in zf.namelist()
                         if n.startswith("gpugrad/kernels/") and n.endswith((".cu", ".cuh")))
    assert shipped == expected and expected
    with zipfile.ZipFile(wheel) as zf:  # type checkers read the API from these (PEP 561)
        names = set(zf.namelist())
    assert {"gpugrad/py.typed", "gpugrad/tensor.pyi", "gpugrad/__init__.pyi"} <= names

    target = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target",
         str(target), wheel], capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stdout + install.stderr
    code = ("import gpugrad, gpugrad.backends.cuda as c; print(gpugrad.__file__); print(c.kernel_dir())")
    env = dict(os.environ, PYTHONPATH=str(target))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=str(tmp_path), env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    package_file, kernel_dir = done.stdout.split()
    assert package_file.startswith(str(target))
    assert kernel_dir == os.path.join(str(target), "gpugrad", "kernels")
    for name in expected:
        with open(os.path.join(kernel_dir, name)) as got, \
                open(os.path.join(ROOT, "kernels", name)) as want:
            assert got.read() == want.read()


def test_source_tree_finds_top_level_kernels():
    import gpugrad.backends.cuda as c

    assert os.path.samefile(c.kernel_dir(), os.path.join(ROOT, "kernels"))
