"""Legacy INT8 route for TensorRT <= 10: an entropy calibrator fed from the same ``calibration.npz``.

TensorRT 10.1 deprecated the INT8 calibrators and 11.0 removed them; the route every version takes
is explicit quantization with the Q/DQ graphs of ``dasiamrt calibrate``.
Where a builder still wants implicit INT8 (``BuilderFlag.INT8`` on the fp32 graph, TensorRT 8.5 to
10.x), :func:`entropy_calibrator` returns a ``trt.IInt8EntropyCalibrator2`` over the set's crops.

TensorRT's Python contract (``tensorrt.IInt8Calibrator``): the subclass calls the base ``__init__``;
``get_batch_size()`` returns the batch size; ``get_batch(names)`` returns one device pointer (int)
per input name, or ``None`` when no batch is left; ``read_calibration_cache()`` returns the cached
bytes or ``None``; ``write_calibration_cache(cache)`` receives a buffer to store. With dynamic
shapes the builder calibrates at the OPT shape of ``IBuilderConfig.set_calibration_profile``'s
profile, so every batch has one shape: the template engine takes batches of ``batch_size``
exemplars, the search engine single crops of one side (``search_size``, 255 by default) with the
kernels of their sequence's first-frame template.

Device memory goes through an object with ``malloc(nbytes) -> int``, ``stream() -> int``,
``memcpy_htod_async(dst, host_array, stream)`` and ``synchronize(stream)`` (the interface of
:class:`dasiamrt.trt.cuda_device.CudaDevice`). The search kernels come from the calibration set
(``dasiamrt calibrate`` stores them: :mod:`dasiamrt.calib.kernels`), so the build runs no ONNX Runtime.
Importing this module imports neither TensorRT nor CUDA.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, TypeVar

import numpy as np

from .. import spec
from ..artifacts.calibset import TEMPLATE, CalibrationSet, kernel_key, search_key
from ..errors import CalibrationError, MissingDependencyError
from ..fileio import atomic_write_bytes
from ..trt.compat import entropy_calibrator_base

log = logging.getLogger(__name__)
_T = TypeVar("_T")

Feed = Dict[str, np.ndarray]


class CalibrationBatches:
    """Fixed-shape float32 batches of a calibration set for one engine (no TensorRT involved).

    Args:
        calib: a validated calibration set.
        role: "template" or "search".
        batch_size: exemplars per template batch (the template profile's OPT batch); 1 for search.
        search_size: side of the search crops fed (must be in the set).
        kernels: for "search": (cls (M, 10, F, 4, 4), reg (M, 20, F, 4, 4)) fp32 kernels of the
            set's ``kernel_template`` crops (:meth:`~dasiamrt.artifacts.calibset.CalibrationSet.search_kernels`).

    Raises:
        CalibrationError: unknown role, a search size missing from the set, no kernels for search,
            or fewer crops than one batch.
    """

    def __init__(self, calib: CalibrationSet, role: str, batch_size: int = 1, search_size: int = spec.MIN_SEARCH_SIZE,
                 kernels: Optional[Tuple[np.ndarray, np.ndarray]] = None) -> None:
        if role not in ("template", "search"):
            raise CalibrationError(f"no calibrator for the {role!r} graph: use 'template' or 'search'")
        if role == "search":
            if search_size not in calib.search_sizes:
                raise CalibrationError(f"the calibration set has no {search_size} search crops "
                                       f"(it has {', '.join(map(str, calib.search_sizes))}): collect them first")
            if kernels is None:
                raise CalibrationError("search calibration needs the kernels of the set's templates: "
                                       "pass kernels=calib.search_kernels()")
            if batch_size != 1:
                raise CalibrationError("the search graph takes one crop per run: use batch_size=1")
        self.calib, self.role, self.batch_size, self.search_size = calib, role, int(batch_size), search_size
        self.kernels = kernels
        if len(self) < 1:
            raise CalibrationError(f"the calibration set has fewer {role} crops than one batch of {batch_size}")

    @property
    def input_names(self) -> Tuple[str, ...]:
        """Engine inputs each batch fills."""
        if self.role == "template":
            return (spec.TEMPLATE_INPUT,)
        return (spec.SEARCH_INPUT, spec.CLS_KERNEL, spec.REG_KERNEL)

    def __len__(self) -> int:
        if self.role == "template":
            return len(self.calib.arrays[TEMPLATE]) // self.batch_size  # an incomplete last batch is dropped
        return len(self.calib.arrays[search_key(self.search_size)])

    def __iter__(self) -> Iterator[Feed]:
        if self.role == "template":
            crops = self.calib.arrays[TEMPLATE]
            for b in range(len(self)):
                chunk = crops[b * self.batch_size:(b + 1) * self.batch_size]
                yield {spec.TEMPLATE_INPUT: np.ascontiguousarray(chunk, dtype=np.float32)}
            return
        assert self.kernels is not None  # checked in __init__
        cls_k, reg_k = self.kernels
        crops = self.calib.arrays[search_key(self.search_size)]
        owners = self.calib.arrays[kernel_key(self.search_size)]
        for crop, k in zip(crops, owners):
            yield {spec.SEARCH_INPUT: np.ascontiguousarray(crop[None], dtype=np.float32),
                   spec.CLS_KERNEL: np.ascontiguousarray(cls_k[k], dtype=np.float32),
                   spec.REG_KERNEL: np.ascontiguousarray(reg_k[k], dtype=np.float32)}


class _Feeder:
    """The calibrator's state, apart from the TensorRT base class: device buffers and the batch iterator."""

    def __init__(self, batches: CalibrationBatches, device: Any, cache_path: Optional[Path]) -> None:
        self.batches, self.device, self.cache_path = batches, device, cache_path
        self.iterator = iter(batches)
        self.buffers: Dict[str, Tuple[int, int]] = {}  # name -> (device pointer, bytes)
        self.stream: Optional[int] = None
        self.served = 0
        #: the first exception raised inside a TensorRT callback (see :meth:`guarded`)
        self.error: Optional[BaseException] = None

    def next_pointers(self, names: List[str]) -> Optional[List[int]]:
        feed = next(self.iterator, None)
        if feed is None:
            log.info("calibration: %d %s batch(es) served", self.served, self.batches.role)
            return None
        missing = [n for n in names if n not in feed]
        if missing:
            # An exception cannot cross back into TensorRT's C++ caller: log and end calibration.
            log.error("calibration: the engine asks for %s, the %s batches hold %s", missing, self.batches.role,
                      list(feed))
            return None
        if self.stream is None:
            self.stream = self.device.stream()
        pointers = []
        for name in names:
            host = feed[name]
            ptr, size = self.buffers.get(name, (0, -1))
            if size != host.nbytes:
                ptr = self.device.malloc(host.nbytes)
                self.buffers[name] = (ptr, host.nbytes)
            self.device.memcpy_htod_async(ptr, host, self.stream)
            pointers.append(int(ptr))
        self.device.synchronize(self.stream)  # the host arrays may be freed once this returns
        self.served += 1
        return pointers

    def guarded(self, what: str, call: Callable[[], _T]) -> Optional[_T]:
        """Run a TensorRT callback body: an exception cannot cross back into TensorRT's C++ caller (it
        would terminate the process), so it is logged and kept in :attr:`error`, and None (end of
        calibration / no cache) goes back instead. The caller raises :attr:`error` after the build."""
        try:
            return call()
        except Exception as err:  # every failure must stay on the Python side
            log.error("calibration: %s failed: %s", what, err)
            self.error = self.error or err
            return None

    def read_cache(self) -> Optional[bytes]:
        if self.cache_path is not None and self.cache_path.is_file():
            log.info("calibration: using the cache %s", self.cache_path)
            return self.cache_path.read_bytes()
        return None

    def write_cache(self, cache: Any) -> None:
        if self.cache_path is not None:
            atomic_write_bytes(self.cache_path, bytes(cache))


def entropy_calibrator(batches: CalibrationBatches, device: Any, cache_path: Optional[str | os.PathLike[str]] = None,
                       trt: Any = None) -> Any:
    """A ``trt.IInt8EntropyCalibrator2`` that feeds ``batches`` through ``device`` buffers.

    Args:
        batches: the engine's calibration batches.
        device: CUDA memory helper (see module docstring).
        cache_path: calibration cache file, read if present and written after calibration.
        trt: the ``tensorrt`` module (imported here when None).

    Returns:
        The calibrator (keep a reference until the build finishes); ``.feeder`` holds its state.
    """
    if trt is None:
        try:
            import tensorrt
        except ImportError:
            raise MissingDependencyError("tensorrt", "INT8 calibration in TensorRT",
                                         "install TensorRT (JetPack or NVIDIA's index)") from None
        trt = tensorrt
    base = entropy_calibrator_base(trt)
    feeder = _Feeder(batches, device, Path(cache_path) if cache_path is not None else None)

    class EntropyCalibrator2(base):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            base.__init__(self)
            self.feeder = feeder

        def get_batch_size(self) -> int:
            return self.feeder.batches.batch_size

        def get_batch(self, names: List[str], *_: Any) -> Optional[List[int]]:
            return self.feeder.guarded("get_batch", lambda: self.feeder.next_pointers(list(names)))

        def read_calibration_cache(self, *_: Any) -> Optional[bytes]:
            return self.feeder.guarded("read_calibration_cache", self.feeder.read_cache)

        def write_calibration_cache(self, cache: Any, *_: Any) -> None:
            self.feeder.guarded("write_calibration_cache", lambda: self.feeder.write_cache(cache))

    return EntropyCalibrator2()
