"""The cyclic garbage collector is off while backward runs and back in its earlier state after:
on if it was on, off if the program had turned it off; nested and consecutive pauses count."""
import gc

import pytest

import gpugrad as gg
from gpugrad.engine import gc_paused


@pytest.fixture(autouse=True)
def gc_state_restored():
    was = gc.isenabled()
    yield
    (gc.enable if was else gc.disable)()


def backward_seeing_gc():
    """Run a backward; returns gc.isenabled() as seen from inside it (a tensor hook)."""
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(gc.isenabled()))
    (x * 2).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]
    return seen[0]


def test_backward_pauses_the_collector_and_turns_it_back_on():
    gc.enable()
    assert backward_seeing_gc() is False
    assert gc.isenabled()
    assert backward_seeing_gc() is False  # a second pass pauses it again
    assert gc.isenabled()


def test_backward_leaves_a_collector_the_program_turned_off_off():
    gc.disable()
    assert backward_seeing_gc() is False
    assert not gc.isenabled()
    gc.enable()
    assert backward_seeing_gc() is False
    assert gc.isenabled()


def test_grad_pauses_the_collector_too():
    gc.enable()
    x = gg.tensor([3.0], requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(gc.isenabled()))
    (g,) = gg.grad((x * x).sum(), x)
    assert seen == [False] and gc.isenabled() and g.tolist() == [6.0]


def test_nested_pauses_resume_only_when_the_outermost_ends():
    gc.enable()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer block still runs
        assert backward_seeing_gc() is False  # a backward inside the block
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_backward_inside_a_hook_of_another_keeps_the_collector_off():
    gc.enable()
    x = gg.tensor([1.0], requires_grad=True)
    seen = []

    def hook(g):
        with gg.enable_grad():  # backward runs hooks with recording off
            assert backward_seeing_gc() is False  # a whole backward pass nested in this one
        seen.append(gc.isenabled())

    x.register_hook(hook)
    (x * 2).sum().backward()
    assert seen == [False] and gc.isenabled()


def test_pause_block_does_not_swallow_exceptions():
    gc.enable()
    with pytest.raises(ValueError, match="boom"):
        with gc_paused():
            raise ValueError("boom")
    assert gc.isenabled()


def test_failing_backward_restores_the_collector():
    gc.enable()
    x = gg.tensor([1.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="a second time"):
        y.backward()
    assert gc.isenabled()
