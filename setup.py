"""Builds the optional native operators (``src/contrarec/_native/*.cpp``, see ``contrarec._native``).

Everything else lives in pyproject.toml. They are torch operators, so they build against the torch already
installed (``pip install --no-build-isolation``, as the Makefile does). Without torch or a C++ compiler the
package installs without them, and their callers take their pure-torch paths.
"""

from setuptools import setup


def native_extensions() -> tuple[list, dict]:
    try:
        from torch.utils.cpp_extension import BuildExtension, CppExtension
    except ImportError:
        return [], {}
    sources = ["src/contrarec/_native/screen_topk.cpp", "src/contrarec/_native/signed_noise.cpp"]
    kernel = CppExtension("contrarec._native._ops", sources,
                          extra_compile_args=["-O3", "-fopenmp"], extra_link_args=["-fopenmp"],
                          optional=True)
    return [kernel], {"build_ext": BuildExtension.with_options(use_ninja=False)}


ext_modules, cmdclass = native_extensions()
setup(ext_modules=ext_modules, cmdclass=cmdclass)
