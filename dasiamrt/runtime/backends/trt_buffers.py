"""Buffer bookkeeping for the TensorRT backend: which tensor gets which device buffer, sized how.

Pure numpy: sizes come from the manifest's profile shapes (inputs at their ``max``, outputs as
recorded) and the engine's I/O dtypes, so all of it is unit-tested without CUDA. Buffers SHARED
between engines are what makes the distractor-aware fusion run without a host round trip:

* ``cls_kernel`` / ``reg_kernel``: one device buffer each, bound as inputs of every search context;
  the kernel_update engine's ``fused`` output is bound to the SAME ``cls_kernel`` buffer.
* ``search_features``: each search context's output buffer is the ``search_features`` input of the
  kernel_update context with the same score size S.
* ``acc``: two buffers used in turn (ping-pong) as the fusion's ``acc`` input and ``acc_out`` output.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Optional, Tuple

import numpy as np

from ...artifacts.engine_manifest import ProfileInfo

Shape = Tuple[int, ...]


@dataclass(frozen=True)
class TensorSlot:
    """One I/O tensor of one context: its shape (at the profile's max) and dtype."""

    name: str
    shape: Shape
    dtype: np.dtype
    is_input: bool

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize


def profile_slots(profile: ProfileInfo, dtypes: Optional[Dict[str, np.dtype]] = None) -> Dict[str, TensorSlot]:
    """Slots of every input (at ``max``) and output of a profile; dtypes default to float32."""
    dtypes = dtypes or {}
    slots = {
        name: TensorSlot(name, tuple(r.max), np.dtype(dtypes.get(name, np.float32)), True)
        for name, r in profile.inputs.items()
    }
    for name, shape in profile.outputs.items():
        slots[name] = TensorSlot(name, tuple(shape), np.dtype(dtypes.get(name, np.float32)), False)
    return slots


class BufferTable:
    """Device buffers by key, allocated once through ``malloc`` (a device's allocator).

    A key is a tensor name for per-context buffers (``"255/search"``) or a shared name
    (``"cls_kernel"``). Asking again for a key returns the same pointer; asking with a larger size
    is an internal error (buffers are sized from the largest profile first).
    """

    def __init__(self, malloc: Callable[[int], int]) -> None:
        self._malloc = malloc
        self.ptrs: Dict[str, int] = {}
        self.sizes: Dict[str, int] = {}

    def get(self, key: str, nbytes: int) -> int:
        if key in self.ptrs:
            if nbytes > self.sizes[key]:
                raise RuntimeError(f"buffer {key} holds {self.sizes[key]} bytes, {nbytes} needed")
            return self.ptrs[key]
        self.ptrs[key] = self._malloc(nbytes)
        self.sizes[key] = nbytes
        return self.ptrs[key]

    @property
    def total_bytes(self) -> int:
        return sum(self.sizes.values())


def shared_key(engine: str, profile_key: int, tensor: str, score_size: Callable[[int], int]) -> str:
    """The buffer key of ``tensor`` in context (``engine``, ``profile_key``) (see the module docstring).

    Args:
        engine: "template", "search" or "kernel_update".
        profile_key: search side H (search), score side S (kernel_update), max batch (template).
        tensor: tensor name.
        score_size: H -> S (:func:`dasiamrt.spec.score_size`).
    """
    if engine == "search" and tensor in ("cls_kernel", "reg_kernel"):
        return tensor
    if engine == "search" and tensor == "search_features":
        return f"features/{score_size(profile_key)}"
    if engine == "kernel_update":
        if tensor == "fused":
            return "cls_kernel"
        if tensor == "search_features":
            return f"features/{profile_key}"
        if tensor in ("acc", "acc_out"):
            return {"acc": "acc/0", "acc_out": "acc/1"}[tensor]
    return f"{engine}/{profile_key}/{tensor}"
