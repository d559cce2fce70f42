"""No file of the repository points outside it: every command, doc and test works from a fresh
clone. Each tracked text file (and each new one git does not ignore) is searched for paths of the
machine it was written on: the sibling ``shared`` folder, temporary and home folders, and the
folder the checkout happened to live in. The few such paths that are meant are listed below,
each with its reason."""
import re
import shutil
import subprocess
from fnmatch import fnmatch
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# A path of the machine: a sibling folder reached with ../, or an absolute path under a folder
# that is never part of a checkout. (The patterns are spelled so that this file does not match.)
MACHINE_PATH = re.compile(
    r"\.\./shared\b[^\s`'\"),:;]*"
    r"|(?<![\w.~$/-])/(?:tmp|work|home|Users|root|mnt|media|opt|scratch|private/var|var/folders)"
    r"(?![\w.-])[^\s`'\"),:;]*"
    r"|\b[A-Za-z]:\\(?:Users|Documents and Settings)\\[^\s`'\"),:;]*")

# (files, paths) that are meant, as regular expressions (character classes keep them from
# matching this file), with the reason.
ALLOWED = [
    # The Docker image's virtual environment (the Dockerfile's VIRTUAL_ENV, a path in the image)
    (("Dockerfile",), r"/[o]pt/gpugrad(/[\w/]*)?"),
    # Verbatim output of GPU runs, kept as measured: the run wrote its files to $OUT, which was
    # a temporary folder on the lent machine.
    (("bench/results/h200-run*/summary.txt", "bench/results/h200-run*/mlp_cuda.log"),
     r"/[t]mp/gc(/\w+\.json)?"),
    # ... and the Python it ran, as the run's env.txt recorded it
    (("bench/results/h200-run*/env.txt",), r"/[o]pt/torch/\.venv/bin/python3"),
]


def repository_files():
    """Tracked files and untracked ones git does not ignore, that exist in the working tree."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the file list comes from git ls-files")
    done = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                          cwd=ROOT, capture_output=True, timeout=60)
    if done.returncode:
        pytest.skip(f"git ls-files failed: {done.stderr.decode(errors='replace').strip()}")
    names = sorted({n for n in done.stdout.decode().split("\0") if n})
    return [n for n in names if (ROOT / n).is_file()]


def text_of(path):
    """The file's text, or None for a binary file (a NUL byte in its first 8 KiB)."""
    data = path.read_bytes()
    if b"\0" in data[:8192]:
        return None
    return data.decode("utf-8", errors="replace")


def is_allowed(name, found):
    return any(any(fnmatch(name, pattern) for pattern in files) and re.fullmatch(paths, found)
               for files, paths in ALLOWED)


def machine_paths(name, text):
    """``["file:line: path", ...]`` of the machine paths in ``text`` that are not allowed."""
    return [f"{name}:{number}: {m.group(0)}"
            for number, line in enumerate(text.splitlines(), 1)
            for m in MACHINE_PATH.finditer(line) if not is_allowed(name, m.group(0))]


def test_no_file_names_a_path_outside_the_repository():
    files = repository_files()
    assert len(files) > 100 and "tests/test_repository.py" in files
    found = []
    for name in files:
        text = text_of(ROOT / name)
        if text is not None:
            found += machine_paths(name, text)
    assert not found, ("paths outside the repository (a fresh clone has none of them; ship the "
                       "file in the repository or name it relative to it):\n" + "\n".join(found))


S = "/"   # the examples below are built with it, so that this file itself names no such path


@pytest.mark.parametrize("line, found", [
    (f"python -m tool ..{S}shared/data/run1.json --x", f"..{S}shared/data/run1.json"),
    (f"OUT={S}tmp/gpu-check bash run.sh", f"{S}tmp/gpu-check"),
    (f"files: {S}tmp", f"{S}tmp"),
    (f'path = "{S}home/alice/gpugrad/README.md"', f"{S}home/alice/gpugrad/README.md"),
    (f"see `{S}work/main/docs/x.md`", f"{S}work/main/docs/x.md"),
    ("C:\\Users\\bob\\data.json", "C:\\Users\\bob\\data.json"),
])
def test_the_search_finds_machine_paths(line, found):
    assert machine_paths("x.md", line) == [f"x.md:1: {found}"]


@pytest.mark.parametrize("line", [
    "def test_x(tmp_path): (tmp_path / 'a.json').write_text('{}')",
    f"https://example.com{S}tmp/file and ui.perfetto.dev",
    "bench/results/measurements/h200-run1.json and docs/tmp/notes.md",
    f"#!{S}usr/bin/env bash; {S}tmpfs is not {S}tmp-like; ~{S}work/x; $HOME{S}tmp/y",
])
def test_the_search_leaves_repository_paths_alone(line):
    assert machine_paths("x.py", line) == []


def test_the_allowed_paths_are_only_allowed_where_listed():
    container = f"{S}opt/gpugrad/bin"
    assert machine_paths("Dockerfile", f"ENV PATH={container}:$PATH") == []
    assert machine_paths("docs/cuda.md", f"caches in {container}") == [
        f"docs/cuda.md:1: {container}"]
    recorded = f"{S}tmp/gc/mlp_cuda.json"
    assert machine_paths("bench/results/h200-run7/mlp_cuda.log", f"wrote {recorded}") == []
    assert machine_paths("bench/mlp.py", f"wrote {recorded}") == [f"bench/mlp.py:1: {recorded}"]
