"""docs/environment.md lists every environment variable gpugrad reads: the package's source is
scanned for reads of ``os.environ`` (``.get``, ``[...]``, ``in``, ``.setdefault``, ``.pop``),
``os.getenv`` and helpers that pass a parameter to one of those (``env_int(name)``), with names
given as literals, module constants (``ENV_PROFILE = "GPUGRAD_SIM_PROFILE"``) or loop variables
over literal collections. A read whose name cannot be worked out fails the test, so none hides.
Every variable in the doc's "Read by gpugrad" table must also still be read."""
import ast
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "gpugrad")
DOC = os.path.join(ROOT, "docs", "environment.md")
ENV_METHODS = {"get", "setdefault", "pop"}


def _sources():
    """``{path: text}`` for every .py file of the package."""
    sources = {}
    for folder, _, files in os.walk(PACKAGE):
        for name in sorted(files):
            if name.endswith(".py"):
                with open(os.path.join(folder, name), encoding="utf-8") as f:
                    sources[os.path.join(folder, name)] = f.read()
    return sources


def _strings(node):
    """Every string literal inside ``node``."""
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant)
            and isinstance(n.value, str)]


def _module_constants(modules):
    """``{NAME: [strings]}`` for module-level assignments, across the package: a string
    constant's value, or the strings of a literal collection (a dict of variable names)."""
    constants = {}
    for _, tree in modules:
        for node in tree.body:
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Name):
                        constants.setdefault(target.id, []).extend(_strings(node.value))
    return constants


def _is_environ(node):
    """True for ``os.environ``, ``environ`` (an alias or a parameter)."""
    return (isinstance(node, ast.Name) and node.id == "environ") or (
        isinstance(node, ast.Attribute) and node.attr == "environ")


def _env_name_arguments(node):
    """The expressions naming a variable that ``node`` reads or writes, if it touches the
    environment."""
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in ENV_METHODS and _is_environ(
                func.value) and node.args:
            return [node.args[0]]
        if (isinstance(func, ast.Attribute) and func.attr == "getenv") or (
                isinstance(func, ast.Name) and func.id == "getenv"):
            return node.args[:1]
    if isinstance(node, ast.Subscript) and _is_environ(node.value):
        return [node.slice]
    if isinstance(node, ast.Compare) and any(_is_environ(c) for c in node.comparators) and \
            any(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops):
        return [node.left]
    return []


class _Scanner(ast.NodeVisitor):
    """Collects the variable names one module reads, resolving each name expression; records
    helpers whose parameter names the variable (``readers``) and reads it cannot resolve."""

    def __init__(self, path, constants, readers):
        self.path, self.constants, self.readers = path, constants, readers
        self.found, self.unresolved, self.scopes = set(), [], []

    def visit_FunctionDef(self, node):  # noqa: N802  (ast's name)
        self.scopes.append(node)
        self.generic_visit(node)
        self.scopes.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def generic_visit(self, node):
        for expression in _env_name_arguments(node):
            self._record(expression, node)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                node.func.id in self.readers and node.args:
            self._record(node.args[self.readers[node.func.id]], node)
        super().generic_visit(node)

    def _record(self, expression, node):
        names = self._resolve(expression)
        if names:
            self.found.update(names)
        elif not self._parameter_reader(expression):
            self.unresolved.append(f"{os.path.relpath(self.path, ROOT)}:{node.lineno}: "
                                   f"{ast.unparse(node)}")

    def _resolve(self, expression):
        if isinstance(expression, ast.Constant) and isinstance(expression.value, str):
            return [expression.value]
        if isinstance(expression, ast.Name):
            for scope in reversed(self.scopes):  # a loop variable over a literal collection
                for loop in ast.walk(scope):
                    if isinstance(loop, (ast.For, ast.comprehension)) and expression.id in {
                            n.id for n in ast.walk(loop.target) if isinstance(n, ast.Name)}:
                        return self._collection_strings(loop.iter)
            return self.constants.get(expression.id, [])
        return []

    def _collection_strings(self, node):
        strings = _strings(node)
        for name in (n.id for n in ast.walk(node) if isinstance(n, ast.Name)):
            strings += self.constants.get(name, [])
        return strings

    def _parameter_reader(self, expression):
        """True (and the enclosing function registered as a reader) when ``expression`` is a
        parameter of the enclosing function: its callers name the variable."""
        if not (self.scopes and isinstance(expression, ast.Name)):
            return False
        params = [a.arg for a in self.scopes[-1].args.args]
        if expression.id not in params:
            return False
        self.readers[self.scopes[-1].name] = params.index(expression.id)
        return True


def scan():
    """``(names read, unresolved reads)`` over the whole package. Only modules that mention the
    environment, or call a helper that reads it, are parsed (parsing all of them is slow)."""
    sources = _sources()
    # string constants of every module (cheap), with the collections of the parsed ones below
    constants = {}
    for text in sources.values():
        for name, value in re.findall(r"^(\w+)(?: *:[^=\n]*)? *= *[\"']([^\"'\n]*)[\"']", text,
                                      re.M):
            constants.setdefault(name, []).append(value)
    readers = {}
    visited = [path for path, text in sources.items() if "environ" in text or "getenv" in text]
    for _ in range(2):  # the second pass includes the callers of helpers found in the first
        trees = [(path, ast.parse(sources[path], path)) for path in visited]
        for name, strings in _module_constants(trees).items():
            constants[name] = sorted(set(constants.get(name, []) + strings))
        found, unresolved = set(), []
        for path, tree in trees:
            scanner = _Scanner(path, constants, readers)
            scanner.visit(tree)
            found |= scanner.found
            unresolved += scanner.unresolved
        visited = [path for path, text in sources.items() if path in visited or any(
            re.search(rf"\b{reader}\(", text) for reader in readers)]
    return found, unresolved


def _documented():
    """``(names in the "Read by gpugrad" table, every variable name the doc mentions)``."""
    with open(DOC, encoding="utf-8") as f:
        text = f.read()
    own = text.split("\n## ")[1]
    assert own.startswith("Read by gpugrad"), "docs/environment.md: the first section changed"
    table = set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)`", own, re.M))
    return table, set(re.findall(r"`([A-Z][A-Z0-9_]+)", text))


@pytest.fixture(scope="module")
def scanned():
    return scan()


def test_every_read_is_resolved(scanned):
    _, unresolved = scanned
    assert not unresolved, ("environment reads whose variable name this test cannot work out "
                            "(use a literal or a module constant):\n" + "\n".join(unresolved))


def test_every_variable_read_is_documented(scanned):
    found, _ = scanned
    table, _ = _documented()
    assert {"GPUGRAD_DEBUG", "GPUGRAD_CACHE", "GPUGRAD_SIM_PROFILE"} <= found  # the scan works
    missing = sorted(found - table)
    assert not missing, f"docs/environment.md's 'Read by gpugrad' table lacks {missing}"


def test_documented_variables_are_still_read(scanned):
    found, _ = scanned
    table, _ = _documented()
    stale = sorted(table - found)
    assert not stale, f"docs/environment.md lists {stale}, which gpugrad no longer reads"


def test_scanner_sees_every_kind_of_read(tmp_path):
    source = '''
import os
from os import environ
NAME = "B_VAR"
PAIRS = {"E_VAR": "F_VAR"}
def env_int(name):
    return os.environ.get(name)
def f(environ=os.environ):
    os.environ.get("A_VAR"); environ[NAME]; "C_VAR" in os.environ; os.getenv("D_VAR")
    for key, value in PAIRS.items():
        environ.setdefault(key, environ[value]) if value in environ else None
    env_int("G_VAR")
    os.environ.get(compute())
'''
    tree = ast.parse(source)
    readers = {}
    for _ in range(2):
        scanner = _Scanner(str(tmp_path / "m.py"), _module_constants([(None, tree)]), readers)
        scanner.visit(tree)
    assert {"A_VAR", "B_VAR", "C_VAR", "D_VAR", "E_VAR", "F_VAR", "G_VAR"} <= scanner.found
    assert len(scanner.unresolved) == 1 and "compute()" in scanner.unresolved[0]


def test_doc_is_linked_from_the_readme():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        assert "docs/environment.md" in f.read()
