"""gg.distributed in this one process: argument checks, errors, ReduceOp, the environment
variables, the timeout, the rendezvous store and the launcher's errors. Collectives run in a
world of one (MPI's singleton, when mpi4py is installed)."""
import os
import socket
import threading
from datetime import timedelta

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.distributed as dist
from gpugrad.distributed import environment, launch, store, work
from gpugrad.distributed.reduce_op import check_op, divide_in_place

needs_mpi = pytest.mark.skipif(not dist.is_mpi_available(),
                               reason="needs mpi4py (pip install 'gpugrad[mpi]')")


@pytest.fixture
def world():
    """A one-rank mpi process group, destroyed after the test, with the LOCAL_RANK and
    LOCAL_WORLD_SIZE it publishes taken back (processes that later tests launch inherit the
    environment, and would be placed by them)."""
    published = ("LOCAL_RANK", "LOCAL_WORLD_SIZE")
    before = {name: os.environ.get(name) for name in published}
    dist.init_process_group("mpi")
    yield
    if dist.is_initialized():
        dist.destroy_process_group()
    for name, value in before.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def test_queries_before_init_raise_pytorchs_error():
    assert not dist.is_initialized() and dist.is_available()
    with pytest.raises(ValueError, match="has not been initialized"):
        dist.get_rank()
    with pytest.raises(ValueError, match="has not been initialized"):
        dist.all_reduce(gg.ones(2))


@needs_mpi
def test_world_of_one(world):
    assert (dist.get_rank(), dist.get_world_size(), dist.get_backend()) == (0, 1, "mpi")
    assert os.environ["LOCAL_RANK"] == "0" and os.environ["LOCAL_WORLD_SIZE"] == "1"
    t = gg.tensor([1.0, -2.0, 3.0], dtype=gg.float64)
    dist.all_reduce(t, op=dist.ReduceOp.AVG)
    assert t.tolist() == [1.0, -2.0, 3.0]
    work_ = dist.broadcast(t, src=0, async_op=True)
    assert isinstance(work_, dist.Work) and work_.wait() and work_.is_completed()
    assert work_.result()[0] is t
    outs = [gg.zeros(3, dtype=gg.float64)]
    dist.all_gather(outs, t)
    assert outs[0].tolist() == t.tolist()
    flags = gg.tensor([True, False])
    dist.all_reduce(flags, op=dist.ReduceOp.SUM)
    assert flags.tolist() == [True, False]
    dist.barrier()
    with pytest.raises(ValueError, match="twice"):
        dist.init_process_group("mpi")


@needs_mpi
def test_argument_errors_name_the_fix(world):
    t = gg.ones(4)
    with pytest.raises(TypeError, match="ReduceOp"):
        dist.all_reduce(t, op="sum")
    with pytest.raises(ValueError, match="BXOR needs an integer"):
        dist.all_reduce(t, op=dist.ReduceOp.BXOR)
    with pytest.raises(RuntimeError, match="Tensors must be contiguous"):
        dist.all_reduce(gg.ones(3, 4).t())
    with pytest.raises(TypeError, match="must be a gg.Tensor"):
        dist.all_reduce(np.ones(3))
    with pytest.raises(ValueError, match=r"src=1 is not a rank of this group \(0 to 0\)"):
        dist.broadcast(t, src=1)
    with pytest.raises(ValueError, match=r"world_size \(1\) tensors, got 2"):
        dist.all_gather([gg.ones(4), gg.ones(4)], t)
    with pytest.raises(ValueError, match="must match"):
        dist.all_gather([gg.ones(5)], t)
    with pytest.raises(ValueError, match="times the elements"):
        dist.all_gather_into_tensor(gg.ones(5), t)
    with pytest.raises(ValueError, match="only the default process group"):
        dist.all_reduce(t, group=object())
    with pytest.raises(ValueError, match="own rank"):
        dist.send(t, 0)


@pytest.mark.parametrize("backend, message", [("gloo", "not available in gpugrad"),
                                               ("ucc", "not one of mpi, nccl, sim, auto")])
def test_unknown_backends(backend, message):
    with pytest.raises(ValueError, match=message):
        dist.init_process_group(backend)


def test_nccl_without_a_gpu_says_why():
    if dist.is_nccl_available():
        pytest.skip("NCCL is usable here")
    with pytest.raises(gg.DeviceUnavailableError, match="cuda:0 is unavailable"):
        dist.init_process_group("nccl")
    assert not dist.is_initialized()


@needs_mpi
def test_auto_picks_mpi_for_cpu_tensors(world):
    dist.destroy_process_group()
    dist.init_process_group("auto")
    assert dist.get_backend() == "mpi"


@needs_mpi
@pytest.mark.parametrize("variable, value, message", [
    ("WORLD_SIZE", "2", "WORLD_SIZE says world size 2 but MPI says 1"),
    ("RANK", "1", "RANK says rank 1 but MPI says 0"),
    ("LOCAL_RANK", "3", "LOCAL_RANK=3 but MPI places this process at 0")])
def test_torchrun_variables_are_checked_against_mpi(monkeypatch, variable, value, message):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError, match=message):
        dist.init_process_group("mpi")
    if dist.is_initialized():
        dist.destroy_process_group()


def test_rank_and_size_without_mpi(monkeypatch):
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert environment.env_rank_and_size() == (1, 2)
    assert environment.env_rank_and_size(0, 4) == (0, 4)
    monkeypatch.setenv("RANK", "2")
    with pytest.raises(ValueError, match="rank 2 is not in a world of 2"):
        environment.env_rank_and_size()
    monkeypatch.setenv("RANK", "x")
    with pytest.raises(ValueError, match="RANK='x' must be an integer"):
        environment.env_rank_and_size()
    monkeypatch.delenv("RANK")
    monkeypatch.delenv("WORLD_SIZE")
    with pytest.raises(ValueError, match="neither is set"):
        environment.env_rank_and_size()


def test_timeout_argument_environment_and_default(monkeypatch):
    monkeypatch.delenv(environment.TIMEOUT_ENV, raising=False)
    assert environment.timeout_seconds(None) == 1800
    assert environment.timeout_seconds(timedelta(seconds=3)) == 3
    monkeypatch.setenv(environment.TIMEOUT_ENV, "2.5")
    assert environment.timeout_seconds(None) == 2.5
    assert environment.timeout_seconds(7) == 7
    monkeypatch.setenv(environment.TIMEOUT_ENV, "soon")
    with pytest.raises(ValueError, match="GPUGRAD_DIST_TIMEOUT='soon' must be a positive"):
        environment.timeout_seconds(None)
    with pytest.raises(ValueError, match="positive"):
        environment.timeout_seconds(timedelta(0))


class _Group:
    rank, size, name, timeout = 2, 4, "mpi", 0.05


def test_a_collective_that_never_completes_times_out(monkeypatch):
    failures = []
    monkeypatch.setattr(work, "mark_failed", lambda: failures.append(1))  # keep pytest's exit
    aborted = []
    never = work.Pending(lambda: False, abort=lambda: aborted.append(1))
    pending = work.Work("all_gather", _Group(), [never])
    assert not pending.is_completed()
    with pytest.raises(dist.DistBackendError,
                       match=r"all_gather did not complete on rank 2 of 4 \(mpi backend\) "
                             r"after 0\.\d s \(timeout 0.05 s\): a peer rank may have died"):
        pending.wait()
    assert aborted == [1] and failures == [1]
    assert issubclass(dist.DistBackendError, RuntimeError)


def test_a_library_error_becomes_dist_backend_error(monkeypatch):
    monkeypatch.setattr(work, "mark_failed", lambda: None)

    def broken():
        raise OSError("MPI_ERR_PROC_FAILED")
    with pytest.raises(dist.DistBackendError, match="broadcast failed on rank 2 of 4 .*"
                                                    "MPI_ERR_PROC_FAILED; a peer rank may"):
        work.Work("broadcast", _Group(), [work.Pending(broken)]).wait()


def test_work_finishes_once_after_every_pending_completes():
    polls, finished = iter([False, True, True]), []
    pending = work.Work("all_reduce", _Group(), [work.Pending(lambda: next(polls))],
                        [lambda: finished.append(1)])
    assert not pending.is_completed()
    assert pending.wait(timeout=timedelta(seconds=1)) and pending.is_completed()
    assert finished == [1]


def test_wait_spins_before_it_sleeps(monkeypatch):
    clock, slept = [0.0], []
    monkeypatch.setattr(work.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(work.time, "sleep", slept.append)

    def poll_at(done_at):
        def poll():
            clock[0] += 1e-4  # each poll: 100 µs on the fake clock
            return clock[0] >= done_at
        return poll
    # done within the spin: polled again and again, never put to sleep
    assert work.Work("all_reduce", _Group(), [work.Pending(poll_at(work.SPIN_S / 2))]).wait()
    assert slept == []
    # a longer wait backs off, sleeping at most MAX_SLEEP_S between polls
    clock[0] = 0.0
    assert work.Work("all_reduce", _Group(), [work.Pending(poll_at(work.SPIN_S + 0.04))]).wait()
    assert slept and max(slept) == work.MAX_SLEEP_S and slept == sorted(slept)


def test_reduce_op():
    assert repr(dist.ReduceOp.SUM) == "<ReduceOp.SUM: 0>"
    assert check_op(dist.ReduceOp.BAND, "int64") is dist.ReduceOp.BAND
    ints = np.array([7, -7, 6, -1])
    divide_in_place(ints, 2)
    assert ints.tolist() == [3, -3, 3, 0]  # truncating, as NCCL's average
    floats = np.array([1.0, -3.0])
    divide_in_place(floats, 2)
    assert floats.tolist() == [0.5, -1.5]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_store_hands_rank_zeros_bytes_to_every_rank():
    where = ("127.0.0.1", _free_port())
    got = {}
    threads = [threading.Thread(target=lambda r=r: got.__setitem__(
        r, store.share(where, r, 3, b"id" if r == 0 else None, timeout=10))) for r in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert got == {0: b"id", 1: b"id", 2: b"id"}


def test_store_times_out_and_reads_its_address(monkeypatch):
    where = ("127.0.0.1", _free_port())
    with pytest.raises(dist.DistBackendError, match="only 0 of 1 other ranks reached"):
        store.share(where, 0, 2, b"id", timeout=0.2)
    with pytest.raises(dist.DistBackendError, match="could not reach rank 0"):
        store.share(where, 1, 2, None, timeout=0.2)
    assert store.address("tcp://node7:29500") == ("node7", 29500)
    monkeypatch.setenv("MASTER_ADDR", "10.0.0.1")
    monkeypatch.setenv("MASTER_PORT", "1234")
    assert store.address(None) == ("10.0.0.1", 1234)
    monkeypatch.delenv("MASTER_PORT")
    with pytest.raises(ValueError, match="set MASTER_ADDR and MASTER_PORT"):
        store.address("env://")


def test_launcher_errors(monkeypatch, tmp_path):
    with pytest.raises(ValueError, match="positive integer"):
        launch.launch(0, ["x.py"])
    with pytest.raises(FileNotFoundError, match="script not found"):
        launch.launch(2, [str(tmp_path / "missing.py")])
    monkeypatch.setattr(launch.sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"pip install 'gpugrad\[mpi\]'"):
        launch.find_mpiexec()


def test_gpugrad_run_reports_a_missing_script(capsys):
    assert gg.cli.main(["run", "-n", "2", "no-such-script.py"]) == 2
    assert "gpugrad run: script not found: no-such-script.py" in capsys.readouterr().err
