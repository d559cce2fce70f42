"""The layers of docs/architecture.md, held against the code: every gpugrad module sits in the
layer the document's table gives it, imports only from its own layer or those below, imports no
gpugrad module inside a function, and joins no import circle outside the tensor + ops layer."""
import ast
import fnmatch
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "gpugrad"
DOC = ROOT / "docs" / "architecture.md"
CIRCLE_LAYER = "tensor + ops"  # the Tensor <-> ops coupling every define-by-run library has
DEVICE_PACKAGES = ("gpugrad/backends/cpu/", "gpugrad/backends/sim/", "gpugrad/backends/cuda/")
SHARED_DEVICE = "gpugrad/backends/cpu/"  # the host: the other devices may use it


def documented_layers(text):
    """``[(layer, [pattern, ...]), ...]`` bottom up, from the doc's layer table."""
    layers = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[1].startswith("`gpugrad/"):
            layers.append((cells[0], re.findall(r"`([^`]+)`", cells[1])))
    return layers


def layer_of(path, layers):
    """The index of the layer whose patterns match ``path`` (a path relative to the repo)."""
    for index, (_, patterns) in enumerate(layers):
        for pattern in patterns:
            if path.startswith(pattern) if pattern.endswith("/") else fnmatch.fnmatch(path, pattern):
                return index
    return None


def module_files():
    return {path.relative_to(ROOT).as_posix(): path for path in sorted(PACKAGE.rglob("*.py"))}


def module_name(relative):
    name = relative[:-3].replace("/", ".")
    return name[: -len(".__init__")] if name.endswith(".__init__") else name


def imports_of(relative, path, names):
    """``[(target file, line, inside a function)]`` for each import of a gpugrad module."""
    tree = ast.parse(path.read_text(), filename=relative)
    here = module_name(relative)
    package = here if relative.endswith("__init__.py") else here.rpartition(".")[0]
    found = []

    def resolve(node):
        if isinstance(node, ast.Import):
            return [alias.name for alias in node.names]
        base = package.split(".")
        if node.level:
            base = base[: len(base) - node.level + 1]
        else:
            base = []
        module = ".".join(base + ([node.module] if node.module else []))
        out = []
        for alias in node.names:  # ``from pkg import submodule`` imports the submodule
            full = f"{module}.{alias.name}"
            out.append(full if full in names else module)
        return out

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                for target in resolve(child):
                    if target in names:
                        found.append((names[target], child.lineno, in_function))
            visit(child, in_function or isinstance(child, (ast.FunctionDef,
                                                           ast.AsyncFunctionDef, ast.Lambda)))

    visit(tree, False)
    return found


@pytest.fixture(scope="module")
def house():
    layers = documented_layers(DOC.read_text())
    files = module_files()
    names = {module_name(rel): rel for rel in files}
    edges = {rel: imports_of(rel, path, names) for rel, path in files.items()}
    return layers, files, edges


def test_the_document_names_the_layers_in_order(house):
    layers, _, _ = house
    assert [name for name, _ in layers] == ["foundation", "contract", "devices", "engine",
                                            CIRCLE_LAYER, "models", "tools", "face"]


def test_every_documented_path_exists(house):
    layers, files, _ = house
    missing = [pattern for _, patterns in layers for pattern in patterns
               if not any(fnmatch.fnmatch(rel, pattern) or rel.startswith(pattern)
                          for rel in files)]
    assert not missing, f"docs/architecture.md names paths that do not exist: {missing}"


def test_every_module_has_a_layer(house):
    layers, files, _ = house
    homeless = [rel for rel in files if layer_of(rel, layers) is None]
    assert not homeless, (f"modules in no layer of docs/architecture.md (add them to its table): "
                          f"{homeless}")


def test_no_import_runs_up_a_layer(house):
    layers, _, edges = house
    upward = []
    for rel, targets in edges.items():
        own = layer_of(rel, layers)
        for target, line, _ in targets:
            other = layer_of(target, layers)
            if other is not None and own is not None and other > own:
                upward.append(f"{rel}:{line} ({layers[own][0]}) imports {target} "
                              f"({layers[other][0]})")
    assert not upward, "imports that run up a layer:\n" + "\n".join(upward)


def test_no_gpugrad_import_inside_a_function(house):
    _, _, edges = house
    hidden = [f"{rel}:{line} imports {target}" for rel, targets in edges.items()
              for target, line, in_function in targets if in_function]
    assert not hidden, "imports inside functions (move them to the top):\n" + "\n".join(hidden)


def test_device_packages_do_not_import_each_other(house):
    _, _, edges = house
    crossing = []
    for rel, targets in edges.items():
        own = next((p for p in DEVICE_PACKAGES if rel.startswith(p)), None)
        for target, line, _ in targets:
            other = next((p for p in DEVICE_PACKAGES if target.startswith(p)), None)
            if own and other and other != own and other != SHARED_DEVICE:
                crossing.append(f"{rel}:{line} imports {target}")
    assert not crossing, "device packages importing each other:\n" + "\n".join(crossing)


def strongly_connected(graph):
    """The strongly connected components of ``graph`` (iterative Tarjan)."""
    index, low, on_stack, stack, components = {}, {}, set(), [], []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                components.append(component)
    return components


def test_the_only_circle_is_tensor_and_ops(house):
    layers, _, edges = house
    graph = {rel: sorted({t for t, _, _ in targets if t != rel}) for rel, targets in edges.items()}
    circles = [sorted(c) for c in strongly_connected(graph) if len(c) > 1]
    outside = [c for c in circles
               if any(layers[layer_of(rel, layers)][0] != CIRCLE_LAYER for rel in c)]
    assert not outside, f"import circles outside the {CIRCLE_LAYER} layer: {outside}"


def test_the_checker_sees_an_upward_import(tmp_path):
    # The checks above pass only if the reader finds imports: make sure it does.
    fake = tmp_path / "gpugrad" / "engine"
    fake.mkdir(parents=True)
    (fake / "graph.py").write_text("def f():\n    from ..profiler import profile\n")
    names = {"gpugrad.engine.graph": "gpugrad/engine/graph.py",
             "gpugrad.profiler": "gpugrad/profiler.py"}
    found = imports_of("gpugrad/engine/graph.py", fake / "graph.py", names)
    assert found == [("gpugrad/profiler.py", 2, True)]
    layers = documented_layers(DOC.read_text())
    assert layer_of("gpugrad/profiler.py", layers) > layer_of("gpugrad/engine/graph.py", layers)
