"""gg.viz.draw on the chain-rule example x = 2, y = 3, a = x*y, z = a + x, with and without the
Graphviz `dot` program and with and without the graphviz Python package."""
import builtins
import math
import re

import pytest

import gpugrad as gg
from gpugrad import viz

NEEDS_DOT = pytest.mark.skipif(viz.find_dot() is None,
                               reason="Graphviz `dot` is not installed (apt-get install graphviz)")


def chain_rule_values():
    x, y = gg.Value(2.0), gg.Value(3.0)
    a = x * y
    z = a + x
    z.backward()
    return dict(x=x, y=y, a=a, z=z)


def chain_rule_tensors(device):
    x = gg.tensor(2.0, device=device, requires_grad=True)
    y = gg.tensor(3.0, device=device, requires_grad=True)
    a = x * y
    z = a + x
    z.backward()
    return dict(x=x, y=y, a=a, z=z)


def _by_name(g):
    return {n.name: n for n in g.nodes}


def _named_edges(g):
    name = {n.id: n.name for n in g.nodes}
    return sorted((name[a], name[b]) for a, b in g.edges)


EXPECTED_EDGES = sorted([("x", "a"), ("y", "a"), ("a", "z"), ("x", "z")])


def test_value_graph_nodes_edges_and_gradients():
    v = chain_rule_values()
    assert v["x"].grad == 4.0 and v["y"].grad == 2.0  # dz/dx = y + 1, dz/dy = x
    g = viz.graph(v["z"], names=v)
    nodes = _by_name(g)
    assert set(nodes) == {"x", "y", "a", "z"} and len(g.nodes) == 4
    assert _named_edges(g) == EXPECTED_EDGES
    assert (nodes["x"].op, nodes["a"].op, nodes["z"].op) == ("leaf", "*", "+")
    assert (nodes["x"].data, nodes["x"].grad) == ("2.0000", "4.0000")
    assert (nodes["y"].grad, nodes["a"].data, nodes["z"].data) == ("2.0000", "6.0000", "8.0000")
    assert all(n.device.startswith("cpu") for n in g.nodes)
    order = [n.name for n in g.nodes]
    assert order.index("a") > max(order.index("x"), order.index("y")) and order[-1] == "z"


def test_tensor_graph_nodes_edges_and_gradients(device):
    t = chain_rule_tensors(device)
    assert t["x"].grad.item() == 4.0 and t["y"].grad.item() == 2.0
    g = viz.graph(t["z"], names=t)
    nodes = _by_name(g)
    assert _named_edges(g) == EXPECTED_EDGES
    assert (nodes["x"].op, nodes["y"].op, nodes["a"].op, nodes["z"].op) == (
        "leaf", "leaf", "Mul", "Add")
    assert nodes["x"].grad == "4.0000" and nodes["y"].grad == "2.0000"
    assert nodes["a"].data == "6.0000 (float32)" and nodes["z"].data == "8.0000 (float32)"
    assert {n.device for n in g.nodes} == {str(gg.Device(device))}
    assert [n.kind for n in g.nodes][-1] == "root"


def test_tensor_graph_without_names_shows_what_is_kept():
    x = gg.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    h = x.exp()  # Exp saves its output: its values can be shown without the tensor
    out = h.sum()
    out.backward(retain_graph=True)
    nodes = viz.graph(out).nodes
    assert [n.op for n in nodes] == ["leaf", "Exp", "Sum"]
    assert nodes[0].data == "shape (2, 3) float32" and nodes[0].grad == "shape (2, 3)"
    assert nodes[1].data == "shape (2, 3) float32" and "retain_grad" in nodes[1].grad
    value, dtype = nodes[2].data.split()
    assert float(value) == pytest.approx(sum(math.exp(k) for k in range(1, 7))) and dtype == "(float32)"


def test_dot_source_needs_nothing_installed(monkeypatch):
    monkeypatch.setattr(viz, "find_dot", lambda: None)
    monkeypatch.setitem(__import__("sys").modules, "graphviz", None)  # import fails
    v = chain_rule_values()
    source = viz.draw(v["z"], format="dot", names=v)
    assert isinstance(source, str) and source.startswith("digraph") and "rankdir=LR;" in source
    ids = dict(re.findall(r'(n\d) \[label="(\w)\\l', source))
    edges = sorted((ids[a], ids[b]) for a, b in re.findall(r"(n\d) -> (n\d);", source))
    assert edges == EXPECTED_EDGES
    assert "grad: 4.0000" in source and "device: cpu" in source


def test_without_dot_warns_how_to_install_and_returns_dot(monkeypatch, tmp_path):
    monkeypatch.setattr(viz, "find_dot", lambda: None)
    v = chain_rule_values()
    with pytest.warns(viz.DotNotFoundWarning, match=r"apt-get install graphviz.*brew install"):
        result = viz.draw(v["z"], format="svg", path=str(tmp_path / "graph.svg"))
    assert isinstance(result, viz.DotSource) and result.startswith("digraph")
    assert not (tmp_path / "graph.svg").exists()
    assert (tmp_path / "graph.dot").read_text() == result


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown format 'jpg'"):
        viz.draw(gg.Value(1.0), format="jpg")
    with pytest.raises(TypeError, match="expects a gg.Value or a gg.Tensor"):
        viz.draw(3.0)


def test_tensor_without_graph_is_one_node():
    g = viz.graph(gg.tensor([1.0, 2.0]))
    assert len(g.nodes) == 1 and g.edges == [] and g.nodes[0].data == "[1.0000, 2.0000] (float32)"


@NEEDS_DOT
def test_svg_with_dot(tmp_path):
    v = chain_rule_values()
    svg = viz.draw(v["z"], names=v, path=str(tmp_path / "g.svg"))
    assert isinstance(svg, viz.SvgImage) and "<svg" in svg and svg._repr_svg_() == svg
    for text in ("op: *", "grad: 4.0000", "data: 8.0000"):
        assert text in svg
    assert svg.count('class="node"') == 4 and svg.count('class="edge"') == 4
    assert (tmp_path / "g.svg").read_text() == svg


@NEEDS_DOT
@pytest.mark.parametrize("python_package", [True, False], ids=["graphviz-pkg", "no-pkg"])
def test_png_with_dot(monkeypatch, tmp_path, python_package):
    if not python_package:  # the `viz` extra absent: dot is run directly
        real_import = builtins.__import__

        def no_graphviz(name, *args, **kwargs):
            if name == "graphviz":
                raise ImportError("no graphviz package")
            return real_import(name, *args, **kwargs)

        monkeypatch.setattr(builtins, "__import__", no_graphviz)
    t = chain_rule_tensors("cpu")
    png = viz.draw(t["z"], format="png", names=t, path=str(tmp_path / "g.png"))
    assert isinstance(png, viz.PngImage) and png.startswith(b"\x89PNG\r\n\x1a\n")
    assert (tmp_path / "g.png").read_bytes() == png
