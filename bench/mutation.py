"""Mutation testing: how many deliberately broken versions of gpugrad its tests catch.

    python bench/mutation.py                      # every package of bench/mutation.toml
    python bench/mutation.py ops optim            # some packages
    python bench/mutation.py gpugrad/ops/selection.py gpugrad/optim/sgd.py   # some files
    python bench/mutation.py --changed-since origin/main --max-minutes 3     # CI: a change

Runs mutmut (3.x) in a private copy of the tree, one session per package with only that
package's tests selected (bench/mutation.toml maps packages to sources, tests and targets), then
prints each package's score, killed / (mutants - equivalent), against its target with PASS or
MISS, and lists every survivor as ``file:line  function: `original` -> `mutated```. Survivors
that no test can kill are listed, each with a reviewed reason, in
bench/mutation_equivalent.toml; they leave the score. ``--changed-since REV`` mutates only the
functions that ``git diff REV`` touched. Exit status 1 when a package misses its target.
See docs/testing.md.
"""
import argparse
import fnmatch
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mutation_results as results  # noqa: E402

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "bench" / "mutation.toml"
EQUIVALENTS = REPO / "bench" / "mutation_equivalent.toml"
# What the private copy leaves out: version control, environments, build outputs.
NOT_COPIED = (".git", ".venv*", "mutants", "__pycache__", "*.egg-info", "build", "dist")
# Files outside gpugrad/ and tests/ that some tests read.
ALSO_COPY = ["bench", "docs", "examples", "kernels", "README.md", "pyproject.toml"]
# mutmut's words when no mutant matches the patterns of a changed-functions run
NOTHING_MATCHES = "Filtered for specific mutants, but nothing matches"
GRACE_SECONDS = 60  # how long mutmut gets to save and stop once the time is up
THREAD_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def load_config(path=CONFIG):
    """bench/mutation.toml: ``(mutmut settings, {package: {sources, tests, target}})``."""
    data = tomllib.loads(Path(path).read_text("utf-8"))
    packages = data.get("packages", {})
    for name, package in packages.items():
        missing = [key for key in ("sources", "tests", "target") if key not in package]
        if missing:
            raise ValueError(f"{path}: package {name!r} lacks {', '.join(missing)}")
    return data.get("mutmut", {}), packages


def load_equivalent_list(path=EQUIVALENTS):
    """The reviewed equivalent mutants of bench/mutation_equivalent.toml."""
    if not Path(path).exists():
        return []
    return results.load_equivalents(tomllib.loads(Path(path).read_text("utf-8"))
                                    .get("equivalent", []))


def package_files(package, repo=REPO):
    """The repository-relative source files a package's ``sources`` globs name."""
    found = {p.relative_to(repo).as_posix() for pattern in package["sources"]
             for p in repo.glob(pattern) if p.is_file()}
    return sorted(found)


def package_tests(package, repo=REPO):
    """The repository-relative test paths a package's ``tests`` name (globs expanded, so a new
    test file beside the others judges the package without a change here)."""
    found = []
    for pattern in package["tests"]:
        matches = sorted(p.relative_to(repo).as_posix() for p in repo.glob(pattern))
        found += [m for m in matches if m not in found]
    return found


def select(requested, packages, repo=REPO):
    """``{package: files}`` for the command line's PATHS: package names, source files or
    folders (everything under them that a package mutates). Nothing requested: everything."""
    if not requested:
        return {name: package_files(p, repo) for name, p in packages.items()}
    chosen = {}
    for item in requested:
        if item in packages:
            chosen.setdefault(item, set()).update(package_files(packages[item], repo))
            continue
        path = (repo / item).resolve()
        if not path.exists():
            raise SystemExit(f"{item}: no such package ({', '.join(packages)}) or path")
        candidates = ([path] if path.is_file() else sorted(path.rglob("*.py")))
        relative = [c.relative_to(repo).as_posix() for c in candidates]
        hits = 0
        for name, package in packages.items():
            files = results.files_matching(relative, package["sources"])
            if files:
                chosen.setdefault(name, set()).update(files)
                hits += len(files)
        if not hits:
            raise SystemExit(f"{item}: no package of {CONFIG.name} mutates it; add its source "
                             f"and tests there first")
    return {name: sorted(files) for name, files in chosen.items()}


def changed_selection(rev, packages, repo=REPO):
    """``({package: files}, {package: mutant name patterns})`` for the functions that
    ``git diff REV`` touched in the mutated sources."""
    diff = subprocess.run(["git", "diff", "--unified=0", rev, "--", "gpugrad"], cwd=repo,
                          capture_output=True, text=True, check=True, timeout=60).stdout
    touched = results.changed_lines(diff)
    files, patterns = {}, {}
    for name, package in packages.items():
        for file in results.files_matching(sorted(touched), package["sources"]):
            source_path = repo / file
            if not source_path.exists():
                continue  # deleted by the change
            found = results.touched_function_patterns(
                file, source_path.read_text("utf-8"), touched[file])
            if found:
                files.setdefault(name, []).append(file)
                patterns.setdefault(name, []).extend(found)
    return files, patterns


def mutmut_settings(settings, files, tests, timeout_per_mutant):
    """The ``[mutmut]`` section for one package's session."""
    section = {key: value for key, value in settings.items()}
    section.update(source_paths=["gpugrad"], only_mutate=files,
                   pytest_add_cli_args_test_selection=tests, also_copy=ALSO_COPY,
                   # mutmut stops a mutant after 2 * (clean test time + constant) * multiplier
                   # CPU seconds: this gives each its tests' time twice plus the allowance.
                   timeout_multiplier=1.0, timeout_constant=timeout_per_mutant / 2)
    return section


def render_setup_cfg(section):
    """setup.cfg text for a ``[mutmut]`` section (a list one item a line, as mutmut reads it;
    empty lists left out, since mutmut would read one empty item)."""
    lines = ["[mutmut]"]
    for key, value in section.items():
        if isinstance(value, list):
            if value:
                lines.append(f"{key} =" + "".join(f"\n    {item}" for item in value))
        else:
            lines.append(f"{key} = {str(value).lower() if isinstance(value, bool) else value}")
    return "\n".join(lines) + "\n"


def private_copy(destination, repo=REPO):
    """A fresh copy of the tree at ``destination``: mutmut rewrites what it mutates."""
    if destination.exists():
        shutil.rmtree(destination)
    shutil.copytree(repo, destination, ignore=shutil.ignore_patterns(*NOT_COPIED))


def run_session(work, patterns, jobs, seconds_left):
    """Runs ``mutmut run`` in ``work`` (niced, its log in ``work/mutmut.log``) until it ends or
    ``seconds_left`` pass; then it is interrupted, and keeps the verdicts it has saved.
    Returns mutmut's exit status, or None when the time ran out."""
    # One thread for every math library: mutmut forks a child per mutant from a process whose
    # tests ran PyTorch, and a child of a process that has started an OpenMP thread pool hangs
    # at its first parallel op (a deadlock that would count as a timeout, hence as a kill).
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", **{name: "1" for name in THREAD_ENV})
    command = ["nice", "-n", "19", sys.executable, "-m", "mutmut", "run",
               "--max-children", str(jobs), *patterns]
    with open(work / "mutmut.log", "w", encoding="utf-8") as log:
        process = subprocess.Popen(command, cwd=work, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        try:
            return process.wait(timeout=max(seconds_left, 1))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=GRACE_SECONDS)
            return None


def log_tail(work, lines=30):
    """The end of a session's log, spinner frames dropped."""
    text = (work / "mutmut.log").read_text("utf-8", errors="replace")
    kept = [line.rsplit("\r", 1)[-1] for line in text.splitlines()]
    return "\n".join(kept[-lines:])


def report(scores, survivors, wrongly_listed, stale):
    """Prints the scores, the survivors and the equivalent list's problems."""
    print("\npackage         killed/judged   score")
    for item in scores:
        print(results.format_score(item))
    if survivors:
        print(f"\nsurvivors ({len(survivors)}): kill each with a test, or list it with a reason "
              f"in {EQUIVALENTS.relative_to(REPO)}")
        for mutant in survivors:
            print(results.format_survivor(mutant))
    for mutant in wrongly_listed:
        print(f"\nlisted as equivalent but killed (remove it from the list): {mutant.where} "
              f"`{mutant.original}` -> `{mutant.mutated}`")
    for entry in stale:
        print(f"\nequivalent entry matches no mutant (remove or update it): {entry['file']} "
              f"{entry['function']}: `{entry['original']}` -> `{entry['mutated']}`")


def main(argv=None):
    """The command line; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", help="packages of bench/mutation.toml, source files "
                        "or folders (default: every package)")
    parser.add_argument("--changed-since", metavar="REV", help="mutate only the functions "
                        "that `git diff REV` touched")
    parser.add_argument("--timeout-per-mutant", type=float, default=20.0, metavar="S",
                        help="CPU seconds a mutant may take beyond twice its tests' clean time "
                        "(default 20)")
    parser.add_argument("--max-minutes", type=float, metavar="M", help="stop after M minutes "
                        "and score what ran (default: no limit)")
    parser.add_argument("--jobs", type=int, default=1, help="mutants tested at once (default 1)")
    parser.add_argument("--workdir", type=Path, help="where the private copies go (default: a "
                        "new temporary folder, kept for `mutmut show NAME` there)")
    args = parser.parse_args(argv)
    if args.paths and args.changed_since:
        parser.error("give PATHS or --changed-since, not both")

    settings, packages = load_config()
    equivalents = load_equivalent_list()
    if args.changed_since:
        selection, patterns = changed_selection(args.changed_since, packages)
        if not selection:
            print(f"no mutated source changed since {args.changed_since}: nothing to do")
            return 0
    else:
        selection, patterns = select(args.paths, packages), {}
    deadline = time.monotonic() + 60 * args.max_minutes if args.max_minutes else None
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="gpugrad-mutation-"))
    print(f"private copies in {workdir}")

    scores, survivors, wrongly_listed, stale = [], [], [], []
    for name, files in selection.items():
        left = deadline - time.monotonic() if deadline else 24 * 3600.0
        if left <= 0:
            print(f"{name}: not started (time ran out)")
            continue
        work = workdir / name
        private_copy(work)
        (work / "setup.cfg").write_text(render_setup_cfg(mutmut_settings(
            settings, files, package_tests(packages[name]), args.timeout_per_mutant)), "utf-8")
        print(f"{name}: {len(files)} file(s), tests {' '.join(package_tests(packages[name]))}",
              flush=True)
        started = time.monotonic()
        status = run_session(work, patterns.get(name, []), args.jobs, left)
        print(f"{name}: {time.monotonic() - started:.0f} s", flush=True)
        if status not in (0, None) and NOTHING_MATCHES in log_tail(work):
            print(f"{name}: the touched functions have nothing to mutate")
            continue
        if status not in (0, None):
            print(f"mutmut failed for {name} (status {status}):\n{log_tail(work)}")
            return 2
        mutants = [m for file in files
                   for m in results.read_mutants(work / "mutants", file, work)]
        if name in patterns:
            mutants = [m for m in mutants
                       if any(fnmatch.fnmatchcase(m.name, p) for p in patterns[name])]
        judged, equivalent, unused = results.split_equivalents(mutants, equivalents)
        scores.append(results.score(name, mutants, equivalents, packages[name]["target"]))
        survivors += [m for m in judged if m.status not in ("killed", "timeout", "not run")]
        wrongly_listed += [m for m in equivalent if m.status in ("killed", "timeout")]
        if not args.changed_since:
            stale += [e for e in unused if e["file"] in files]
    report(scores, survivors, wrongly_listed, stale)
    return 0 if all(item.passed for item in scores) else 1


if __name__ == "__main__":
    sys.exit(main())
