"""The nccl backend of gg.distributed without a GPU: ranks are threads of this process, each
calling ``init_process_group("nccl", rank=r, world_size=n)`` and meeting at MASTER_ADDR/
MASTER_PORT, on the fake CuPy (tests/support/fake_cupy.py) and its fake NCCL
(tests/support/fake_nccl.py), which run every collective on the ranks' memory through the
pointers gpugrad passes. The default process group is one per process, so each thread gets its
own here (``_PerThreadWorld``); everything else is the shipped code."""
import os
import runpy
import socket
import sys
import threading
import time

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.distributed as dist
from gpugrad.backends.cuda import availability
from gpugrad.distributed import nccl_group, process_group, work
from support import fake_cupy, fake_nccl

ReduceOp = dist.ReduceOp
BENCH = os.path.join(os.path.dirname(__file__), "..", "..", "bench", "allreduce.py")


class _PerThreadWorld(threading.local):
    """``process_group._state`` with one default group per thread (a thread is a rank)."""

    def __init__(self):
        self.world = None

    def __getitem__(self, key):
        return getattr(self, key)

    def __setitem__(self, key, value):
        setattr(self, key, value)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def gpu(monkeypatch):
    """The fake GPU with its fake NCCL (``(fake, nccl)``), a free rendezvous port, no launcher
    variables, a default process group per thread and a failed collective that leaves pytest's
    exit alone."""
    fake, _ = fake_cupy.install(monkeypatch)
    nccl = fake_nccl.install(monkeypatch, fake)
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", str(_free_port()))
    monkeypatch.setattr(process_group, "_state", _PerThreadWorld())
    monkeypatch.setattr(work, "mark_failed", lambda: None)
    nccl_group._mpi_if_launched()  # mpi4py (if any) initializes once, on the main thread
    return fake, nccl


def run_ranks(size, body, ranks=None, timeout=60):
    """``body(rank)`` on a thread per rank (``ranks``: default all of ``size``); returns their
    results, or raises the first rank's exception. Bounded: a stuck rank fails the test."""
    ranks = range(size) if ranks is None else ranks
    results, errors = {}, {}

    def main(rank):
        try:
            results[rank] = body(rank)
        except BaseException as exc:  # noqa: BLE001  (handed to the test's thread)
            errors[rank] = exc
    threads = [threading.Thread(target=main, args=(r,), daemon=True) for r in ranks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(t.is_alive() for t in threads), "a rank did not finish"
    for rank in sorted(errors):
        raise errors[rank]
    return results


def _values(rank, dtype):
    """Rank ``rank``'s operand: small integers (exact in every type), negative ones included."""
    return np.array([rank + 1, -2 * rank - 1, 3, rank * rank - 2], dtype=dtype)


def _expected(size, dtype, reduce):
    return reduce(np.stack([_values(r, dtype) for r in range(size)]))


def _truncating_mean(total, size):
    return np.sign(total) * (np.abs(total) // size)


@pytest.mark.parametrize("size", [2, 3])
def test_every_collective_on_thread_ranks(gpu, size):
    fake, nccl = gpu

    def rank_main(rank):
        dist.init_process_group("nccl", rank=rank, world_size=size, timeout=20)
        group = process_group.world()
        assert (dist.get_rank(), dist.get_world_size(), dist.get_backend()) == \
            (rank, size, "nccl")
        assert (group.comm.rank_id(), group.comm.size()) == (rank, size)
        assert group.comm.device_id() == group.device_index == 0  # the GPU made current
        checked = 0
        for name in ("float32", "float64", "float16", "int64"):
            dtype = np.dtype(name)
            for op, reduce in [(ReduceOp.SUM, lambda a: a.sum(0)),
                               (ReduceOp.MAX, lambda a: a.max(0)),
                               (ReduceOp.MIN, lambda a: a.min(0)),
                               (ReduceOp.PRODUCT, lambda a: a.prod(0))]:
                t = gg.tensor(_values(rank, dtype), device="cuda")
                dist.all_reduce(t, op=op)
                assert t.dtype.name == name
                assert t.tolist() == _expected(size, dtype, reduce).tolist(), (name, op)
                checked += 1
            t = gg.tensor(_values(rank, dtype), device="cuda")
            dist.all_reduce(t, op=ReduceOp.AVG)
            total = _expected(size, dtype, lambda a: a.sum(0))
            mean = total / size if dtype.kind == "f" else _truncating_mean(total, size)
            assert np.allclose(t.tolist(), mean, rtol=1e-3), (name, t.tolist(), mean)
        flags = gg.tensor([rank == 0, True, False], device="cuda")
        dist.all_reduce(flags)  # bool SUM: any rank's True
        assert flags.tolist() == [True, True, False]
        flags = gg.tensor([rank == 0, True, False], device="cuda")
        dist.all_reduce(flags, op=ReduceOp.PRODUCT)  # bool PRODUCT: every rank's True
        assert flags.tolist() == [size == 1, True, False]

        t = gg.tensor(_values(rank, np.float64), device="cuda")
        dist.broadcast(t, src=size - 1)
        assert t.tolist() == _values(size - 1, np.float64).tolist()
        mine = gg.tensor(_values(rank, np.int64).reshape(2, 2), device="cuda")
        gathered = [gg.zeros(2, 2, dtype=gg.int64, device="cuda") for _ in range(size)]
        dist.all_gather(gathered, mine)
        assert [g.tolist() for g in gathered] == \
            [_values(r, np.int64).reshape(2, 2).tolist() for r in range(size)]
        flat = gg.zeros(size * 4, dtype=gg.float32, device="cuda")
        dist.all_gather_into_tensor(flat, gg.tensor(_values(rank, np.float32), device="cuda"))
        assert flat.tolist() == np.concatenate([_values(r, np.float32)
                                                for r in range(size)]).tolist()

        # reduce-scatter: input block j of rank r is (r + 1) * (10 * j + [0, 1, 2])
        blocks = [gg.tensor((rank + 1.0) * (10 * j + np.arange(3.0)), device="cuda")
                  for j in range(size)]
        out = gg.zeros(3, dtype=gg.float64, device="cuda")
        dist.reduce_scatter(out, blocks)
        weight = size * (size + 1) / 2
        assert out.tolist() == (weight * (10 * rank + np.arange(3.0))).tolist()
        out = gg.zeros(3, dtype=gg.float64, device="cuda")
        dist.reduce_scatter_tensor(out, gg.cat(blocks), op=ReduceOp.AVG)
        assert out.tolist() == (weight / size * (10 * rank + np.arange(3.0))).tolist()

        # point to point around the ring
        outgoing = gg.tensor(_values(rank, np.float32), device="cuda")
        incoming = gg.zeros(4, dtype=gg.float32, device="cuda")
        sending = dist.isend(outgoing, (rank + 1) % size)
        assert dist.recv(incoming, (rank - 1) % size) == (rank - 1) % size
        sending.wait()
        assert incoming.tolist() == _values((rank - 1) % size, np.float32).tolist()
        with pytest.raises(ValueError, match="pass src="):
            dist.recv(incoming)

        pending = dist.all_reduce(gg.ones(2, device="cuda"), async_op=True)
        assert pending.wait() and pending.is_completed()
        assert pending.result()[0].tolist() == [float(size)] * 2
        dist.barrier()
        dist.destroy_process_group()
        return checked

    assert run_ranks(size, rank_main) == {r: 16 for r in range(size)}
    # every operation went on the calling rank's current stream
    assert nccl.calls and all(stream == current for _, _, stream, current in nccl.calls)
    assert {rank for rank, *_ in nccl.calls} == set(range(size))


def test_a_collective_completes_when_the_last_rank_joins(gpu):
    """async_op=True returns before the peers have joined; the result is there after wait()."""
    _, nccl = gpu
    started, observed = threading.Event(), {}

    def rank_main(rank):
        dist.init_process_group("nccl", rank=rank, world_size=2, timeout=20)
        t = gg.tensor([rank + 1.0, 2.0], device="cuda")
        if rank == 0:
            pending = dist.all_reduce(t, op=ReduceOp.AVG, async_op=True)
            observed["early"] = pending.is_completed(), t.tolist()
            started.set()
            pending.wait()
        else:
            assert started.wait(20)
            dist.all_reduce(t, op=ReduceOp.AVG)
        observed[rank] = t.tolist()
        dist.destroy_process_group()

    run_ranks(2, rank_main)
    assert observed["early"] == (False, [1.0, 2.0])  # not done, not yet divided
    assert observed[0] == observed[1] == [1.5, 2.0]


def test_average_before_nccl_2_10_sums_then_divides(gpu, monkeypatch):
    """NCCL_AVG exists in CuPy's constants whatever the runtime; before NCCL 2.10 it is refused,
    so gpugrad sums and divides (integers truncating, as NCCL's average)."""
    _, nccl = gpu
    nccl.version = 20907

    def rank_main(rank):
        dist.init_process_group("nccl", rank=rank, world_size=2, timeout=20)
        floats = gg.tensor([rank + 1.0, -3.0], device="cuda")
        ints = gg.tensor([rank + 2, -3 - 2 * rank], dtype=gg.int64, device="cuda")
        dist.all_reduce(floats, op=ReduceOp.AVG)
        dist.all_reduce(ints, op=ReduceOp.AVG)
        dist.destroy_process_group()
        return floats.tolist(), ints.tolist()

    assert run_ranks(2, rank_main) == {r: ([1.5, -3.0], [2, -4]) for r in range(2)}
    with pytest.raises(fake_nccl.NcclError, match="INVALID_ARGUMENT: invalid reduction"):
        nccl.NcclCommunicator.__new__(nccl.NcclCommunicator)._op(nccl.NCCL_AVG)


def test_a_dead_peer_times_out_and_the_group_then_says_it_failed(gpu):
    def rank_main(rank):
        dist.init_process_group("nccl", rank=rank, world_size=2, timeout=0.5)
        if rank == 1:
            return None  # dies without calling all_reduce
        t = gg.ones(3, device="cuda")
        with pytest.raises(dist.DistBackendError, match=r"all_reduce did not complete on rank 0"
                                                        r" of 2 \(nccl backend\)"):
            dist.all_reduce(t)
        with pytest.raises(dist.DistBackendError, match="aborted"):
            dist.all_reduce(t)  # the communicator is gone: a clear error, not AttributeError
        dist.destroy_process_group()
        return process_group.is_initialized()

    assert run_ranks(2, rank_main) == {0: False, 1: None}


def test_a_rank_that_never_arrives_fails_every_rank_within_the_timeout(gpu):
    """No rank may enter NCCL's initialization, which waits forever, before every rank has met
    at the rendezvous: a missing rank is a DistBackendError within the timeout everywhere."""
    _, nccl = gpu
    nccl.init_wait = 10.0  # the fake's NcclError would say real NCCL hangs here

    def rank_main(rank):
        start = time.monotonic()
        with pytest.raises(dist.DistBackendError) as error:
            dist.init_process_group("nccl", rank=rank, world_size=3, timeout=1.0)
        return str(error.value), time.monotonic() - start

    results = run_ranks(3, rank_main, ranks=[0, 1])  # rank 2 never starts
    assert "only 1 of 2 other ranks reached" in results[0][0]
    assert "rank 1 could not reach rank 0 at 127.0.0.1" in results[1][0]
    assert "or not every rank of 3 arrived" in results[1][0]
    assert all(seconds < 8 for _, seconds in results.values())


def test_tcp_rendezvous_over_init_method(gpu, monkeypatch):
    monkeypatch.delenv("MASTER_PORT")
    where = f"tcp://127.0.0.1:{_free_port()}"

    def rank_main(rank):
        dist.init_process_group("nccl", init_method=where, rank=rank, world_size=3, timeout=20)
        t = gg.tensor([float(rank)], device="cuda")
        dist.all_reduce(t)
        dist.destroy_process_group()
        return t.tolist()

    assert run_ranks(3, rank_main) == {r: [3.0] for r in range(3)}


def test_argument_errors_name_the_fix(gpu):
    dist.init_process_group("nccl", rank=0, world_size=1)
    try:
        with pytest.raises(ValueError, match=r"is on cpu, but the nccl backend of rank 0 works "
                                             r"on cuda:0"):
            dist.all_reduce(gg.ones(2))
        with pytest.raises(ValueError, match="NCCL has no bitwise reductions"):
            dist.all_reduce(gg.ones(2, dtype=gg.int32, device="cuda"), op=ReduceOp.BOR)
        with pytest.raises(TypeError, match="NCCL cannot reduce int16"):
            dist.all_reduce(gg.ones(2, dtype=gg.int16, device="cuda"))
        shorts = gg.tensor([1, -2, 3], dtype=gg.int16, device="cuda")
        dist.broadcast(shorts, src=0)  # moved as bytes
        assert shorts.tolist() == [1, -2, 3]
    finally:
        dist.destroy_process_group()


def test_device_choice(gpu, monkeypatch):
    fake, _ = gpu
    monkeypatch.setattr(fake.cuda.runtime, "getDeviceCount", lambda: 4)
    assert nccl_group._device_index(fake, None, 5) == 1  # LOCAL_RANK modulo the GPU count
    assert nccl_group._device_index(fake, gg.Device("cuda:2"), 0) == 2
    assert nccl_group._device_index(fake, 3, 0) == 3
    with pytest.raises(ValueError, match="device_id=7 is not one of this machine's 4 GPUs"):
        nccl_group._device_index(fake, 7, 0)


def test_without_cupy_gpu_or_nccl_the_error_says_which(gpu, monkeypatch):
    fake, nccl = gpu
    assert dist.is_nccl_available()
    cases = [((None, 0, "CuPy is not installed (No module named 'cupy')"), None,
              "cuda:0 is unavailable: CuPy is not installed"),
             ((fake, 0, "no NVIDIA GPU found: the driver reports 0 devices"), None,
              "no NVIDIA GPU found"),
             ((fake, 1, None), "missing", "needs CuPy's NCCL bindings, which do not import"),
             ((fake, 1, None), "unavailable", "this CuPy was built without")]
    for probe, bindings, message in cases:
        with monkeypatch.context() as patch:
            patch.setitem(availability._probe_cache, "result", probe)
            if bindings == "missing":
                patch.setitem(sys.modules, "cupy.cuda", type(sys)("cupy.cuda"))
                patch.delitem(sys.modules, "cupy.cuda.nccl")
            elif bindings == "unavailable":
                patch.setattr(nccl, "available", False)
            assert not dist.is_nccl_available()
            with pytest.raises(gg.DeviceUnavailableError, match=message):
                dist.init_process_group("nccl", rank=0, world_size=1)
            assert not dist.is_initialized()


def test_bench_allreduce_runs_on_one_gpu(gpu, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["allreduce.py", "--backend", "nccl", "--device", "cuda",
                                      "--max-bytes", "512", "--iters", "2", "--warmup", "1"])
    runpy.run_path(BENCH, run_name="__main__")
    out = capsys.readouterr().out
    assert "all_reduce float32, 1 rank(s), backend nccl, device cuda:0" in out
    assert len([line for line in out.splitlines() if line.split()[0].isdigit()]) == 4


def test_the_fake_nccl_refuses_what_nccl_refuses(gpu):
    """The stand-in's own checks, which the tests above rely on to fail for the right reason."""
    fake, nccl = gpu
    comm = nccl.NcclCommunicator(1, nccl.get_unique_id(), 0)
    a, stream = fake.zeros(4, np.float32), fake.cuda.get_current_stream().ptr
    with pytest.raises(TypeError, match="expected tuple, got list"):
        nccl.NcclCommunicator(1, list(nccl.get_unique_id()), 0)
    with pytest.raises(nccl.NcclError, match="is not the address of an array"):
        comm.allReduce(np.zeros(4).ctypes.data, a.data.ptr, 4, nccl.NCCL_FLOAT32,
                       nccl.NCCL_SUM, stream)
    with pytest.raises(nccl.NcclError, match="run past the end"):
        comm.allReduce(a.data.ptr, a.data.ptr, 5, nccl.NCCL_FLOAT32, nccl.NCCL_SUM, stream)
    with pytest.raises(nccl.NcclError, match="is not a stream"):
        comm.allReduce(a.data.ptr, a.data.ptr, 4, nccl.NCCL_FLOAT32, nccl.NCCL_SUM, 0)
    with pytest.raises(TypeError, match="an integer is required"):
        comm.bcast(a.data.ptr, 4, nccl.NCCL_FLOAT32, 0, fake.cuda.get_current_stream())
    a[...] = 2.0
    comm.allReduce(a.data.ptr, a.data.ptr, 4, nccl.NCCL_FLOAT32, nccl.NCCL_PROD, stream)
    event = fake.cuda.Event(disable_timing=True)
    event.record()
    assert event.done and a.get().tolist() == [2.0] * 4
    comm.destroy()
    with pytest.raises(nccl.NcclError, match="destroyed or aborted"):
        comm.allReduce(a.data.ptr, a.data.ptr, 4, nccl.NCCL_FLOAT32, nccl.NCCL_SUM, stream)

    uid = nccl.get_unique_id()

    def mismatched(rank):
        comm = nccl.NcclCommunicator(2, uid, rank)
        b = fake.zeros(2 + rank, np.float64)
        comm.allReduce(b.data.ptr, b.data.ptr, 2 + rank, nccl.NCCL_FLOAT64, nccl.NCCL_SUM,
                       fake.cuda.get_current_stream().ptr)

    with pytest.raises(nccl.NcclError, match="the ranks disagree"):
        run_ranks(2, mismatched)
