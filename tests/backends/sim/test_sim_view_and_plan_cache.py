"""The sim's layout caches change nothing: a view made from the cached layout of its base
(``broadcast_to``, ``permute``: backend.py) has the values and the signature of its own layout,
and the multi-result fused kernels planned once per operand layout (``bias_act_grads``,
``softmax_cross_entropy``: fused.py's ``_plans``) model exactly what planning every call
afresh does."""
import gc

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.backends.sim.kernel_rows import layout_sig
from gpugrad.device_registry import get_backend

CACHED, FRESH = "sim:5", "sim:6"


def sim_array(values):
    """A sim:5 array holding ``values`` (a NumPy array)."""
    return gg.tensor(values, device=CACHED)._data


def assert_own_layout(view):
    """``view`` carries the signature of its own layout (what every plan key reads)."""
    assert view.sig == layout_sig(view.data)


# bases whose broadcasts to one shape differ only in their layout: a wrong cache key (one
# missing the base's signature) would hand one of them another's strides
BASES = [np.arange(4.0, dtype=np.float32).reshape(1, 4), np.arange(4.0, dtype=np.float32),
         np.arange(3.0, dtype=np.float32).reshape(3, 1), np.arange(3.0).reshape(3, 1),
         np.float32(2.5).reshape(()), np.arange(4, dtype=np.int64).reshape(1, 1, 4)]
SHAPES = [(3, 4), (2, 3, 4), (5, 3, 4)]


def test_a_broadcast_view_has_its_own_layout_and_values():
    backend = get_backend(CACHED)
    bases = [sim_array(b) for b in BASES]
    for _ in range(2):  # the second pass runs from the cache
        for base, values in zip(bases, BASES):
            for shape in SHAPES:
                try:
                    want = np.broadcast_to(values, shape)
                except ValueError:
                    with pytest.raises(ValueError):
                        backend.broadcast_to(base, shape)
                    continue
                view = backend.broadcast_to(base, shape)
                assert view.data.strides == want.strides and view.dtype == want.dtype
                np.testing.assert_array_equal(view.data, want)
                assert not view.data.flags.writeable and view.alloc is base.alloc
                assert_own_layout(view)


def test_a_broadcast_of_a_strided_base_is_still_a_view():
    backend = get_backend(CACHED)
    base = backend.permute(sim_array(np.arange(6.0, dtype=np.float32).reshape(2, 3)), (1, 0))
    for _ in range(2):
        view = backend.broadcast_to(base, (4, 3, 2))
        np.testing.assert_array_equal(view.data, np.broadcast_to(base.data, (4, 3, 2)))
        assert view.alloc is base.alloc


@pytest.mark.parametrize("axes", [(1, 0, 2), (2, 1, 0), (0, 2, 1)])
def test_a_permuted_view_has_its_own_layout_and_values(axes):
    backend = get_backend(CACHED)
    values = np.arange(24.0, dtype=np.float32).reshape(2, 3, 4)
    bases = [sim_array(values), backend.permute(sim_array(values), (2, 0, 1)),
             sim_array(values.astype(np.float64)), sim_array(values.reshape(4, 3, 2))]
    for _ in range(2):
        for base in bases:
            view = backend.permute(base, axes)
            np.testing.assert_array_equal(view.data, base.data.transpose(axes))
            assert view.alloc is base.alloc
            assert_own_layout(view)


class KeepsNothing(dict):
    """A plan table that never keeps a plan: every call plans afresh."""

    def __setitem__(self, key, value):
        pass


def fused_program(dev):
    """``bias_act_grads`` (one slab, several, empty, float64) and ``softmax_cross_entropy``
    over changing shapes, twice; returns what they computed."""
    backend = get_backend(dev)
    rng = np.random.default_rng(0)
    out = []
    for _ in range(2):
        for rows, cols, dtype in ((4, 3, np.float32), (64, 128, np.float32), (0, 5, np.float32),
                                  (64, 128, np.float64), (300, 40, np.float32), (4, 3, np.float32)):
            grad_out = gg.tensor(rng.standard_normal((rows, cols)).astype(dtype), device=dev)
            act = gg.tensor(rng.standard_normal((rows, cols)).astype(dtype), device=dev)
            grad, grad_bias = backend.bias_act_grads(grad_out._data, act._data, "relu")
            for result in (grad, grad_bias):
                assert_own_layout(result)
                out.append(result.data.copy())
        for n, classes in ((8, 10), (64, 10), (8, 10), (5, 3)):
            logits = gg.tensor(rng.standard_normal((n, classes)).astype(np.float32), device=dev)
            target = gg.tensor(rng.integers(0, classes, n), device=dev)
            for result in backend.softmax_cross_entropy(logits._data, target._data):
                assert_own_layout(result)
                out.append(result.data.copy())
    return out


def test_planned_fused_kernels_model_exactly_what_fresh_planning_does():
    gc.collect()
    for dev in (CACHED, FRESH):
        gg.sim.configure(dev)
    get_backend(FRESH)._plans = KeepsNothing()
    try:
        results = {dev: fused_program(dev) for dev in (CACHED, FRESH)}
        gc.collect()
        for got, want in zip(results[CACHED], results[FRESH]):
            np.testing.assert_array_equal(got, want)
        states = []
        for dev in (CACHED, FRESH):
            backend = get_backend(dev)
            stats = gg.sim.stats(dev).as_dict()
            stats.pop("device")
            states.append((stats, backend.timeline.snapshot(), backend.pool.in_use,
                           backend.pool.peak, dict(backend.pool._free)))
        assert states[0] == states[1]
        # (both kernels of a multi-slab gradient ran: the test covers the slab sum's row)
        assert gg.sim.stats(CACHED).by_op["bias_grad_sum"]["count"] > 0
        assert get_backend(CACHED)._plans and not get_backend(FRESH)._plans
    finally:
        for dev in (CACHED, FRESH):
            gg.sim.configure(dev)


def dtype_program(dev):
    """Planned primitives that differ only in a dtype parameter (the plan key holds its code),
    each dtype in turn and again; returns the results' dtypes, sizes and values."""
    backend = get_backend(dev)
    a = sim_array(np.arange(64.0, dtype=np.float32))
    out = []
    for _ in range(2):
        for dtype in (gg.float32, gg.float64, gg.int32, gg.bool, gg.float16):
            results = [backend.full((64,), 1, dtype), backend.cast(a, dtype),
                       backend.binary("add", a, a, dtype),
                       backend.unary("neg", a, dtype) if dtype.is_floating_point else None]
            for r in results:
                if r is not None:
                    out.append((str(r.dtype), r.alloc.size, r.data.tolist()))
    return out


def test_a_dtype_parameter_is_part_of_the_plan_key(monkeypatch):
    planned = type(get_backend(CACHED))._planned

    def fresh_or_planned(self, key, primitive, *args):
        if str(self.device) == FRESH:  # every call modeled afresh
            return self._modeled(primitive, *args)
        return planned(self, key, primitive, *args)

    monkeypatch.setattr(type(get_backend(CACHED)), "_planned", fresh_or_planned)
    for dev in (CACHED, FRESH):
        gg.sim.configure(dev)
    try:
        assert dtype_program(CACHED) == dtype_program(FRESH)
        assert gg.sim.stats(CACHED).as_dict()["bytes"] == gg.sim.stats(FRESH).as_dict()["bytes"]
    finally:
        for dev in (CACHED, FRESH):
            gg.sim.configure(dev)
