"""Compile a CUDA kernel source for the CPU (host C++ compiler + cuda_shim.h) and launch its
``extern "C" __global__`` functions by name, the way ``cupy.RawModule`` / ``RawKernel`` do.

The source gets ``#include "cuda_shim.h"`` in front and, behind it, emulator_launch.h and a table
with one entry per ``__global__ void NAME(`` found in it, saying whether the kernel synchronizes
(``cooperative_kernels``: its threads then run as fibers); templates deduce each kernel's parameter
types, so a launch passes a cuLaunchKernel-style ``void** params`` array and Python checks every
argument against the kernel's real parameter types (a Python int where the kernel takes ``int``
would shift every later parameter on a GPU, as CuPy passes it as 8 bytes).

The launch itself (blocks, fibers, barriers, faults, UBSan reports) is emulator_runtime.cpp,
built once into its own shared library and loaded with RTLD_GLOBAL before any kernel library:
every kernel library binds to that one runtime, so a kernel source compiles in about a second.
Every library is cached in a temporary folder under a hash of everything that went into it.

See cuda_shim.h for what the emulation models and what it does not, emulator_runtime.cpp for how
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
_KERNEL_NAME = re.compile(r"__global__\s+void\s+(?:__launch_bounds__\s*\([^)]*\)\s*)?(\w+)\s*\(")
_SYNC = re.compile(r"\b(?:__syncthreads|__shfl_\w*sync)\b")
_COMMENT_OR_LITERAL = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'',
                                 re.S)
_DEVICE_CODE = re.compile(r"\b__(?:device|global)__\b")
_CALLABLE = re.compile(r"\b(\w+)\s*(?:<[^;{}()]*>)?\s*\(")
_NOT_NAMES = frozenset({"__launch_bounds__", "__align__", "alignas", "decltype", "__attribute__",
                        "__declspec"})
_BODY_OR_END = re.compile(r"[;{]")
_MACRO = re.compile(r"^[ \t]*#[ \t]*define[ \t]+(\w+)((?:[^\n]*\\\n)*[^\n]*)", re.M)
_BASE_FLAGS = ["-std=c++20", "-O1", "-pthread", "-shared", "-fPIC", "-fno-strict-aliasing",
               "-U_FORTIFY_SOURCE", "-Wno-unknown-pragmas"]  # no longjmp check: faults jump back
_SANITIZE = ["-fsanitize=alignment,bounds,null", "-fsanitize-recover=all"]
_LAUNCH_LOCK = threading.Lock()  # one launch at a time: the runtime's launch state is global
_LIBRARIES = {}  # path -> ctypes.CDLL, so a source is loaded once per process
_RUNTIME = {}  # "lib": the runtime's ctypes.CDLL, loaded once per process
_RUNTIME_SOURCE = os.path.join(SHIM_DIR, "emulator_runtime.cpp")
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


def _matching(text, start, open_char, close_char):
    """The index just past the bracket that closes the one at ``text[start]``, or None."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == open_char:
            depth += 1
        elif text[i] == close_char:
            depth -= 1
            if depth == 0:
                return i + 1
    return None


def _function_bodies(text):
    """``[(name, body)]`` for every ``__device__``/``__global__`` function defined in ``text``
    (comments and literals removed), or None where a definition could not be followed."""
    bodies = []
    for marker in _DEVICE_CODE.finditer(text):
        pos = marker.end()
        while True:  # the function's name: the first name before "(" that is not an attribute
            call = _CALLABLE.search(text, pos)
            if call is None:
                return None
            params_end = _matching(text, call.end() - 1, "(", ")")
            if params_end is None:
                return None
            if call.group(1) not in _NOT_NAMES:
                break
            pos = params_end
        follow = _BODY_OR_END.search(text, params_end)
        if follow is None:
            return None
        if follow.group() == ";":  # a declaration, or a __device__ variable
            continue
        body_end = _matching(text, follow.start(), "{", "}")
        if body_end is None:
            return None
        bodies.append((call.group(1), text[follow.start():body_end]))
    return bodies


def cooperative_kernels(source):
    """The kernels of ``source`` whose threads may synchronize: a __syncthreads or warp shuffle
    in the kernel, in a __device__ function it calls (by name, transitively) or in a macro it
    uses. The emulator runs their threads as fibers, the others' threads as plain calls (~7x
    faster). It over-approximates (a name shared by two functions counts for both); a kernel it
    cannot follow counts as cooperative. A miss is loud: a sync primitive in a plain-call
    kernel fails the launch (cuda_shim.h's require_cooperative)."""
    names = kernel_names(source)
    text = _COMMENT_OR_LITERAL.sub(" ", source)
    bodies = _function_bodies(text)
    if bodies is None:
        return set(names)
    syncing = {name for name, body in _MACRO.findall(text) if _SYNC.search(body)}
    grown = True
    while grown:
        grown = False
        pattern = re.compile(r"\b(?:%s)\b" % "|".join(map(re.escape, syncing))) if syncing else None
        for name, body in bodies:
            if name not in syncing and (_SYNC.search(body) or (pattern and pattern.search(body))):
                syncing.add(name)
                grown = True
    defined = {name for name, _ in bodies}
    return {name for name in names if name in syncing or name not in defined}


def _generated_source(source, names):
    cooperative = cooperative_kernels(source)
    entries = ",\n".join(f'    emu::entry<&{n}>("{n}", {str(n in cooperative).lower()})'
                          for n in names)
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
    return emu::launch_by_name(emu_kernels, {len(names)}, name, dim3(gx, gy, gz), dim3(bx, by, bz),
                               params);
}}
extern "C" const char* emu_signature(const char* name) {{
    const emu::KernelEntry* kernel = emu::find(emu_kernels, {len(names)}, name);
    return kernel ? kernel->signature : nullptr;
}}
"""


def _workdir():
    workdir = os.path.join(tempfile.gettempdir(), f"gpugrad-cuda-emulator-{os.getuid()}")
    os.makedirs(workdir, exist_ok=True)
    return workdir


def _sanitizer_flags(compiler, workdir):
    """UBSan's flags when this compiler can link them into a shared library, else a macro. The
    answer is kept on disk per compiler (its path, size and time), as the libraries are."""
    if compiler not in _SANITIZER_WORKS:
        info = os.stat(compiler)
        key = hashlib.sha256(f"{compiler}\0{info.st_size}\0{info.st_mtime_ns}\0"
                             f"{' '.join(_BASE_FLAGS + _SANITIZE)}".encode()).hexdigest()[:24]
        answers = {os.path.join(workdir, f"ubsan-{key}.{word}"): word == "yes"
                   for word in ("yes", "no")}
        known = [works for path, works in answers.items() if os.path.exists(path)]
        if known:
            _SANITIZER_WORKS[compiler] = known[0]
        else:
            probe = os.path.join(workdir, f"probe-{os.getpid()}.cpp")
            with open(probe, "w", encoding="utf-8") as f:
                f.write("int probe(int* p) { return *p; }\n")
            done = subprocess.run([compiler, *_BASE_FLAGS, *_SANITIZE, probe, "-o",
                                   os.path.join(workdir, f"probe-{os.getpid()}.so")],
                                  capture_output=True, text=True)
            _SANITIZER_WORKS[compiler] = done.returncode == 0
            marker = next(path for path, works in answers.items()
                          if works == _SANITIZER_WORKS[compiler])
            open(marker, "w").close()
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
    """The path within its folder and the bytes of every header under ``folders``, for the cache
    key (an included file may change; the folders' own paths do not count)."""
    parts = []
    for i, folder in enumerate(folders):
        for root, dirs, files in os.walk(folder):
            dirs.sort()
            for name in sorted(files):
                if name.endswith((".h", ".cuh", ".hpp", ".cu", ".cpp")):
                    path = os.path.join(root, name)
                    with open(path, "rb") as f:
                        parts.append(f"{i}:{os.path.relpath(path, folder)}".encode() + b"\0" +
                                     f.read())
    return parts


def build(source, options=()):
    """Compile ``source`` with NVRTC-style ``options`` (cached on disk) and return
    ``(library path, kernel names)``."""
    return build_all([(source, options)])[0]


def _library_key(compiler, flags, folders, text):
    """The cache key: what the compiler reads (``text``, the headers under SHIM_DIR and
    ``folders``, the runtime source) and how, not where (a test's tmp_path changes per run)."""
    folder_index = {f"-I{folder}": f"-I<{i}>" for i, folder in enumerate(folders)}
    key_flags = [folder_index.get(flag, flag) for flag in flags if flag != SHIM_DIR]
    parts = [text.encode(), " ".join([compiler, *key_flags]).encode()]
    parts += _headers([SHIM_DIR, *folders])
    return hashlib.sha256(b"\0".join(parts)).hexdigest()[:24]


def build_all(jobs):
    """``build`` for each ``(source, options)`` of ``jobs``; the libraries not cached yet, and the
    runtime's, are compiled at the same time, one compiler process each. Returns
    ``[(library path, names)]``."""
    compiler = find_compiler()
    if compiler is None:
        raise EmulatorError(unavailable_reason())
    workdir = _workdir()
    sanitize = _sanitizer_flags(compiler, workdir)
    built, compiles = [], {}  # compiles: library path -> (source file, flags)
    runtime = _runtime_path(compiler, workdir, sanitize)
    if not os.path.exists(runtime):
        compiles[runtime] = (_RUNTIME_SOURCE, [*_BASE_FLAGS, *sanitize, "-I", SHIM_DIR])
    for source, options in jobs:
        names = kernel_names(source)
        if not names:
            raise EmulatorError("the source defines no __global__ function")
        extra, folders = translate_options(options)
        flags = [*_BASE_FLAGS, *sanitize, "-I", SHIM_DIR, *extra]
        generated = _generated_source(source, names)
        key = _library_key(compiler, flags, folders, generated)
        library = os.path.join(workdir, f"kernels-{key}.so")
        built.append((library, names))
        if os.path.exists(library) or library in compiles:
            continue
        cpp = os.path.join(workdir, f"kernels-{key}-{os.getpid()}.cpp")
        with open(cpp, "w", encoding="utf-8") as f:
            f.write(generated)
        compiles[library] = (cpp, flags)
    partial = {library: f"{library}.{os.getpid()}.tmp" for library in compiles}
    running = {library: subprocess.Popen([compiler, *flags, cpp, "-o", partial[library]],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                         text=True)
               for library, (cpp, flags) in compiles.items()}
    failures = []
    for library, process in running.items():
        _, errors = process.communicate()
        if process.returncode:
            failures.append(errors[-4000:])
        else:  # atomic: a concurrent run never loads half a file
            os.replace(partial[library], library)
    if failures:
        raise EmulatorError(f"compiling the kernels for the CPU failed:\n{failures[0]}")
    return built


def _runtime_path(compiler, workdir, sanitize):
    with open(_RUNTIME_SOURCE, encoding="utf-8") as f:
        text = f.read()
    key = _library_key(compiler, [*_BASE_FLAGS, *sanitize, "-I", SHIM_DIR], [], text)
    return os.path.join(workdir, f"runtime-{key}.so")


def _runtime():
    """The runtime library, built if need be, loaded once per process with RTLD_GLOBAL (kernel
    libraries bind to its symbols; UBSan finds its report hook)."""
    if "lib" not in _RUNTIME:
        compiler = find_compiler()
        if compiler is None:
            raise EmulatorError(unavailable_reason())
        workdir = _workdir()
        path = _runtime_path(compiler, workdir, _sanitizer_flags(compiler, workdir))
        if not os.path.exists(path):
            build_all([])
        lib = ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
        lib.emu_last_error.restype = ctypes.c_char_p
        _RUNTIME["lib"] = lib
    return _RUNTIME["lib"]


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
        self._runtime = _runtime()  # before the kernels, which bind to it
        if path not in _LIBRARIES:
            lib = ctypes.CDLL(path)
            lib.emu_launch.restype = ctypes.c_int
            lib.emu_launch.argtypes = [ctypes.c_char_p] + [ctypes.c_uint] * 6 + [
                ctypes.POINTER(ctypes.c_void_p)]
            lib.emu_signature.restype = ctypes.c_char_p
            lib.emu_signature.argtypes = [ctypes.c_char_p]
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
            message = self.module._runtime.emu_last_error().decode()
        if status:
            raise EmulatorError(message)
