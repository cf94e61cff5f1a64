"""glibc's allocator kept from returning the memory of numpy's temporaries to the kernel between training steps.

A training step allocates and frees the same temporaries every step. glibc gives a block above its mmap
threshold (128 KiB at start, raised to the largest block freed so far, at most 32 MiB) fresh pages from the
kernel, and gives the free top of the heap back above its trim threshold (twice the mmap threshold): so every
step pays a page fault per 4 KiB of those temporaries (about 1,800 faults, 15% of makemore's Transformer step on
a CPU). PyTorch's own large tensors raise both thresholds as a side effect, which is why a numpy program runs
faster in a process that has used PyTorch. Here both are set once, when the numpy backend is made: blocks up to
32 MiB come from the heap, and up to 128 MiB of free heap is kept for the next step (reused, never lost).

Set ``GRADKIT_MALLOC=default`` to leave glibc's settings alone. Other C libraries (musl, macOS) are untouched.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h
MMAP_THRESHOLD = 32 * 2**20  # glibc's largest (DEFAULT_MMAP_THRESHOLD_MAX on 64-bit)
TRIM_THRESHOLD = 128 * 2**20
_done: list[bool] = []


def tune() -> bool:
    """Set glibc's mmap and trim thresholds (once per process); True when they were set."""
    if _done:
        return _done[0]
    _done.append(False)
    if os.environ.get("GRADKIT_MALLOC", "").lower() == "default" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        ok = bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(libc.mallopt(M_TRIM_THRESHOLD,
                                                                                         TRIM_THRESHOLD))
    except (OSError, AttributeError):  # no libc to load, or no mallopt in it
        return False
    _done[0] = ok
    return ok
