"""A compiled step's program launched as one CUDA graph (CuPy), instead of one kernel launch per op.

A CUDA graph replays the kernels it captured with the arguments they had: the same device addresses and the
same scalar values. So ``GraphRunner``

- captures the program once (``Program(..., keep_all=True)``: every intermediate stays referenced, so no
  address is freed and reused while the graph lives) and launches the graph on later calls;
- copies the arrays that are new each call (the minibatch) into the graph's static input buffers first, and
  captures again when a state array is another object than at capture (a storage rebound); after
  ``max_captures`` captures it runs the program without a graph. Learning rates and step counts are 0-d device
  tensors, read by the kernels, so a schedule needs no new capture;
- takes the branches on the minibatch on the host first (``Program.branches``);
- reads the flags of the program's input checks (``_trace.raise_if``) after each launch, and raises there;
- hands out copies of the graph's output buffers (a fresh ``p.grad`` each step, as eager does).

The device work of a graph is ordered with the default stream's: the graph runs on a blocking stream, which
CUDA's legacy default stream synchronises with.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gradkit.backends.base import GraphCapture

from ._program import MISS, Program


class GraphRunner:
    """``runner(*inputs)`` returns what ``program.core(*inputs)`` would (without the kept intermediates).

    Args:
        program: built with ``keep_all=True``.
        staged: positions of the inputs that are new arrays each call (copied into static buffers).
        capture: ``capture(fn, args) -> (graph, result)``: records ``fn(*args)``'s device work without running
            it; ``graph.launch()`` runs it. ``Backend.graph_capture()`` gives the backend's (CuPy's).
        copy: a fresh copy of an array.
        max_captures: captures before the runner gives up on graphs and runs the program directly.
    """

    def __init__(self, program: Program, staged: set[int], capture: GraphCapture, copy: Callable[[Any], Any],
                 max_captures: int = 4) -> None:
        self.program, self.staged, self.capture, self.copy = program, staged, capture, copy
        self.max_captures = max_captures
        self.graph: Any = None
        self.captures = self.launches = 0
        inputs = program.tape.inputs
        self._arrays = [i for i, s in enumerate(inputs) if i not in staged and s in program.read_slots]
        position = {s: i for i, s in enumerate(inputs)}
        self._out = [("input", position[s]) if s in position else ("array", k) for k, s in enumerate(program.outputs)]

    def __call__(self, *inputs: Any) -> Any:
        if self.program.branches(*inputs) is MISS:
            return MISS
        if self.graph is not None and self._fits(inputs):
            for i, buffer in self._buffers.items():
                buffer[...] = inputs[i]
            self.graph.launch()
            self.launches += 1
        elif self.captures < self.max_captures:
            try:
                self._capture(inputs)
            except Exception:  # an op that cannot be captured: run without graphs from now on
                self.graph, self.max_captures = None, 0
                return self._plain(inputs)
        else:
            return self._plain(inputs)
        for flag, (_, error) in zip(self._result[-1], self.program.checks, strict=True):
            if bool(flag):
                raise error()
        return tuple(inputs[k] if kind == "input" else self.copy(self._result[k]) for kind, k in self._out)

    def _plain(self, inputs: tuple) -> Any:
        result = self.program.core(*inputs)
        for flag, (_, error) in zip(result[-1], self.program.checks, strict=True):
            if bool(flag):
                raise error()
        return result[:-2]

    def _fits(self, inputs: tuple) -> bool:
        captured = self._inputs
        return all(inputs[i] is captured[i] for i in self._arrays)

    def _capture(self, inputs: tuple) -> None:
        args = list(inputs)
        self._buffers = {i: self.copy(inputs[i]) for i in self.staged}
        for i, buffer in self._buffers.items():
            args[i] = buffer
        self.graph = None
        graph, result = self.capture(self.program.core, args)
        self.captures += 1
        self.graph, self._inputs, self._result = graph, args, result
        graph.launch()  # the capture recorded the work; this runs it
        self.launches += 1

