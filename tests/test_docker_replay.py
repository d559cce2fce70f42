"""The Docker image's commands, run without a Docker engine: the Dockerfile's steps are replayed
in order against a fresh virtual environment in a temporary folder that stands in for the
image's root (each folder the Dockerfile creates maps into it), then the image's user runs
``gpugrad devices`` and ``gpugrad demo --device cpu`` in its working folder, the output volume.

What a container would do differently: the host's Python stands in for Ubuntu's (the apt-get
step is skipped), the user is a bare uid (no account; the replay drops to it when run as root),
and the CUDA wheels (``cupy-*``: hundreds of MB, useless without a GPU) are left out of the
dependency step; every other package installs at the version docker/constraints.txt pins.
"""
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

import pytest
from support.dockerfile import ROOT, build_args, dockerignore, env_pairs, ignored, instructions

pytestmark = pytest.mark.slow

#: Steps that set up the operating system, which the host already provides.
SYSTEM_STEPS = re.compile(r"apt-get |rm -rf /var/lib/apt/lists/|if id \w+ |groupadd |useradd ")
#: ENV settings left out, and settings added: these shape only the image's size and start-up
#: time, and the replay is faster with pip's cache and without compiling every installed module.
SKIPPED_ENV = {"PIP_NO_CACHE_DIR"}
REPLAY_ENV = {"PIP_NO_COMPILE": "1"}
BASE_PATH = "/usr/local/bin:/usr/bin:/bin"
TIMEOUT = 300  # seconds for any one step: a stuck pip or demo fails the test instead of hanging


class Replay:
    """The image being built: its root folder, environment, working folder and user."""

    def __init__(self, root):
        self.root = root
        self.args = build_args()
        self.env = {"PATH": BASE_PATH, "HOME": os.path.expanduser("~"), "LANG": "C.UTF-8",
                    "OPENBLAS_NUM_THREADS": "1", **REPLAY_ENV}
        # the machine's own route to the package index, as a build host would have it
        self.env.update({k: v for k, v in os.environ.items() if k.startswith("PIP_")})
        self.cwd = root
        self.user = None  # (uid, gid) once the Dockerfile's USER runs
        self.folders = image_folders(instructions())

    def path(self, text):
        """``text`` with each of the image's folders moved under the replay's root."""
        if not self.folders:
            return text
        pattern = "|".join(re.escape(f) for f in sorted(self.folders, key=len, reverse=True))
        return re.sub(rf"(?<![\w.$/-])({pattern})(?=[/\s\"':]|$)",
                      lambda m: self.root + m.group(1), text)

    def expand(self, text):
        """``$NAME`` and ``${NAME}`` replaced by the ENV and ARG values, as the build would."""
        values = {**self.args, **self.env}
        return re.sub(r"\$\{?(\w+)\}?", lambda m: values.get(m.group(1)) or "", text)

    def run(self, command, **kwargs):
        """Run ``command`` (a list) in the working folder, as the image's user once there is
        one; the CompletedProcess, with stdout and stderr as text."""
        if self.user and os.geteuid() == 0:
            kwargs.update(user=self.user[0], group=self.user[1], extra_groups=[])
        return subprocess.run(command, cwd=self.cwd, env=self.env, capture_output=True,
                              text=True, timeout=TIMEOUT, **kwargs)

    def step(self, word, args):
        """Replay one instruction."""
        if word == "ENV":
            for name, value in env_pairs(args):
                if name not in SKIPPED_ENV:
                    self.env[name] = self.expand(self.path(value))
        elif word == "WORKDIR":
            self.cwd = self.path(self.expand(args))
            os.makedirs(self.cwd, exist_ok=True)
        elif word == "COPY":
            *sources, target = shlex.split(args)
            for source in sources:
                self.copy(source, os.path.join(self.cwd, target))
        elif word == "RUN":
            for command in re.split(r"\s&&\s", self.expand(args)):
                self.shell(command.strip())
        elif word == "USER":
            uid, _, gid = self.expand(args).partition(":")
            self.user = (int(uid), int(gid or uid))
        else:
            # ARG values are known from the start (build_args); the rest describe the container
            assert word in ("FROM", "ARG", "VOLUME", "CMD"), f"the replay does not know {word}"

    def copy(self, source, target):
        """COPY from the build context, leaving out what .dockerignore drops: a file into a
        target folder (ending in ``/``) or to a target name, a folder's contents into a folder."""
        patterns = dockerignore()
        origin = os.path.join(ROOT, source)
        if target.endswith("/"):
            os.makedirs(target, exist_ok=True)
        if os.path.isdir(origin):
            def skip(folder, names):
                relative = os.path.relpath(folder, ROOT)
                return [n for n in names if ignored(os.path.join(relative, n), patterns)]
            shutil.copytree(origin, target, ignore=skip, dirs_exist_ok=True)
        else:
            shutil.copy(origin, target)

    def inside(self, path):
        """``path``, checked to lie under the replay's root (the image's folders all do)."""
        assert os.path.abspath(path).startswith(self.root + os.sep), f"{path} is not mapped"
        return path

    def shell(self, command):
        """One command of a RUN step."""
        if SYSTEM_STEPS.match(command):
            return
        command = self.path(command)  # before anything runs: nothing outside the replay's root
        words = shlex.split(command)
        if words[:3] == ["python3", "-m", "venv"]:  # the host's Python stands in for Ubuntu's
            words = [host_python(), *words[1:]]
            self.inside(words[-1])
        elif words[0] == "mkdir":
            for folder in words[1:]:
                os.makedirs(self.inside(folder))
            return
        elif words[0] == "chown":
            uid, gid = int(self.args["UID"]), int(self.args["GID"])
            for folder in words[2:]:
                if os.geteuid() == 0:
                    os.chown(self.inside(folder), uid, gid)
            return
        else:
            for requirements in re.findall(r"--requirement (\S+)", command):
                without_cuda_wheels(os.path.join(self.cwd, requirements))
            words = ["bash", "-c", command]
        done = self.run(words)
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"


def image_folders(steps):
    """The absolute folders the image's own steps create: its virtual environment (VIRTUAL_ENV),
    its WORKDIRs, its VOLUMEs and the folders its RUN steps make."""
    folders = set()
    for word, args in steps:
        if word == "ENV":
            folders |= {value for name, value in env_pairs(args) if name == "VIRTUAL_ENV"}
        elif word == "WORKDIR":
            folders.add(args)
        elif word == "VOLUME":
            folders |= set(json.loads(args))
        elif word == "RUN":
            for made in re.findall(r"mkdir ((?:/[\w/.-]+ ?)+)", args):
                folders |= set(made.split())
    return {f.rstrip("/") for f in folders if f.startswith("/") and f != "/"}


def host_python():
    """The host's ``python3`` (as the Dockerfile names it, so that the image's user can run it),
    or the tests' own interpreter where there is none."""
    return shutil.which("python3", path=BASE_PATH) or sys.executable


def without_cuda_wheels(path):
    """Drop the ``cupy-*`` requirements from a requirements file (they need an NVIDIA GPU)."""
    with open(path, encoding="utf-8") as f:
        kept = [ln for ln in f if not ln.lower().startswith("cupy")]
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(kept)


@pytest.fixture(scope="module")
def image():
    """The replayed image (built once for this file's tests)."""
    python = subprocess.run([host_python(), "-c", "import tomllib, ensurepip"], timeout=60)
    if python.returncode:
        pytest.skip(f"{host_python()} lacks tomllib (3.11+) or ensurepip (python3-venv)")
    # in memory where there is a tmpfs: the image is ~10,000 files, slow to write and delete on disk
    memory = "/dev/shm"
    root = tempfile.mkdtemp(prefix="gpugrad-image-", dir=memory if os.path.isdir(memory) else None)
    os.chmod(root, 0o755)  # the image's user must reach its folders
    replay = Replay(root)
    for word, args in instructions():
        replay.step(word, args)
    replay.env["HOME"] = os.path.join(root, "home")  # what Docker sets from the user's account
    yield replay
    shutil.rmtree(root, ignore_errors=True)


def test_the_image_runs_as_its_user_in_the_output_volume(image):
    volume = image.path(json.loads(dict(instructions())["VOLUME"])[0])
    assert image.cwd == volume, "the image's working folder is its output volume"
    if os.geteuid() == 0:
        assert image.user and image.user[0] != 0
        assert image.run(["id", "-u"]).stdout.strip() == str(image.user[0])


def test_gpugrad_devices_runs_in_the_image(image):
    done = image.run(["gpugrad", "devices"])
    assert done.returncode == 0, done.stderr
    assert "cpu" in done.stdout and "cuda" in done.stdout


def test_the_demo_on_cpu_writes_its_outputs_into_the_volume(image):
    done = image.run(["gpugrad", "demo", "--device", "cpu", "--epochs", "1"])
    assert done.returncode == 0, done.stdout + done.stderr
    out = os.path.join(image.cwd, "gpugrad-demo")
    with open(os.path.join(out, "summary.json"), encoding="utf-8") as f:
        summary = json.load(f)
    assert summary["device"] == "cpu" and summary["epochs"] == 1
    written = set(os.listdir(out))
    assert {"summary.json", "trace.json", "demo.png"} <= written, written
    assert any(name.startswith("model.") for name in written), written
    if os.geteuid() == 0:
        assert os.stat(os.path.join(out, "summary.json")).st_uid == image.user[0]
