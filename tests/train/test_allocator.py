import platform
import subprocess
import sys

import pytest

from contrarec.train.allocator import retain_freed_memory

ON_GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"

# in a fresh process: malloc and free a 20 MiB block, then report the free bytes glibc keeps in its heap
FREE_BYTES_KEPT = """
import ctypes, sys
from contrarec.train.allocator import retain_freed_memory
class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                     "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.mallinfo2.restype = MallInfo2
if sys.argv[1] == "retain":
    assert retain_freed_memory()
block = libc.malloc(20 << 20)
ctypes.memset(block, 1, 20 << 20)
libc.free(block)
print(libc.mallinfo2().fordblks)
"""


def free_bytes_kept(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", FREE_BYTES_KEPT, mode], capture_output=True, text=True, check=True)
    return int(out.stdout)


@pytest.mark.skipif(not ON_GLIBC, reason="mallopt is glibc's")
def test_a_freed_20_mib_block_stays_in_the_heap_only_when_retained():
    # by default glibc maps a 20 MiB block on its own and unmaps it on free (its pages fault in again next
    # time); retained, the block comes from the heap and stays there, free, for the next allocation
    assert free_bytes_kept("default") < 4 << 20
    assert free_bytes_kept("retain") >= 20 << 20


def test_takes_effect_on_glibc_and_is_a_no_op_elsewhere():
    assert retain_freed_memory() is ON_GLIBC


def test_rejects_a_negative_threshold():
    with pytest.raises(ValueError, match="trim_threshold"):
        retain_freed_memory(-1)
