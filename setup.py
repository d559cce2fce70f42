"""Packaging glue that pyproject.toml cannot express: ship the CUDA sources with the wheel.

The kernels live in the repository's top-level ``kernels/`` (see docs/architecture.md); a built
wheel (a plain ``pip install .``, or the Docker image) carries a copy in ``gpugrad/kernels/``,
which ``gpugrad.backends.cuda.kernel_dir()`` finds first. Editable installs read ``kernels/`` in
place. Everything else (metadata, dependencies, packages) is in pyproject.toml.
"""
import glob
import os

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


class BuildPyWithKernels(build_py):
    """``build_py`` that also copies ``kernels/*.cu`` and the headers they include
    (``kernels/*.cuh``) into the built ``gpugrad/kernels/``."""

    def run(self):
        super().run()
        target = os.path.join(self.build_lib, "gpugrad", "kernels")
        self.mkpath(target)
        sources = glob.glob(os.path.join(HERE, "kernels", "*.cu"))
        sources += glob.glob(os.path.join(HERE, "kernels", "*.cuh"))
        for source in sorted(sources):
            self.copy_file(source, os.path.join(target, os.path.basename(source)))


setup(cmdclass={"build_py": BuildPyWithKernels})
