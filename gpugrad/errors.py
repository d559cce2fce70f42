"""Errors a user can act on."""


class DeviceUnavailableError(RuntimeError):
    """The requested device cannot be used on this machine; the message says why."""


class InvalidDeviceError(ValueError, RuntimeError):
    """A device string or index names no device (``"gpu"``, ``"sim:"``, ``"cuda:-1"``).

    A RuntimeError, as PyTorch raises for ``torch.device("gpu")``, and a ValueError, so code that
    catches either works."""


class OutOfMemoryError(MemoryError):
    """A device allocation did not fit, after the caching pool was emptied and retried.

    Attributes: ``device`` (its name), ``requested``, ``in_use``, ``free`` (capacity minus in
    use) and ``capacity``, in bytes."""

    def __init__(self, device, requested, in_use, capacity, free=None):
        self.device = str(device)
        self.requested = requested
        self.in_use = in_use
        self.capacity = capacity
        self.free = capacity - in_use if free is None else free
        super().__init__(
            f"{self.device} out of memory: tried to allocate {_amount(requested)} with "
            f"{_amount(in_use)} in use and {_amount(self.free)} free of a capacity of "
            f"{_amount(capacity)}. Free tensors you no longer need, use a smaller batch, or "
            f"raise the capacity with gg.sim.configure(device, memory_bytes=...) on a sim device."
        )


class HostMemoryError(MemoryError):
    """The simulator's host could not hold a value that the modeled device had room for.

    A ``sim`` device computes every value with NumPy, so each sim array also occupies the host's
    RAM. Attributes: ``device`` and ``requested`` (bytes)."""

    def __init__(self, device, requested):
        self.device = str(device)
        self.requested = requested
        super().__init__(
            f"{self.device}: the simulated GPU has room for {_amount(requested)}, but this "
            f"machine's RAM could not hold it: the simulator keeps every value in host memory "
            f"(it computes with NumPy), so a sim program must also fit in host RAM. Run a smaller "
            f"problem on sim (a smaller batch, model or sequence), or run it on a real GPU "
            f"(device='cuda')."
        )


def _amount(n):
    return f"{format_bytes(n)} ({n} bytes)"


def format_bytes(n):
    """``n`` bytes in binary units: ``512 B``, ``1.50 KiB``, ``80.00 GiB``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.2f} {unit}" if unit != "B" else f"{n} B"
        n /= 1024


def format_si(value, unit):
    """``1234567 B`` -> ``1.23 MB`` (decimal prefixes, as GB/s and GFLOP/s are)."""
    for prefix in ("", "k", "M", "G", "T"):
        if abs(value) < 1000 or prefix == "T":
            return f"{value:.0f} {prefix}{unit}" if not prefix else f"{value:.2f} {prefix}{unit}"
        value /= 1000
