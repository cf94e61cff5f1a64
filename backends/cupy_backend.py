"""The CUDA backend: CuPy on GPU 0. Imported only when asked for, never by ``import backends``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .base import Backend, GraphCapture, host_memory


class CupyBackend(Backend):
    """CuPy on CUDA device 0, seen through ``array_api_compat.cupy`` (CuPy's array API standard namespace).

    ``scatter_add`` uses ``cupyx.scatter_add`` (atomic adds on the device); ``synchronize`` waits for the
    device; ``memory_info`` adds the device's and CuPy's memory pool's bytes.
    """

    name = "cupy"

    def __init__(self) -> None:
        import array_api_compat.cupy as xp
        import cupy
        import cupyx

        super().__init__(xp, cupy.cuda.Device(0))
        self._cupy = cupy
        self._cupyx = cupyx

    def owns(self, array: Any) -> bool:
        return isinstance(array, self._cupy.ndarray) and array.device == self.device

    def scatter_add(self, target: Any, indices: Any, updates: Any) -> Any:
        out = target.copy()
        self._cupyx.scatter_add(out, indices, updates)
        return out

    def synchronize(self) -> None:
        self.device.synchronize()

    def graph_capture(self) -> GraphCapture | None:
        """CuPy's stream capture: ``Stream.begin_capture`` / ``end_capture`` on a blocking stream (ordered with
        the legacy default stream), the graph launched on that stream."""
        stream = self._cupy.cuda.Stream(non_blocking=False)

        class Launch:
            def __init__(self, graph: Any) -> None:
                self.graph = graph

            def launch(self) -> None:
                self.graph.launch(stream=stream)

        def capture(fn: Callable[..., Any], args: list) -> tuple[Any, Any]:
            with stream:
                stream.begin_capture()
                try:
                    result = fn(*args)
                finally:
                    graph = stream.end_capture()
            return Launch(graph), result

        return capture

    def memory_info(self) -> dict[str, int]:
        free, total = self._cupy.cuda.runtime.memGetInfo()
        return {**host_memory(), "device_used": total - free, "device_total": total,
                "pool_used": self._cupy.get_default_memory_pool().used_bytes()}

    def _from_host(self, host: np.ndarray) -> Any:
        return self._cupy.asarray(host)

    def _to_host(self, array: Any) -> np.ndarray:
        return self._cupy.asnumpy(array)

    def _on_device(self) -> dict[str, Any]:
        return {}


def empty_cache() -> None:
    """Give back the device memory CuPy's pool keeps but does not use (``torch.cuda.empty_cache``); the caller
    has checked that CuPy is usable."""
    import cupy

    cupy.get_default_memory_pool().free_all_blocks()
