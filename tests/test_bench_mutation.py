"""bench/mutation.py and bench/mutation_results.py without a mutation run: reading mutmut's
files back into file:line and code, the equivalent list, scores against targets, which functions
a diff touched, and the configuration the sessions are built from."""
import configparser
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
import mutation_results as results  # noqa: E402

try:
    import mutation  # noqa: E402  (needs tomllib, Python 3.11+, or tomli)
except ModuleNotFoundError:
    mutation = None
needs_toml = pytest.mark.skipif(mutation is None, reason="reading TOML needs Python 3.11+ or tomli")

SOURCE = '''"""A module."""
LIMIT = 3


def clamp(x, low, high):
    if x < low:
        return low
    return min(x, high)


class Box:
    """A box."""

    def area(self, w, h):
        return w * h
'''


def _mutated_copy():
    """The mutmut copy of SOURCE with one mutant per function, and its spans."""
    # as mutmut writes them, each span starts with the blank line before its def
    orig_clamp = ["", "def x_clamp__mutmut_orig(x, low, high):", "    if x < low:",
                  "        return low", "    return min(x, high)"]
    mut_clamp = ["", "def x_clamp__mutmut_1(x, low, high):", "    if x <= low:",
                 "        return low", "    return min(x, high)"]
    orig_area = ["", "    def xǁBoxǁarea__mutmut_orig(self, w, h):", "        return w * h"]
    mut_area = ["", "    def xǁBoxǁarea__mutmut_1(self, w, h):", "        return w / h"]
    lines = ["# trampolines", ""] + orig_clamp + mut_clamp + ["class Box:"] + orig_area + mut_area
    spans, start = {}, 3
    for name, block in [("x_clamp__mutmut_orig", orig_clamp), ("x_clamp__mutmut_1", mut_clamp)]:
        spans[name] = [start, start + len(block) - 1]
        start += len(block)
    start += 1  # "class Box:"
    for name, block in [("xǁBoxǁarea__mutmut_orig", orig_area),
                        ("xǁBoxǁarea__mutmut_1", mut_area)]:
        spans[name] = [start, start + len(block) - 1]
        start += len(block)
    return "\n".join(lines) + "\n", spans


@pytest.fixture
def session(tmp_path):
    """A repository with pkg/shapes.py and the files a mutmut session leaves for it."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "shapes.py").write_text(SOURCE, "utf-8")
    copy = tmp_path / "mutants" / "pkg" / "shapes.py"
    copy.parent.mkdir(parents=True)
    text, spans = _mutated_copy()
    copy.write_text(text, "utf-8")
    Path(f"{copy}.spans").write_text(json.dumps({"version": 1, "spans": spans}), "utf-8")
    Path(f"{copy}.meta").write_text(json.dumps({"exit_code_by_key": {
        "pkg.shapes.x_clamp__mutmut_1": 0, "pkg.shapes.xǁBoxǁarea__mutmut_1": 1}}), "utf-8")
    return tmp_path


def test_mutants_are_read_back_with_their_source_line_and_code(session):
    clamp, area = results.read_mutants(session / "mutants", "pkg/shapes.py", session)
    assert (clamp.where, clamp.function, clamp.original, clamp.mutated, clamp.status) == (
        "pkg/shapes.py:6", "clamp", "if x < low:", "if x <= low:", "survived")
    assert clamp.line_in_function == 2 and area.line_in_function == 2
    assert (area.where, area.function, area.original, area.mutated, area.status) == (
        "pkg/shapes.py:15", "Box.area", "return w * h", "return w / h", "killed")


def test_a_file_mutmut_never_reached_has_no_mutants(tmp_path):
    assert results.read_mutants(tmp_path / "mutants", "pkg/none.py", tmp_path) == []


def test_a_changed_def_line_shows_the_real_function_name():
    offset, original, mutated = results.changed_code(
        ["def xǁSGDǁ__init____mutmut_orig(self, lr=1e-3):", "    pass"],
        ["def xǁSGDǁ__init____mutmut_1(self, lr=1.001):", "    pass"])
    assert (offset, original, mutated) == (0, "def __init__(self, lr=1e-3):",
                                           "def __init__(self, lr=1.001):")


@pytest.mark.parametrize("code, status", [(0, "survived"), (1, "killed"), (3, "killed"),
                                          (36, "timeout"), (-24, "timeout"), (152, "timeout"),
                                          (255, "timeout"), (33, "no tests"),
                                          (5, "no tests"), (None, "not run"), (-11, "suspicious")])
def test_mutmut_exit_codes_become_verdicts(code, status):
    assert results.status_of(code) == status


def test_names_split_into_class_and_function():
    assert results.function_of("gpugrad.optim.sgd.xǁSGDǁstep__mutmut_3") == ("SGD", "step")
    assert results.function_of("gpugrad.ops.selection.x_clamp__mutmut_12") == (None, "clamp")


def _mutant(status, original="a < b", file="pkg/shapes.py"):
    return results.Mutant(name="pkg.shapes.x_clamp__mutmut_1", file=file, line=6,
                          function="clamp", original=original, mutated="a <= b", status=status)


EQUIVALENT = dict(file="pkg/shapes.py", function="clamp", original="a  <  b", mutated="a <= b",
                  reason="the two agree where a == b")


def test_equivalent_mutants_leave_the_denominator_and_not_run_ones_too():
    mutants = [_mutant("killed", "x"), _mutant("killed", "y"), _mutant("survived", "z"),
               _mutant("survived"), _mutant("not run", "w")]
    score = results.score("ops", mutants, [EQUIVALENT], target=95)
    assert (score.killed, score.judged, score.equivalent, score.not_run) == (2, 3, 1, 1)
    assert score.percent == pytest.approx(200 / 3) and not score.passed
    line = results.format_score(score)
    assert "2/3" in line and "66.7%" in line and "MISS" in line and "1 not run" in line


def test_timeouts_count_as_killed_and_the_report_says_how_many():
    mutants = [_mutant("killed", "x"), _mutant("timeout", "y"), _mutant("timeout", "z"),
               _mutant("survived", "w")]
    score = results.score("nn", mutants, [], target=70)
    assert (score.killed, score.judged, score.timed_out) == (3, 4, 2) and score.passed
    assert results.format_score(score).endswith("(0 equivalent)  (2 of the killed by timeout)")
    assert "by timeout" not in results.format_score(results.score("nn", mutants[:1], [], 70))


def test_a_package_at_its_target_passes():
    score = results.score("sim", [_mutant("killed", str(k)) for k in range(9)]
                          + [_mutant("survived", "left")], [], target=90)
    assert score.percent == 90.0 and score.passed and "PASS" in results.format_score(score)


def test_equivalent_entries_that_match_nothing_are_returned():
    judged, equivalent, unused = results.split_equivalents([_mutant("survived", "x")],
                                                           [EQUIVALENT])
    assert [m.original for m in judged] == ["x"] and equivalent == [] and unused == [EQUIVALENT]


def test_a_line_in_function_tells_apart_the_same_change_on_two_lines():
    first, second = (results.Mutant(name=f"m{k}", file="pkg/shapes.py", line=5 + k,
                                    function="clamp", original="n == 1", mutated="n == 2",
                                    status="survived", line_in_function=k) for k in (2, 7))
    entry = dict(EQUIVALENT, original="n == 1", mutated="n == 2", line_in_function=7)
    judged, equivalent, unused = results.split_equivalents([first, second], [entry])
    assert judged == [first] and equivalent == [second] and unused == []


def test_an_equivalent_entry_without_a_reason_is_refused():
    with pytest.raises(ValueError, match="lacks reason"):
        results.load_equivalents([dict(EQUIVALENT, reason=" ")])


def test_a_survivor_line_says_where_and_how_to_see_it():
    text = results.format_survivor(_mutant("no tests"))
    assert text.startswith("pkg/shapes.py:6  clamp (its line 1): `a < b` -> `a <= b`  "
                           "[no tests]")
    assert "mutmut show pkg.shapes.x_clamp__mutmut_1" in text


DIFF = """diff --git a/gpugrad/ops/selection.py b/gpugrad/ops/selection.py
--- a/gpugrad/ops/selection.py
+++ b/gpugrad/ops/selection.py
@@ -10,0 +11,2 @@ def clamp(x):
+    a
+    b
@@ -20 +22 @@ class Max:
-    old
+    new
@@ -30,2 +31,0 @@
-    gone
-    gone
diff --git a/gpugrad/old.py b/gpugrad/old.py
--- a/gpugrad/old.py
+++ /dev/null
@@ -1,3 +0,0 @@
-x
"""


def test_diff_hunks_become_changed_lines_of_the_new_files():
    assert results.changed_lines(DIFF) == {"gpugrad/ops/selection.py": {11, 12, 22, 31, 32}}


def test_only_the_functions_a_change_touched_are_mutated():
    assert results.touched_function_patterns("pkg/shapes.py", SOURCE, {7}) == [
        "pkg.shapes.x_clamp__mutmut_*"]
    assert results.touched_function_patterns("pkg/__init__.py", SOURCE, {15, 2}) == [
        "pkg.xǁBoxǁarea__mutmut_*"]
    assert results.touched_function_patterns("pkg/shapes.py", SOURCE, {2}) == []


def test_a_star_in_a_source_glob_stays_within_its_folder():
    files = ["gpugrad/optim/sgd.py", "gpugrad/optim/lr_scheduler/base.py", "gpugrad/ops/a.py"]
    assert results.files_matching(files, ["gpugrad/optim/*.py"]) == ["gpugrad/optim/sgd.py"]


@needs_toml
def test_every_package_names_sources_and_tests_that_exist():
    _, packages = mutation.load_config()
    assert {"engine", "ops", "nn", "optim", "serialization", "sim"} <= set(packages)
    for name, package in packages.items():
        assert mutation.package_files(package), name
        for pattern in package["tests"]:
            assert list(REPO.glob(pattern)), pattern  # each names at least one test path
        assert mutation.package_tests(package), name
        assert package["target"] >= (95 if name in ("engine", "ops", "nn", "optim") else 90)


@needs_toml
def test_the_reviewed_equivalent_list_is_well_formed():
    for entry in mutation.load_equivalent_list():
        assert (REPO / entry["file"]).is_file(), entry


@needs_toml
def test_paths_select_packages_files_and_folders():
    _, packages = mutation.load_config()
    assert mutation.select(["gpugrad/optim/sgd.py"], packages) == {
        "optim": ["gpugrad/optim/sgd.py"]}
    by_folder = mutation.select(["gpugrad/backends/sim/profiles"], packages)
    assert list(by_folder) == ["sim"] and "gpugrad/backends/sim/profiles/l4.py" in by_folder["sim"]
    assert mutation.select(["serialization"], packages)["serialization"] == \
        mutation.package_files(packages["serialization"])
    with pytest.raises(SystemExit, match="no package"):
        mutation.select(["gpugrad/viz.py"], packages)
    with pytest.raises(SystemExit, match="no such package"):
        mutation.select(["gpugrad/nowhere.py"], packages)


@needs_toml
def test_the_session_settings_read_back_as_mutmut_reads_them(tmp_path):
    section = mutation.mutmut_settings({"use_git_change_detection": False}, ["gpugrad/ops/a.py"],
                                       ["tests/ops", "tests/x.py"], timeout_per_mutant=20)
    (tmp_path / "setup.cfg").write_text(mutation.render_setup_cfg(section), "utf-8")
    parser = configparser.ConfigParser()
    parser.read(tmp_path / "setup.cfg")
    read = parser["mutmut"]
    # mutmut's reading of a list: the value split at newlines, empty items dropped
    assert [x for x in read["pytest_add_cli_args_test_selection"].split("\n") if x] == [
        "tests/ops", "tests/x.py"]
    assert [x for x in read["only_mutate"].split("\n") if x] == ["gpugrad/ops/a.py"]
    assert read["use_git_change_detection"] == "false"
    assert float(read["timeout_constant"]) == 10.0 and float(read["timeout_multiplier"]) == 1.0


@needs_toml
def test_paths_and_changed_since_do_not_mix(capsys):
    with pytest.raises(SystemExit):
        mutation.main(["ops", "--changed-since", "HEAD"])
    assert "not both" in capsys.readouterr().err


def test_test_globs_expand_once_each_in_order(tmp_path):
    for name in ("test_a.py", "test_b.py", "other.py"):
        (tmp_path / "tests" / "x").mkdir(parents=True, exist_ok=True)
        (tmp_path / "tests" / "x" / name).write_text("")
    package = {"tests": ["tests/x/test_b.py", "tests/x/test_*.py", "tests/x"]}
    assert mutation.package_tests(package, tmp_path) == [
        "tests/x/test_b.py", "tests/x/test_a.py", "tests/x"]



@needs_toml
def test_mutmut_runs_with_one_thread_per_math_library(tmp_path, monkeypatch):
    # a child forked from a process whose OpenMP pool has started hangs: the run must not
    # start one (each hang would count as a kill by timeout)
    seen = {}

    class Finished:
        def __init__(self, command, env, **kwargs):
            seen.update(env=env, command=command)
            self.pid = 0

        def wait(self, timeout):
            return 0

    monkeypatch.setattr(mutation.subprocess, "Popen", Finished)
    monkeypatch.setenv("OMP_NUM_THREADS", "8")
    assert mutation.run_session(tmp_path, ["gpugrad.ops*"], 2, 60) == 0
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        assert seen["env"][name] == "1"
    assert seen["command"][-3:] == ["--max-children", "2", "gpugrad.ops*"]
