"""``evaluate``: run a tracker over a dataset and/or score result folders, then write one report."""
from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Union

import numpy as np

from ..errors import DatasetError
from ..fileio import atomic_write_text, safe_name
from .confidence import paired_difference
from .datasets import Dataset, load_dataset
from .report import write_report
from .runner import Progress, run_dataset
from .scoring import CONVENTIONS, auc_by_sequence, score

log = logging.getLogger(__name__)
PathLike = Union[str, Path]


def _clean(value: Any) -> Any:
    """JSON-safe copy: NaN/inf -> None, numpy scalars -> Python numbers."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _record_config(tracker: Any, run_folder: Path) -> None:
    """Save the tracker's resolved config next to its results; refuse to resume under another config."""
    config = getattr(tracker, "config", None)
    if config is None or not hasattr(config, "to_dict"):
        return
    text = json.dumps(_clean(config.to_dict()), indent=1, sort_keys=True) + "\n"
    path = run_folder / "config.json"
    if path.is_file() and path.read_text() != text and any(run_folder.rglob("*.txt")):
        raise DatasetError(f"{run_folder} holds results made with another tracker config ({path}): "
                           f"pass another --name or --out, or delete that folder")
    atomic_write_text(path, text)


def _check_runnable(ds: Dataset) -> None:
    """Refuse, before anything is written, a dataset whose sequences cannot start: no first box, or
    image files that are not there (a wrong --root, an incomplete download)."""
    for seq in ds:
        seq.init_xywh  # noqa: B018 - raises DatasetError for a sequence without a first box
        if isinstance(seq.frames, list):
            missing = [p for p in seq.frames if not isinstance(p, np.ndarray) and not Path(p).is_file()]
            if missing:
                raise DatasetError(f"sequence {seq.name}: {len(missing)} of {len(seq.frames)} frames are missing "
                                   f"(first: {missing[0]}): check --root, or re-download the sequence")


def _paired_auc(trackers: Dict[str, Any]) -> Dict[str, Any]:
    """Each later tracker's mean per-sequence AUC difference from the first, with its paired 95% interval."""
    labels = list(trackers)
    first = auc_by_sequence(trackers[labels[0]])
    return {label: {"baseline": labels[0],
                    "auc_difference": paired_difference(auc_by_sequence(trackers[label]), first).to_dict()}
            for label in labels[1:]}


def evaluate(dataset: Union[str, Dataset], root: Optional[PathLike] = None, tracker: Any = None,
             tracker_name: str = "dasiamrt", results: Sequence[PathLike] = (), out_dir: Optional[PathLike] = None,
             progress: Optional[Progress] = None, plots: bool = True) -> Dict[str, Any]:
    """Evaluate on a benchmark: run ``tracker`` (if given) and score it with any existing ``results``.

    Args:
        dataset: a registry name (see :func:`dasiamrt.eval.datasets.load_dataset`) or a loaded dataset.
        root: the dataset folder (not needed for synthetic sets).
        tracker: object with ``init``/``track`` (or a :class:`~dasiamrt.eval.parallel.RayPool`); its results
            go to ``<out_dir>/results/<tracker_name>`` and sequences already there are skipped (resumable).
        tracker_name: label of the tracker's results in the report.
        results: result folders of other runs or toolkits to score; labelled by folder name.
        out_dir: where the report (and the tracker's results) go; None: return the report only
            (a tracker run then needs ``out_dir``).
        progress: callback for run progress (see :data:`dasiamrt.eval.runner.Progress`).
        plots: write PNG plots (needs matplotlib).

    Returns:
        The report: {"dataset", "protocol", "convention", "trackers": {label: {"summary",
        "per_sequence", "attributes"}}, and for OPE with several trackers "comparisons": {label:
        {"baseline", "auc_difference"}}} (paired bootstrap intervals, :mod:`.confidence`); NaN values
        become None.

    Raises:
        DatasetError: dataset or result files missing or malformed; nothing to evaluate.
    """
    ds = dataset if isinstance(dataset, Dataset) else load_dataset(dataset, root)
    folders: Dict[str, Path] = {}
    if tracker is not None:
        if out_dir is None:
            raise DatasetError("running a tracker needs an output folder (--out) for its results")
        run_folder = Path(out_dir) / "results" / safe_name(tracker_name, "tracker name (--name)", DatasetError)
        _check_runnable(ds)
        _record_config(tracker, run_folder)
        runs_itself = hasattr(tracker, "run_dataset")  # a pool of workers (eval/parallel.py)
        ran = tracker.run_dataset(ds, run_folder, progress) if runs_itself else run_dataset(tracker, ds, run_folder,
                                                                                             progress)
        log.info("ran %d of %d sequences (%d already had results)", len(ran), len(ds), len(ds) - len(ran))
        folders[tracker_name] = run_folder
    for folder in results:
        folder = Path(folder)
        if not folder.is_dir():
            raise DatasetError(f"result folder {folder} does not exist")
        label = folder.name if folder.name not in folders else str(folder)
        folders[label] = folder
    if not folders:
        raise DatasetError("nothing to evaluate: give a tracker (--model/--weights) or result folders (--results)")
    if ds.kind == "got10k" and all(len(s) > 1 and np.isnan(s.gt[1:]).all() for s in ds):
        if tracker is None:
            raise DatasetError(f"{ds.name} has no ground truth after frame 1: it can be run (--model) and the "
                               f"results submitted to the GOT-10k server, not scored here")
        log.info("%s has no ground truth after frame 1: submit %s to the GOT-10k server", ds.name,
                 folders[tracker_name])
        return {"dataset": ds.name, "protocol": ds.kind, "sequences": len(ds), "trackers": {},
                "submit": str(folders[tracker_name])}
    trackers = {label: score(ds, folder) for label, folder in folders.items()}
    report: Dict[str, Any] = {"dataset": ds.name, "protocol": ds.kind, "convention": CONVENTIONS[ds.kind],
                              "sequences": len(ds), "trackers": trackers}
    if ds.kind == "ope" and len(folders) > 1:
        report["comparisons"] = _paired_auc(trackers)
    report = _clean(report)
    if out_dir is not None:
        write_report(report, Path(out_dir), plots=plots)
    return report
