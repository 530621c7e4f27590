"""Benchmark dataset readers behind one lazy registry.

``load_dataset(name, root)`` reads a dataset as it ships; readers are imported only when used.

Names (case-insensitive): ``otb`` (every sequence folder found), ``otb2013``, ``otb2015``
(= ``otb100``), ``tb50``; ``vot2016`` .. ``vot2019``; ``uav123``, ``uav20l``; ``lasot`` (test split),
``lasot-all``; ``got10k-val``, ``got10k-test``; ``pysot:<file.json>`` (root: the images' folder,
default the JSON's folder); ``synthetic:<preset>[:<count>[:<seed>[:<frames>]]]`` (generated in memory,
no root); ``real``, ``real:<split.json>[:train]`` (this project's real sequences, ``real.py``).
"""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Callable, Dict, Optional, Tuple, Union

from ...errors import DatasetError
from .base import Dataset, Sequence

__all__ = ["Dataset", "Sequence", "load_dataset", "DATASETS"]

#: name -> (module, keyword arguments of its ``load``).
DATASETS: Dict[str, Tuple[str, Dict[str, object]]] = {
    "otb": ("otb", {"version": "otb"}),
    "otb2013": ("otb", {"version": "otb2013"}),
    "otb2015": ("otb", {"version": "otb2015"}),
    "otb100": ("otb", {"version": "otb100"}),
    "tb50": ("otb", {"version": "tb50"}),
    "vot2016": ("vot", {"edition": 2016}),
    "vot2017": ("vot", {"edition": 2017}),
    "vot2018": ("vot", {"edition": 2018}),
    "vot2019": ("vot", {"edition": 2019}),
    "uav123": ("uav", {"subset": "UAV123"}),
    "uav20l": ("uav", {"subset": "UAV20L"}),
    "lasot": ("lasot", {"split": "test"}),
    "lasot-all": ("lasot", {"split": "all"}),
    "got10k-val": ("got10k", {"split": "val"}),
    "got10k-test": ("got10k", {"split": "test"}),
}


def _loader(module: str) -> Callable[..., Dataset]:
    return importlib.import_module(f".{module}", __name__).load


def load_dataset(name: str, root: Union[str, Path, None] = None) -> Dataset:
    """Read a benchmark dataset by registry name.

    Args:
        name: a name of :data:`DATASETS`, ``pysot:<file.json>`` or ``synthetic:<preset>:<count>:<seed>``.
        root: the dataset folder (not needed for synthetic sets).

    Raises:
        DatasetError: unknown name, missing root, or any reader error (naming file and line).
    """
    key = name.strip()
    low = key.lower()
    if low.startswith("synthetic"):
        from .synthetic_set import load as load_synthetic

        return load_synthetic(key)
    if low == "real" or low.startswith("real:"):
        parts = key.split(":")
        if root is None:
            raise DatasetError(f"dataset {name} needs --root: the real-data folder (../shared/data/real)")
        split = parts[1] if len(parts) > 1 and parts[1] else None
        return _loader("real")(Path(root), split, parts[2] if len(parts) > 2 else "validation")
    if low.startswith("pysot:"):
        return _loader("pysot_json")(Path(key.split(":", 1)[1]), Path(root) if root is not None else None)
    if low not in DATASETS:
        raise DatasetError(f"unknown dataset {name!r}: choose one of {', '.join(DATASETS)}, pysot:<file.json> "
                           f"or synthetic:<preset>:<count>:<seed>")
    if root is None:
        raise DatasetError(f"dataset {name} needs --root: the folder that holds it")
    module, kwargs = DATASETS[low]
    return _loader(module)(Path(root), **kwargs)


def dataset_kind(name: str) -> Optional[str]:
    """The protocol of a registry name without reading it ("ope", "vot", "got10k"), None when unknown."""
    low = name.lower()
    if low.startswith("vot"):
        return "vot"
    if low.startswith("got10k"):
        return "got10k"
    return "ope" if low in DATASETS or low.startswith(("synthetic", "real")) else None
