"""``gg.set_default_dtype``/``gg.set_default_device``: what creation and promotion then do."""
import threading

import numpy as np
import pytest

import gpugrad as gg


@pytest.fixture(autouse=True)
def restore_defaults():
    """Every test here starts and ends with float32 on cpu."""
    gg.set_default_dtype(gg.float32)
    gg.set_default_device(None)
    yield
    gg.set_default_dtype(gg.float32)
    gg.set_default_device(None)


@pytest.mark.parametrize("dtype", ["float64", "float16"])
def test_default_dtype_reaches_creation_and_promotion_as_in_torch(torch, dtype):
    gg.set_default_dtype(getattr(gg, dtype))
    previous = torch.get_default_dtype()
    torch.set_default_dtype(getattr(torch, dtype))
    try:
        cases = {
            "tensor": (lambda m: m.tensor([1.5, 2.0])),
            "scalar": (lambda m: m.tensor(0.1)),
            "zeros": (lambda m: m.zeros(2)), "ones": (lambda m: m.ones(2)),
            "rand": (lambda m: m.rand(2)), "randn": (lambda m: m.randn(2)),
            "full": (lambda m: m.full((2,), 1.5)), "eye": (lambda m: m.eye(2)),
            "arange": (lambda m: m.arange(0.5, 3)), "linspace": (lambda m: m.linspace(0, 1, 3)),
            "int*float": (lambda m: m.arange(3) * 0.5), "int/int": (lambda m: m.arange(3) / 2),
            "exp(int)": (lambda m: m.arange(3).exp()), "mean": (lambda m: m.arange(3.0).mean()),
            "int arange": (lambda m: m.arange(3)), "float32 stays": (lambda m: m.ones(
                2, dtype=m.float32) * 0.5),
        }
        for name, make in cases.items():
            ours, theirs = make(gg), make(torch)
            assert ours.dtype == str(theirs.dtype).replace("torch.", ""), name
        if dtype == "float64":
            assert gg.tensor(0.1).item() == 0.1  # read in float64, not rounded through float32
    finally:
        torch.set_default_dtype(previous)
    assert gg.get_default_dtype() == dtype


def test_only_floating_default_dtypes_and_numpy_arrays_keep_theirs():
    with pytest.raises(TypeError, match="only floating-point types"):
        gg.set_default_dtype(gg.int64)
    gg.set_default_dtype("float64")
    assert gg.get_default_dtype() is gg.float64
    assert gg.tensor(np.zeros(2, dtype=np.float32)).dtype == gg.float32
    assert gg.tensor([1, 2]).dtype == gg.int64 and gg.tensor([True]).dtype == gg.bool


def test_default_dtype_is_process_wide_as_in_torch():
    gg.set_default_dtype(gg.float64)
    seen = []
    thread = threading.Thread(target=lambda: seen.append(gg.zeros(1).dtype))
    thread.start()
    thread.join()
    assert seen == [gg.float64]


def test_default_device_reaches_every_creation_function():
    assert gg.get_default_device() == "cpu"
    gg.set_default_device("sim")
    assert gg.get_default_device() == "sim:0"
    made = [gg.tensor([1.0]), gg.as_tensor(np.ones(2)), gg.zeros(2), gg.ones(2), gg.empty(2),
            gg.full((2,), 1.0), gg.rand(2), gg.randn(2), gg.randint(3, (2,)), gg.arange(3),
            gg.linspace(0, 1, 3), gg.logspace(0, 1, 3), gg.eye(2), gg.normal(0.0, 1.0, (2,)),
            gg.Tensor([1.0])]
    assert all(t.device == "sim:0" for t in made)
    assert gg.zeros(2, device="cpu").device == "cpu"  # an explicit device wins
    assert gg.from_numpy(np.ones(2)).device == "cpu"  # shares host memory, as in PyTorch
    x = gg.ones(2, device="cpu")
    assert gg.zeros_like(x).device == "cpu" and x.new_zeros(2).device == "cpu"
    gg.set_default_device(None)
    assert gg.zeros(1).device == "cpu" and gg.get_default_device() == "cpu"


def test_default_device_is_per_thread_as_in_torch(torch):
    gg.set_default_device("sim:1")
    seen = []
    thread = threading.Thread(target=lambda: seen.append((gg.get_default_device(),
                                                          gg.zeros(1).device)))
    thread.start()
    thread.join()
    assert seen == [("cpu", "cpu")]
    assert gg.zeros(1).device == "sim:1"


def test_default_device_names_are_checked_and_unusable_devices_fail_on_use(monkeypatch):
    with pytest.raises(gg.InvalidDeviceError):
        gg.set_default_device("tpu")
    from gpugrad.backends.cuda import availability
    monkeypatch.setitem(availability._probe_cache, "result", (None, 0, "no GPU in this test"))
    gg.set_default_device("cuda")  # as PyTorch: accepted here, refused when used
    with pytest.raises(gg.DeviceUnavailableError, match="no GPU in this test"):
        gg.zeros(1)


def test_nested_default_devices_come_back_in_order():
    from gpugrad import defaults
    gg.set_default_device("sim:0")
    defaults.push_device(gg.Device("sim:2"))
    assert gg.get_default_device() == "sim:2" and gg.zeros(1).device == "sim:2"
    defaults.pop_device()
    assert gg.get_default_device() == "sim:0"


def test_device_as_context_manager_sets_the_default_in_the_block():
    with gg.device("sim"):
        assert gg.zeros(2).device == gg.Device("sim:0")
        with gg.device("cpu"):
            assert gg.ones(1).device == gg.Device("cpu")
        assert gg.rand(1).device == gg.Device("sim:0")
    assert gg.zeros(2).device == gg.Device("cpu")
