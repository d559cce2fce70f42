"""HostMix dispatch times pinned by hand: the mix adds ``mix_us`` for every other distinct name
among the last MIX_WINDOW kernels, and a replay rebuilds the ring from its window (oldest
first), so what follows a replay moves the ring exactly as after counted dispatches."""
from gpugrad.backends.sim.host_mix import MIX_WINDOW, HostMix

W = MIX_WINDOW


class Row:
    def __init__(self, name, dispatch_us=10.0):
        self.name, self.dispatch_us = name, dispatch_us


def _fill():
    """W rows: a, x, x, then W - 3 more distinct names: W - 1 distinct in all."""
    return [Row("a"), Row("x"), Row("x")] + [Row(f"f{i}") for i in range(3, W)]


def test_after_a_replay_the_oldest_names_leave_first():
    rows = _fill()
    mix = HostMix(1.0)
    first = mix.replayed(rows)
    assert first[-1] == 10.0 + (W - 2)          # W - 1 distinct names: W - 2 others
    mix.reset()
    assert mix.replayed(rows) == first          # the same window before it: a replay
    c, d = mix.dispatches([Row("c"), Row("d")])
    # c replaces a (the oldest): still W - 1 distinct; d replaces one x: W distinct
    assert (c, d) == (10.0 + (W - 2), 10.0 + (W - 1))


def test_a_replay_is_only_for_the_same_window():
    one = [Row("k", 5.0)]
    mix = HostMix(2.0)
    assert mix.replayed(one) == (5.0,)          # only k in the window: no mix
    mix.dispatches([Row("p"), Row("q")])        # window now ..., k, p, q
    assert mix.replayed(one) == (5.0 + 2.0 * 2,)  # k, p, q: 2 others
    mix.dispatches([Row("r")])
    assert mix.replayed(one) == (5.0 + 2.0 * 3,)  # k, p, q, r: 3 others
    assert mix.replayed(one) == (5.0 + 2.0 * 3,)
