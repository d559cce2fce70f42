"""The repository's Dockerfile and .dockerignore as data, for the tests that check the image
without a Docker engine (tests/test_dockerfile.py, tests/test_docker_replay.py)."""
import fnmatch
import importlib.util
import os
import re
import shlex

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCKERFILE = os.path.join(ROOT, "Dockerfile")


def instructions(path=DOCKERFILE):
    """``[(INSTRUCTION, arguments), ...]`` in order, comments dropped and continuation lines
    joined as Docker joins them (the backslash and the newline removed)."""
    with open(path, encoding="utf-8") as f:
        lines = [ln for ln in f.read().splitlines() if not ln.lstrip().startswith("#")]
    text = re.sub(r"\\\n", "", "\n".join(lines))
    out = []
    for line in text.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def arguments(word, path=DOCKERFILE):
    """The arguments of every ``word`` instruction (``"RUN"``, ``"COPY"`` ...), in order."""
    return [args for name, args in instructions(path) if name == word]


def build_args(path=DOCKERFILE):
    """``{name: default}`` of the ``ARG`` instructions (``None`` where there is no default)."""
    found = {}
    for args in arguments("ARG", path):
        name, _, default = args.partition("=")
        found[name] = default or None
    return found


def env_pairs(args):
    """``[(name, value), ...]`` of one ``ENV`` instruction in its ``NAME=value ...`` form."""
    return [tuple(item.split("=", 1)) for item in shlex.split(args)]


def dockerignore():
    """The patterns of .dockerignore, comments and blank lines dropped."""
    with open(os.path.join(ROOT, ".dockerignore"), encoding="utf-8") as f:
        return [ln.strip() for ln in f if ln.strip() and not ln.startswith("#")]


def ignored(path, patterns):
    """Whether .dockerignore's ``patterns`` drop ``path`` (relative to the build context): a
    pattern matches the path or a folder above it, and a leading ``**/`` matches at any depth."""
    parts = path.strip("/").split("/")
    prefixes = ["/".join(parts[:end]) for end in range(1, len(parts) + 1)]
    for pattern in patterns:
        pattern = pattern.lstrip("/")
        if pattern.startswith("**/"):
            tails = ["/".join(parts[start:end]) for end in range(1, len(parts) + 1)
                     for start in range(end)]
            if any(fnmatch.fnmatch(tail, pattern[3:]) for tail in tails):
                return True
        elif any(fnmatch.fnmatch(prefix, pattern) for prefix in prefixes):
            return True
    return False


def docker_module(name):
    """The module ``docker/<name>.py`` (the image's build helpers), imported by path."""
    spec = importlib.util.spec_from_file_location(f"docker_{name}",
                                                  os.path.join(ROOT, "docker", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
