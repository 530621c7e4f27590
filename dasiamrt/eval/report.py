"""Evaluation reports: ``report.json``, ``report.md`` and PNG plots (matplotlib, imported lazily, Agg).

One report holds one or several result sets ("trackers") on one dataset, so several result folders
give one comparison table and one plot per figure.
"""
from __future__ import annotations

import io
import json
import logging
from pathlib import Path
from typing import Any, Dict, List

import numpy as np

from ..fileio import atomic_write_bytes, atomic_write_text
from . import metrics
from .confidence import format_interval

log = logging.getLogger(__name__)

_COLUMNS = {
    "ope": [("AUC", "auc"), ("Prec@20px", "precision_20"), ("NormPrec@0.2", "norm_precision_20"),
            ("SR@0.5", "success_rate_50")],
    "got10k": [("AO", "ao"), ("SR0.5", "sr_50"), ("SR0.75", "sr_75")],
    "vot": [("EAO", "eao"), ("Accuracy", "accuracy"), ("Robustness", "robustness"), ("Failures", "failures")],
}


def _cell(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return "-" if not np.isfinite(value) else f"{value:.{digits}f}"


def _score(value: Any) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def markdown(report: Dict[str, Any]) -> str:
    """The report as markdown: a summary table, then per-attribute scores when there are any."""
    kind = report["protocol"]
    trackers: Dict[str, Any] = report["trackers"]
    cols = _COLUMNS[kind] + [("FPS", "fps")]
    lines = [f"# {report['dataset']} ({len(next(iter(trackers.values()))['per_sequence'])} sequences)", "",
             f"Protocol: {report['convention']}.", "",
             "| Tracker | " + " | ".join(c for c, _ in cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for label, result in trackers.items():
        cells = [_cell(result["summary"].get(k), 1 if k in ("fps", "robustness") else 4) for _, k in cols]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += _interval_lines(report)
    attrs = sorted({a for r in trackers.values() for a in r["attributes"]})
    if attrs:
        key = "accuracy" if kind == "vot" else "auc"
        lines += ["", f"Per attribute ({'accuracy' if kind == 'vot' else 'success AUC'}; sequence tags over their "
                      f"sequences, per-frame attributes over their frames):", "",
                  "| Attribute | " + " | ".join(trackers) + " |", "|---" * (len(trackers) + 1) + "|"]
        for attr in attrs:
            cells = [_cell(r["attributes"].get(attr, {}).get(key), 3) for r in trackers.values()]
            lines.append(f"| {attr} | " + " | ".join(cells) + " |")
    lines += _score_lines(trackers)
    return "\n".join(lines) + "\n"


def _interval_lines(report: Dict[str, Any]) -> List[str]:
    """OPE: each tracker's mean AUC with its 95% bootstrap interval over sequences, and paired differences."""
    trackers = report["trackers"]
    if report["protocol"] != "ope" or not all("auc_interval" in r["summary"] for r in trackers.values()):
        return []
    lines = ["", "Mean AUC with its 95% interval (percentile bootstrap over sequences)"
             + (", and the paired difference from the first tracker (an interval holding 0: not shown by these "
                "sequences):" if report.get("comparisons") else ":"), ""]
    comparisons = report.get("comparisons") or {}
    for label, r in trackers.items():
        vs = comparisons.get(label)
        lines.append(f"- {label}: AUC {format_interval(r['summary']['auc_interval'], 4)}"
                     + (f"; vs {vs['baseline']}: {format_interval(vs['auc_difference'], 4, True)}" if vs else ""))
    return lines


def _score_lines(trackers: Dict[str, Any]) -> List[str]:
    """Score histograms on/off target per tracker (when its run kept scores) and the thresholds they give."""
    scored = {label: r["scores"] for label, r in trackers.items() if r.get("scores")}
    if not scored:
        return []
    first = next(iter(scored.values()))
    lines = ["", f"Tracker score on target (IoU >= {first['on_iou']}) vs off target (IoU < {first['off_iou']} or "
                 "target absent), frames after the first; thresholds derived from them (enter/leave `lost`, "
                 "distractor h; see `dasiamrt.eval.score_stats`):", "",
             "| Tracker | on frames | off frames | median on | median off | enter | leave | h |", "|---" * 8 + "|"]
    for label, sec in scored.items():
        h, t = sec["histogram"], sec.get("thresholds") or {}
        cells = [h["on_frames"], h["off_frames"], _cell(h["on_median"], 3), _cell(h["off_median"], 3),
                 _cell(t.get("enter"), 3), _cell(t.get("leave"), 3), _cell(t.get("distractor"), 3)]
        lines.append(f"| {label} | " + " | ".join(str(c) for c in cells) + " |")
    bins = first["histogram"]["bins"]
    lines += ["", "Score histogram (frames per bin, on / off target):", "",
              "| score | " + " | ".join(scored) + " |", "|---" * (len(scored) + 1) + "|"]
    for k in range(len(bins) - 1):
        cells = [f"{sec['histogram']['on'][k]} / {sec['histogram']['off'][k]}" for sec in scored.values()]
        lines.append(f"| {bins[k]:.2f}-{bins[k + 1]:.2f} | " + " | ".join(cells) + " |")
    return lines


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        log.warning("matplotlib is not installed (pip install 'dasiamrt[eval]'): writing no plots")
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> Path:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    atomic_write_bytes(path, buffer.getvalue())
    return path


def _curves(plt: Any, report: Dict[str, Any], out: Path) -> List[Path]:
    kind, trackers, written = report["protocol"], report["trackers"], []
    figures = {"ope": [("success.png", metrics.OVERLAP_THRESHOLDS, "success_curve", "auc", "Overlap threshold",
                        "Success rate", "AUC"),
                       ("precision.png", metrics.ERROR_THRESHOLDS, "precision_curve", "precision_20",
                        "Location error threshold (px)", "Precision", "P@20")],
               "got10k": [("success.png", metrics.GOT10K_THRESHOLDS, "success_curve", "ao", "Overlap threshold",
                           "Success rate", "AO")]}.get(kind, [])
    for name, xs, curve_key, score_key, xlabel, ylabel, tag in figures:
        fig, ax = plt.subplots(figsize=(5.5, 4))
        for label, r in sorted(trackers.items(), key=lambda kv: -(kv[1]["summary"][score_key] or 0.0)):
            ax.plot(xs, r["summary"][curve_key], label=f"{label} [{tag} {_score(r['summary'][score_key])}]")
        ax.set(xlabel=xlabel, ylabel=ylabel, ylim=(0, 1.02), xlim=(xs[0], xs[-1]), title=report["dataset"])
        ax.grid(alpha=0.3)
        ax.legend(loc="lower left" if curve_key == "success_curve" else "lower right", fontsize=8)
        written.append(_save(fig, out / name))
        plt.close(fig)
    if kind == "vot":
        fig, ax = plt.subplots(figsize=(5.5, 4))
        for label, r in trackers.items():
            curve = r["summary"]["eao_curve"]
            ax.plot(np.arange(1, len(curve) + 1), curve, label=f"{label} [EAO {_score(r['summary']['eao'])}]")
        low, high = next(iter(trackers.values()))["summary"]["eao_interval"]
        ax.axvspan(low, high, color="grey", alpha=0.15, label=f"interval [{low}, {high}]")
        ax.set(xlabel="Sequence length (frames)", ylabel="Expected average overlap", ylim=(0, 1.02),
               title=report["dataset"])
        ax.legend(fontsize=8)
        written.append(_save(fig, out / "eao.png"))
        plt.close(fig)
    return written


def _attribute_bars(plt: Any, report: Dict[str, Any], out: Path) -> List[Path]:
    trackers = report["trackers"]
    key = "accuracy" if report["protocol"] == "vot" else "auc"
    attrs = sorted({a for r in trackers.values() for a in r["attributes"]})
    if not attrs:
        return []
    fig, ax = plt.subplots(figsize=(max(5.5, 0.9 * len(attrs) * max(1, len(trackers)) / 2 + 3), 4))
    width = 0.8 / len(trackers)
    for i, (label, r) in enumerate(trackers.items()):
        values = [r["attributes"].get(a, {}).get(key) for a in attrs]
        values = [np.nan if v is None else v for v in values]
        ax.bar(np.arange(len(attrs)) + (i - (len(trackers) - 1) / 2) * width, values, width, label=label)
    ax.set_xticks(np.arange(len(attrs)))
    ax.set_xticklabels(attrs, rotation=30, ha="right")
    ax.set(ylabel="Accuracy" if key == "accuracy" else "Success AUC", ylim=(0, 1), title=f"{report['dataset']}: "
           "per attribute")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    path = _save(fig, out / "attributes.png")
    plt.close(fig)
    return [path]


def write_report(report: Dict[str, Any], out_dir: Path, plots: bool = True) -> List[Path]:
    """Write ``report.json``, ``report.md`` and (with matplotlib) the plots into ``out_dir``.

    Returns:
        The files written.
    """
    out = Path(out_dir)
    written = [atomic_write_text(out / "report.json", json.dumps(report, indent=1, sort_keys=False) + "\n"),
               atomic_write_text(out / "report.md", markdown(report))]
    plt = _pyplot() if plots else None
    if plt is not None:
        written += _curves(plt, report, out) + _attribute_bars(plt, report, out)
    return written
