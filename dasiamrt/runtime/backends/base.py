"""The one small protocol every inference backend implements.

A backend runs the graphs of a model (see :mod:`dasiamrt.spec`). Like Polygraphy's runners, the
public methods below check their arguments and the backend's state (open, kernels set, fusion
started) and then call the ``_..._impl`` methods a backend provides; capabilities are declared
attributes, never probed with ``getattr``:

* ``template(crops)``: exemplar crops (N, 3, 127, 127) float32 -> cls kernels (N, 10, F, 4, 4) and
  reg kernels (N, 20, F, 4, 4), float32.
* ``set_kernels(cls_kernel, reg_kernel)``: the kernels that following ``search`` calls correlate with,
  (10, F, 4, 4) and (20, F, 4, 4). Backends that keep buffers on a device copy them there once.
* ``search(crop)``: one search crop (1, 3, H, H) float32 with H in 255..767 -> :class:`SearchOutput`.
* distractor-aware tracking (paper Eq. 2-4), where :attr:`Backend.supports_fusion`:
  ``reset_fusion(cls_kernel, weight)`` starts the running kernel sum A = weight * K(z);
  ``fuse(window_index, window_weight, inv_total)`` adds sum_n w_n * K(window_n) to A, where window_n
  is a 6x6 window of the LAST search's backbone features (gathered by flat ``window_index``, see
  :func:`dasiamrt.runtime.distractor.window_indices`) and K the kernel head (conv_cls1), and makes
  A * inv_total the cls kernel of the following searches. This is the ``kernel_update`` graph. Where
  the sum lives is the backend's: on the host (:class:`HostFusion`, one ``kernel_update`` step per
  fuse on numpy arrays), or on the device (the TensorRT and torch backends keep A, the features and
  the fused kernel there and upload only the few indices and weights: :attr:`Backend.fuses_on_device`).
* ``memory_report()``, ``describe()``, ``close()``; backends are context managers.

Crops are BGR, 0..255, not normalised. All outputs are host numpy arrays unless stated.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple

import numpy as np
from numpy.typing import NDArray

from ... import spec
from ...errors import BackendError

if TYPE_CHECKING:
    from ...artifacts.model_folder import ModelFolder

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


def _shape_error(what: str, want: str, got: Any) -> BackendError:
    return BackendError(f"{what} must be {want} float32 arrays, got shape {np.shape(got)}")


class Backend(abc.ABC):
    """Base class of inference backends (ONNX Runtime, TensorRT, torch, fakes in tests).

    Subclasses implement :meth:`_template_impl` and :meth:`_search_impl`, and where they hold state on a
    device or fuse kernels, :meth:`_set_kernels_impl`, :meth:`_reset_fusion_impl`, :meth:`_fuse_impl` and
    :meth:`_close_impl`.
    """

    #: short name used by the CLI (``--backend``).
    name: str = "base"
    #: graphs/engines it runs ("fp32", "fp16", "int8"), for reports.
    precision: str = "fp32"
    #: implements :meth:`reset_fusion`/:meth:`fuse` (distractor-aware tracking); set per instance by a
    #: backend whose fusion depends on what it loaded (a kernel_update graph or engine).
    supports_fusion: bool = False
    #: the fusion reads the last search's features where the search left them (on the device): callers
    #: need not ask :meth:`search` for them (``want_features``), which would copy them to the host.
    fuses_on_device: bool = False

    @classmethod
    def from_model(cls, model: "ModelFolder", **options: Any) -> "Backend":
        """The backend on an exported model folder (what :func:`~.factory.create_backend` calls)."""
        return cls(model, **options)  # type: ignore[call-arg]

    def __init__(self) -> None:
        self._cls_kernel: Optional[Array] = None
        self._reg_kernel: Optional[Array] = None
        self._fusion_started = False  # reset_fusion() since the last set_kernels()
        self._searched = False  # search() since the last set_kernels(): the features a fuse() reads
        self._closed = False

    # -- the protocol: checks, then the backend's implementation ---------------------------------
    def template(self, crops: Array) -> Tuple[Array, Array]:
        """Exemplar crops (N, 3, 127, 127) -> (cls kernels (N, 10, F, 4, 4), reg kernels (N, 20, F, 4, 4))."""
        self._require_open()
        e = spec.EXEMPLAR_SIZE
        if np.ndim(crops) != 4 or tuple(np.shape(crops)[1:]) != (3, e, e) or not np.shape(crops)[0]:
            raise _shape_error("template crops", f"(N, 3, {e}, {e})", crops)
        return self._template_impl(crops)

    def set_kernels(self, cls_kernel: Array, reg_kernel: Array) -> None:
        """Kernels for the following searches: cls (10, F, 4, 4), reg (20, F, 4, 4)."""
        self._require_open()
        cls_k = np.ascontiguousarray(cls_kernel, dtype=np.float32)
        reg_k = np.ascontiguousarray(reg_kernel, dtype=np.float32)
        a, k = spec.ANCHOR_NUM, spec.KERNEL_SIZE
        if (cls_k.ndim != 4 or reg_k.ndim != 4 or cls_k.shape[0] != 2 * a or reg_k.shape[0] != 4 * a
                or cls_k.shape[1] != reg_k.shape[1] or cls_k.shape[2:] != (k, k) or reg_k.shape[2:] != (k, k)):
            raise BackendError(f"kernels must be cls (10, F, 4, 4) and reg (20, F, 4, 4) float32 arrays, got "
                               f"{cls_k.shape} and {reg_k.shape}")
        self._cls_kernel, self._reg_kernel = cls_k, reg_k
        self._fusion_started = self._searched = False  # a running sum belongs to the kernels it began with
        self._set_kernels_impl(cls_k, reg_k)

    def search(self, crop: Array, want_features: bool = False) -> SearchOutput:
        """Correlate one search crop (1, 3, H, H) with the kernels last given to :meth:`set_kernels`
        (or fused by :meth:`fuse`); ``want_features`` also returns the backbone features."""
        self._require_open()
        shape = tuple(np.shape(crop))
        if len(shape) != 4 or shape[:2] != (1, 3) or shape[2] != shape[3]:
            raise _shape_error("search crops", "(1, 3, H, H)", crop)
        if self._reg_kernel is None:
            raise RuntimeError("search() before set_kernels(): call Tracker.init first")
        out = self._search_impl(crop, want_features)
        self._searched = True
        return out

    def reset_fusion(self, cls_kernel: Array, weight: float) -> None:
        """Start the running kernel sum at ``weight * cls_kernel`` (10, F, 4, 4)."""
        self._require_open()
        self._require_fusion()
        self._reset_fusion_impl(cls_kernel, weight)
        self._fusion_started = True

    def fuse(self, window_index: NDArray[np.int64], window_weight: Array, inv_total: float) -> None:
        """Fold N windows of the last search into the running sum; the result becomes the cls kernel.

        Args:
            window_index: (N * 36,) flat indices of N 6x6 windows in one (S+5)^2 feature plane.
            window_weight: (N,) weights.
            inv_total: 1 / sum of the frame weights.
        """
        self._require_open()
        self._require_fusion()
        n = int(np.shape(window_weight)[0]) if np.ndim(window_weight) == 1 else -1
        if n < 1 or tuple(np.shape(window_index)) != (spec.TEMPLATE_FEATURE_SIZE ** 2 * n,):
            raise BackendError(f"fuse() takes N >= 1 weights and 36 N window indices, got {np.shape(window_weight)} "
                               f"and {np.shape(window_index)}")
        if not (self._fusion_started and self._searched):
            raise RuntimeError("fuse() needs reset_fusion() and a search() since the last set_kernels()")
        self._fuse_impl(window_index, window_weight, inv_total)

    def memory_report(self) -> Dict[str, float]:
        """Device memory of what the backend loaded, MiB by kind (empty where it holds none)."""
        return {}

    def describe(self) -> str:
        """What runs, for tables and logs: ``"ort fp32"``."""
        return f"{self.name} {self.precision}" + (" (closed)" if self._closed else "")

    def close(self) -> None:
        """Release sessions, engines and buffers. Idempotent; every method is refused afterwards."""
        self._closed = True
        self._close_impl()

    def __enter__(self) -> "Backend":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what a backend implements ---------------------------------------------------------------
    @abc.abstractmethod
    def _template_impl(self, crops: Array) -> Tuple[Array, Array]:
        """:meth:`template` on checked crops."""

    @abc.abstractmethod
    def _search_impl(self, crop: Array, want_features: bool) -> SearchOutput:
        """:meth:`search` on a checked crop, kernels set."""

    def _set_kernels_impl(self, cls_kernel: Array, reg_kernel: Array) -> None:  # noqa: B027 - optional hook
        """Move checked kernels where the searches read them (host backends read ``self._cls_kernel``)."""

    def _reset_fusion_impl(self, cls_kernel: Array, weight: float) -> None:
        raise BackendError(self._no_fusion_reason())

    def _fuse_impl(self, window_index: NDArray[np.int64], window_weight: Array, inv_total: float) -> None:
        raise BackendError(self._no_fusion_reason())

    def _close_impl(self) -> None:  # noqa: B027 - deliberate no-op default; backends holding resources override it
        """Free what the backend holds (called once per :meth:`close`; must be idempotent)."""

    # -- helpers -----------------------------------------------------------------------------------
    def _kernels(self) -> Tuple[Array, Array]:
        """The host kernels of the following searches (set, or fused on the host)."""
        if self._cls_kernel is None or self._reg_kernel is None:
            raise RuntimeError("search() before set_kernels(): call Tracker.init first")
        return self._cls_kernel, self._reg_kernel

    def _require_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"the {self.name} backend is closed (its resources are freed): create a new one")

    def _require_fusion(self) -> None:
        if not self.supports_fusion:
            raise BackendError(self._no_fusion_reason())

    def _no_fusion_reason(self) -> str:
        return (f"the {self.name} backend cannot fuse kernels (distractor-aware tracking): it has no kernel_update "
                "graph; re-export the model, or track with --no-da")


class HostFusion:
    """Distractor-aware fusion on the host, for backends that run the ``kernel_update`` graph on numpy arrays.

    The running sum A (10, F, 4, 4) and the last search's features (1, C, S + 5, S + 5) are host arrays;
    each :meth:`Backend.fuse` runs one :meth:`kernel_update` step and makes A * inv_total the cls kernel of
    the following searches. A backend mixes this in before :class:`Backend` and stores the features of
    every ``search(want_features=True)`` with :meth:`_keep_features`.
    """

    _acc: Optional[Array] = None
    _last_features: Optional[Array] = None
    _cls_kernel: Optional[Array]

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
        raise NotImplementedError(f"{type(self).__name__} has no kernel_update step")

    def _keep_features(self, features: Optional[Array]) -> None:
        self._last_features = features

    def _reset_fusion_impl(self, cls_kernel: Array, weight: float) -> None:
        self._acc = (np.float32(weight) * np.asarray(cls_kernel, dtype=np.float32)).astype(np.float32)

    def _fuse_impl(self, window_index: NDArray[np.int64], window_weight: Array, inv_total: float) -> None:
        if self._last_features is None or self._acc is None:
            raise RuntimeError("fuse() needs reset_fusion() and a search() with want_features=True first")
        self._acc, fused = self.kernel_update(self._last_features, window_index, window_weight, self._acc, inv_total)
        self._cls_kernel = np.ascontiguousarray(fused, dtype=np.float32)

