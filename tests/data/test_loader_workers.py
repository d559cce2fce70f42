"""DataLoader with worker processes: the same batches as num_workers=0, per-worker seeds and
worker info, worker_init_fn, errors with the worker's traceback, timeouts, dead workers,
persistent workers, IterableDataset sharding, and no worker left behind after an error, a
break or Ctrl-C. Few and small loaders: each starts processes."""
import gc
import os
import signal
import threading
import time

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.data import DataLoader, IterableDataset, get_worker_info

_INIT_MARK = {}


def _mark_worker(worker_id):
    _INIT_MARK["id"] = worker_id


class _Probe(gg.data.Dataset):
    """Each example reports who made it: (index, worker id, worker seed, a draw of NumPy's
    and of gpugrad's global generators, the worker_init_fn mark, the process id)."""

    def __init__(self, n=12, fail_at=None, sleep_s=0.0, exit_at=None):
        self.n, self.fail_at, self.sleep_s, self.exit_at = n, fail_at, sleep_s, exit_at

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i == self.fail_at:
            raise ValueError(f"example {i} is corrupt")
        if i == self.exit_at:
            os._exit(3)
        time.sleep(self.sleep_s)
        info = get_worker_info()
        return {"index": i, "worker": -1 if info is None else info.id,
                "seed": -1 if info is None else info.seed, "np": np.random.randint(1 << 30),
                "gg": gg.randint(0, 1 << 30, (1,)).item(), "mark": _INIT_MARK.get("id", -1),
                "pid": os.getpid()}


def _no_worker_alive(iterator):
    return all(not w.is_alive() for w in iterator._workers)


def test_workers_give_the_same_batches_seeded_per_worker():
    plain = list(DataLoader(_Probe(), batch_size=5, shuffle=True, seed=3))
    loader = DataLoader(_Probe(), batch_size=5, shuffle=True, seed=3, num_workers=2,
                        worker_init_fn=_mark_worker, pin_memory=True)
    batches = list(loader)
    assert all(b["index"].is_pinned() for b in batches)
    assert [b["index"].tolist() for b in batches] == [b["index"].tolist() for b in plain]
    workers = [b["worker"].tolist() for b in batches]
    assert workers == [[0] * 5, [1] * 5, [0] * 2]  # batches go to the workers in turn
    assert [b["mark"].tolist() for b in batches] == workers  # worker_init_fn ran in each
    seeds = {w[0]: b["seed"][0].item() for w, b in zip(workers, batches)}
    assert seeds[1] == seeds[0] + 1  # base_seed + worker_id
    again = list(DataLoader(_Probe(), batch_size=5, shuffle=True, seed=3, num_workers=2))
    for key in ("np", "gg", "seed"):  # same generator: same seeds, same random draws
        assert [b[key].tolist() for b in again] == [b[key].tolist() for b in batches]
    assert get_worker_info() is None and _INIT_MARK == {}


def test_a_worker_error_is_raised_here_with_its_traceback():
    iterator = iter(DataLoader(_Probe(fail_at=6), batch_size=2, num_workers=2))
    assert next(iterator)["index"].tolist() == [0, 1]
    with pytest.raises(ValueError) as error:
        list(iterator)
    message = str(error.value)
    assert "Caught ValueError in DataLoader worker process 1" in message
    assert "example 6 is corrupt" in message and "Traceback" in message
    assert "__getitem__" in message and _no_worker_alive(iterator)
    with pytest.raises(ZeroDivisionError, match="(?s)worker process 0.*_broken_init"):
        next(iter(DataLoader(_Probe(), num_workers=1, worker_init_fn=_broken_init)))


def _broken_init(worker_id):
    return 1 / 0


def test_timeout_dead_workers_and_unpicklable_batches_raise():
    iterator = iter(DataLoader(_Probe(sleep_s=5.0), batch_size=1, num_workers=1, timeout=0.3))
    with pytest.raises(RuntimeError, match="DataLoader timed out after 0.3 seconds"):
        next(iterator)
    assert _no_worker_alive(iterator)
    iterator = iter(DataLoader(_Probe(exit_at=0), batch_size=1, num_workers=1))
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid\(s\) \d+\) exited "
                                           r"unexpectedly"):
        next(iterator)
    loader = DataLoader(_Probe(n=2), batch_size=2, num_workers=1,
                        collate_fn=lambda batch: threading.Lock())
    with pytest.raises(TypeError, match="(?s)DataLoader worker process 0.*cannot pickle"):
        next(iter(loader))


def test_break_del_and_ctrl_c_stop_the_workers(ctrl_c):
    iterator = iter(DataLoader(_Probe(), batch_size=2, num_workers=2))
    next(iterator)
    workers = iterator._workers
    del iterator  # what a ``break`` out of a ``for`` leads to
    assert all(not w.is_alive() for w in workers)
    iterator = iter(DataLoader(_Probe(sleep_s=5.0), batch_size=1, num_workers=2))
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            next(iterator)
    finally:
        timer.cancel()
    assert _no_worker_alive(iterator)


def test_persistent_workers_serve_every_epoch():
    loader = DataLoader(_Probe(n=6), batch_size=2, num_workers=2, persistent_workers=True)
    first = [b["pid"].tolist() for b in loader]
    for _ in loader:  # an abandoned epoch: its leftover results must not leak
        break
    second = [b for b in loader]
    assert [b["index"].tolist() for b in second] == [[0, 1], [2, 3], [4, 5]]
    assert [b["pid"].tolist() for b in second] == first  # the same processes
    assert loader._iterator.alive
    workers = loader._iterator._workers
    del loader, second
    gc.collect()
    assert all(not w.is_alive() for w in workers)


class _Stream(IterableDataset):
    def __iter__(self):
        info = get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(start, 11, step))


class _Pairs:
    def __len__(self):
        return 9

    def __getitem__(self, i):
        return np.full((2, 3), i, np.float32), i


def test_workers_batch_like_pytorchs_workers(torch):
    class TorchStream(torch.utils.data.IterableDataset):
        def __iter__(self):
            info = torch.utils.data.get_worker_info()
            return iter(range(info.id, 11, info.num_workers))

    ours = [b.tolist() for b in DataLoader(_Stream(), num_workers=2, batch_size=3)]
    theirs = [b.tolist() for b in torch.utils.data.DataLoader(TorchStream(), num_workers=2,
                                                              batch_size=3)]
    assert ours == theirs == [[0, 2, 4], [1, 3, 5], [6, 8, 10], [7, 9]]
    ours = list(DataLoader(_Pairs(), batch_size=4, num_workers=2))
    theirs = list(torch.utils.data.DataLoader(_Pairs(), batch_size=4, num_workers=2))
    assert len(ours) == len(theirs) == 3
    for (x, y), (tx, ty) in zip(ours, theirs):
        assert x.shape == tuple(tx.shape) and x.dtype == gg.float32 and y.dtype == gg.int64
        np.testing.assert_array_equal(x.numpy(), tx.numpy())
        assert y.tolist() == ty.tolist()
