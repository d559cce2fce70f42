"""Errors a user can act on."""


class DeviceUnavailableError(RuntimeError):
    """The requested device cannot be used on this machine; the message says why."""


class InvalidDeviceError(ValueError, RuntimeError):
    """A device string or index names no device (``"gpu"``, ``"sim:"``, ``"cuda:-1"``).

    A RuntimeError, as PyTorch raises for ``torch.device("gpu")``, and a ValueError, so code that
    catches either works."""


class OutOfMemoryError(MemoryError):
    """A device allocation did not fit, after the caching pool was emptied and retried."""

    def __init__(self, device, requested, in_use, capacity):
        self.device = str(device)
        self.requested = requested
        self.in_use = in_use
        self.capacity = capacity
        super().__init__(
            f"{self.device} out of memory: tried to allocate {format_bytes(requested)} ({requested} bytes) "
            f"with {format_bytes(in_use)} ({in_use} bytes) in use of a capacity of {format_bytes(capacity)} "
            f"({capacity} bytes). Free tensors you no longer need, use a smaller batch, or raise "
            f"the capacity with gg.sim.configure(device, memory_bytes=...) on a sim device."
        )


def format_bytes(n):
    """``n`` bytes in binary units: ``512 B``, ``1.50 KiB``, ``80.00 GiB``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.2f} {unit}" if unit != "B" else f"{n} B"
        n /= 1024
