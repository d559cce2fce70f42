"""bench/overhead_scaling.py, the scaling cases of bench/overhead.py, at tiny sizes: both
libraries build the same graphs and agree on the gradients, node counts match, the worker
protocol round-trips, and the tables say which ratio they print. (Timings are not checked.)"""
import json
import os
import sys

import pytest

import gpugrad as gg

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "bench"))
import overhead_scaling as scaling  # noqa: E402

torch = pytest.importorskip("torch")
pytest.importorskip("micrograd")


@pytest.fixture
def torch_threads():
    """The workers set PyTorch to one thread; put back the test process's setting."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_graphs_have_the_sizes_they_claim():
    x = gg.tensor([1.0], requires_grad=True)
    assert len(_ops(scaling.chain(x, x, 7))) == 7
    leaves = [gg.tensor([0.25], requires_grad=True) for _ in range(12)]
    assert len(_ops(scaling.tree(leaves))) == 11


def _ops(root):
    seen, stack = set(), [root.grad_fn]
    while stack:
        fn = stack.pop()
        if fn is not None and not isinstance(fn, gg.Tensor) and fn not in seen:
            seen.add(fn)
            stack.extend(fn.next_nodes)
    return seen


def test_tensor_workers_agree_and_the_table_says_gpugrad_over_pytorch(torch_threads,
                                                                      monkeypatch):
    monkeypatch.setattr(scaling, "OPS_PER_TIMING", 200)  # a few repeats: this is no timing
    sizes = [10, 100]
    results = {name: [scaling.tensor_worker(name, sizes)] for name in ("gpugrad", "torch")}
    rows = results["gpugrad"][0]
    assert [(r["shape"], r["size"]) for r in rows] == [(s, n) for s in scaling.SHAPES
                                                       for n in sizes]
    for ours, theirs in zip(rows, results["torch"][0]):
        assert ours["checksum"] == pytest.approx(theirs["checksum"], rel=1e-4)
        assert ours["forward_us"] > 0 and ours["backward_us"] > 0
    lines = scaling.tensor_report(results)
    assert "gpugrad/PyTorch" in lines[1] and "target <= 1.0x" in lines[1]
    assert len(lines) == 2 + len(rows)
    assert all(line.split()[-1] in ("ok", "MISS") for line in lines[2:])


def test_value_workers_build_equal_graphs_and_agree():
    results = {name: [scaling.value_worker(name, 200)] for name in ("gpugrad", "micrograd")}
    ours, theirs = results["gpugrad"][0], results["micrograd"][0]
    assert ours["nodes"] == theirs["nodes"] == 200
    assert ours["checksum"] == pytest.approx(theirs["checksum"], rel=1e-12)
    lines = scaling.value_report(results)
    assert "(200 nodes)" in lines[1] and lines[1].count("200 nodes") == 2
    assert "micrograd/gpugrad" in lines[2] and "DIFFER" not in lines[2]


def test_worker_protocol_prints_one_json_result(capsys):
    scaling.main(["--worker", "value", "gpugrad", "--sizes", "100"])
    result = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert result["nodes"] == 100 and result["gc_enabled"]
