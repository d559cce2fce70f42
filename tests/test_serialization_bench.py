"""bench/checkpoint.py at a tiny size: it runs and prints the three loaders and their ratios
(the timings themselves are for a person to read, never asserted)."""
import importlib.util
import os

import pytest

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench",
                     "checkpoint.py")


def test_bench_prints_each_loader_and_its_ratio(capsys):
    pytest.importorskip("safetensors", reason="safetensors is not installed")
    spec = importlib.util.spec_from_file_location("bench_checkpoint", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    bench.main(["--mib", "1", "--repeats", "1"])
    out = capsys.readouterr().out
    for loader in ("safetensors.numpy.load_file", "gg.load (verified)", "gg.load (verify=False)"):
        assert loader in out and "x safetensors" in out.split(loader)[1].splitlines()[0]
