"""What a mutmut session left behind, read back as reviewable facts: each mutant's file, line,
function, the code it changed and its verdict; the reviewed list of equivalent mutants; and the
score of each package against its target. Also which functions a diff touched, for runs over a
change. Pure functions over text and files: bench/mutation.py runs the tool.
"""
import ast
import difflib
import fnmatch
import json
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

# mutmut's exit codes (mutmut/stats.py), grouped into the verdicts the report counts.
# A timed-out mutant counts as killed (its tests noticed that something went wrong), and the
# report says how many were: a run whose forked children hang (bench/mutation.py's THREAD_ENV
# says how) would otherwise pass for a thorough one.
KILLED_CODES = {1, 3}
TIMEOUT_CODES = {24, -24, 36, 152, 255}
SURVIVED_CODES = {0}
NO_TESTS_CODES = {5, 33}
MUTMUT_SEPARATOR = "ǁ"  # between class and method in mutmut's names of mutated methods
# the def line of a mutmut copy of a function, e.g. "def xǁSGDǁstep__mutmut_3(" for "def step("
MUTMUT_DEF = re.compile(r"def x(?:ǁ\w+ǁ|_)(\w+?)__mutmut_(?:orig|\d+)\(")


@dataclass(frozen=True)
class Mutant:
    """One mutant: where it is, what it changed, and how the tests judged it."""

    name: str       # mutmut's name, e.g. "gpugrad.optim.sgd.xǁSGDǁstep__mutmut_3"
    file: str       # source path relative to the repository root
    line: int       # first source line the mutation changed
    function: str   # "SGD.step" or "clamp"
    original: str   # the changed source lines, whitespace collapsed
    mutated: str    # what mutmut wrote instead
    status: str     # killed, timeout, survived, no tests, not run, suspicious
    line_in_function: int = 1  # the line counted from the function's def line (1)

    @property
    def where(self):
        """``file:line``, as an editor opens it."""
        return f"{self.file}:{self.line}"


def status_of(exit_code):
    """The verdict for one of mutmut's exit codes (None: the mutant was never run)."""
    if exit_code is None:
        return "not run"
    if exit_code in KILLED_CODES:
        return "killed"
    if exit_code in TIMEOUT_CODES:
        return "timeout"
    if exit_code in SURVIVED_CODES:
        return "survived"
    if exit_code in NO_TESTS_CODES:
        return "no tests"
    return "suspicious"


def function_of(mutant_name):
    """``(class name or None, function name)`` of a mutmut mutant name."""
    mangled = mutant_name.partition("__mutmut_")[0].rpartition(".")[2]
    if mangled.startswith("x" + MUTMUT_SEPARATOR):
        _, class_name, function = mangled.split(MUTMUT_SEPARATOR)
        return class_name, function
    return None, mangled[len("x_"):]


def function_lines(source):
    """``{(class name or None, function name): (first line, last line)}`` of every function
    mutmut mutates in ``source``: module-level functions and the methods of module-level
    classes (nested functions are mutated as part of the function around them)."""
    spans = {}
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            spans[(None, node.name)] = (node.lineno, node.end_lineno)
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    spans[(node.name, item.name)] = (item.lineno, item.end_lineno)
    return spans


def _collapse(lines):
    return " ".join(" ".join(line.split()) for line in lines).strip()


def changed_code(original_lines, mutated_lines):
    """``(offset of the first changed line, original text, mutated text)`` between a function's
    original and mutated body; the ``def`` lines are compared without mutmut's name suffixes."""
    def unnamed(lines):
        return [MUTMUT_DEF.sub(r"def \1(", line) for line in lines]
    old, new = unnamed(_from_def(original_lines)), unnamed(_from_def(mutated_lines))
    blocks = [op for op in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes()
              if op[0] != "equal"]
    if not blocks:
        return 0, "", ""
    first, last = blocks[0], blocks[-1]
    return first[1], _collapse(old[first[1]:last[2]]), _collapse(new[first[3]:last[4]])


def _from_def(lines):
    """A function's lines from its def line on (mutmut's spans may start with blank lines)."""
    for index, line in enumerate(lines):
        if MUTMUT_DEF.search(line):
            return lines[index:]
    return lines


def read_mutants(mutants_dir, source_file, repo_root):
    """Every mutant mutmut made of ``source_file`` (relative to ``repo_root``), from the files it
    writes beside the mutated copy in ``mutants_dir``: ``.meta`` (verdicts) and ``.spans``
    (where each mutant's function sits in the mutated copy)."""
    copy = Path(mutants_dir) / source_file
    meta_path, spans_path = Path(f"{copy}.meta"), Path(f"{copy}.spans")
    if not meta_path.exists() or not spans_path.exists():
        return []
    exit_codes = json.loads(meta_path.read_text("utf-8"))["exit_code_by_key"]
    spans = json.loads(spans_path.read_text("utf-8"))["spans"]
    copy_lines = copy.read_text("utf-8").splitlines()
    source_spans = function_lines((Path(repo_root) / source_file).read_text("utf-8"))
    found = []
    for name, exit_code in exit_codes.items():
        local = name.rpartition(".")[2]
        orig_key = local.partition("__mutmut_")[0] + "__mutmut_orig"
        if local not in spans or orig_key not in spans:
            continue
        class_name, function = function_of(name)
        first_line = source_spans.get((class_name, function), (1, 1))[0]
        offset, original, mutated = changed_code(_span(copy_lines, spans[orig_key]),
                                                 _span(copy_lines, spans[local]))
        found.append(Mutant(name=name, file=source_file, line=first_line + offset,
                            function=f"{class_name}.{function}" if class_name else function,
                            original=original, mutated=mutated, status=status_of(exit_code),
                            line_in_function=offset + 1))
    return sorted(found, key=lambda m: (m.file, m.line, m.name))


def _span(lines, span):
    start, end = span
    return lines[start - 1:end]


def load_equivalents(entries):
    """The reviewed equivalent mutants, from the ``equivalent`` list of
    bench/mutation_equivalent.toml: each entry names ``file``, ``function``, the ``original``
    and ``mutated`` code (as the report prints them) and the ``reason`` it cannot be killed;
    ``line_in_function`` (1: the def line) tells apart the same change made on two lines of one
    function."""
    required = ("file", "function", "original", "mutated", "reason")
    for number, entry in enumerate(entries, 1):
        missing = [key for key in required if not str(entry.get(key, "")).strip()]
        if missing:
            raise ValueError(f"equivalent mutant #{number} lacks {', '.join(missing)}: every "
                             f"entry needs {', '.join(required)} (a reviewed one-line reason)")
    return entries


def _key(file, function, original, mutated, line_in_function=None):
    return file, function, _collapse([original]), _collapse([mutated]), line_in_function


def split_equivalents(mutants, equivalents):
    """``(judged, equivalent, unused)``: the mutants left to score, those the reviewed list
    calls equivalent, and the list's entries that match none of ``mutants``."""
    listed = {_key(e["file"], e["function"], e["original"], e["mutated"],
                   e.get("line_in_function")): e for e in equivalents}
    judged, equivalent, used = [], [], set()
    for mutant in mutants:
        key = _key(mutant.file, mutant.function, mutant.original, mutant.mutated)
        if key not in listed:  # an entry for this one line of the function
            key = key[:-1] + (mutant.line_in_function,)
        if key in listed:
            equivalent.append(mutant)
            used.add(key)
        else:
            judged.append(mutant)
    unused = [e for k, e in listed.items() if k not in used]
    return judged, equivalent, unused


@dataclass(frozen=True)
class Score:
    """A package's tally: killed out of its judged (non-equivalent, run) mutants."""

    package: str
    killed: int
    judged: int
    equivalent: int
    not_run: int
    target: float  # percent
    timed_out: int = 0  # of the killed, those whose tests ran past their time

    @property
    def percent(self):
        """Killed as a percentage of the judged mutants (100 when there are none)."""
        return 100.0 * self.killed / self.judged if self.judged else 100.0

    @property
    def passed(self):
        """Whether the package meets its target."""
        return self.percent >= self.target


def score(package, mutants, equivalents, target):
    """The :class:`Score` of ``package`` over its ``mutants``; equivalent mutants leave the
    denominator, and so do mutants never run (the time ran out)."""
    judged, equivalent, _ = split_equivalents(mutants, equivalents)
    ran = [m for m in judged if m.status != "not run"]
    timed_out = sum(m.status == "timeout" for m in ran)
    killed = sum(m.status == "killed" for m in ran) + timed_out
    return Score(package=package, killed=killed, judged=len(ran), equivalent=len(equivalent),
                 not_run=len(judged) - len(ran), target=target, timed_out=timed_out)


def format_score(result):
    """One line of the report: the package, killed/judged, percent, target and PASS/MISS."""
    partial = f"  ({result.not_run} not run: time ran out)" if result.not_run else ""
    if result.timed_out:
        partial += f"  ({result.timed_out} of the killed by timeout)"
    verdict = "PASS" if result.passed else "MISS"
    return (f"{result.package:<14} {result.killed:>5}/{result.judged:<5} {result.percent:6.1f}%"
            f"  target >= {result.target:g}%  {verdict}  ({result.equivalent} equivalent)"
            f"{partial}")


def format_survivor(mutant):
    """One line per mutant the tests let live: where, in which function, what changed."""
    tag = "" if mutant.status == "survived" else f"  [{mutant.status}]"
    return (f"{mutant.where}  {mutant.function} (its line {mutant.line_in_function}): "
            f"`{mutant.original}` -> `{mutant.mutated}`"
            f"{tag}\n    mutmut show {mutant.name}")


def changed_lines(diff_text):
    """``{path: set of line numbers}`` that ``git diff --unified=0`` text adds or changes in
    the new version of each file (a pure deletion marks the lines either side of it)."""
    changed, path = {}, None
    for line in diff_text.splitlines():
        if line.startswith("+++ "):
            target = line[4:].strip()
            path = target[2:] if target.startswith("b/") else None
            if path is not None:
                changed.setdefault(path, set())
            continue
        hunk = re.match(r"@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@", line)
        if hunk and path is not None:
            start, count = int(hunk.group(1)), int(hunk.group(2) or 1)
            lines = range(start, start + count) if count else range(start, start + 2)
            changed[path].update(lines)
    return {path: lines for path, lines in changed.items() if lines}


def module_name(source_file):
    """The dotted module of a source path, as mutmut names it (``pkg/__init__.py`` is ``pkg``)."""
    parts = list(Path(source_file).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def touched_function_patterns(source_file, source, lines):
    """mutmut name patterns for the functions of ``source_file`` that contain any of ``lines``
    (so a run over a change mutates only what the change touched)."""
    patterns = []
    for (class_name, function), (first, last) in sorted(function_lines(source).items(),
                                                         key=lambda item: item[1]):
        if any(first <= line <= last for line in lines):
            mangled = (f"x{MUTMUT_SEPARATOR}{class_name}{MUTMUT_SEPARATOR}{function}"
                       if class_name else f"x_{function}")
            patterns.append(f"{module_name(source_file)}.{mangled}__mutmut_*")
    return patterns


def files_matching(paths, globs):
    """The members of ``paths`` that match any of the package's source ``globs``."""
    def matches(path, pattern):
        # a "*" stays within one folder, as in Path.glob
        return (len(PurePosixPath(path).parts) == len(PurePosixPath(pattern).parts)
                and fnmatch.fnmatch(path, pattern))
    return [p for p in paths if any(matches(p, g) for g in globs)]
