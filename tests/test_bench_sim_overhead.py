"""bench/sim_overhead.py's parts that carry logic: the paired timing runs, and the null model
(``--null-model``), which must take the model out of the hot path and put it back. (The timings
themselves are never asserted: these machines are shared.)"""
import os
import sys

import gpugrad as gg
from gpugrad.backends.sim import device_model, results

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "bench"))
import sim_overhead  # noqa: E402


def test_the_null_model_computes_without_modeling_and_is_put_back():
    x = gg.ones(4, device="sim")
    (x + x).tolist()  # the plan is made with the model on
    real = results.ModeledResults._planned
    restore = sim_overhead.without_model()
    try:
        assert results.ModeledResults._planned is not real
        before = gg.sim.stats("sim:0").kernels
        assert (x + x).tolist() == [2.0] * 4  # values still computed by the cpu backend
        assert gg.sim.stats("sim:0").kernels == before  # but no kernel modeled
    finally:
        restore()
    assert results.ModeledResults._planned is real
    before = gg.sim.stats("sim:0").kernels
    (x + x).tolist()
    assert gg.sim.stats("sim:0").kernels == before + 1


def test_the_null_model_also_takes_the_fused_kernels_model_out():
    # the fused kernels reserve memory and launch outside ``_planned``
    logits = gg.randn(3, 5, device="sim")
    target = gg.tensor([0, 4, 2], device="sim")
    gg.nn.functional.cross_entropy(logits, target).item()
    reals = results.ModeledResults._reserve, device_model.DeviceModel._launch
    restore = sim_overhead.without_model()
    try:
        stats = gg.sim.stats("sim:0")
        loss = gg.nn.functional.cross_entropy(logits, target)
        expected = gg.nn.functional.cross_entropy(logits.cpu(), target.cpu()).item()
        assert abs(loss.item() - expected) < 1e-6
        after = gg.sim.stats("sim:0")
        assert after.kernels == stats.kernels
        assert after.pool_hits + after.pool_misses == stats.pool_hits + stats.pool_misses
    finally:
        restore()
    assert (results.ModeledResults._reserve, device_model.DeviceModel._launch) == reals
    before = gg.sim.stats("sim:0").kernels
    gg.nn.functional.cross_entropy(logits, target)
    assert gg.sim.stats("sim:0").kernels > before


def test_main_prints_every_case_with_its_target(capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["sim_overhead.py", "--repeats", "2", "--null-model"])
    monkeypatch.setattr(sim_overhead, "TINY_OPS", 3)
    sim_overhead.main()
    out = capsys.readouterr().out
    for line in ("tiny op", "backend primitive alone", "tiny 4-op chain", "small MLP step",
                 "chain, no model (the floor)", "MLP step, no model (the floor)"):
        assert line in out
    assert out.count("target <= 1.3") == 1 and out.count("target <= 1.1") == 1
    assert results.ModeledResults._planned.__name__ == "_planned"
