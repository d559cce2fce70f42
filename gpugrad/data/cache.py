"""Where gpugrad keeps downloaded files, and the optional packages that fill that folder.

The folder is ``$GPUGRAD_CACHE`` when that variable is set, else the platform's user cache
folder for "gpugrad" as ``platformdirs`` names it: ``$XDG_CACHE_HOME/gpugrad`` (default
``~/.cache/gpugrad``) on Linux, ``~/Library/Caches/gpugrad`` on macOS,
``%LOCALAPPDATA%\\gpugrad\\Cache`` on Windows. docs/environment.md lists every variable.

Downloading needs ``pooch`` and ``platformdirs`` (``pip install 'gpugrad[data]'``); they are
imported on first use, so ``import gpugrad`` works without them.
"""
import importlib
import os

CACHE_ENV = "GPUGRAD_CACHE"
DATA_EXTRA_HINT = "pip install 'gpugrad[data]' (pooch and platformdirs)"


def data_dependency(name):
    """The module ``name`` (pooch, platformdirs or pooch's requests), or ImportError naming the
    extra that installs it."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ImportError(f"downloading datasets needs {name} ({exc}); {DATA_EXTRA_HINT}") \
            from None


def cache_dir():
    """The folder for downloaded data: ``$GPUGRAD_CACHE`` (``~`` expanded) when set and not
    empty, else ``platformdirs.user_cache_dir("gpugrad")`` (which honours ``XDG_CACHE_HOME``
    on Linux). The folder is not created here."""
    folder = os.environ.get(CACHE_ENV, "").strip()
    if folder:
        return os.path.abspath(os.path.expanduser(folder))
    platformdirs = data_dependency("platformdirs")
    return platformdirs.user_cache_dir("gpugrad", appauthor=False)
