"""Static checks of the Dockerfile and .dockerignore (no Docker engine is needed): the image is
based on an official CUDA runtime image matching the CuPy extra it installs, copies everything a
build needs and nothing .dockerignore drops, and runs the command the README documents."""
import fnmatch
import json
import os
import re
import shlex

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD_INPUTS = {"pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "kernels", "gpugrad"}
UBUNTU_PYTHON = {"ubuntu22.04": (3, 10), "ubuntu24.04": (3, 12)}


def instructions():
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    with open(os.path.join(ROOT, "Dockerfile"), encoding="utf-8") as f:
        lines = [ln for ln in f.read().splitlines() if not ln.lstrip().startswith("#")]
    text = re.sub(r"\\\n", " ", "\n".join(lines))
    out = []
    for line in text.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def dockerignore():
    with open(os.path.join(ROOT, ".dockerignore"), encoding="utf-8") as f:
        return [ln.strip() for ln in f if ln.strip() and not ln.startswith("#")]


def ignored(path, patterns):
    return any(fnmatch.fnmatch(path, p.lstrip("/")) or fnmatch.fnmatch(path, p.lstrip("*/"))
               for p in patterns)


def test_base_is_an_official_cuda_runtime_image_matching_the_extra():
    froms = [args for word, args in instructions() if word == "FROM"]
    assert len(froms) == 1
    match = re.fullmatch(r"nvidia/cuda:(\d+)\.(\d+)\.(\d+)-runtime-(ubuntu\d+\.\d+)", froms[0])
    assert match, f"expected nvidia/cuda:X.Y.Z-runtime-ubuntuNN.NN, got {froms[0]}"
    cuda_major, distro = match.group(1), match.group(4)
    runs = " ".join(args for word, args in instructions() if word == "RUN")
    extras = re.search(r'pip install "\.\[([\w,]+)\]"', runs)
    assert extras, "the image must pip install the project with its extras"
    assert f"cuda{cuda_major}" in extras.group(1).split(","), (
        f"CUDA {cuda_major} image needs the cuda{cuda_major} extra, got [{extras.group(1)}]")
    with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as f:
        pyproject = f.read()
    assert re.search(rf'^cuda{cuda_major} = \["cupy-cuda{cuda_major}x', pyproject, re.M)
    minimum = re.search(r'requires-python = ">=(\d+)\.(\d+)"', pyproject)
    assert UBUNTU_PYTHON[distro] >= (int(minimum.group(1)), int(minimum.group(2)))


def test_copies_every_build_input_and_none_is_ignored():
    patterns = dockerignore()
    copied = set()
    for word, args in instructions():
        if word == "COPY":
            parts = shlex.split(args)
            assert not any(p.startswith("--from") for p in parts)
            for source in parts[:-1]:
                assert os.path.exists(os.path.join(ROOT, source)), f"COPY {source}: no such path"
                assert not ignored(source, patterns), f".dockerignore drops {source}"
                copied.add(source.rstrip("/"))
        assert word != "ADD", "use COPY (ADD fetches URLs and unpacks archives)"
    assert BUILD_INPUTS <= copied, f"not copied: {BUILD_INPUTS - copied}"
    for heavy in (".git", ".venv", "tests", "**/__pycache__"):
        assert heavy in patterns


def test_installs_from_the_copy_and_checks_the_kernels():
    runs = [args for word, args in instructions() if word == "RUN"]
    install = next(r for r in runs if "pip install" in r)
    assert "-e " not in install, "a plain install, so the wheel carries kernels/*.cu"
    assert "kernel_dir()" in install and "cd /" in install
    assert any("rm -rf /var/lib/apt/lists" in r for r in runs)


def test_default_command_runs_the_demo_on_cuda():
    cmds = [args for word, args in instructions() if word == "CMD"]
    assert len(cmds) == 1 and not [w for w, _ in instructions() if w == "ENTRYPOINT"]
    command = json.loads(cmds[0])  # exec form
    assert command == ["gpugrad", "demo", "--device", "cuda"]
    with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as f:
        assert re.search(r'^gpugrad = "gpugrad\.cli:main"', f.read(), re.M)


def test_readme_documents_the_image_and_the_cli_accepts_it():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    assert "## Docker" in readme
    section = readme[readme.index("## Docker"):]
    build = re.search(r"docker build -t (\S+) \.", section)
    run = re.search(r"docker run --gpus all (\S+) (gpugrad [^\n`]*)", section)
    assert build and run and build.group(1) == run.group(1)
    args = shlex.split(run.group(2))[1:]
    cli = pytest.importorskip("gpugrad.cli")
    parsed = cli._parser().parse_args(args)
    assert parsed.device == "cuda"
