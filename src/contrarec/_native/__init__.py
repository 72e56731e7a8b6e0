"""contrarec's optional native operators, one torch extension built at install time (``setup.py``).

``torch.ops.contrarec.screen_topk`` (``screen_topk.cpp``) finishes the evaluator's bf16-screened score blocks
(:mod:`contrarec.evaluate.screened`); ``torch.ops.contrarec.signed_noise`` (``signed_noise.cpp``) draws
SimGCL's noise (:mod:`contrarec.views.embedding_noise`). ``pip install --no-build-isolation`` (the Makefile's
install) compiles them against the installed torch. Where they are missing (no compiler, another torch),
callers take their pure-torch paths: the evaluator with identical results, the noise from the same
distribution.
"""

from __future__ import annotations

import functools
import importlib.util

import torch

#: Values of the ``native`` switches: use the operators where they are built, or never.
NATIVE = ("auto", "off")


@functools.cache
def native_ops_available() -> bool:
    """Whether ``torch.ops.contrarec`` holds the native operators (loads them on the first call)."""
    spec = importlib.util.find_spec("contrarec._native._ops")
    if spec is None or spec.origin is None:
        return False
    try:
        torch.ops.load_library(spec.origin)
    except (OSError, RuntimeError):
        return False
    return hasattr(torch.ops.contrarec, "screen_topk") and hasattr(torch.ops.contrarec, "signed_noise")
