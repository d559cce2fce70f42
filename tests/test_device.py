"""Devices: parsing, moving tensors (gradients flow back), errors, and the rule that the engine
and ops never import NumPy or CuPy."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

import gpugrad as gg
from support.gradtools import assert_close

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("spec,type_,index,text", [
    ("cpu", "cpu", 0, "cpu"), ("cpu:0", "cpu", 0, "cpu"), ("sim", "sim", 0, "sim:0"),
    ("sim:1", "sim", 1, "sim:1"),
    ("cuda", "cuda", 0, "cuda:0"), ("cuda:0", "cuda", 0, "cuda:0"), (" CUDA:3 ", "cuda", 3, "cuda:3"),
])
def test_device_parses_valid_forms(spec, type_, index, text):
    if type_ not in gg.device_registry.device_types():
        pytest.skip(f"the {type_!r} backend is not part of this installation")
    d = gg.Device(spec)
    assert (d.type, d.index, str(d)) == (type_, index, text)
    assert d == text and gg.Device(d) is d and repr(d) == f'gpugrad.Device("{text}")'
    assert hash(d) == hash(gg.Device(text))


@pytest.mark.parametrize("spec", ["gpu", "cpu:1", "sim:x", "cuda:-1", "", "tpu:0", "sim:1:2",
                                  "sim:", "cpu:", "sim:\u0661", "sim:\u00b2", "sim: 1"])
def test_unknown_device_lists_the_valid_forms(spec):
    with pytest.raises(ValueError) as info:
        gg.Device(spec)
    message = str(info.value)
    assert repr(spec) in message and '"cpu"' in message
    for t in gg.device_registry.device_types():  # cpu is not indexed: the protocol's INDEXED = False
        assert (f'"{t}:N"' in message) == gg.device_registry.is_indexed(t)


def test_unknown_device_in_creation_and_to():
    with pytest.raises(ValueError, match="Invalid device string: 'gpu'"):
        gg.ones(2, device="gpu")
    with pytest.raises(RuntimeError, match="Invalid device string"):
        gg.ones(2).to("gpu")
    with pytest.raises(TypeError, match="device must be a string"):
        gg.Device(3)


def test_tensor_to_device_and_back_keeps_values_and_gradients(device):
    x = gg.tensor([[1.0, -2.0], [0.5, 3.0]], dtype=gg.float64, requires_grad=True)
    moved = x.to(device)
    assert moved.device == gg.Device(device) and moved.dtype == gg.float64
    y = (moved * moved).sum(dim=1).to("cpu")
    assert y.device == gg.Device("cpu")
    y.sum().backward()
    assert x.grad.device == gg.Device("cpu")
    assert_close(x.grad, [[2.0, -4.0], [1.0, 6.0]])
    assert gg.gradcheck(lambda t: (t.to(device).tanh() * 2).cpu(), [x])
    assert gg.gradgradcheck(lambda t: (t.to(device) ** 3).to("cpu"), [x])


def test_to_the_same_device_is_a_no_op(device):
    x = gg.ones(2, device=device)
    assert x.to(device) is x and x.to(x.device) is x


def test_to_device_and_dtype_together(device):
    x = gg.ones(2)
    y = x.to(device, gg.float64)
    assert y.device == gg.Device(device) and y.dtype == gg.float64
    z = x.to(gg.ones(1, dtype=gg.float64, device=device))
    assert z.device == gg.Device(device) and z.dtype == gg.float64


def test_grad_lives_on_the_leaf_device(device):
    w = gg.randn(3, 2, device=device, requires_grad=True)
    x = gg.ones(1, 3, device=device)
    (x @ w).relu().sum().backward()
    assert w.grad.device == w.device == gg.Device(device)


ENGINE_FILES = ["engine/graph.py", "engine/function.py", "engine/grad_mode.py", "engine/hooks.py",
                "engine/__init__.py", "dtypes.py", "tensor.py", "tensor_methods.py",
                "tensor_shape_methods.py", "tensor_inplace_methods.py", "tensor_conversions.py",
                "views.py", "inplace.py", "creation.py"]


def test_engine_and_ops_never_import_numpy_or_cupy():
    package = ROOT / "gpugrad"
    files = [package / f for f in ENGINE_FILES] + sorted((package / "ops").glob("*.py"))
    pattern = re.compile(r"^\s*(import|from)\s+(numpy|cupy)\b|__import__\(\s*['\"](numpy|cupy)",
                         re.MULTILINE)
    offenders = [f"{f.relative_to(ROOT)}: {m.group(0).strip()}"
                 for f in files for m in pattern.finditer(f.read_text())]
    assert len(files) >= 10 and not offenders, offenders


def test_private_backend_helpers_are_not_device_types():
    # gpugrad/backends/cuda/recorder.py helps the cuda backend; it is no device of its own
    assert gg.device_registry.device_types() == ["cpu", "cuda", "sim"]


def test_device_with_a_separate_index():
    assert gg.Device("sim", 2) is gg.Device("sim:2") and gg.Device("cpu", 0) is gg.Device("cpu")
    with pytest.raises(ValueError, match="Invalid device string: 'cpu'"):
        gg.Device("cpu", 1)  # the cpu package says it is not indexed
    with pytest.raises(ValueError, match="non-negative int"):
        gg.Device("sim", -1)


def test_parsing_a_device_name_imports_only_its_own_package():
    # Device("sim:1") asks gpugrad.backends.sim whether it is indexed; it never loads CuPy
    code = ("import sys, gpugrad as gg; gg.Device('sim:1'); gg.Device('cuda:3'); "
            "assert 'cupy' not in sys.modules; print('ok')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


# ---- torch.cuda's queries on gg.cuda and gg.sim ------------------------------------------------
_GPU_QUERIES = ("current_device", "get_device_name", "memory_allocated", "max_memory_allocated",
                "reset_peak_memory_stats")


def test_cuda_queries_without_a_gpu_say_why(monkeypatch):
    from gpugrad.backends.cuda import availability
    monkeypatch.setitem(availability._probe_cache, "result", (None, 0, "no GPU in this test"))
    assert gg.cuda.is_available() is False and gg.cuda.device_count() == 0
    for name in _GPU_QUERIES:
        with pytest.raises(gg.DeviceUnavailableError, match="no GPU in this test"):
            getattr(gg.cuda, name)()


def test_cuda_queries_on_a_gpu(fake_cuda):
    fake, _ = fake_cuda
    assert gg.cuda.current_device() == 0
    assert gg.cuda.get_device_name() == gg.cuda.get_device_name("cuda:0") == "Fake GPU"
    assert gg.cuda.memory_allocated(0) % 512 == 0  # the pool's used_bytes()
    with pytest.raises(ValueError, match="Expected a cuda device"):
        gg.cuda.memory_allocated("sim:0")
    with pytest.raises(gg.DeviceUnavailableError, match="does not exist"):
        gg.cuda.memory_allocated(3)
    assert fake.allocator is not None  # the backend routes allocations through the peak record


def test_cuda_peak_is_recorded_by_the_allocator(monkeypatch):
    """The allocator that the cuda backend installs, on a stand-in pool whose in-use bytes
    follow mallocs and frees: the peak survives frees and restarts at the reset."""
    from gpugrad.backends.cuda import availability, memory

    class Pool:
        used = 0

        def malloc(self, nbytes):
            self.used += nbytes
            return nbytes

        def used_bytes(self):
            return self.used

    class Device:
        def __init__(self, index):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    pool = Pool()
    installed = []
    runtime = type("Runtime", (), {"getDevice": staticmethod(lambda: 0)})
    cuda = type("Cuda", (), {"runtime": runtime, "Device": Device,
                             "set_allocator": staticmethod(installed.append)})
    cupy = type("Cupy", (), {"cuda": cuda, "get_default_memory_pool": staticmethod(lambda: pool)})
    monkeypatch.setitem(availability._probe_cache, "result", (cupy, 1, None))
    monkeypatch.setattr(memory, "_peaks", {})
    monkeypatch.setattr(memory, "_tracked", [None])
    memory.track_peaks(cupy)
    memory.track_peaks(cupy)  # once per CuPy module
    (malloc,) = installed
    malloc(4096)
    malloc(1024)
    pool.used -= 4096  # an array freed
    assert gg.cuda.memory_allocated() == 1024 and gg.cuda.max_memory_allocated() == 5120
    gg.cuda.reset_peak_memory_stats()
    assert gg.cuda.max_memory_allocated() == 1024
    malloc(512)
    assert gg.cuda.max_memory_allocated(gg.Device("cuda:0")) == 1536


def test_sim_memory_and_device_queries():
    gg.sim.configure("sim:3")
    assert gg.sim.is_available() and gg.sim.current_device() == 0
    assert gg.sim.device_count() >= 4
    assert gg.sim.get_device_name("sim:3").startswith("simulated ")
    assert gg.sim.memory_allocated("sim:3") == 0
    x = gg.zeros(1000, device="sim:3")  # 4000 bytes, rounded to 4096 as CuPy's pool rounds
    y = gg.zeros(100, device="sim:3")
    assert gg.sim.memory_allocated("sim:3") == 4096 + 512
    del x
    assert gg.sim.memory_allocated("sim:3") == 512
    assert gg.sim.max_memory_allocated("sim:3") == 4096 + 512
    gg.sim.reset_peak_memory_stats("sim:3")
    assert gg.sim.max_memory_allocated("sim:3") == 512
    del y
