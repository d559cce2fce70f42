"""``grad_mode.threads_off_default``: the count that lets ops skip the thread-local mode lookup
must be 0 exactly when every thread records with no autocast, and ops must see each thread's
own modes whatever the count."""
import threading

import pytest

import gpugrad as gg
from gpugrad.engine import grad_mode

THREAD_TIMEOUT_S = 10


@pytest.fixture
def leaf():
    return gg.ones(3, requires_grad=True)


def _off():
    """Threads off the defaults beyond those an earlier test may have left (a thread that
    ended inside a block keeps the count up, by design)."""
    return grad_mode.threads_off_default - BASE[0]


BASE = [0]


@pytest.fixture(autouse=True)
def base_count():
    BASE[0] = grad_mode.threads_off_default


def test_count_follows_every_mode_block_back_to_where_it_was(leaf):
    assert _off() == 0
    with gg.no_grad():
        assert _off() == 1
        assert not (leaf * 2).requires_grad
        with gg.enable_grad():
            assert _off() == 0
            assert (leaf * 2).requires_grad
        assert _off() == 1
    with gg.inference_mode():
        assert not (leaf * 2).requires_grad
    gg.set_grad_enabled(False)
    assert _off() == 1 and not gg.is_grad_enabled()
    gg.set_grad_enabled(True)
    with gg.autocast("cpu", dtype=gg.bfloat16):
        assert _off() == 1
    (leaf * leaf).sum().backward()  # backward turns recording off for its pass, then back on
    with pytest.raises(ValueError):
        with gg.no_grad():
            raise ValueError("left by an exception")
    assert _off() == 0
    assert (leaf * 2).requires_grad and gg.is_grad_enabled()


def test_each_thread_keeps_its_own_mode_while_the_count_is_up(leaf):
    inside, release, seen = threading.Event(), threading.Event(), {}

    def worker():
        with gg.no_grad():
            inside.set()
            release.wait(THREAD_TIMEOUT_S)
            seen["worker records"] = (leaf * 2).requires_grad

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        assert inside.wait(THREAD_TIMEOUT_S)
        assert _off() == 1
        assert (leaf * 2).requires_grad  # this thread still records, by the exact check
        assert gg.is_grad_enabled()
    finally:
        release.set()
        thread.join(THREAD_TIMEOUT_S)
    assert seen == {"worker records": False}
    assert _off() == 0
