"""Host (NumPy) arrays for the process groups that reduce in host memory (mpi, sim): a tensor's
own memory where its device keeps it on the host, else a staged copy written back after."""
import numpy as np


def buffer_of(tensor):
    """``(array, writeback)``: a NumPy array with ``tensor``'s values that a collective may read
    and write, and None when it is ``tensor``'s own memory, else a function that copies it back
    into ``tensor``."""
    backend, data = tensor._backend, tensor._data
    host = backend.host_buffer(data)
    if host is not None:
        return host, None
    staged = np.array(backend.to_host(data))  # a writable copy, never the device's memory
    return staged, lambda: backend.copy_(data, backend.from_host(staged))


def empty(shape, like):
    """An uninitialized array of ``shape`` with ``like``'s dtype, in host memory."""
    return np.empty(shape, like.dtype)


def stack(arrays):
    """The arrays one after the other in one new contiguous array."""
    return np.stack(arrays)
