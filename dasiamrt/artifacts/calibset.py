"""The calibration set on disk: ``calibration.npz`` (crops) + ``calibration.json`` (manifest).

Arrays in the ``.npz`` (uint8, CHW, BGR 0..255: exactly the runtime's blobs before the float cast):
    template          (N, 3, 127, 127)  exemplar crops (jittered like training)
    search_<H>        (N, 3, H, H)      search crops of side H (255: tracking, 767: lost / global)
    search_<H>_kernel (N,) int32        row of ``kernel_template`` whose kernels the crop is
                                        correlated with (the sequence's first-frame template)
    kernel_template   (M, 3, 127, 127)  one first-frame template per source sequence
    kernel_template_cls (M, 10, F, 4, 4) float32, kernel_template_reg (M, 20, F, 4, 4) float32:
                      the fp32 template graph's kernels of ``kernel_template`` (what each search crop
                      is correlated with), computed once by ``dasiamrt calibrate``
                      (:func:`dasiamrt.calib.kernels.add_search_kernels`) so that neither the Q/DQ
                      ranges nor the engine build's entropy calibrator run the template graph again

The one module that reads and writes the set: ``dasiamrt calibrate`` writes it, the INT8 graphs
(:mod:`dasiamrt.calib`) and the legacy TensorRT calibrator (:mod:`dasiamrt.engine.calibrator`) read it.
The manifest holds the source, seed, counts, per-channel mean/std of every array, the sha256 of
the fp32 graphs it was made for and the ``.npz`` sha256. Both files are written atomically.
"""
from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple, cast

import numpy as np
from numpy.typing import NDArray

from .. import spec
from ..errors import CalibrationError, ConfigError
from ..fileio import atomic_write_bytes, atomic_write_json, sha256_file
from .model_folder import ModelFolder

FORMAT_VERSION = 1
CALIB_NPZ = "calibration.npz"
CALIB_JSON = "calibration.json"
TEMPLATE = "template"
KERNEL_TEMPLATE = "kernel_template"
KERNEL_CLS = "kernel_template_cls"
KERNEL_REG = "kernel_template_reg"
#: fewest crops per input a calibration may use: fewer give ranges that depend on a handful of frames.
MIN_CROPS = 8


def search_key(size: int) -> str:
    """Array name of the search crops of side ``size``."""
    return f"search_{size}"


def kernel_key(size: int) -> str:
    """Array name of the kernel-template index of the search crops of side ``size``."""
    return f"search_{size}_kernel"


@dataclass
class CalibrationSet:
    """Crops for INT8 calibration (see module docstring for the arrays).

    Attributes:
        arrays: name -> array.
        manifest: JSON-friendly description (source, seed, counts, stats, model sha256s).
        path: the ``.npz`` it was read from, if any.
    """

    arrays: Dict[str, NDArray[Any]]
    manifest: Dict[str, Any]
    path: Optional[Path] = None

    @property
    def search_sizes(self) -> Tuple[int, ...]:
        """Search-crop sides present, ascending."""
        sizes = []
        for name in self.arrays:
            parts = name.split("_")
            if len(parts) == 2 and parts[0] == "search" and parts[1].isdigit():
                sizes.append(int(parts[1]))
        return tuple(sorted(sizes))

    def counts(self) -> Dict[str, int]:
        """Number of crops per input array."""
        names = [TEMPLATE] + [search_key(s) for s in self.search_sizes]
        return {n: int(len(self.arrays[n])) for n in names if n in self.arrays}

    def blobs(self, name: str) -> NDArray[np.float32]:
        """Array ``name`` as float32 network input (N, 3, H, H)."""
        return self.arrays[name].astype(np.float32)

    @property
    def has_search_kernels(self) -> bool:
        """Whether the fp32 kernels of ``kernel_template`` are stored (older sets lack them)."""
        return KERNEL_CLS in self.arrays and KERNEL_REG in self.arrays

    def search_kernels(self) -> Tuple[NDArray[np.float32], NDArray[np.float32]]:
        """(cls (M, 10, F, 4, 4), reg (M, 20, F, 4, 4)) float32 kernels of the set's first-frame templates.

        Raises:
            CalibrationError: a set written before the kernels were stored.
        """
        if not self.has_search_kernels:
            raise CalibrationError(f"calibration set {self.path or ''} has no search kernels (it predates them): "
                                   "write it again with 'dasiamrt calibrate --model DIR --from-set NPZ "
                                   "--collect-only'")
        return (self.arrays[KERNEL_CLS].astype(np.float32, copy=False),
                self.arrays[KERNEL_REG].astype(np.float32, copy=False))


def channel_stats(arrays: Mapping[str, NDArray[Any]]) -> Dict[str, Dict[str, List[float]]]:
    """Per-channel (B, G, R) mean and std of each (N, 3, H, W) crop array."""
    stats = {}
    for name, arr in arrays.items():
        if arr.ndim == 4 and len(arr):
            a = arr.astype(np.float64)
            stats[name] = {"mean": [round(float(v), 3) for v in a.mean(axis=(0, 2, 3))],
                           "std": [round(float(v), 3) for v in a.std(axis=(0, 2, 3))]}
    return stats


def save_calibration(calib: CalibrationSet, out_dir: str | os.PathLike[str]) -> Path:
    """Write ``calibration.npz`` and ``calibration.json`` into ``out_dir`` (atomically); returns the npz path."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    npz = folder / CALIB_NPZ
    buf = io.BytesIO()
    np.savez(buf, **cast("Dict[str, Any]", calib.arrays))  # Any: the stub types **kwds against allow_pickle
    atomic_write_bytes(npz, buf.getvalue())
    calib.manifest["counts"] = calib.counts()
    calib.manifest["stats"] = channel_stats({n: calib.arrays[n] for n in calib.counts()})
    calib.manifest["npz_sha256"] = sha256_file(npz)
    calib.manifest["format"] = FORMAT_VERSION
    atomic_write_json(folder / CALIB_JSON, calib.manifest)
    calib.path = npz
    return npz


def copy_calibration(calib: CalibrationSet, target: str | os.PathLike[str]) -> Path:
    """A set read from elsewhere (``--from-set``) goes with the model it calibrated (the TensorRT calibrator
    route reads ``<model>/calibration.npz``): copied into ``target`` unless it is there already.

    Returns:
        The ``.npz`` in ``target``.
    """
    import shutil

    src, folder = Path(str(calib.path)), Path(target)
    if src.parent.resolve() == folder.resolve():
        return src
    shutil.copyfile(src, folder / CALIB_NPZ)
    shutil.copyfile(manifest_path(src), folder / CALIB_JSON)
    return folder / CALIB_NPZ


def manifest_path(npz: Path) -> Path:
    """The manifest beside a set's ``.npz`` (``calibration.json`` for ``calibration.npz``, else ``<stem>.json``)."""
    return npz.with_name(CALIB_JSON) if npz.name == CALIB_NPZ else npz.with_suffix(".json")


def _resolve(path: str | os.PathLike[str]) -> Tuple[Path, Path]:
    p = Path(path)
    npz = p / CALIB_NPZ if p.is_dir() else p
    return npz, manifest_path(npz)


def load_calibration(path: str | os.PathLike[str], min_crops: int = MIN_CROPS) -> CalibrationSet:
    """Read and validate a calibration set (a folder holding ``calibration.npz`` or the ``.npz`` itself).

    Raises:
        CalibrationError: missing files, a hash mismatch, crops of the wrong size, or too few crops.
    """
    npz, manifest_path = _resolve(path)
    if not npz.is_file() or not manifest_path.is_file():
        raise CalibrationError(f"no calibration set at {path} (need {CALIB_NPZ} + {CALIB_JSON}): "
                               "collect one with 'dasiamrt calibrate --model DIR --source VIDEO --init x,y,w,h'")
    try:
        manifest = json.loads(manifest_path.read_text())
    except ValueError:
        raise CalibrationError(f"{manifest_path} is not valid JSON: collect the set again") from None
    if manifest.get("npz_sha256") != sha256_file(npz):
        raise CalibrationError(f"{npz} does not match the sha256 in {manifest_path}: collect the set again")
    with np.load(npz) as data:
        arrays = {name: data[name] for name in data.files}
    calib = CalibrationSet(arrays, manifest, npz)
    validate(calib, min_crops)
    return calib


def _check_crops(name: str, arr: NDArray[Any], side: int, min_crops: int) -> None:
    if arr.ndim != 4 or arr.shape[1:] != (3, side, side) or arr.dtype != np.uint8:
        raise CalibrationError(f"calibration array {name} holds {arr.dtype} crops of shape {tuple(arr.shape[1:])}, "
                               f"expected uint8 (3, {side}, {side}): collect the set again with 'dasiamrt calibrate'")
    if len(arr) < min_crops:
        raise CalibrationError(f"calibration array {name} has {len(arr)} crop(s), fewer than {min_crops}: "
                               f"collect again with --per-input {min_crops} or more")


def validate(calib: CalibrationSet, min_crops: int = MIN_CROPS) -> None:
    """Check names, shapes, dtypes and counts of a calibration set.

    Raises:
        CalibrationError: an input is missing, empty or too small, or its crops have the wrong size.
    """
    if TEMPLATE not in calib.arrays:
        raise CalibrationError("calibration set has no template crops: collect it with 'dasiamrt calibrate'")
    _check_crops(TEMPLATE, calib.arrays[TEMPLATE], spec.EXEMPLAR_SIZE, min_crops)
    if not calib.search_sizes:
        raise CalibrationError("calibration set has no search crops: collect it with 'dasiamrt calibrate'")
    kernels = calib.arrays.get(KERNEL_TEMPLATE)
    if kernels is None:
        raise CalibrationError(f"calibration set lacks {KERNEL_TEMPLATE}: collect the set again")
    _check_crops(KERNEL_TEMPLATE, kernels, spec.EXEMPLAR_SIZE, 1)
    for size in calib.search_sizes:
        try:
            spec.check_search_size(size)
        except ConfigError as err:
            raise CalibrationError(f"calibration array {search_key(size)}: {err}") from None
        _check_crops(search_key(size), calib.arrays[search_key(size)], size, min_crops)
        index = calib.arrays.get(kernel_key(size))
        if index is None or index.shape != (len(calib.arrays[search_key(size)]),) or (
                len(index) and (index.min() < 0 or index.max() >= len(kernels))):
            raise CalibrationError(f"calibration array {kernel_key(size)} is missing or out of range: "
                                   "collect the set again")
    for name, rows in ((KERNEL_CLS, 2), (KERNEL_REG, 4)):
        arr = calib.arrays.get(name)
        if arr is not None and (arr.ndim != 5 or arr.shape[0] != len(kernels)
                                or arr.shape[1] != rows * spec.ANCHOR_NUM):
            raise CalibrationError(f"calibration array {name} has shape {tuple(arr.shape)}, not one "
                                   f"({rows * spec.ANCHOR_NUM}, F, 4, 4) kernel per {KERNEL_TEMPLATE} crop: "
                                   "collect the set again")


def model_fingerprint(info: ModelFolder) -> Dict[str, str]:
    """sha256 of the fp32 template and search graphs of a model folder (what a calibration is made for)."""
    return info.fingerprint()


def check_model(calib: CalibrationSet, info: ModelFolder) -> None:
    """Refuse a calibration set collected for another model.

    Raises:
        CalibrationError: the recorded graph sha256s differ from the folder's fp32 graphs.
    """
    recorded = calib.manifest.get("model", {}).get("sha256", {})
    actual = model_fingerprint(info)
    for role, digest in actual.items():
        if recorded.get(role) != digest:
            raise CalibrationError(
                f"calibration set {calib.path} was made for another model ({role} graph sha256 "
                f"{str(recorded.get(role))[:12]} != {digest[:12]} in {info.root}): "
                f"run 'dasiamrt calibrate --model {info.root} --source ...' again")
