"""Keep freed heap memory in the process, so that per-step buffers do not fault their pages in again.

glibc hands a freed block above its mmap threshold back to the kernel at once, and trims the top of the heap
when more than its trim threshold lies free there (both adapt at run time, up to 32 MiB). The next step's
allocation of the same size then faults in every page again, 4 KiB at a time, each zeroed by the kernel. A
graph recipe's step allocates and frees tens of such buffers: each layer's products, noise and gradients are
``[U, D]`` / ``[N, D]`` tables of 8–18 MB on Yelp2018. With the thresholds raised, the blocks stay in the
heap and are reused. ``bench/allocator_steps.py`` (Yelp2018, 2 threads, one recipe per fresh process, median
step, 2026-12-04): ``simgcl`` 0.181 → 0.122 s (22k → 0.6k page faults a step), ``xsimgcl`` 0.140 → 0.096 s
and, in a second run, 0.116 → 0.097 s (13–15k → 0.3k), ``lightgcn`` 0.058 → 0.047 s; ``sgl-ed`` did not
change (0.153 → 0.174 s, then 0.162 → 0.161 s).

This sets process-wide allocator options, as ``torch.set_num_threads`` sets a process-wide thread count, so
only entry points call it (:func:`contrarec.train.run.train_run`, the benchmarks), never library code.
"""

from __future__ import annotations

import ctypes
import platform

#: ``mallopt`` parameters (glibc ``malloc.h``).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3

#: glibc's largest mmap threshold on 64-bit systems; blocks up to this size come from the heap.
MAX_MMAP_THRESHOLD = 32 * 1024 * 1024


def retain_freed_memory(trim_threshold: int = 1 << 30) -> bool:
    """Serve blocks up to 32 MiB from the heap and keep up to ``trim_threshold`` bytes of it free.

    Args:
        trim_threshold: free bytes at the top of the heap that glibc keeps instead of returning (``mallopt``
            takes an ``int``, so values past 2 GiB - 1 are capped there).

    Returns:
        True when glibc took both settings; False elsewhere (musl, macOS, Windows), where nothing changes.
    """
    if trim_threshold < 0:
        raise ValueError(f"trim_threshold must be >= 0, got {trim_threshold}")
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MAX_MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD,
                                                                                 min(trim_threshold, 2 ** 31 - 1)))
