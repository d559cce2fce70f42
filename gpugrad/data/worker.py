"""What runs inside a ``DataLoader`` worker process, and ``get_worker_info()``.

A worker reads tasks ``(epoch, task, indices, slot)`` from its own queue, fetches and collates
that batch, and puts ``(epoch, task, message)`` on the shared result queue, the message packed
by ``transport.py`` (the arrays in shared slot ``slot`` where they fit); an exception travels as a
``WorkerError`` holding the worker's traceback text, the end of an iterable dataset as
``WorkerDone``. ``None`` tells it to exit. A new epoch (persistent workers) starts a fresh
iterator over an iterable dataset. A worker exits by itself when the main process is gone,
and ignores Ctrl-C: the main process, which gets it too, shuts the workers down.
"""
import os
import pickle
import queue
import random
import signal
import traceback
from typing import Any, NamedTuple

import numpy as np

from .. import random as _random
from .fetch import make_fetcher
from .transport import pack

_PARENT_CHECK_S = 1.0  # how often an idle worker checks that the main process still lives
_info = None
_NEVER = object()  # the epoch of a worker whose worker_init_fn failed: it never fetches


class WorkerInfo(NamedTuple):
    """What ``get_worker_info()`` returns inside a worker."""
    id: int
    num_workers: int
    seed: int
    dataset: Any


def get_worker_info():
    """Inside a ``DataLoader`` worker process: its ``WorkerInfo`` (``id``, ``num_workers``,
    ``seed``, and ``dataset``, this worker's copy); ``None`` in the main process. An
    ``IterableDataset`` uses it to shard its stream between workers."""
    return _info


class WorkerError(NamedTuple):
    """An exception raised in a worker, carried to the main process as text."""
    worker_id: int
    exc_type: type
    text: str

    def reraise(self):
        """Raise it in the main process: the same exception type (where it can be built from
        one message) with the worker's traceback in the message."""
        message = (f"Caught {self.exc_type.__name__} in DataLoader worker process "
                   f"{self.worker_id}.\nOriginal {self.text}")
        if issubclass(self.exc_type, KeyError):  # KeyError's str is its repr: keep lines
            message = _PlainMessage(message)
        try:
            error = self.exc_type(message)
        except Exception:  # a type that needs other arguments: keep the text anyway
            error = RuntimeError(message)
        raise error


class _PlainMessage(str):
    """A message that prints as itself even where ``repr`` is used (``str(KeyError(m))``)."""

    def __repr__(self):
        return str(self)


class WorkerDone(NamedTuple):
    """An iterable dataset has no more data in worker ``worker_id``."""
    worker_id: int


def _seed_everything(seed):
    _random.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed & 0xFFFFFFFF)


def worker_loop(dataset, auto_collation, collate_fn, drop_last, tasks, results, slots, worker_id,
                num_workers, seed, worker_init_fn, parent_pid):
    """The body of worker ``worker_id``; see the module docstring for its protocol."""
    global _info
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    results.cancel_join_thread()  # exit when told to, even with results nobody will read
    _seed_everything(seed)
    _info = WorkerInfo(worker_id, num_workers, seed, dataset)
    epoch, fetch = None, None
    try:
        if worker_init_fn is not None:
            worker_init_fn(worker_id)
    except Exception as error:  # every task then reports it
        epoch, fetch = _NEVER, _FailingFetch(worker_id, error)
    while True:
        try:
            task = tasks.get(timeout=_PARENT_CHECK_S)
        except queue.Empty:
            if os.getppid() != parent_pid:
                return
            continue
        if task is None:
            return
        task_epoch, number, indices, slot = task
        if task_epoch != epoch and epoch is not _NEVER:
            epoch = task_epoch
            fetch = _fetcher(dataset, auto_collation, collate_fn, drop_last, worker_id)
        try:
            data = fetch(indices)
        except StopIteration:
            data = WorkerDone(worker_id)
        except Exception as error:
            data = _wrap(worker_id, error)
        results.put((task_epoch, number, _packed(worker_id, data, slots, slot)))


def _fetcher(dataset, auto_collation, collate_fn, drop_last, worker_id):
    try:
        return make_fetcher(dataset, auto_collation, collate_fn, drop_last)
    except Exception as error:
        return _FailingFetch(worker_id, error)


def _packed(worker_id, data, slots, slot):
    """``data`` packed here, not in the queue's feeder thread, so that a batch that cannot be
    pickled reaches the main process as an error instead of never arriving."""
    try:
        return pack(data, slots, slot)
    except Exception as error:
        return pack(_wrap(worker_id, error), None, None)


def _wrap(worker_id, error):
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    exc_type = type(error)
    try:
        pickle.dumps(exc_type)
    except Exception:  # a class defined inside a function cannot travel: name it in the text
        exc_type = RuntimeError
    return WorkerError(worker_id, exc_type, text)


class _FailingFetch:
    """A fetcher that reports one setup error (from ``worker_init_fn`` or ``iter(dataset)``)
    for every task."""

    def __init__(self, worker_id, error):
        self.error = _wrap(worker_id, error)

    def __call__(self, indices):
        return self.error
