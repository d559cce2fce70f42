"""Draw the computation graph behind a ``Value`` or a ``Tensor``.

``gg.viz.draw(z)`` lays the graph out left to right, inputs first, the way it was computed. Each
node is one value: its name (when given in ``names=``), the op that made it ("leaf" for inputs),
its data (a shape and dtype for larger tensors), its grad (or the grad's shape), and its device.

The DOT text is built here, so ``format="dot"`` needs nothing installed. Rendering to SVG or PNG
needs the Graphviz ``dot`` program (Debian/Ubuntu: ``apt-get install graphviz``; macOS:
``brew install graphviz``) and uses the ``graphviz`` Python package when present (the ``viz``
extra), else runs ``dot`` directly. Without ``dot``, ``draw`` warns how to install it and
returns the DOT source.
"""
import os
import shutil
import subprocess
import warnings
from collections import namedtuple

from .atomic import atomic_write
from .engine import topological_order
from .tensor import Tensor
from .value import Value

FORMATS = ("svg", "png", "dot")
# Tensors with at most this many entries show their values; larger ones show shape and dtype.
SHOW_VALUES_UP_TO = 4

Node = namedtuple("Node", ["id", "name", "op", "data", "grad", "device", "kind"])
Node.__doc__ = """One drawn value. ``kind`` is "leaf", "op" or "root"; the other fields are the
text the drawing shows (``name`` is '' when no name was given)."""
Graph = namedtuple("Graph", ["nodes", "edges"])
Graph.__doc__ = """``nodes``: Nodes in computation order (inputs first, root last); ``edges``:
``(from_id, to_id)`` pairs, from an input to the value computed from it."""


class DotNotFoundWarning(UserWarning):
    """The Graphviz ``dot`` program is missing, so ``draw`` returned DOT source, not a picture."""


class DotSource(str):
    """DOT text (``draw(..., format="dot")`` or when ``dot`` is missing)."""

    format = "dot"  # type: ignore[assignment]  # shadows str.format on purpose: the kind


class SvgImage(str):
    """SVG text; shows itself in Jupyter."""

    format = "svg"  # type: ignore[assignment]  # as DotSource.format

    def _repr_svg_(self):
        return str(self)


class PngImage(bytes):
    """PNG bytes; shows itself in Jupyter."""

    format = "png"

    def _repr_png_(self):
        return bytes(self)


# ---- building the graph ---------------------------------------------------------------------
def graph(root, names=None):
    """The ``Graph`` behind ``root`` (a ``Value`` or a ``Tensor``), as ``draw`` shows it.

    ``names`` maps a name to a Value or Tensor of the graph, to label its node; for an
    intermediate tensor it also lets the drawing show the tensor's data (gpugrad keeps only
    the op, not its output, unless the output was saved for backward or ``retain_grad()``ed).
    """
    names = dict(names or {})
    label_of = {id(v): name for name, v in names.items()}
    if isinstance(root, Value):
        return _value_graph(root, label_of)
    if isinstance(root, Tensor):
        return _tensor_graph(root, names, label_of)
    raise TypeError(f"gg.viz.draw expects a gg.Value or a gg.Tensor as root, got "
                    f"{type(root).__name__}")


def _value_graph(root, label_of):
    order = topological_order([root], lambda v: v._children)
    ids = {id(v): f"n{i}" for i, v in enumerate(order)}
    nodes, edges = [], []
    for v in order:
        kind = "root" if v is root else ("op" if v._children else "leaf")
        nodes.append(Node(ids[id(v)], label_of.get(id(v), ""), v._op or "leaf",
                          _number(v.data), _number(v.grad), "cpu (Python float)", kind))
        edges.extend((ids[id(child)], ids[id(v)]) for child in v._children)
    return Graph(nodes, edges)


def _tensor_graph(root, names, label_of):
    start = root._node()
    if start is None:  # no graph: the root alone
        return Graph([_tensor_node("n0", root, "leaf", label_of, "root")], [])
    # gpugrad's graph holds ops and leaf tensors; find the output tensor of each op where one
    # is still reachable, to show its data and grad.
    outputs = {id(start): root}
    order = topological_order([start], lambda n: getattr(n, "next_nodes", ()))
    for node in order:
        for t in (getattr(node, "inputs", None) or ()):
            if isinstance(t, Tensor) and t.grad_fn is not None:
                outputs.setdefault(id(t.grad_fn), t)
        retained = getattr(node, "retained", None) and node.retained()
        if retained is not None:
            outputs.setdefault(id(node), retained)
    for t in names.values():
        if isinstance(t, Tensor) and t.grad_fn is not None:
            outputs[id(t.grad_fn)] = t
    ids = {id(n): f"n{i}" for i, n in enumerate(order)}
    nodes, edges = [], []
    for node in order:
        kind = "root" if node is start else ("leaf" if node._is_leaf_tensor else "op")
        if node._is_leaf_tensor:
            nodes.append(_tensor_node(ids[id(node)], node, "leaf", label_of, kind))
        else:
            nodes.append(_op_node(ids[id(node)], node, outputs.get(id(node)), label_of, kind))
            edges.extend((ids[id(p)], ids[id(node)]) for p in node.next_nodes if p is not None)
    return Graph(nodes, edges)


def _tensor_node(node_id, t, op, label_of, kind):
    return Node(node_id, label_of.get(id(t), ""), op, _tensor_data(t), _tensor_grad(t),
                str(t.device), kind)


def _op_node(node_id, fn, out, label_of, kind):
    op = type(fn).__name__
    if out is not None:
        node = _tensor_node(node_id, out, op, label_of, kind)
        if out.grad is None and not out.retains_grad:
            node = node._replace(grad="not kept (.retain_grad() keeps it)")
        return node
    data = "not kept (name it in names= to show it)"
    if getattr(fn, "_out", None) is not None:  # saved for backward: values without the tensor
        data = _tensor_data(Tensor._make(fn._out, fn.backend, False))
    return Node(node_id, "", op, data, "not kept (.retain_grad() keeps it)",
                str(fn.backend.device), kind)


def _number(x):
    return f"{x:.4f}" if isinstance(x, float) else str(x)


def _values(t):
    values = t.detach().numpy().ravel().tolist()
    shown = ", ".join(_number(float(v)) if t.dtype.is_floating_point else str(v) for v in values)
    return shown if t.ndim == 0 else f"[{shown}]"


def _tensor_data(t):
    dtype = str(t.dtype).replace("gpugrad.", "")
    if t.numel() <= SHOW_VALUES_UP_TO:
        return f"{_values(t)} ({dtype})"
    return f"shape {tuple(t.shape)} {dtype}"


def _tensor_grad(t):
    if t.grad is None:
        return "None"
    if t.grad.numel() <= SHOW_VALUES_UP_TO:
        return _values(t.grad)
    return f"shape {tuple(t.grad.shape)}"


# ---- DOT text ---------------------------------------------------------------------------------
_FILL = {"leaf": "#dbeafe", "op": "#f3f4f6", "root": "#fde68a"}


def _escape(text):
    return text.replace("\\", "\\\\").replace('"', '\\"')


def to_dot(g, rankdir="LR"):
    """The DOT source of a ``Graph`` (rankdir "LR": inputs on the left, the root on the right)."""
    lines = ["digraph gpugrad {", f"  rankdir={rankdir};",
             '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11];']
    for n in g.nodes:
        rows = ([n.name] if n.name else []) + [f"op: {n.op}", f"data: {n.data}",
                                               f"grad: {n.grad}", f"device: {n.device}"]
        label = "".join(_escape(row) + "\\l" for row in rows)  # \l: a left-aligned line
        lines.append(f'  {n.id} [label="{label}", fillcolor="{_FILL[n.kind]}"];')
    lines.extend(f"  {a} -> {b};" for a, b in g.edges)
    lines.append("}")
    return "\n".join(lines) + "\n"


# ---- rendering ------------------------------------------------------------------------------
def find_dot():
    """The path of the Graphviz ``dot`` program, or None when it is not installed."""
    return shutil.which("dot")


INSTALL_HINT = ("install Graphviz's `dot` program: `apt-get install graphviz` "
                "(Debian/Ubuntu), `brew install graphviz` (macOS) or `conda install graphviz`; "
                "or paste the DOT source into any online Graphviz viewer")


def _render(source, fmt):
    try:
        import graphviz
    except ImportError:  # the optional `viz` extra is absent: run dot ourselves
        done = subprocess.run([find_dot(), f"-T{fmt}"], input=source.encode(),
                              capture_output=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"dot failed: {done.stderr.decode(errors='replace').strip()}")
        return done.stdout
    return graphviz.Source(source).pipe(format=fmt)


def draw(root, format="svg", path=None, names=None, rankdir="LR"):
    """Draw the graph that computed ``root`` (a ``Value`` or a ``Tensor``).

    Returns SVG text (``format="svg"``), PNG bytes (``"png"``) or DOT text (``"dot"``); in a
    Jupyter notebook the SVG and PNG results display as pictures. With ``path``, also writes
    the result there. ``names`` maps names to values of the graph to label their nodes (and
    show intermediate tensors' data). If the Graphviz ``dot`` program is missing, a picture
    cannot be made: ``draw`` warns (``DotNotFoundWarning``) saying how to install it, returns
    the DOT source, and writes it to ``path`` with the suffix ``.dot``.
    """
    if format not in FORMATS:
        raise ValueError(f"gg.viz.draw: unknown format {format!r}; use one of {FORMATS}")
    source = DotSource(to_dot(graph(root, names), rankdir))
    if format != "dot" and find_dot() is None:
        if path is not None:
            path = os.path.splitext(path)[0] + ".dot"
        where = f" (written to {path})" if path else ""
        warnings.warn(f"gg.viz.draw: the Graphviz `dot` program was not found, so the graph "
                      f"cannot be rendered as {format}; returning its DOT source instead{where}. "
                      f"To get pictures, {INSTALL_HINT}.", DotNotFoundWarning, stacklevel=2)
        format = "dot"
    if format == "dot":
        result = source
        data = source.encode()
    elif format == "svg":
        data = _render(source, "svg")
        result = SvgImage(data.decode())
    else:
        data = _render(source, "png")
        result = PngImage(data)
    if path is not None:
        atomic_write(path, data)
    return result
