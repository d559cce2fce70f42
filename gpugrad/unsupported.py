"""PyTorch names gpugrad deliberately does not provide, each with what to use instead.

``gg.<name>`` for a name listed here raises an ``AttributeError`` that carries the hint, so a
translated PyTorch program fails with advice rather than a bare "has no attribute". README.md's
"Coming from PyTorch" table lists the same differences.
"""

PACKAGE_HINTS = {
    "compile": "gpugrad runs eagerly; remove torch.compile (on sim, gg.sim.stats() shows the "
               "kernels the eager program launches)",
    "jit": "gpugrad has no TorchScript; run the Python module directly",
    "fx": "gpugrad has no graph capture; use gg.viz.draw(loss) to see the autograd graph",
    "export": "gpugrad has no graph export; save weights with gg.save(model.state_dict(), path)",
    "onnx": "gpugrad has no ONNX export; save weights with gg.save(model.state_dict(), "
            "'m.safetensors'), which other tools read",
    "vmap": "gpugrad has no vmap; batch the computation along a leading dimension",
    "func": "gpugrad has no torch.func; use gg.autograd.grad and gg.autograd.functional "
            "(jacobian, hessian, vjp, jvp)",
    "complex64": "gpugrad has no complex dtypes; keep real and imaginary parts as two tensors",
    "complex128": "gpugrad has no complex dtypes; keep real and imaginary parts as two tensors",
    "cfloat": "gpugrad has no complex dtypes; keep real and imaginary parts as two tensors",
    "fft": "gpugrad has no FFT; use numpy.fft on t.numpy() (no gradient)",
    "sparse_coo_tensor": "gpugrad has dense tensors only; build the dense tensor (gg.zeros and "
                         "index_put / scatter)",
    "sparse": "gpugrad has dense tensors only",
    "distributions": "gpugrad has no distributions package; sample with gg.rand/gg.randn/"
                     "gg.normal/gg.randint",
    "amp": "gpugrad has no automatic mixed precision; cast explicitly (model.half(), "
           "x.to(gg.bfloat16))",
    "autocast": "gpugrad has no automatic mixed precision; cast explicitly (model.half(), "
                "x.to(gg.bfloat16))",
    "hub": "gpugrad has no model hub; load weights with gg.load (safetensors or .npz)",
    "Generator": "gpugrad has one global random stream: seed it with gg.manual_seed(n)",
    "set_num_threads": "gpugrad computes with NumPy: set OPENBLAS_NUM_THREADS (or "
                       "OMP_NUM_THREADS) before starting Python",
    "quantization": "gpugrad has no quantization",
}


def missing(owner, name, hints):
    """The AttributeError for ``owner.name``: PyTorch's wording, plus the hint if ``name`` is
    a PyTorch name gpugrad leaves out on purpose."""
    message = f"{owner} has no attribute {name!r}"
    if name in hints:
        message += f" ({hints[name]})"
    return AttributeError(message)
