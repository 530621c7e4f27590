"""The torch backend's search step: one CUDA graph per search size, with an eager fallback.

A CUDA graph freezes, at capture, the device addresses its kernels read and write. So each search
size gets its own static crop buffer, and the graph's output tensors are reused by every replay; all
sizes read ONE pair of static kernel buffers owned by the caller. New kernels (a new template, the
distractor-aware fused kernel after every frame) must be copied INTO those buffers (``copy_``),
never rebound to new tensors: then no graph ever needs re-capturing. The capture follows torch's
``torch.cuda.graphs`` recipe: warm-up runs on a side stream (cuDNN picks its algorithms and the
caching allocator settles outside the capture), then the capture on the same inputs. A size whose
capture fails (an op that cannot be captured, an old driver) runs eagerly, with one log line.

This module never imports torch: the backend passes its ``torch`` module in.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Dict, Sequence, Tuple

import numpy as np

from .base import Array

log = logging.getLogger(__name__)

#: A search step: (crop (1, 3, H, H), cls kernel, reg kernel) -> (cls, delta, features), device tensors.
StepFn = Callable[..., Tuple[Any, ...]]


class CudaGraphCapture:
    """Capture and replay with ``torch.cuda.CUDAGraph`` (the real thing).

    Args:
        torch: the torch module.
        device: a CUDA ``torch.device``.
        warmup: eager runs on a side stream before the capture.
    """

    def __init__(self, torch: Any, device: Any, warmup: int = 3) -> None:
        self._torch = torch
        self._device = device
        self._warmup = warmup

    def capture(self, fn: StepFn, inputs: Sequence[Any]) -> Tuple[Any, Tuple[Any, ...]]:
        """Record ``fn(*inputs)`` into a new graph; returns (graph, its static outputs)."""
        cuda = self._torch.cuda
        side = cuda.Stream(device=self._device)
        side.wait_stream(cuda.current_stream(self._device))
        with cuda.stream(side):
            for _ in range(self._warmup):
                fn(*inputs)
        cuda.current_stream(self._device).wait_stream(side)
        graph = cuda.CUDAGraph()
        with cuda.graph(graph):
            outputs = fn(*inputs)
        return graph, tuple(outputs)

    def replay(self, graph: Any) -> None:
        graph.replay()

    def after_failure(self) -> None:
        """Let the device settle after a refused capture, so the eager run that follows starts clean."""
        self._torch.cuda.synchronize(self._device)


class SearchSteps:
    """The search step per search size: a captured graph where possible, else eager.

    Args:
        torch: the torch module.
        step: the search step; called as ``step(crop, cls_kernel, reg_kernel)`` with the float32
            device crop (it casts to the network's precision itself, inside the graph).
        kernels: the static (cls (10, F, 4, 4), reg (20, F, 4, 4)) device buffers every size reads.
        device: the ``torch.device`` of the network.
        capture: how to capture and replay graphs (:class:`CudaGraphCapture`, or a fake in tests);
            None runs every size eagerly.
    """

    def __init__(self, torch: Any, step: StepFn, kernels: Tuple[Any, Any], device: Any, capture: Any = None) -> None:
        self._torch = torch
        self._step = step
        self._kernels = kernels
        self._device = device
        self._capture = capture
        #: whether sizes are captured as graphs (False: eager by choice).
        self.captures = capture is not None
        self._pinned = device.type == "cuda"
        #: size -> (host staging (1, 3, H, H) float32, device crop buffer, graph or None, outputs or None)
        self._slots: Dict[int, Tuple[Any, Any, Any, Any]] = {}
        #: sizes whose capture failed and that run eagerly.
        self.eager_sizes: set[int] = set()

    @property
    def graph_sizes(self) -> Tuple[int, ...]:
        """Search sizes that replay a captured graph."""
        return tuple(sorted(s for s, slot in self._slots.items() if slot[2] is not None))

    def run(self, crop: Array) -> Tuple[Any, Any, Any]:
        """One search: ``crop`` (1, 3, H, H) float32 host -> (cls, delta, features) device tensors.

        In graph mode the tensors are the graph's static outputs: read (or copy) them before the
        next search of the same size.
        """
        size = int(crop.shape[-1])
        slot = self._slots.get(size) or self._prepare(size, crop.shape)
        host, x, graph, outputs = slot
        np.copyto(host.numpy(), crop, casting="same_kind")
        x.copy_(host, non_blocking=self._pinned)  # same dtype: a plain async copy into the frozen buffer
        if graph is None:
            return self._step(x, *self._kernels)
        self._capture.replay(graph)
        return outputs  # type: ignore[no-any-return]

    def _prepare(self, size: int, shape: Tuple[int, ...]) -> Tuple[Any, Any, Any, Any]:
        torch = self._torch
        host = torch.zeros(tuple(shape), dtype=torch.float32, pin_memory=self._pinned)
        x = torch.zeros(tuple(shape), dtype=torch.float32, device=self._device)  # the step casts on the device
        graph = outputs = None
        if self._capture is not None:
            try:
                graph, outputs = self._capture.capture(self._step, (x, *self._kernels))
            except Exception as err:  # noqa: BLE001 - any refusal falls back to eager, said once
                log.warning("CUDA graph capture of the %d search step failed (%s: %s): it runs eagerly",
                            size, type(err).__name__, str(err).splitlines()[0] if str(err) else "")
                graph = outputs = None
                self.eager_sizes.add(size)
                settle = getattr(self._capture, "after_failure", None)
                if settle is not None:
                    settle()
        slot = (host, x, graph, outputs)
        self._slots[size] = slot
        return slot
