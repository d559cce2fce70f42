"""The ``sim`` device type: a simulated GPU. NumPy computes the values; ``gpugrad/sim/`` models
the kernels, transfers, memory and clocks (see ``gpugrad.sim.backend.SimBackend``)."""


def create_backend(device):
    from ..sim.backend import SimBackend

    return SimBackend(device)
