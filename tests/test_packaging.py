"""What users install: the sdist, built offline from a copy of the project, carries the package,
the CUDA sources, the docs, the README and the LICENSE, and no tests (they need the whole
repository; run them from a clone). A wheel built from that sdist holds gpugrad/kernels/*.cu,
``py.typed`` and the stubs, the LICENSE and the PEP 639 metadata, and the installed package finds
its kernels away from the source tree."""
import glob
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile

import pytest

import gpugrad

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# What a clone holds that a build might read, and two test files (setuptools adds tests/test*.py
# to an sdist by default) to show that the sdist leaves tests out.
PROJECT_FILES = ["pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "LICENSE", "gpugrad",
                 "kernels", "docs", "tests/conftest.py", "tests/test_packaging.py"]
KERNEL_PATTERNS = ("*.cu", "*.cuh")


def _skip_unless_builds_work_offline():
    setuptools = pytest.importorskip("setuptools", reason="building needs setuptools")
    version = tuple(int(p) for p in re.findall(r"\d+", setuptools.__version__)[:2])
    if version < (77, 0):
        pytest.skip(f"setuptools {setuptools.__version__} cannot build PEP 639 metadata offline "
                    f"(pip install 'setuptools>=77')")


def _kernel_names():
    return sorted(os.path.basename(p) for pattern in KERNEL_PATTERNS
                  for p in glob.glob(os.path.join(ROOT, "kernels", pattern)))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """``(sdist, wheel)``: an sdist built from a copy of the project (so the build leaves nothing
    in the working tree), and a wheel built from that unpacked sdist, all offline."""
    _skip_unless_builds_work_offline()
    tmp = tmp_path_factory.mktemp("packaging")
    src = tmp / "src"
    src.mkdir()
    for name in PROJECT_FILES:
        path = os.path.join(ROOT, name)
        if os.path.isdir(path):
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns(
                "__pycache__", "*.pyc"))
        else:
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, src / name)
    code = ("import sys; from setuptools import build_meta; "
            "print(build_meta.build_sdist(sys.argv[1]))")
    sdist_build = subprocess.run([sys.executable, "-c", code, str(tmp / "sdist")], cwd=str(src),
                                 capture_output=True, text=True, timeout=300)
    assert sdist_build.returncode == 0, sdist_build.stdout + sdist_build.stderr
    sdist = tmp / "sdist" / sdist_build.stdout.split()[-1]
    safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}  # Python >= 3.10.12
    with tarfile.open(sdist) as tar:
        tar.extractall(tmp / "unpacked", **safe)
    (unpacked,) = (tmp / "unpacked").iterdir()
    wheel_build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "-q", "-w", str(tmp / "wheels"), str(unpacked)], capture_output=True, text=True,
        timeout=300)
    assert wheel_build.returncode == 0, wheel_build.stdout + wheel_build.stderr
    (wheel,) = glob.glob(str(tmp / "wheels" / "gpugrad-*.whl"))
    return sdist, wheel


@pytest.mark.slow
def test_sdist_carries_sources_docs_and_license_but_no_tests(built):
    sdist, _ = built
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
        texts = {n: tar.extractfile(n).read() for n in tar.getnames()
                 if tar.getmember(n).isfile()}
    docs = {f"docs/{name}" for name in os.listdir(os.path.join(ROOT, "docs"))}
    kernels = {f"kernels/{name}" for name in _kernel_names()}
    assert {"LICENSE", "README.md", "pyproject.toml", "setup.py", "PKG-INFO"} <= names
    assert docs and docs <= names, sorted(docs - names)
    assert kernels <= names, sorted(kernels - names)
    assert "gpugrad/__init__.py" in names and "gpugrad/py.typed" in names
    assert not [n for n in names if n.startswith("tests") or "__pycache__" in n]
    assert not [n for n, data in texts.items() if b"DESIGN.md" in data]
    pkg_info = texts[next(n for n in texts if n.count("/") == 1 and n.endswith("/PKG-INFO"))]
    assert f"Version: {gpugrad.__version__}\n".encode() in pkg_info
    assert b"License-Expression: MIT\n" in pkg_info and b"License-File: LICENSE\n" in pkg_info


@pytest.mark.slow
def test_wheel_from_sdist_ships_kernels_and_installed_package_finds_them(built, tmp_path):
    _, wheel = built
    expected = _kernel_names()
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        metadata = zf.read(f"gpugrad-{gpugrad.__version__}.dist-info/METADATA").decode()
    shipped = sorted(os.path.basename(n) for n in names
                     if n.startswith("gpugrad/kernels/") and n.endswith((".cu", ".cuh")))
    assert shipped == expected and expected
    # type checkers read the API from these (PEP 561)
    assert {"gpugrad/py.typed", "gpugrad/tensor.pyi", "gpugrad/__init__.pyi"} <= names
    assert f"gpugrad-{gpugrad.__version__}.dist-info/licenses/LICENSE" in names
    assert "License-Expression: MIT" in metadata and "Provides-Extra: data" in metadata

    target = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target",
         str(target), wheel], capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stdout + install.stderr
    code = ("import gpugrad, gpugrad.backends.cuda as c; print(gpugrad.__file__); "
            "print(c.kernel_dir())")
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
