"""Full garbage collections wait while ops are recorded; young ones run; the program's
thresholds come back once recording stops (gpugrad/engine/gc_pause.py)."""
import gc
import sys
import weakref

import pytest

import gpugrad as gg
from gpugrad.engine import gc_pause

pytestmark = pytest.mark.skipif(sys.version_info >= (3, 14),
                                reason="Python 3.14's incremental collector: nothing deferred")

# ops recorded by a build: enough allocations (about 4 tracked objects per op) for more than
# 10 generation-1 collections at Python's default thresholds (one per 7,000 allocations)
BUILD_OPS = 25_000


@pytest.fixture(autouse=True)
def quiet_collector():
    """Default thresholds, deferral on, and a frozen heap: with the test process's objects
    set aside (``gc.freeze``), a full collection is due after 10 generation-1 collections, as
    in a program whose heap is the graph."""
    was_enabled, thresholds = gc.isenabled(), gc.get_threshold()
    previous = gc_pause.set_full_collection_deferral(False)  # (gives back what it deferred)
    gc.enable()
    gc.freeze()
    # a full collection of an empty generation 2 (everything is frozen) sets Python's count of
    # long-lived objects to 0: the next full collection is due after 10 generation-1 ones,
    # however large this process's heap (and it sees the ops recorded before this test)
    gc.collect()
    gc.set_threshold(700, 10, 10)
    gc_pause.set_full_collection_deferral(True)
    yield
    gc.unfreeze()
    gc_pause.set_full_collection_deferral(previous)
    gc.set_threshold(*thresholds)
    (gc.enable if was_enabled else gc.disable)()


@pytest.fixture
def collections():
    """``{generation: collections run}``, counted from now on."""
    runs = {0: 0, 1: 0, 2: 0}

    def count(phase, info):
        if phase == "stop":
            runs[info["generation"]] += 1
    gc.callbacks.append(count)
    yield runs
    gc.callbacks.remove(count)


def record(n_ops, between=None):
    """Record a chain of ``n_ops`` multiplications; ``between(i)`` runs after each op."""
    y = gg.ones(2, requires_grad=True)
    for i in range(n_ops):
        y = y * 1.0
        if between is not None:
            between(i)
    return y


def allocate_without_recording(n=20_000):
    """Allocations (and so young collections) with no op recorded."""
    junk = [[] for _ in range(n)]
    del junk
    gc.collect(0)  # one more collection that sees nothing recorded


def test_recording_defers_full_collections_but_not_young_ones(collections):
    y = record(BUILD_OPS)
    assert collections[2] == 0
    assert collections[0] > 20 and collections[1] >= 3
    assert gc.get_threshold() == (700, 10, gc_pause.DEFERRED_THRESHOLD)
    assert y.grad_fn is not None


def test_without_the_deferral_the_same_build_runs_a_full_collection(collections):
    assert gc_pause.set_full_collection_deferral(False) is True
    record(BUILD_OPS)
    assert collections[2] >= 1
    assert gc.get_threshold() == (700, 10, 10)


def test_the_deferral_is_bounded(collections, monkeypatch):
    monkeypatch.setattr(gc_pause, "DEFERRED_THRESHOLD", 12)
    record(3 * BUILD_OPS)  # about 30 generation-1 collections: more than 12
    assert collections[2] >= 1


def test_the_programs_thresholds_come_back_when_recording_stops(collections):
    record(5_000)
    assert gc.get_threshold() == (700, 10, gc_pause.DEFERRED_THRESHOLD)
    allocate_without_recording()
    assert gc.get_threshold() == (700, 10, 10)
    # and the next forward pass defers again
    record(5_000)
    assert gc.get_threshold() == (700, 10, gc_pause.DEFERRED_THRESHOLD)


def test_thresholds_the_program_sets_meanwhile_are_kept():
    record(5_000)
    gc.set_threshold(500, 5, 5)
    allocate_without_recording()
    assert gc.get_threshold() == (500, 5, 5)
    record(5_000)  # deferred again from the program's own thresholds
    assert gc.get_threshold() == (500, 5, gc_pause.DEFERRED_THRESHOLD)


def test_a_program_that_already_defers_further_is_left_alone():
    gc.set_threshold(700, 10, 5000)
    record(5_000)
    assert gc.get_threshold() == (700, 10, 5000)


def test_ops_outside_recording_do_not_defer():
    with gg.no_grad():
        record(5_000)
    assert gc.get_threshold() == (700, 10, 10)


def test_turning_the_deferral_off_gives_the_thresholds_back_at_once():
    record(5_000)
    assert gc.get_threshold() == (700, 10, gc_pause.DEFERRED_THRESHOLD)
    assert gc_pause.set_full_collection_deferral(True) is True  # on again: nothing changes
    assert gc.get_threshold() == (700, 10, gc_pause.DEFERRED_THRESHOLD)
    assert gc_pause.set_full_collection_deferral(False) is True
    assert gc.get_threshold() == (700, 10, 10)
    assert gc_pause.is_full_collection_deferral_enabled() is False
    record(5_000)
    assert gc.get_threshold() == (700, 10, 10)
    assert gc_pause.set_full_collection_deferral(True) is False
    assert gc_pause.is_full_collection_deferral_enabled() is True


def test_the_setting_must_be_a_bool():
    with pytest.raises(TypeError, match=r"^set_full_collection_deferral\(\) expects a bool, "
                                        r"got int$"):
        gc_pause.set_full_collection_deferral(1)
    assert gc_pause.is_full_collection_deferral_enabled() is True


class Cycle:
    """An object in a reference cycle with itself."""

    def __init__(self):
        self.me = self


def test_young_collections_still_free_cycles_made_while_recording():
    made = []

    def make_a_cycle(i):
        if i == 10:
            made.append(weakref.ref(Cycle()))
    record(5_000, between=make_a_cycle)
    assert made[0]() is None  # collected by a young collection during the build
