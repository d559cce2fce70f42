"""The ``DataLoader`` iterator with ``num_workers > 0``: batches loaded in worker processes.

The main process walks the batch sampler and hands each batch's indices to the workers in
turn (at most ``prefetch_factor`` outstanding per worker); results arrive in any order and
are yielded in sampler order, so the batches equal those of ``num_workers=0``. Each task and
result carries the epoch, so results left over from an abandoned epoch (a ``break``, then a
new ``for`` with persistent workers) are dropped. Any error, a ``break`` that drops the
iterator, Ctrl-C, or the end of a non-persistent epoch shuts the workers down: asked to exit,
then terminated if they do not within a moment. Batches travel as ``transport.py`` packs them,
through shared memory where the start method allows.
"""
import multiprocessing
import os
import queue
import time

from .pinning import pin_memory
from .transport import SharedSlots, unpack
from .worker import WorkerDone, WorkerError, worker_loop

_POLL_S = 0.25  # how often a waiting main process checks that its workers are alive
_JOIN_S = 2.0  # how long a worker may take to exit when asked before it is terminated
_ABORT_S = 0.1  # the same after an error or Ctrl-C: its work in flight is of no use anymore


def start_method_context(context):
    """The multiprocessing context for the workers: ``context`` (a start-method name or a
    context) if given, else ``fork`` where the platform has it (no re-import of the program,
    the dataset shared copy-on-write), else the platform's default."""
    if context is None:
        methods = multiprocessing.get_all_start_methods()
        return multiprocessing.get_context("fork" if "fork" in methods else None)
    if isinstance(context, str):
        methods = multiprocessing.get_all_start_methods()
        if context not in methods:
            raise ValueError(f"multiprocessing_context option should specify a valid start "
                             f"method in {methods!r}, but got multiprocessing_context="
                             f"{context!r}")
        return multiprocessing.get_context(context)
    if not isinstance(context, multiprocessing.context.BaseContext):
        raise TypeError(f"multiprocessing_context option should be a valid context object or "
                        f"a string specifying the start method, but got "
                        f"multiprocessing_context={context}")
    return context


class MultiProcessIterator:
    """Iterates one epoch of a ``DataLoader`` with worker processes; ``reset`` starts the next
    epoch on the same workers (``persistent_workers``)."""

    def __init__(self, loader, base_seed):
        self._closed = True  # nothing to shut down until the workers exist
        context = start_method_context(loader.multiprocessing_context)
        self._num_workers = loader.num_workers
        self._prefetch = max(loader.prefetch_factor * loader.num_workers, 1)
        self._timeout = loader.timeout
        self._pin = loader.pin_memory
        self._persistent = loader.persistent_workers
        # one slot per batch in flight; mapped before the workers fork, so they share it
        self._slots = SharedSlots(self._prefetch) if context.get_start_method() == "fork" \
            else None
        self._results = context.Queue()
        self._tasks = [context.Queue() for _ in range(self._num_workers)]
        self._workers = []
        self._closed = False
        self._epoch = 0
        for worker_id in range(self._num_workers):
            worker = context.Process(
                target=worker_loop, daemon=True,
                args=(loader.dataset, loader._auto_collation, loader.collate_fn,
                      loader.drop_last, self._tasks[worker_id], self._results, self._slots,
                      worker_id,
                      self._num_workers, base_seed + worker_id, loader.worker_init_fn,
                      os.getpid()))
            worker.start()
            self._workers.append(worker)
        self.reset(loader)

    @property
    def alive(self):
        """False once the workers are shut down (after an error, or a finished epoch without
        ``persistent_workers``)."""
        return not self._closed

    def reset(self, loader):
        """Start a new epoch: a fresh pass of the batch sampler, every worker active again."""
        if self._epoch:
            self._drain()
        self._epoch += 1
        self._indices = iter(loader._index_sampler)
        self._sent = self._received = 0
        self._worker_of = {}  # task number -> the worker it was sent to
        self._arrived = {}  # task number -> its result, waiting for its turn
        self._active = list(range(self._num_workers))
        self._next_worker = 0
        for _ in range(self._prefetch):
            self._send_next()

    def __iter__(self):
        return self

    def __next__(self):
        try:
            return self._next_batch()
        except StopIteration:
            if not self._persistent:
                self.shutdown()
            raise
        except BaseException:  # errors, Ctrl-C: no worker outlives the failed epoch
            self.shutdown(grace_s=_ABORT_S)
            raise

    def _next_batch(self):
        while True:
            if self._closed or self._received == self._sent:
                raise StopIteration
            if self._received not in self._arrived:
                self._receive()
                continue
            data = self._arrived.pop(self._received)
            worker_id = self._worker_of.pop(self._received)
            self._received += 1
            if isinstance(data, WorkerDone):  # that worker's share of the stream has ended
                if worker_id in self._active:
                    self._active.remove(worker_id)
                continue
            self._send_next()
            if isinstance(data, WorkerError):
                data.reraise()
            return pin_memory(data) if self._pin else data

    def _send_next(self):
        if not self._active:
            return
        try:
            indices = next(self._indices)
        except StopIteration:
            return
        worker_id = self._active[self._next_worker % len(self._active)]
        self._next_worker += 1
        # Task k reuses the slot of task k - prefetch, which has been received: at most
        # ``prefetch`` tasks are ever outstanding.
        slot = self._sent % self._prefetch if self._slots is not None else None
        self._tasks[worker_id].put((self._epoch, self._sent, indices, slot))
        self._worker_of[self._sent] = worker_id
        self._sent += 1

    def _receive(self):
        """Wait for one result of this epoch, checking on the workers and the timeout."""
        started = time.monotonic()
        while True:
            wait = _POLL_S
            if self._timeout > 0:
                wait = min(wait, self._timeout - (time.monotonic() - started))
            try:
                epoch, number, payload = self._results.get(timeout=max(wait, 0.0))
            except queue.Empty:
                dead = [w.pid for w in self._workers if not w.is_alive()]
                if dead:
                    raise RuntimeError(f"DataLoader worker (pid(s) "
                                       f"{', '.join(map(str, dead))}) exited unexpectedly")
                if self._timeout > 0 and time.monotonic() - started >= self._timeout:
                    raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds")
                continue
            if epoch == self._epoch:
                self._arrived[number] = unpack(payload, self._slots)
                return

    def _drain(self):
        """Receive what is still in flight from an abandoned epoch, so that no worker writes
        into a slot that the next epoch hands out again."""
        while not self._closed and len(self._arrived) < self._sent - self._received:
            try:
                self._receive()
            except BaseException:
                self.shutdown(grace_s=_ABORT_S)
                raise

    def shutdown(self, grace_s=_JOIN_S):
        """Ask every worker to exit, terminate those still busy after ``grace_s`` seconds,
        close the queues."""
        if self._closed:
            return
        self._closed = True
        for tasks in self._tasks:
            tasks.put(None)
        deadline = time.monotonic() + grace_s
        for worker in self._workers:
            worker.join(timeout=max(deadline - time.monotonic(), 0.0))
            if worker.is_alive():
                worker.terminate()
                worker.join(timeout=_JOIN_S)
        for channel in (*self._tasks, self._results):
            channel.cancel_join_thread()  # never block the main process on unread data
            channel.close()
        if self._slots is not None:
            self._slots.close()

    def __del__(self):
        self.shutdown()
