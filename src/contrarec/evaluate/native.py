"""The evaluator's optional native kernel (``screen_kernel.cpp``), a torch operator built at install time.

``pip install --no-build-isolation`` (the Makefile's install) compiles it against the installed torch; where
it is missing (no compiler, another torch), evaluation takes its pure-torch path with the same results.
"""

from __future__ import annotations

import functools
import importlib.util

import torch

NATIVE = ("auto", "off")


@functools.cache
def screen_kernel_available() -> bool:
    """Whether ``torch.ops.contrarec.screen_topk`` is loaded (loads it on the first call)."""
    spec = importlib.util.find_spec("contrarec.evaluate._screen_kernel")
    if spec is None or spec.origin is None:
        return False
    try:
        torch.ops.load_library(spec.origin)
    except (OSError, RuntimeError):
        return False
    return hasattr(torch.ops.contrarec, "screen_topk")
