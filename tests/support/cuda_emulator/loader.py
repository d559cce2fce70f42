"""Compile a CUDA kernel source for the CPU (host C++ compiler + cuda_shim.h) and launch its
``extern "C" __global__`` functions by name, the way ``cupy.RawModule`` / ``RawKernel`` do.

The source gets ``#include "cuda_shim.h"`` in front and, behind it, emulator_launch.h and a table
with one entry per ``__global__ void NAME(`` found in it; templates deduce each kernel's parameter
types, so a launch passes a cuLaunchKernel-style ``void** params`` array and Python checks every
argument against the kernel's real parameter types (a Python int where the kernel takes ``int``
would shift every later parameter on a GPU, as CuPy passes it as 8 bytes). The shared library
is cached in a temporary folder under a hash of everything that went into it.

See cuda_shim.h for what the emulation models and what it does not, emulator_launch.h for how
a launch fails.
"""
import ctypes
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import threading

import numpy as np

SHIM_DIR = os.path.dirname(os.path.abspath(__file__))
_KERNEL_NAME = re.compile(r"__global__\s+void\s+(\w+)\s*\(")
_COOPERATIVE = re.compile(r"__syncthreads|__shfl_\w*sync")
_BASE_FLAGS = ["-std=c++20", "-O1", "-pthread", "-shared", "-fPIC", "-fno-strict-aliasing",
               "-U_FORTIFY_SOURCE", "-Wno-unknown-pragmas"]  # no longjmp check: faults jump back
_SANITIZE = ["-fsanitize=alignment,bounds,null", "-fsanitize-recover=all"]
_LAUNCH_LOCK = threading.Lock()  # one launch at a time: the shim's launch state is global
_LIBRARIES = {}  # path -> ctypes.CDLL, so a source is loaded once per process
_SANITIZER_WORKS = {}  # compiler -> bool


class EmulatorError(RuntimeError):
    """A kernel could not be compiled, found or launched by the emulator."""


def find_compiler():
    """The host C++ compiler's path (g++, c++ or clang++), or None."""
    for name in (os.environ.get("CXX"), "g++", "c++", "clang++"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def unavailable_reason():
    """None when kernels can be emulated here, else why not."""
    if find_compiler() is None:
        return "no C++ compiler (g++, c++ or clang++ on PATH, or $CXX) to build the CUDA emulator"
    return None


def kernel_names(source):
    """The ``__global__ void`` functions defined in ``source``, in order."""
    return list(dict.fromkeys(_KERNEL_NAME.findall(source)))


def _generated_source(source, names):
    entries = ",\n".join(f'    emu::entry("{n}", &{n})' for n in names)
    cooperative = "true" if _COOPERATIVE.search(source) else "false"
    return f"""#include "cuda_shim.h"
#line 1 "kernel.cu"
{source}
#include "emulator_launch.h"
#line 1 "emulator_exports.cpp"
static const emu::KernelEntry emu_kernels[] = {{
{entries}
}};
extern "C" int emu_launch(const char* name, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                          unsigned by, unsigned bz, void** params) {{
    return emu::launch_by_name(emu_kernels, {len(names)}, {cooperative}, name, dim3(gx, gy, gz),
                               dim3(bx, by, bz), params);
}}
extern "C" const char* emu_signature(const char* name) {{
    for (const auto& k : emu_kernels) {{
        if (std::strcmp(k.name, name) == 0) return k.signature.c_str();
    }}
    return nullptr;
}}
"""


def _sanitizer_flags(compiler, workdir):
    """UBSan's flags when this compiler can link them into a shared library, else a macro."""
    if compiler not in _SANITIZER_WORKS:
        probe = os.path.join(workdir, "probe.cpp")
        with open(probe, "w", encoding="utf-8") as f:
            f.write("int probe(int* p) { return *p; }\n")
        done = subprocess.run([compiler, *_BASE_FLAGS, *_SANITIZE, probe, "-o",
                               os.path.join(workdir, f"probe-{os.getpid()}.so")],
                              capture_output=True, text=True)
        _SANITIZER_WORKS[compiler] = done.returncode == 0
    return _SANITIZE if _SANITIZER_WORKS[compiler] else ["-DEMU_NO_UBSAN"]


def translate_options(options):
    """NVRTC options -> ``(host compiler flags, folders whose headers the source may include)``.

    ``-I``/``--include-path`` and ``-D``/``--define-macro`` carry over; ``--std=`` is dropped (the
    host build uses C++20, a superset for these kernels); anything else raises
    NotImplementedError, as its effect would be silently lost.
    """
    flags, folders = [], []
    options = list(options)
    while options:
        option = options.pop(0)
        for short, long in (("-I", "--include-path="), ("-D", "--define-macro=")):
            if option in (short, long.rstrip("=")):
                option = short + options.pop(0)
            elif option.startswith(long):
                option = short + option[len(long):]
            if option.startswith(short):
                flags.append(option)
                if short == "-I":
                    folders.append(option[2:])
                break
        else:
            if not option.startswith(("--std=", "-std=")):
                raise NotImplementedError(f"the CUDA emulator does not support the NVRTC option "
                                          f"{option!r}; extend loader.translate_options")
    return flags, folders


def _headers(folders):
    """The bytes of every header in ``folders``, for the cache key (an included file may change)."""
    parts = []
    for folder in folders:
        for name in sorted(os.listdir(folder)):
            if name.endswith((".h", ".cuh", ".hpp", ".cu")):
                with open(os.path.join(folder, name), "rb") as f:
                    parts.append(name.encode() + b"\0" + f.read())
    return parts


def build(source, options=()):
    """Compile ``source`` with NVRTC-style ``options`` (cached on disk) and return
    ``(library path, kernel names)``."""
    compiler = find_compiler()
    if compiler is None:
        raise EmulatorError(unavailable_reason())
    names = kernel_names(source)
    if not names:
        raise EmulatorError("the source defines no __global__ function")
    workdir = os.path.join(tempfile.gettempdir(), f"gpugrad-cuda-emulator-{os.getuid()}")
    os.makedirs(workdir, exist_ok=True)
    extra, folders = translate_options(options)
    flags = [*_BASE_FLAGS, *_sanitizer_flags(compiler, workdir), "-I", SHIM_DIR, *extra]
    generated = _generated_source(source, names)
    parts = [generated.encode(), " ".join([compiler, *flags]).encode()]
    parts += _headers([SHIM_DIR, *folders])
    key = hashlib.sha256(b"\0".join(parts)).hexdigest()[:24]
    library = os.path.join(workdir, f"kernels-{key}.so")
    if not os.path.exists(library):
        cpp = os.path.join(workdir, f"kernels-{key}-{os.getpid()}.cpp")
        with open(cpp, "w", encoding="utf-8") as f:
            f.write(generated)
        partial = f"{library}.{os.getpid()}.tmp"
        done = subprocess.run([compiler, *flags, cpp, "-o", partial], capture_output=True,
                              text=True)
        if done.returncode != 0:
            raise EmulatorError(f"compiling the kernels for the CPU failed:\n{done.stderr[-4000:]}")
        os.replace(partial, library)  # atomic: a concurrent run never loads half a file
    return library, names


_C_TYPES = {"P": ctypes.c_void_p, "?": ctypes.c_bool, "i": ctypes.c_int32, "I": ctypes.c_uint32,
            "q": ctypes.c_int64, "Q": ctypes.c_uint64, "f": ctypes.c_float, "d": ctypes.c_double}
_C_NAMES = {"P": "a pointer", "?": "bool", "i": "int", "I": "unsigned int", "q": "long long",
            "Q": "unsigned long long", "f": "float", "d": "double", "x": "an unsupported type"}
_NUMPY_CODES = {np.dtype(np.bool_): "?", np.dtype(np.int32): "i", np.dtype(np.uint32): "I",
                np.dtype(np.int64): "q", np.dtype(np.uint64): "Q", np.dtype(np.float32): "f",
                np.dtype(np.float64): "d"}


def _argument_code(value, is_device_array):
    """The C type CuPy would pass ``value`` as (a RawKernel argument), as a type code."""
    if is_device_array(value):
        return "P"
    if isinstance(value, np.ndarray):
        raise TypeError("a NumPy array is host memory, not a kernel argument (CuPy refuses it "
                        "too): pass the device array, e.g. cupy.asarray(a)")
    if isinstance(value, (bool, np.bool_)):
        return "?"
    if isinstance(value, int):
        return "q"  # CuPy passes a Python int as int64
    if isinstance(value, float):
        return "d"  # and a Python float as float64
    if isinstance(value, np.generic) and value.dtype in _NUMPY_CODES:
        return _NUMPY_CODES[value.dtype]  # NumPy scalars keep their dtype
    raise TypeError(f"kernel argument of type {type(value).__name__} is not supported: CuPy "
                    "passes device arrays, Python bool/int/float and NumPy scalars")


class EmulatedModule:
    """``cupy.RawModule(code=..., options=...)`` compiled for the CPU."""

    def __init__(self, code, options=(), is_device_array=None):
        self.options = tuple(options)
        path, self.names = build(code, self.options)
        if path not in _LIBRARIES:
            lib = ctypes.CDLL(path)
            lib.emu_launch.restype = ctypes.c_int
            lib.emu_launch.argtypes = [ctypes.c_char_p] + [ctypes.c_uint] * 6 + [
                ctypes.POINTER(ctypes.c_void_p)]
            lib.emu_signature.restype = ctypes.c_char_p
            lib.emu_signature.argtypes = [ctypes.c_char_p]
            lib.emu_last_error.restype = ctypes.c_char_p
            _LIBRARIES[path] = lib
        self._lib = _LIBRARIES[path]
        self._is_device_array = is_device_array or (lambda a: False)

    def get_function(self, name):
        """The kernel ``name``; EmulatorError (like CuPy's 'named symbol not found') if absent."""
        signature = self._lib.emu_signature(name.encode())
        if signature is None:
            raise EmulatorError(f"named symbol not found: no __global__ function {name!r} in this "
                                f"module (it has {', '.join(self.names)})")
        return EmulatedKernel(self, name, signature.decode())


def _dims(value, what):
    dims = (value,) if isinstance(value, (int, np.integer)) else tuple(value)
    if not 1 <= len(dims) <= 3 or not all(isinstance(d, (int, np.integer)) for d in dims):
        raise TypeError(f"{what} must be an int or a tuple of 1 to 3 ints, got {value!r}")
    if any(d < 0 or d >= 2**32 for d in dims):
        raise EmulatorError(f"invalid configuration argument: {what} {value!r} out of range")
    return tuple(int(d) for d in dims) + (1,) * (3 - len(dims))


class EmulatedKernel:
    """A ``cupy.RawKernel``: ``kernel(grid, block, args)`` runs it to completion on the CPU."""

    def __init__(self, module, name, signature):
        self.module, self.name, self.signature = module, name, signature

    def __call__(self, grid, block, args, shared_mem=0, stream=None):
        if shared_mem:
            raise NotImplementedError("emulated kernels: dynamic shared memory (shared_mem=)")
        grid, block = _dims(grid, "grid"), _dims(block, "block")
        args = tuple(args)
        if len(args) != len(self.signature):
            raise TypeError(f"kernel {self.name} takes {len(self.signature)} arguments, "
                            f"got {len(args)}")
        values = []
        for i, (value, want) in enumerate(zip(args, self.signature)):
            got = _argument_code(value, self.module._is_device_array)
            if got != want:
                raise TypeError(f"kernel {self.name} argument {i}: the parameter is "
                                f"{_C_NAMES[want]}, but CuPy would pass {type(value).__name__} "
                                f"{'a device pointer' if got == 'P' else 'as ' + _C_NAMES[got]}")
            values.append(_C_TYPES[got](value.data.ptr if got == "P" else value))
        params = (ctypes.c_void_p * max(1, len(values)))(
            *[ctypes.cast(ctypes.pointer(v), ctypes.c_void_p) for v in values])
        with _LAUNCH_LOCK:  # `args` (and so every array) stays referenced until the launch ends
            status = self.module._lib.emu_launch(self.name.encode(), *grid, *block, params)
            message = self.module._lib.emu_last_error().decode()
        if status:
            raise EmulatorError(message)
