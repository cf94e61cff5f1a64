"""Ask the CUDA driver, through ctypes alone, how many devices answer.

This file imports nothing but the standard library, so that ``noxfile.py`` can load it by path and decide
whether to install CuPy at all before any array library exists in the session.
"""

from __future__ import annotations

import ctypes
import ctypes.util


def driver_report() -> tuple[int, int, str]:
    """Return ``(device_count, driver_version, error)`` from ``libcuda``.

    ``driver_version`` is CUDA's integer form (12040 for 12.4); ``error`` is empty when the driver
    answered, else the reason in words (library not found, or the driver's own error code from ``cuInit``).
    Never raises.
    """
    names = [ctypes.util.find_library("cuda"), "libcuda.so.1", "libcuda.so", "nvcuda.dll"]
    lib = None
    for name in filter(None, names):
        try:
            lib = ctypes.CDLL(name)
            break
        except OSError:
            continue
    if lib is None:
        return 0, 0, "no CUDA driver library (libcuda) on this machine"
    status = lib.cuInit(0)
    if status != 0:
        return 0, 0, f"the CUDA driver's cuInit failed with error code {status}"
    count, version = ctypes.c_int(0), ctypes.c_int(0)
    if lib.cuDeviceGetCount(ctypes.byref(count)) != 0:
        return 0, 0, "the CUDA driver could not count devices"
    lib.cuDriverGetVersion(ctypes.byref(version))
    if count.value == 0:
        return 0, version.value, "the CUDA driver reports no device"
    return count.value, version.value, ""
