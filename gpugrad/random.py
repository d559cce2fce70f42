"""The global random state behind ``gg.rand``/``gg.randn``/``gg.randint`` and dropout.

Each draw takes a fresh 63-bit seed from a counter mixed with the user's seed, so the same
program after ``gg.manual_seed(s)`` draws the same numbers on ``cpu`` and ``sim``. Threads share
the generator: each draw takes the counter under a lock, so no two draws get the same seed (which
thread gets which seed follows the order in which they draw).
"""
import threading

_MASK64 = (1 << 64) - 1
_DEFAULT_SEED = 67280421310721  # PyTorch's default, so runs are repeatable without a seed
_state = {"seed": _DEFAULT_SEED, "counter": 0}
_lock = threading.Lock()


def manual_seed(seed):
    """Seed the global generator; returns the seed."""
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"manual_seed expects an int, got {type(seed).__name__}")
    with _lock:
        _state["seed"] = seed & _MASK64
        _state["counter"] = 0
    return seed


def initial_seed():
    """The seed last passed to ``manual_seed`` (or the default)."""
    return _state["seed"]


def next_seed():
    """A new seed for one random draw (splitmix64 of seed and counter)."""
    with _lock:
        counter = _state["counter"] = _state["counter"] + 1
        seed = _state["seed"]
    z = (seed + 0x9E3779B97F4A7C15 * counter) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return (z ^ (z >> 31)) >> 1


def get_rng_state():
    """The generator state, for ``set_rng_state`` (a small dict)."""
    with _lock:
        return dict(_state)


def set_rng_state(state):
    seed, counter = int(state["seed"]), int(state["counter"])
    with _lock:
        _state.update(seed=seed, counter=counter)
