"""What may not happen while a CUDA graph is being captured, for every device that captures
(cuda: CuPy stream capture, cuda/graphs_capture.py; sim: the modeled capture, sim/graphs.py;
the user's API: cuda/graphs.py).

A graph holds device work only: kernels with fixed memory addresses and fixed arguments. So
during capture the host cannot wait for the device or read a value back (CUDA answers
``cudaErrorStreamCaptureUnsupported``: "operation not permitted when stream is capturing"),
cannot copy host memory in, and anything the host decides per step (a random seed, Adam's step
count) would be frozen at its capture-time value on every replay. The primitives that would do
so are replaced, on the capturing backend only, by ones raising ``GraphCaptureError`` that says
what to do instead (``forbid``); ``allow`` puts them back when capture ends.

``GraphCapture`` is the contract's graph methods, which devices that capture override.
"""
import contextlib


class GraphCaptureError(RuntimeError):
    """An operation that a CUDA graph cannot hold was called during capture (CUDA's
    "operation not permitted when stream is capturing"), or a graph was used wrongly."""


_NOT_PERMITTED = "operation not permitted when stream is capturing"

#: backend primitive -> (what it does, what to do instead)
FORBIDDEN = {
    "to_host": ("reading a value back to the host (item(), tolist(), numpy(), .cpu(), print, "
                "bool(), a Python if on a tensor)",
                "return the tensor from the captured step and read it after replay()"),
    "synchronize": ("waiting for the device (synchronize, or an op whose result size needs a "
                    "count read back, such as boolean-mask indexing)",
                    "synchronize after replay(); use torch.where-style masking in the step"),
    "random": ("drawing random numbers from a host-side seed (gg.manual_seed's generator)",
               "the seed would be frozen at capture: draw the randomness before the step into "
               "a static input tensor, or leave dropout and other random ops out of the graph"),
    "randint": ("drawing random integers from a host-side seed (gg.manual_seed's generator)",
                "draw them before the step into a static input tensor"),
    "adam_step": ("a fused Adam step: its step count and bias corrections are host numbers "
                  "that a replay would repeat unchanged (PyTorch refuses Adam unless "
                  "capturable=True)",
                  "use gg.optim.SGD in a graphed step, or run the optimizer step eagerly after "
                  "replaying forward and backward"),
    "from_backend": ("copying a tensor from another device",
                     "copy it into a static input tensor before replay()"),
}


def capture_error(device, what, fix):
    """The error for ``what`` done on ``device`` while it captures a graph."""
    return GraphCaptureError(f"{_NOT_PERMITTED}: {what} on {device} cannot be part of a CUDA "
                             f"graph. {fix[0].upper()}{fix[1:]}.")


def _refusal(device, name):
    """A stand-in for primitive ``name`` raising its capture error."""
    what, fix = FORBIDDEN[name]

    def refuse(*args, **kwargs):
        raise capture_error(device, what, fix)

    refuse.__name__ = name
    return refuse


def forbid(backend):
    """Shadow ``backend``'s forbidden primitives with refusals (instance attributes, so the
    class and every other device are untouched)."""
    for name in FORBIDDEN:
        setattr(backend, name, _refusal(backend.device, name))


def allow(backend):
    """Undo ``forbid``."""
    for name in FORBIDDEN:
        backend.__dict__.pop(name, None)


def no_graph_error(device):
    """The error for graph capture asked of a device that has no graphs (cpu)."""
    return GraphCaptureError(f"CUDA graphs need a cuda or sim device, not {device}: move the "
                             f"model and the step's tensors with .to('cuda') (or .to('sim') to "
                             f"model a GPU)")


class GraphCapture:
    """The graph part of the backend contract (a base of ``Backend``, base.py). These defaults
    serve devices without graphs: capture raises ``no_graph_error``."""

    def graph_capture_begin(self, pool=None, stream=None):
        """Start capturing the device work issued from now on into a graph: it is recorded,
        not run, until ``graph_capture_end``. ``pool`` is another graph's ``pool()`` handle
        (or None), ``stream`` a device stream to capture on (None: the device's choice)."""
        raise no_graph_error(self.device)

    def graph_capture_end(self):
        """End the capture begun by ``graph_capture_begin``; returns the graph: an object with
        ``replay()`` (one launch of the captured work), ``reset()``, ``pool()`` and
        ``num_nodes``."""
        raise no_graph_error(self.device)

    def graph_capturing(self):
        """True while this device captures a graph."""
        return False

    def graph_side_stream(self):
        """A context manager making the stream that graphs capture on current (warm-up steps
        run there before capture, as PyTorch recommends); a device with one stream has nothing
        to switch."""
        return contextlib.nullcontext()
