"""The host's mix: what a kernel's dispatch costs beyond its own, for the kernels before it.

A tight loop of one op runs with warm CPU caches; a real program alternates between many code
paths and each call runs colder. So a kernel's host dispatch pays the profile's ``host_mix_us``
for every other distinct kernel name among the last ``MIX_WINDOW`` launched (itself included),
counted in a ring of their names (``HostMix.dispatches``).

The mix depends on nothing but the names, so the deferred kernels a timeline places together
(timeline.py) are looked up: a loop reading a clock once per step places the same kernels every
step after the same window of names, and ``HostMix.replayed`` returns the dispatch times
recorded the first time (and the window they leave), with no count redone.
"""
import itertools

#: how many recent kernels the host's cache footprint covers
MIX_WINDOW = 32
#: placements whose dispatch times are kept for replay (then the record starts afresh)
REPLAY_LIMIT = 256


class HostMix:
    """The ring of the last ``MIX_WINDOW`` kernel names of one timeline, and the dispatch times
    of the kernel sequences placed after each window (``replays``)."""

    __slots__ = ("mix_us", "replays", "_windows", "_next_window", "_window", "_names",
                 "_recent", "_next", "_counts")

    def __init__(self, mix_us):
        self.mix_us = mix_us  # the profile's host_mix_us
        #: (window id, kernel rows) -> (their dispatch µs, the window after them, its id)
        self.replays = {}
        self._windows = {}  # window of names (oldest first) -> its id (an id is never reused)
        self._next_window = itertools.count().__next__
        self.reset()

    def reset(self):
        """Forget the recent kernels (the recorded replays stay valid: they depend on nothing
        else)."""
        self._recent = [None] * MIX_WINDOW  # names of the last MIX_WINDOW kernels (a ring)
        self._next = 0  # the ring slot the next kernel's name goes in
        self._counts = {}  # name -> occurrences in _recent (None: count them again)
        self._window = None  # the window's id while known (after a replay)
        self._names = None  # the window (oldest first) while the ring is not built from it

    def dispatches(self, rows):
        """Each row's host dispatch µs (its ``dispatch_us`` plus the mix), in order, moving
        the ring past the rows' ``name``s. Returns a tuple."""
        mix = self.mix_us
        if self._names is not None:  # (after a replay: the ring is rebuilt from its window)
            self._recent, self._next, self._counts = list(self._names), 0, None
            self._names = None
        self._window = None
        recent, slot, counts = self._recent, self._next, self._counts
        if counts is None:
            counts = self._counts = {}
            for name in recent:
                if name is not None:
                    counts[name] = counts.get(name, 0) + 1
        distinct, window = len(counts), MIX_WINDOW
        mixed = mix * (distinct - 1)  # the host's extra µs for the mix
        dispatches = []
        for row in rows:
            name = row.name
            old = recent[slot]
            if old != name:  # (the same name leaving and entering changes no count)
                recent[slot] = name
                seen = counts.get(name)
                if seen:
                    counts[name] = seen + 1
                else:
                    counts[name] = 1
                    distinct += 1
                if old is not None:
                    seen = counts[old]
                    if seen == 1:
                        del counts[old]
                        distinct -= 1
                    else:
                        counts[old] = seen - 1
                mixed = mix * (distinct - 1)
            slot = (slot + 1) % window
            dispatches.append(row.dispatch_us + mixed)
        self._next = slot
        return tuple(dispatches)

    def replayed(self, rows):
        """``dispatches(rows)`` for kernel rows that may repeat (a timeline's deferred ones:
        rows are compared by identity), served from ``replays`` when these rows were placed
        before after the same window of names (known by an id, so a replay after a replay
        looks nothing but the rows up)."""
        window = self._window
        if window is None:
            window = self._window_id(self._current_names())
        key = (window, tuple(rows))
        known = self.replays.get(key)
        if known is None:
            dispatches = self.dispatches(rows)
            names = self._current_names()
            if len(self.replays) >= REPLAY_LIMIT:
                self.replays.clear()
                self._windows.clear()  # (ids are never reused: a kept one stays exact)
            after = self._window_id(names)
            self.replays[key] = dispatches, names, after
            self._window = after
            return dispatches
        dispatches, self._names, self._window = known
        return dispatches

    def _current_names(self):
        """The window of names, oldest first."""
        if self._names is not None:
            return self._names
        recent, slot = self._recent, self._next
        return tuple(recent[slot:] + recent[:slot])

    def _window_id(self, names):
        """The id of window ``names``."""
        window = self._windows.get(names)
        if window is None:
            window = self._windows[names] = self._next_window()
        return window
