"""Score result files against a dataset, with the protocol the dataset calls for (see ``metrics.py``).

Needs no image, except for VOT and GOT-10k bounds: the image size comes from the dataset's metadata
(GOT-10k ``meta_info.ini``, synthetic sets) or the first frame's file when present; otherwise
overlaps are not clipped to the image (logged).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple, cast

import numpy as np

from ..errors import DatasetError
from . import metrics, score_stats
from . import results as rio
from .confidence import bootstrap_mean
from .datasets.base import Dataset, Sequence

log = logging.getLogger(__name__)

CONVENTIONS = {
    "ope": "OTB/UAV toolkit OPE: 21 IoU thresholds 0..1 (strict >), per-sequence curves averaged; AUC = mean; "
           "precision at 20 px; invalid-GT frames fail success and pass precision; LaSOT drops absent frames "
           "from numerators only; AUC interval: 95% percentile bootstrap over sequences",
    "got10k": "GOT-10k toolkit: IoU pooled over frames, first and absent (cover 0) frames dropped, boxes clipped "
              "to the image; AO, SR0.5, SR0.75",
    "vot": "VOT2016-2019 baseline as pysot-toolkit: failure at zero overlap, re-init 5 frames later, 10-frame "
           "burn-in left out of accuracy (pooled); robustness = failures per 100 frames; EAO over the edition's "
           "interval",
}


def image_size(seq: Sequence) -> Optional[Tuple[float, float]]:
    """(W, H) of a sequence from its metadata or first frame file; None when unknown."""
    if "resolution" in seq.meta:
        width, height = seq.meta["resolution"]
        return (float(width), float(height))
    first = seq.frames[0] if len(seq.frames) else None
    if isinstance(first, np.ndarray):
        return (float(first.shape[1]), float(first.shape[0]))
    if first is not None and Path(first).is_file():
        import cv2

        image = cv2.imread(str(first), cv2.IMREAD_UNCHANGED)
        if image is not None:
            return (float(image.shape[1]), float(image.shape[0]))
    return None


def _frame_attribute_auc(curves: List[Dict[str, np.ndarray]], masks: List[np.ndarray]) -> Optional[Dict[str, Any]]:
    per_seq = []
    for c, mask in zip(curves, masks):
        valid = mask & (c["iou"] >= 0)
        if valid.any():
            per_seq.append((c["iou"][valid, None] > metrics.OVERLAP_THRESHOLDS[None, :]).mean(axis=0))
    if not per_seq:
        return None
    curve = np.mean(per_seq, axis=0)
    return {"auc": float(curve.mean()), "sequences": len(per_seq), "frames": int(sum(m.sum() for m in masks))}


def auc_by_sequence(result: Mapping[str, Any]) -> Dict[str, float]:
    """Sequence name -> success AUC of one :func:`score_ope` result (``result["per_sequence"]``)."""
    return {name: row["auc"] for name, row in result["per_sequence"].items()}


def score_ope(dataset: Dataset, results_dir: Path) -> Dict[str, Any]:
    """OPE scores (OTB, UAV, LaSOT, synthetic) of one result folder, with per-attribute AUCs."""
    use_absent = dataset.name.startswith("lasot")
    curves, per_sequence = [], {}
    on: List[np.ndarray] = []
    off: List[np.ndarray] = []
    for seq in dataset:
        pred = rio.read_ope(results_dir, seq.name, len(seq))
        c = metrics.ope_sequence(pred, seq.gt, seq.absent if use_absent else None)
        curves.append(c)
        frame_scores = rio.read_scores(results_dir, seq.name, len(seq))
        if frame_scores is not None:
            a, b = score_stats.on_off_scores(frame_scores, c["iou"], seq.absent)
            on.append(a)  # unknown (NaN) scores are neither on nor off target
            off.append(b)
        per_sequence[seq.name] = {"auc": float(c["success"].mean()), "precision_20": float(c["precision"][20]),
                                  "frames": len(seq)}
    summary = metrics.ope_summary(curves)
    summary["auc_interval"] = bootstrap_mean([row["auc"] for row in per_sequence.values()]).to_dict()
    attributes: Dict[str, Any] = {}
    for tag in sorted({t for seq in dataset for t in seq.tags}):
        chosen = [c for c, seq in zip(curves, dataset) if tag in seq.tags]
        attributes[tag] = {"auc": metrics.ope_summary(chosen)["auc"], "sequences": len(chosen)}
    for key in sorted({k for seq in dataset for k in seq.attributes}):
        masks = [seq.attributes.get(key, np.zeros(len(seq), bool)) for seq in dataset]
        entry = _frame_attribute_auc(curves, masks)
        if entry is not None:
            attributes[key] = entry
    out = {"summary": summary, "per_sequence": per_sequence, "attributes": attributes}
    if on:
        out["scores"] = _score_section(np.concatenate(on), np.concatenate(off))
    return out


def _score_section(on: np.ndarray, off: np.ndarray) -> Dict[str, Any]:
    """Histograms of the tracker's score on/off target and, when both exist, the thresholds they give."""
    section: Dict[str, Any] = {"histogram": score_stats.histogram(on, off),
                               "on_iou": score_stats.ON_IOU, "off_iou": score_stats.OFF_IOU}
    if len(on) and len(off):
        section["thresholds"] = score_stats.derive_thresholds(on, off)
    return section


def score_got10k(dataset: Dataset, results_dir: Path) -> Dict[str, Any]:
    """GOT-10k AO / SR of one result folder (all repetitions pooled)."""
    pooled, per_sequence = [], {}
    for seq in dataset:
        if np.isnan(seq.gt[1:]).all() and len(seq) > 1:
            raise DatasetError(f"{dataset.name} has no ground truth after frame 1 (test split): submit the results "
                               f"to the GOT-10k server instead")
        bound = image_size(seq)
        ious = np.concatenate([metrics.got10k_ious(run, seq.gt, seq.absent, bound)
                               for run in rio.read_got10k_runs(results_dir, seq.name, len(seq))])
        pooled.append(ious)
        per_sequence[seq.name] = {"ao": float(ious.mean()) if ious.size else float("nan"), "frames": len(seq)}
    return {"summary": metrics.got10k_summary(pooled), "per_sequence": per_sequence, "attributes": {}}


def score_vot(dataset: Dataset, results_dir: Path) -> Dict[str, Any]:
    """VOT accuracy, robustness, EAO (and the expected-overlap curve) of one result folder."""
    trajs, polys, bounds = [], [], []
    for seq in dataset:
        trajs.append(rio.read_vot(results_dir, seq.name, len(seq)))
        polys.append(seq.regions())
        bounds.append(image_size(seq))
    if any(b is None for b in bounds):
        log.info("image sizes unknown for some sequences: VOT overlaps are not bounded by the image")
    ar = metrics.vot_accuracy_robustness(trajs, polys, bounds)
    curve = metrics.vot_expected_overlaps(trajs, polys, bounds)
    edition = dataset.edition or 2018
    summary = {"accuracy": ar["accuracy"], "robustness": ar["robustness"], "failures": ar["failures"],
               "eao": metrics.vot_eao(curve, edition), "edition": edition, "frames": ar["frames"],
               "eao_curve": curve.tolist(), "eao_interval": list(metrics.EAO_INTERVALS[edition])}
    per_index = cast(Dict[int, Dict[str, Any]], ar["per_sequence"])
    per_sequence = {seq.name: per_index[i] for i, seq in enumerate(dataset)}
    attributes: Dict[str, Any] = {}
    for key in sorted({k for seq in dataset for k in seq.attributes}):
        over, fails = [], 0
        for seq, traj, poly, bound in zip(dataset, trajs, polys, bounds):
            mask = seq.attributes.get(key, np.zeros(len(seq), bool))
            o = metrics.vot_burnin_overlaps(traj, poly, bound)
            over.append(o[mask])
            fails += sum(1 for t, r in enumerate(traj) if mask[t] and metrics.is_code(r, metrics.VOT_FAILURE))
        allo = np.concatenate(over)
        accuracy = float(np.nanmean(allo)) if np.isfinite(allo).any() else float("nan")
        frames = sum(int(seq.attributes.get(key, np.zeros(0, bool)).sum()) for seq in dataset)
        if frames:
            attributes[key] = {"accuracy": accuracy, "failures": int(fails), "frames": frames}
    return {"summary": summary, "per_sequence": per_sequence, "attributes": attributes}


def score(dataset: Dataset, results_dir: Path) -> Dict[str, Any]:
    """Score one result folder with the dataset's protocol; adds mean FPS when time files exist."""
    scorer = {"ope": score_ope, "got10k": score_got10k, "vot": score_vot}[dataset.kind]
    out = scorer(dataset, Path(results_dir))
    times = [rio.read_times(results_dir, seq.name) for seq in dataset]
    frames = [t for t in times if t is not None and t.size]
    if frames:
        out["summary"]["fps"] = float(1.0 / np.mean(np.concatenate(frames)))
    return out
