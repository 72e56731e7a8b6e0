"""Builds the optional native kernel of the evaluator (``contrarec/evaluate/screen_kernel.cpp``).

Everything else lives in pyproject.toml. The kernel is a torch operator, so it builds against the torch
already installed (``pip install --no-build-isolation``, as the Makefile does). Without torch or a C++
compiler the package installs without it, and evaluation uses its pure-torch path.
"""

from setuptools import setup


def native_extensions() -> tuple[list, dict]:
    try:
        from torch.utils.cpp_extension import BuildExtension, CppExtension
    except ImportError:
        return [], {}
    kernel = CppExtension("contrarec.evaluate._screen_kernel", ["src/contrarec/evaluate/screen_kernel.cpp"],
                          extra_compile_args=["-O3", "-fopenmp"], extra_link_args=["-fopenmp"],
                          optional=True)
    return [kernel], {"build_ext": BuildExtension.with_options(use_ninja=False)}


ext_modules, cmdclass = native_extensions()
setup(ext_modules=ext_modules, cmdclass=cmdclass)
