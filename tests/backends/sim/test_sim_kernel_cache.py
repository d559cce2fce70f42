"""The sim's per-kernel cache (kernel_rows.py) changes no modeled number: a device serving its
hottest primitives from cached rows gives exactly the stats, clocks, memory and results of a
device modeling every launch afresh; a change of shape, dtype, layout, profile or matmul
precision is never served from a stale row."""
import gc

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn.functional as F
from gpugrad.backends.sim import device_model
from gpugrad.backends.sim.backend import SimBackend
from gpugrad.device_registry import get_backend

CACHED, FRESH = "sim:5", "sim:6"


@pytest.fixture
def uncached(monkeypatch):
    """Make device FRESH model every planned primitive as ``_modeled`` and cost every other
    launch from its spec, computed afresh (no plan, launch or signature keys)."""
    planned, launch = SimBackend._planned, SimBackend._launch

    def fresh_or_planned(self, key, primitive, *args):
        if str(self.device) == FRESH:
            return self._modeled(primitive, *args)
        return planned(self, key, primitive, *args)

    def fresh_or_keyed(self, name, inputs, outputs, info=None, key=None):
        return launch(self, name, inputs, outputs, info,
                      None if str(self.device) == FRESH else key)

    monkeypatch.setattr(SimBackend, "_planned", fresh_or_planned)
    monkeypatch.setattr(SimBackend, "_launch", fresh_or_keyed)
    yield
    for dev in (CACHED, FRESH):
        gg.sim.configure(dev)


def program(dev):
    """Every planned primitive, with shape, dtype, layout and scalar-type changes, twice over
    (the second pass runs from cached rows); returns the values it computed."""
    gg.manual_seed(1)
    out = []
    w = gg.randn(3, 3, device=dev, requires_grad=True)
    v = gg.randn(3, device=dev, requires_grad=True)
    # (the same parameters with and without momentum buffers: two kernels of one name)
    optimizers = [gg.optim.SGD([w, v], lr=0.1, momentum=0.9), gg.optim.SGD([w, v], lr=0.1),
                  gg.optim.Adam([w], lr=0.1)]
    for _ in range(2):
        for n in (4, 5, 4):
            a = gg.randn(n, 3, device=dev, requires_grad=True)
            b = gg.randn(n, 3, device=dev)
            c = gg.randn(3, device=dev)
            h = (a * b + c).tanh() - 2 + a.T.T * 0.5   # binary with arrays, a broadcast, numbers
            h = h * 2  # an int scalar
            h = gg.where(h > 0, h, b)
            h = h.double().float()  # casts
            s = h.sum() + h.sum(dim=0).mean() + h.sum(dim=1, keepdim=True).max()
            t = a.T.contiguous()  # a transposed (strided) operand
            m = t @ b + (a.to(gg.float64) @ b.T.to(gg.float64)).float().sum()
            act = (b @ t).bias_act(gg.zeros(n, device=dev), "relu")
            bias = gg.zeros(n, device=dev, requires_grad=True)  # (bias_act_grads: both grads)
            logits = (a @ a.T).bias_act(bias, "relu")
            target = gg.arange(n, device=dev)
            ce = F.cross_entropy(logits, target) + F.cross_entropy(logits, target,
                                                                   reduction="sum")
            loss = s + m.exp().sum() + act.sum() + (a @ w + v).sum() + ce
            loss.backward()
            for opt in optimizers:  # the one-launch optimizer steps
                opt.step()
            w.grad = v.grad = None
            out.append(loss.item())
            out.append(a.grad.numpy().copy())
            ints = gg.arange(n, device=dev) + 1  # integer kernels
            out.append((ints * 3 // 2 - ints.neg()).numpy())
    return out


def state(dev):
    """Everything modeled on ``dev``: stats, the clocks and the pool."""
    backend = get_backend(dev)
    tl = backend.timeline
    return (gg.sim.stats(dev).as_dict(), tl.snapshot(), backend.pool.in_use,
            backend.pool.peak, dict(backend.pool._free))


def test_cached_rows_model_exactly_what_fresh_modeling_does(uncached):
    gc.collect()
    for dev in (CACHED, FRESH):
        gg.sim.configure(dev)
    results = {dev: program(dev) for dev in (CACHED, FRESH)}
    gc.collect()
    for got, want in zip(results[CACHED], results[FRESH]):
        np.testing.assert_array_equal(got, want)
    cached, fresh = state(CACHED), state(FRESH)
    for got, want in zip(cached[1:], fresh[1:]):
        assert got == want
    got, want = cached[0], fresh[0]
    for field in ("device", "by_op", "by_class"):
        got.pop(field), want.pop(field)
    assert got == want
    # per op, device time may be summed over rows in another order: equal to rounding
    fresh_ops = gg.sim.stats(FRESH).by_op
    assert gg.sim.stats(CACHED).by_op.keys() == fresh_ops.keys()
    for name, row in gg.sim.stats(CACHED).by_op.items():
        assert row["device_us"] == pytest.approx(fresh_ops[name]["device_us"], rel=1e-12)
        assert dict(row, device_us=0) == dict(fresh_ops[name], device_us=0)
    assert fresh_ops["sgd_step"]["count"] == 12 and fresh_ops["adam_step"]["count"] == 6
    assert get_backend(CACHED).shape_misses == 0
    # the cached device served most launches from rows (the test would pass vacuously if not)
    assert len(get_backend(CACHED)._rows) < gg.sim.stats(CACHED).kernels / 3


def test_the_same_op_twice_costs_what_it_cost_the_first_time():
    dev = CACHED
    gg.sim.configure(dev)
    x, y = gg.ones(7, 9, device=dev), gg.ones(7, 9, device=dev)
    x + y  # (dies at once) a cached block of the result's size, so both launches below are pool hits
    costs = []
    gg.sim.reset(dev)  # (forgets the rows: the first launch below models the kernel afresh)
    for _ in range(2):
        before = gg.sim.stats(dev)
        z = x + y
        after = gg.sim.stats(dev)
        costs.append((after.device_us - before.device_us, after.host_us - before.host_us,
                      after.bytes - before.bytes, gg.sim.memory_allocated(dev),
                      z._data.alloc.size))
        del z
    assert costs[0] == costs[1]
    assert costs[0][0] > 0 and costs[0][2] == 3 * 7 * 9 * 4 and costs[0][4] == 512
    gg.sim.configure(dev)


@pytest.mark.parametrize("change", ["shape", "dtype", "layout", "scalar"])
def test_a_changed_operand_is_not_served_from_a_stale_row(change):
    dev = CACHED
    gg.sim.configure(dev)
    base = gg.ones(64, 32, device=dev)
    other = {"shape": gg.ones(64, 64, device=dev), "dtype": gg.ones(64, 32, device=dev,
                                                                        dtype=gg.float64),
             "layout": gg.ones(32, 64, device=dev).T, "scalar": None}[change]
    for _ in range(2):
        base * 2.0  # warm rows for the base
    gg.sim.reset(dev)
    if change == "scalar":
        result = gg.ones(64, 32, device=dev, dtype=gg.int32) * 2  # int stays int...
        assert result.dtype == gg.int32
        result = gg.ones(64, 32, device=dev, dtype=gg.int32) * 2.0  # ...a float promotes
        assert result.dtype == gg.float32
        return
    got = other * 2.0
    stats = gg.sim.stats(dev)
    assert stats.kernels == 1
    assert stats.bytes == 2 * other.numel() * other.element_size()
    assert got._data.alloc.size == other.numel() * other.element_size()
    assert got.shape == other.shape and got.dtype == other.dtype
    # and what follows is costed from the result's real layout
    np.testing.assert_array_equal(got.contiguous().numpy(), other.numpy() * 2)
    gg.sim.configure(dev)


def test_a_new_profile_or_matmul_precision_is_costed_afresh():
    dev = CACHED

    def matmul_us(profile):
        gg.sim.configure(dev, profile=profile)
        a = gg.ones(256, 256, device=dev)
        a @ a  # a row for this kernel
        gg.sim.reset(dev)
        a @ a
        return gg.sim.stats(dev).device_us

    h100, l4 = matmul_us("h100"), matmul_us("l4")
    assert h100 != l4
    gg.sim.configure(dev, profile="h100")
    a = gg.ones(256, 256, device=dev)
    a @ a
    gg.sim.reset(dev)
    a @ a
    assert gg.sim.stats(dev).device_us == h100
    before = gg.get_float32_matmul_precision()
    try:
        gg.set_float32_matmul_precision("high")  # TF32: the same row, another rate
        gg.sim.reset(dev)
        a @ a
        tf32 = gg.sim.stats(dev).device_us
    finally:
        gg.set_float32_matmul_precision(before)
    assert tf32 < h100
    gg.sim.reset(dev)
    a @ a
    assert gg.sim.stats(dev).device_us == h100
    gg.sim.configure(dev)


def test_counts_stay_exact_across_reset_and_folding(monkeypatch):
    dev = CACHED
    gg.sim.configure(dev)
    monkeypatch.setattr(device_model, "ROW_LIMIT", 3)  # fold after every few distinct kernels
    x = gg.ones(8, device=dev)
    for n in range(1, 6):
        for _ in range(n):
            x + n  # one row per scalar type... and per shape below
            gg.ones(n, device=dev).neg()
    stats = gg.sim.stats(dev)
    assert stats.by_op["binary:add"]["count"] == 15
    assert stats.by_op["unary:neg"]["count"] == 15
    gg.sim.reset(dev)
    x + 1
    assert gg.sim.stats(dev).kernels == 1
    gg.sim.configure(dev)


def test_a_plan_row_is_complete_before_other_threads_can_find_it(monkeypatch):
    """``_planned`` looks rows up without the lock, so a plan key's row must have its
    ``compute`` (and size and layout) set before it enters the table: a row published first and
    completed after let a concurrent backward call ``None``."""
    backend = get_backend("sim:7")
    seen = []
    planned = device_model.KernelRow.planned

    def recording(row, nbytes, sig, compute):
        seen.append(any(r is row for r in backend._rows.values()))
        return planned(row, nbytes, sig, compute)

    monkeypatch.setattr(device_model.KernelRow, "planned", recording)
    gg.sim.configure("sim:7")
    x = gg.randn(5, device="sim:7", requires_grad=True)
    (x * 2.0).tanh().sum().backward()
    assert seen and not any(seen)
