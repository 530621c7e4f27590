"""The one small protocol every inference backend implements.

A backend runs the two graphs of a model (see :mod:`dasiamrt.spec`):

* ``template(crops)``: exemplar crops (N, 3, 127, 127) float32 -> cls kernels (N, 10, F, 4, 4) and
  reg kernels (N, 20, F, 4, 4), float32.
* ``set_kernels(cls_kernel, reg_kernel)``: the kernels that following ``search`` calls correlate with,
  (10, F, 4, 4) and (20, F, 4, 4). Backends that keep buffers on a device copy them there once.
* ``search(crop)``: one search crop (1, 3, H, H) float32 with H in 255..767 -> :class:`SearchOutput`.
* distractor-aware tracking (paper Eq. 2-4), optional: ``reset_fusion(cls_kernel, weight)`` starts
  the running kernel sum A = weight * K(z); ``fuse(window_index, window_weight, inv_total)`` adds
  sum_n w_n * K(window_n) to A, where window_n is a 6x6 window of the LAST search's backbone
  features (gathered by flat ``window_index``, see :func:`dasiamrt.runtime.distractor.window_indices`)
  and K the kernel head (conv_cls1), and makes A * inv_total the cls kernel of the following
  searches. This is the ``kernel_update`` graph; a device backend keeps A, the features and the
  fused kernel on the device and uploads only the few indices and weights.
* ``close()``; backends are context managers.

Crops are BGR, 0..255, not normalised. All outputs are host numpy arrays unless stated.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float32]


@dataclass
class SearchOutput:
    """Raw outputs of one search step.

    Attributes:
        cls: (1, 10, S, S) logits, class-major (bg anchors 0..4, fg 5..9).
        delta: (1, 20, S, S) box deltas, coordinate-major (channel = coord * 5 + anchor).
        features: (1, C, S + 5, S + 5) backbone features of the crop, or None when not requested.
    """

    cls: Array
    delta: Array
    features: Optional[Array] = None


class Backend(abc.ABC):
    """Base class of inference backends (ONNX Runtime, TensorRT, torch, fakes in tests)."""

    #: short name used by the CLI (``--backend``).
    name: str = "base"

    def __init__(self) -> None:
        self._cls_kernel: Optional[Array] = None
        self._reg_kernel: Optional[Array] = None
        self._acc: Optional[Array] = None
        self._last_features: Optional[Array] = None

    @abc.abstractmethod
    def template(self, crops: Array) -> Tuple[Array, Array]:
        """Exemplar crops (N, 3, 127, 127) -> (cls kernels (N, 10, F, 4, 4), reg kernels (N, 20, F, 4, 4))."""

    @abc.abstractmethod
    def search(self, crop: Array, want_features: bool = False) -> SearchOutput:
        """Correlate one search crop (1, 3, H, H) with the kernels last given to :meth:`set_kernels`."""

    def set_kernels(self, cls_kernel: Array, reg_kernel: Array) -> None:
        """Kernels for the following searches: cls (10, F, 4, 4), reg (20, F, 4, 4)."""
        self._cls_kernel = np.ascontiguousarray(cls_kernel, dtype=np.float32)
        self._reg_kernel = np.ascontiguousarray(reg_kernel, dtype=np.float32)

    # -- distractor-aware kernel fusion ---------------------------------------------------------
    #: whether this backend implements ``kernel_update`` (the graph of the fusion step).
    supports_fusion: bool = False

    def kernel_update(
        self, features: Array, window_index: NDArray[np.int64], window_weight: Array, acc: Array, inv_total: float
    ) -> Tuple[Array, Array]:
        """One fusion step (the ``kernel_update`` graph).

        Args:
            features: (1, C, S + 5, S + 5) backbone features of a search crop.
            window_index: (N * 36,) flat indices of N 6x6 windows in one feature plane.
            window_weight: (N,) weight of each window.
            acc: (10, F, 4, 4) running weighted sum of cls kernels.
            inv_total: 1 / sum of the frame weights so far.

        Returns:
            (acc + sum_n w_n K(window_n), that sum times inv_total), both (10, F, 4, 4).
        """
        raise NotImplementedError(f"the {self.name} backend cannot fuse kernels (distractor-aware tracking)")

    def reset_fusion(self, cls_kernel: Array, weight: float) -> None:
        """Start the running kernel sum at ``weight * cls_kernel`` (10, F, 4, 4)."""
        self._acc = (np.float32(weight) * np.asarray(cls_kernel, dtype=np.float32)).astype(np.float32)

    def fuse(self, window_index: NDArray[np.int64], window_weight: Array, inv_total: float) -> None:
        """Fold windows of the last search into the running sum; the result becomes the cls kernel."""
        if self._last_features is None or self._acc is None:
            raise RuntimeError("fuse() needs reset_fusion() and a search() with want_features=True first")
        self._acc, fused = self.kernel_update(self._last_features, window_index, window_weight, self._acc, inv_total)
        self._cls_kernel = np.ascontiguousarray(fused, dtype=np.float32)

    def _kernels(self) -> Tuple[Array, Array]:
        if self._cls_kernel is None or self._reg_kernel is None:
            raise RuntimeError("search() before set_kernels(): call Tracker.init first")
        return self._cls_kernel, self._reg_kernel

    def close(self) -> None:  # noqa: B027 - deliberate no-op default; backends holding resources override it
        """Release sessions, engines and buffers. Idempotent."""

    def __enter__(self) -> "Backend":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
