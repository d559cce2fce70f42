"""``gg.accelerator``: the usable GPU, as ``torch.accelerator``; the sim is not one."""
import gpugrad as gg
from gpugrad.backends.cuda import availability


def test_without_a_gpu_there_is_no_accelerator(monkeypatch, torch):
    monkeypatch.setitem(availability._probe_cache, "result", (None, 0, "no GPU in this test"))
    assert gg.accelerator.is_available() is False
    assert gg.accelerator.current_accelerator() is None
    assert gg.accelerator.device_count() == 0
    gg.accelerator.synchronize()  # nothing to wait for
    if not torch.accelerator.is_available():  # the same answers as PyTorch's on this machine
        assert torch.accelerator.current_accelerator() is None
        assert torch.accelerator.device_count() == 0


def test_a_usable_gpu_is_the_accelerator(fake_cuda):
    fake, _ = fake_cuda
    assert gg.accelerator.is_available() is True
    assert gg.accelerator.current_accelerator() == gg.Device("cuda:0")
    assert gg.accelerator.device_count() == 1
    syncs = fake.syncs
    gg.accelerator.synchronize()
    assert fake.syncs == syncs + 1


def test_the_simulated_gpu_is_not_an_accelerator(monkeypatch):
    monkeypatch.setitem(availability._probe_cache, "result", (None, 0, "no GPU in this test"))
    gg.zeros(1, device="sim")
    assert gg.accelerator.current_accelerator() is None
