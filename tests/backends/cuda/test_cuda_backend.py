"""The cuda backend on a real GPU: tensor-level fused ops and training steps against cpu,
cuda <-> cpu <-> sim round trips, ``cuda:N`` selection, device-side random numbers and
out-of-memory errors. Skipped, with the reason, where no GPU is usable. The fused kernels'
primitive-level tests run on the GPU and on the CPU emulator: test_cuda_kernels.py."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import gpugrad as gg

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not gg.cuda.is_available(),
                       reason=f"cuda is not usable here: {gg.cuda.unavailable_reason()}"),
]


@pytest.fixture(scope="module")
def be():
    return gg.device_registry.get_backend("cuda")


def dev(be, a):
    return be.from_host(np.asarray(a))


def test_tensor_level_fused_ops_match_cpu(rng):
    """BiasAct and cross-entropy through autograd: values and gradients equal cpu's."""
    x_np = rng.standard_normal((16, 12)).astype(np.float32)
    b_np = rng.standard_normal(12).astype(np.float32)
    y_np = rng.integers(0, 12, 16)
    results = {}
    for device in ("cpu", "cuda"):
        x = gg.tensor(x_np, device=device, requires_grad=True)
        b = gg.tensor(b_np, device=device, requires_grad=True)
        y = gg.tensor(y_np, device=device)
        loss = gg.nn.functional.cross_entropy(x.bias_act(b, "tanh"), y)
        loss.backward()
        results[device] = (loss.item(), x.grad.numpy(), b.grad.numpy())
    assert results["cuda"][0] == pytest.approx(results["cpu"][0], rel=1e-5)
    for got, want in zip(results["cuda"][1:], results["cpu"][1:]):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("path", [("cpu", "cuda", "cpu"), ("sim", "cuda", "sim"),
                                  ("cuda", "sim", "cuda", "cpu"), ("cpu", "cuda", "cuda:0")])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "bool"])
def test_round_trips_keep_values_and_dtype(rng, path, dtype):
    data = (rng.standard_normal((3, 5)) * 10).astype(dtype)
    t = gg.tensor(data, device=path[0])
    for device in path[1:]:
        t = t.to(device)
        assert t.device == gg.Device(device) and t.dtype == dtype
    np.testing.assert_array_equal(t.numpy(), data)


def test_gradient_flows_back_across_devices(rng):
    w = gg.tensor(rng.standard_normal((4, 3)).astype(np.float32), requires_grad=True)
    (w.to("cuda") * 3.0).sum().backward()
    assert w.grad.device == "cpu"
    np.testing.assert_allclose(w.grad.numpy(), np.full((4, 3), 3.0))


def test_cuda_arrays_live_on_the_device():
    import cupy

    t = gg.ones(2, 3, device="cuda")
    assert isinstance(t._data, cupy.ndarray) and t._data.device.id == 0
    assert t.device == "cuda:0"


def test_cuda_index_selects_the_gpu():
    import cupy

    count = gg.cuda.device_count()
    last = count - 1
    t = gg.zeros(4, device=f"cuda:{last}") + 1
    assert t._data.device.id == last and t.device == f"cuda:{last}"
    assert t.sum().item() == 4.0
    with pytest.raises(gg.DeviceUnavailableError, match=f"cuda:{count} does not exist"):
        gg.zeros(1, device=f"cuda:{count}")
    assert cupy.cuda.runtime.getDeviceCount() == count


def test_random_is_seeded_on_the_device():
    gg.manual_seed(123)
    a = gg.randn(1000, device="cuda")
    u = gg.rand(7, 3, device="cuda", dtype=gg.float64)
    i = gg.randint(0, 5, (100,), device="cuda")
    gg.manual_seed(123)
    b = gg.randn(1000, device="cuda")
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert abs(a.numpy().mean()) < 0.2 and 0.8 < a.numpy().std() < 1.2
    assert u.dtype == gg.float64 and u.numpy().min() >= 0 and u.numpy().max() < 1
    assert i.dtype == gg.int64 and set(i.numpy().tolist()) <= set(range(5))


def test_out_of_memory_is_gpugrad_error():
    with pytest.raises(gg.OutOfMemoryError) as info:
        gg.zeros(2**46, device="cuda")  # 256 TiB of float32
    assert info.value.requested >= 2**48 and info.value.capacity > 0
    assert isinstance(info.value, MemoryError)


def test_kernels_compiled_once_per_process(be, rng):
    from gpugrad.backends.cuda import backend as cuda_backend

    x = dev(be, rng.standard_normal((4, 4)).astype(np.float32))
    be.bias_act(x, dev(be, np.zeros(4, np.float32)), "relu")
    modules = dict(cuda_backend._MODULES)
    kernel = be._kernels["bias_act_forward_f32"]
    be.bias_act(x, dev(be, np.zeros(4, np.float32)), "tanh")
    assert cuda_backend._MODULES == modules and be._kernels["bias_act_forward_f32"] is kernel


def test_devices_describes_the_gpu():
    row = [r for r in gg.devices() if r.device == "cuda"][0]
    assert row.available and "cuda:0" in row.detail


@pytest.mark.parametrize("make_opt", [
    lambda ps: gg.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
    lambda ps: gg.optim.Adam(ps, lr=1e-2),
    lambda ps: gg.optim.AdamW(ps, lr=1e-2, weight_decay=0.1),
], ids=["sgd_nesterov", "adam", "adamw"])
def test_training_steps_match_cpu(rng, make_opt):
    """A few steps of an MLP (fused bias+ReLU, fused cross-entropy, one-launch optimizer) on cuda
    give cpu's losses and weights."""
    x_np = rng.standard_normal((32, 20)).astype(np.float32)
    y_np = rng.integers(0, 5, 32)
    runs = {}
    for device in ("cpu", "cuda"):
        gg.manual_seed(7)
        model = gg.nn.Sequential(gg.nn.Linear(20, 16, activation="relu"), gg.nn.Linear(16, 5))
        model.to(device)
        opt = make_opt(model.parameters())
        x, y = gg.tensor(x_np, device=device), gg.tensor(y_np, device=device)
        losses = []
        for _ in range(4):
            opt.zero_grad()
            loss = gg.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        runs[device] = (losses, [p.detach().numpy() for p in model.parameters()])
    np.testing.assert_allclose(runs["cuda"][0], runs["cpu"][0], rtol=1e-5)
    for got, want in zip(runs["cuda"][1], runs["cpu"][1]):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_training_step_adopts_gradients_without_copies(monkeypatch):
    """CuPy's fresh results own their memory (``.base is None``), so the engine keeps every weight
    and bias gradient as ``.grad`` without a copy kernel."""
    be = gg.device_registry.get_backend("cuda")
    copies = []
    original = be.contiguous
    monkeypatch.setattr(be, "contiguous", lambda a: copies.append(a.shape) or original(a))
    model = gg.nn.MLP([8, 16, 4]).to("cuda")
    x, y = gg.randn(5, 8, device="cuda"), gg.randint(0, 4, (5,), device="cuda")
    gg.nn.functional.cross_entropy(model(x), y).backward()
    assert copies == []
    assert all(p.grad.shape == p.shape for p in model.parameters())


def test_hidden_gpus_give_the_no_device_reason():
    """The real CuPy with every GPU hidden: the "no device" case, with the driver present."""
    code = ("import gpugrad as gg\n"
            "print(gg.cuda.is_available())\n"
            "print(gg.cuda.unavailable_reason())\n"
            "try:\n"
            "    gg.ones(1).to('cuda')\n"
            "except gg.DeviceUnavailableError as exc:\n"
            "    print('raised:', exc)\n")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="",
               PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    available, reason, raised = done.stdout.splitlines()
    assert available == "False" and "no NVIDIA GPU found" in reason
    assert raised.startswith("raised: cuda:0 is unavailable: no NVIDIA GPU found")


def test_profiler_traces_a_training_step(tmp_path, rng):
    """``gg.profiler`` on cuda: host, stream and copy tracks of measured spans named like sim's
    kernels, never overlapping on a track, and the pool's memory counter; nothing outside."""
    import cupy

    be = gg.device_registry.get_backend("cuda:0")
    model = gg.nn.Sequential(gg.nn.Linear(20, 16, activation="relu"), gg.nn.Linear(16, 5))
    model.to("cuda")
    opt = gg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x_np, y_np = rng.standard_normal((32, 20)).astype(np.float32), rng.integers(0, 5, 32)
    assert be._recorder is None
    with gg.profiler.profile() as prof:
        x, y = gg.tensor(x_np, device="cuda"), gg.tensor(y_np, device="cuda")
        opt.zero_grad()
        loss = gg.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        loss.item()
    assert be._recorder is None
    with open(prof.export_chrome_trace(str(tmp_path / "trace.json"))) as f:
        events = json.load(f)["traceEvents"]
    name = cupy.cuda.runtime.getDeviceProperties(0)["name"]
    name = name.decode() if isinstance(name, bytes) else name
    labels = [e["args"]["name"] for e in events if e.get("name") == "process_name"]
    assert labels == [f"cuda:0 ({name})"]
    spans = {}
    for e in events:
        if e["ph"] == "X":
            spans.setdefault(e["cat"], []).append(e)
    stream = {e["name"] for e in spans["stream"]}
    assert {"matmul", "bias_act", "bias_act_backward", "softmax_cross_entropy",
            "softmax_cross_entropy_backward", "sgd_step"} <= stream, stream
    assert any(n.startswith(("binary:", "reduce:")) for n in stream), stream
    assert {"h2d", "d2h"} <= {e["name"] for e in spans["copy"]}
    assert len(spans["host"]) == len(spans["stream"]) + len(spans["copy"])
    for track, track_spans in spans.items():
        track_spans.sort(key=lambda e: e["ts"])
        assert all(e["ts"] >= 0 and e["dur"] >= 0 for e in track_spans), track
        for a, b in zip(track_spans, track_spans[1:]):
            assert a["ts"] + a["dur"] <= b["ts"] + 1e-6, (track, a, b)
    assert max(e["dur"] for e in spans["stream"] if e["name"] == "matmul") > 0
    memory = [e["args"]["in_use_bytes"] for e in events if e["ph"] == "C"]
    assert memory and max(memory) > 0
    assert all(e["name"] == "device memory" for e in events if e["ph"] == "C")
    assert "sgd_step" in prof.table()
