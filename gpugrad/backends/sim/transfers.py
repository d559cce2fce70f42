"""The modeled copies between the host, a sim device and its peers: ``from_host``, ``to_host``
and ``from_backend``, a mixin of ``SimBackend`` (backend.py).

Each copy runs on the timeline's copy engine and counts its bytes (``h2d_bytes``, ``d2h_bytes``,
``p2p_bytes``). A host-to-device copy is pageable unless the host array came from
``Tensor.pin_memory()`` (``backends.cpu.pinned`` remembers which); reading back waits for the
stream, as cudaMemcpy does; sim:0 <-> sim:1 is a peer copy. The copy's device memory is reserved
before the host makes it, as every result's is (results.py). A shape-only device
(``compute=False``) models the same copies; reading its values back raises
``ValuesNotComputedError``.
"""
import numpy as np

from ..cpu.pinned import is_pinned
from .memory import SimArray
from .meta_array import values_error
from .primitives import copy_bytes


def _itself(a):
    return a


class Transfers:
    """Host <-> device and peer copies, modeled (mixed into ``SimBackend``)."""

    def from_host(self, data, dtype=None):
        if type(data) is SimArray:  # already on a device: a device-to-device copy (a kernel)
            data = data.data
            return self._modeled("from_host", data, dtype)
        if type(data) is np.ndarray:  # its size is known before the copy
            return self._copy_in("h2d", False, copy_bytes(data, dtype), self.cpu.from_host,
                                 (data, dtype))
        host = self.cpu.from_host(data, dtype)  # lists and numbers: converted first
        return self._copy_in("h2d", False, host.nbytes, _itself, (host,))

    def to_host(self, a):
        if not self.computes:
            raise values_error(self.device, "reading a tensor's values (item(), tolist(), "
                               "numpy(), printing, bool(), .cpu())")
        data = a.data
        if data.flags.c_contiguous:
            self._read_back(data.nbytes)
            return self.cpu.contiguous(data)
        # CuPy packs a strided array on the device first (a scratch block, freed at once); the
        # host copy stands for the packed array in the kernel's spec
        host, scratch = self._allocated(data.nbytes, self.cpu.contiguous, (data,))
        with self.lock:
            self._write("copy", (data,), (host,))
            if scratch is not None:
                scratch.release()
            self._read_back(data.nbytes)
        return host

    def from_backend(self, a, source):
        if isinstance(source, Transfers):  # another sim device: a peer copy
            if self.computes and not source.computes:
                raise values_error(source.device, f"copying to {self.device} (which computes "
                                   f"values)")
            source.synchronize()  # the copy reads what the source's stream wrote
            return self._copy_in("p2p", False, a.data.nbytes, self.cpu.contiguous, (a.data,))
        if source.device.type == "cpu":
            return self._copy_in("h2d", is_pinned(a), a.nbytes, self.cpu.contiguous, (a,))
        host = source.to_host(a)
        return self._copy_in("h2d", False, host.nbytes, self.cpu.contiguous, (host,))

    def _copy_in(self, kind, pinned, nbytes, compute, args):
        """A copy (``h2d`` or ``p2p``) onto this device of ``compute(*args)``, ``nbytes`` long."""
        copy, alloc = self._allocated(nbytes, compute, args)
        with self.lock:
            self.timeline.transfer(kind, copy.nbytes, pinned)
            if kind == "h2d":
                self.h2d_bytes += copy.nbytes
            else:
                self.p2p_bytes += copy.nbytes
        return SimArray(copy, alloc)

    def _read_back(self, nbytes):
        """A synchronous copy to the host: it waits for the stream (the kernels writing what it
        reads), then the host waits for the copy, as cudaMemcpy does; so item(), numpy(),
        printing... all wait."""
        with self.lock:
            self.timeline.transfer("d2h", nbytes, False)
            self.d2h_bytes += nbytes
