"""Grad modes: whether ops record the graph, per thread (``no_grad``, ``enable_grad``,
``inference_mode``, ``set_grad_enabled``)."""
import functools
import threading


class _ThreadModes(threading.local):
    """The grad mode of the calling thread, as in PyTorch: each thread starts with graph
    recording on, and a thread's ``no_grad`` or ``backward()`` never changes another thread's
    mode. Read on every op's dispatch (one attribute lookup)."""

    grad_enabled = True
    # gg.autocast's state while a region is active in this thread (an object whose
    # ``cast_inputs(policy, inputs, params)`` casts an op's inputs), None otherwise
    autocast = None

    def __init__(self):
        self.saved = []  # modes to restore, pushed by entering a mode block in this thread

    def __setattr__(self, name, value):
        # Keep ``threads_off_default`` current, so that an op reads this thread's modes (a
        # thread-local lookup costs as much as the rest of an op's bookkeeping) only while some
        # thread has left the defaults. Writes are rare (entering and leaving a block).
        global threads_off_default
        before = not self.grad_enabled or self.autocast is not None
        threading.local.__setattr__(self, name, value)
        after = not self.grad_enabled or self.autocast is not None
        if before is not after:
            with _count_lock:
                threads_off_default += 1 if after else -1


# How many threads have graph recording off or an autocast region on. While it is 0 every
# thread is in the default modes (recording, no autocast) and ``Function.apply`` skips the
# thread-local lookup. A thread that ends off the defaults leaves it above 0, which only sends
# ops to the exact (slower) check.
threads_off_default = 0
_count_lock = threading.Lock()

modes = _ThreadModes()


def set_modes(grad_enabled, autocast):
    """Set this thread's recording mode and autocast state at once, as the engine does on entering
    and leaving a backward pass: written into the thread's own values directly, with one update
    of ``threads_off_default`` at most (two ``modes.x = ...`` cost two ``__setattr__`` calls,
    which were a measurable share of a small graph's backward)."""
    global threads_off_default
    state = modes
    before = not state.grad_enabled or state.autocast is not None
    values = state.__dict__  # this thread's values (the class defaults where never set)
    values["grad_enabled"] = grad_enabled
    values["autocast"] = autocast
    after = not grad_enabled or autocast is not None
    if before is not after:
        _count_lock.acquire()
        threads_off_default += 1 if after else -1
        _count_lock.release()


class _GradMode:
    """Base of ``no_grad`` / ``enable_grad`` / ``inference_mode``: a context manager and a
    decorator, used as ``@gg.no_grad()`` or, as in PyTorch 2, ``@gg.no_grad``. The mode before
    the block is kept per thread, so one instance may serve several threads or nested blocks."""

    mode = True

    def __new__(cls, fn=None):
        self = super().__new__(cls)
        if fn is not None and callable(fn) and cls is not set_grad_enabled:  # bare decorator
            self.__init__()
            return self(fn)
        return self

    def __enter__(self):
        state = modes
        state.saved.append(state.grad_enabled)
        state.grad_enabled = self.mode
        return self

    def __exit__(self, *exc):
        state = modes
        state.grad_enabled = state.saved.pop()
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):
    """Disable graph recording in this thread: ``with gg.no_grad(): ...`` or ``@gg.no_grad()``."""

    mode = False


class enable_grad(_GradMode):
    """Re-enable graph recording (in this thread) inside a ``no_grad`` block."""

    mode = True


class inference_mode(_GradMode):
    """``with gg.inference_mode(): ...``: graph recording off in this thread, as ``no_grad``.

    PyTorch's inference mode also marks the tensors it creates as unusable by autograd later;
    gpugrad's tensors made in the block are ordinary tensors that do not require grad.
    ``inference_mode(False)`` leaves the mode as it is.
    """

    mode = False

    def __new__(cls, mode=True):
        if callable(mode):  # bare decorator: @gg.inference_mode
            return super().__new__(cls, mode)
        return super().__new__(cls)

    def __init__(self, mode=True):
        if not callable(mode) and not mode:
            self.mode = None  # inference_mode(False): no change

    def __enter__(self):
        state = modes
        state.saved.append(state.grad_enabled)
        if self.mode is not None:
            state.grad_enabled = False
        return self

    def __call__(self, fn):
        mode = self.mode is not None

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with inference_mode(mode):
                return fn(*args, **kwargs)

        return wrapper


class set_grad_enabled(_GradMode):
    """Set graph recording on or off in this thread, as in PyTorch: at once when called as a
    function, ``gg.set_grad_enabled(False)``; for a block, ``with gg.set_grad_enabled(flag): ...``
    (restored after it); or for a function, as a decorator."""

    def __init__(self, mode=True):
        self.mode = bool(mode)
        self._prev = modes.grad_enabled
        modes.grad_enabled = self.mode

    def __enter__(self):
        modes.saved.append(self._prev)  # already set by __init__; __exit__ restores the old mode
        return self

    def __call__(self, fn):
        modes.grad_enabled = self._prev  # used as a decorator: the mode applies only inside fn
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        return wrapper


def is_grad_enabled():
    """True when ops record the graph in this thread."""
    return not threads_off_default or modes.grad_enabled
