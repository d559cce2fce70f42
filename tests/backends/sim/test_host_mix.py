"""The host's mix (host_mix.py): dispatch times replayed from a recorded placement equal those
counted afresh, whatever window of recent kernels a placement starts from."""
import random

from gpugrad.backends.sim.host_mix import MIX_WINDOW, REPLAY_LIMIT, HostMix


class Row:
    """What the mix reads of a kernel row: its name and its own dispatch µs."""

    def __init__(self, name, dispatch_us):
        self.name, self.dispatch_us = name, dispatch_us


def test_replayed_dispatches_equal_counted_ones():
    rng = random.Random(0)
    rows = [Row(name, 1.0 + i / 8) for i, name in enumerate("abcdefgh")]
    steps = [[rng.choice(rows) for _ in range(rng.randint(1, 2 * MIX_WINDOW))]
             for _ in range(5)]
    replayed, counted = HostMix(0.25), HostMix(0.25)
    for i in range(200):  # the same few steps, in an order that changes the windows
        step = steps[rng.randrange(len(steps))] if i % 3 else steps[i % 2]
        assert replayed.replayed(step) == counted.dispatches(step)
    assert 0 < len(replayed.replays) < 200  # most placements were served from the record
    # a kernel placed at once after replays counts from the same window
    assert replayed.dispatches(rows[:1]) == counted.dispatches(rows[:1])


def test_the_record_is_bounded():
    mix = HostMix(0.5)
    rows = [Row(f"k{i}", 1.0) for i in range(REPLAY_LIMIT + 10)]
    for row in rows:
        mix.replayed([row])
    assert len(mix.replays) <= REPLAY_LIMIT
