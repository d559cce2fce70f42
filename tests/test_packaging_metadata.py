"""pyproject.toml, setup.py, MANIFEST.in and LICENSE, read as files (no build): a PEP 639 licence,
one version source, package data that matches files, the `data` extra, and no references to
files the repository does not have."""
import glob
import os
import re

import pytest

import gpugrad

tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python >= 3.11")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def pyproject():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        return tomllib.load(f)


def _read(name):
    with open(os.path.join(ROOT, name), encoding="utf-8") as f:
        return f.read()


def test_license_is_an_spdx_expression_with_its_file(pyproject):
    project = pyproject["project"]
    assert project["license"] == "MIT"
    assert project["license-files"] == ["LICENSE"]
    text = _read("LICENSE")
    assert text.startswith("MIT License\n") and "Copyright (c) 2026 The gpugrad authors" in text
    # PEP 639: a licence expression replaces the License :: classifiers (setuptools rejects both)
    assert not [c for c in project.get("classifiers", []) if c.startswith("License ::")]
    (setuptools_requirement,) = pyproject["build-system"]["requires"]
    minimum = tuple(int(p) for p in re.fullmatch(r"setuptools>=(\d+)", setuptools_requirement)
                    .groups())
    assert minimum >= (77,)  # the first setuptools that writes PEP 639 metadata


def test_version_is_written_once(pyproject):
    assert "version" not in pyproject["project"] and "version" in pyproject["project"]["dynamic"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "gpugrad.__version__"}
    # setuptools reads the literal without importing gpugrad
    assert re.search(r'^__version__ = "([^"]+)"', _read("gpugrad/__init__.py"), re.M) \
        .group(1) == gpugrad.__version__


def test_package_data_patterns_all_match_files(pyproject):
    for package, patterns in pyproject["tool"]["setuptools"]["package-data"].items():
        folder = os.path.join(ROOT, *package.split("."))
        for pattern in patterns:
            assert glob.glob(os.path.join(folder, pattern)), f"{package}: {pattern} matches nothing"


def test_classifiers_are_well_formed(pyproject):
    classifiers = pyproject["project"]["classifiers"]
    assert classifiers == sorted(classifiers) and len(set(classifiers)) == len(classifiers)
    assert all(re.fullmatch(r"[A-Z][\w./ -]*( :: [\w./ -]+)+", c) for c in classifiers)
    assert "Typing :: Typed" in classifiers  # py.typed ships
    try:
        from trove_classifiers import classifiers as known
    except ImportError:
        return
    assert set(classifiers) <= known, sorted(set(classifiers) - known)


def test_data_extra_holds_the_download_packages(pyproject):
    extras = pyproject["project"]["optional-dependencies"]
    names = {e: {re.match(r"[\w.-]+", r).group(0).lower() for r in reqs}
             for e, reqs in extras.items()}
    assert {"pooch", "platformdirs"} <= names["data"]
    assert {"pooch", "platformdirs"} <= names["test"]  # tests/data/test_mnist.py
    assert "pooch" not in {r.split(">")[0] for r in pyproject["project"]["dependencies"]}


@pytest.mark.parametrize("name", ["setup.py", "MANIFEST.in", "pyproject.toml"])
def test_packaging_files_cite_only_existing_files(name):
    for cited in re.findall(r"[\w/.-]+\.md\b", _read(name)):
        assert os.path.exists(os.path.join(ROOT, cited)), f"{name} cites {cited}"
    assert "DESIGN.md" not in _read(name)
