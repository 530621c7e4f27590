"""Tracker-settings sweeps: every combination of a grid, one results folder each, one ranking report.

``parse_sweep("penalty_k=0.04,0.1;window_influence=0.3,0.44", base)`` gives the four combinations
as :class:`~dasiamrt.config.TrackerConfig` variants of ``base``. Keys are TrackerConfig field names
(``distractor.threshold``, ``long_term.enter_threshold``... for the nested settings); values are
converted to the field's type. :func:`run_sweep` runs them (serially on one loaded model, or on a
:class:`~dasiamrt.eval.parallel.RayPool`), each into ``<out>/results/<name>-<settings>`` (resumable like
any run, its ``config.json`` beside it), scores all folders in one report (``report.md``, plots) and
ranks them in ``sweep.md``/``sweep.json`` by the protocol's main score (AUC, AO or EAO).
"""
from __future__ import annotations

import dataclasses
import itertools
import json
import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Dict, List, Optional, Tuple

from ..config import TrackerConfig
from ..errors import ConfigError
from ..fileio import atomic_write_text
from .confidence import format_interval, paired_difference
from .datasets.base import Dataset
from .report import _COLUMNS
from .runner import Progress, run_dataset
from .scoring import auc_by_sequence

log = logging.getLogger(__name__)

#: The score a sweep is ranked by, per protocol.
RANK_BY = {"ope": ("AUC", "auc"), "got10k": ("AO", "ao"), "vot": ("EAO", "eao")}
_NESTED = ("distractor", "long_term")
_FIXED = ("exemplar_size",)  # the network's contract (spec.py), not a tracker setting


def sweepable(base: TrackerConfig) -> Dict[str, type]:
    """Setting name -> value type of every scalar setting (nested ones as ``distractor.threshold``)."""
    names: Dict[str, type] = {}
    for f in dataclasses.fields(base):
        value = getattr(base, f.name)
        if f.name in _NESTED:
            for inner in dataclasses.fields(value):
                names[f"{f.name}.{inner.name}"] = type(getattr(value, inner.name))
        elif f.name in _FIXED:
            continue
        elif f.name == "small_instance_size" or isinstance(value, (bool, int, float, str)):
            names[f.name] = int if value is None else type(value)
    return names


def _convert(key: str, kind: type, text: str) -> Any:
    if kind is bool:
        low = text.lower()
        if low not in ("true", "false", "on", "off", "1", "0"):
            raise ConfigError(f"--sweep {key}: expected true/false, got {text!r}")
        return low in ("true", "on", "1")
    try:
        return kind(float(text)) if kind is int and float(text).is_integer() else kind(text)
    except ValueError:
        raise ConfigError(f"--sweep {key}: expected {kind.__name__} values, got {text!r}") from None


def parse_sweep(spec: str, base: TrackerConfig) -> List[Tuple[str, TrackerConfig]]:
    """Parse ``"key=v1,v2;key2=w1,w2"`` into (label, settings) for every combination, in grid order.

    Returns:
        [(label like ``penalty_k=0.04,window_influence=0.3``, the TrackerConfig)].

    Raises:
        ConfigError: malformed spec, unknown or repeated setting, a value of the wrong type, or a
            combination the tracker refuses (e.g. an unsupported search size).
    """
    names = sweepable(base)
    axes: List[Tuple[str, List[Any]]] = []
    for part in (p.strip() for p in spec.split(";")):
        if not part:
            continue
        key, sep, values = part.partition("=")
        key = key.strip()
        if not sep or not values.strip():
            raise ConfigError(f"--sweep takes 'setting=v1,v2;setting2=w1,w2', got {part!r}")
        if key not in names:
            raise ConfigError(f"--sweep: unknown tracker setting {key!r}; choose from {', '.join(sorted(names))}")
        if key in (k for k, _ in axes):
            raise ConfigError(f"--sweep: {key} is given twice")
        axes.append((key, [_convert(key, names[key], v.strip()) for v in values.split(",") if v.strip()]))
    if not axes:
        raise ConfigError("--sweep names no setting: write e.g. --sweep 'penalty_k=0.04,0.1;window_influence=0.3,0.44'")
    combos = []
    for combination in itertools.product(*(v for _, v in axes)):
        changes: Dict[str, Any] = {}
        for (key, _), value in zip(axes, combination):
            outer, _, inner = key.partition(".")
            if inner:
                changes.setdefault(outer, {})[inner] = value
            else:
                changes[key] = value
        label = ",".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for (k, _), v in zip(axes, combination))
        try:
            config = base.replace(**changes)
        except (ConfigError, ValueError, TypeError) as err:
            raise ConfigError(f"--sweep: {label} is not a valid setting: {err}") from None
        combos.append((label, config))
    return combos


def ranking(report: Dict[str, Any], labels: Dict[str, str]) -> List[Dict[str, Any]]:
    """Rows of the sweep, best first: {"rank", "name", "settings", <summary scores>}; for OPE, rows after the
    first also carry ``auc_vs_best``: their paired AUC difference from the first row, with its 95% bootstrap
    interval over the sequences (:mod:`.confidence`)."""
    _, key = RANK_BY[report["protocol"]]
    rows = [{"name": name, "settings": labels[name], **{k: report["trackers"][name]["summary"].get(k)
                                                        for _, k in _COLUMNS[report["protocol"]] + [("FPS", "fps")]}}
            for name in labels]
    rows.sort(key=lambda r: -(r[key] if r[key] is not None else float("-inf")))
    for i, row in enumerate(rows, 1):
        row["rank"] = i
    if report["protocol"] == "ope" and len(rows) > 1:  # is the winner better than the others, or within noise?
        best = auc_by_sequence(report["trackers"][rows[0]["name"]])
        for row in rows[1:]:
            row["auc_vs_best"] = paired_difference(auc_by_sequence(report["trackers"][row["name"]]), best).to_dict()
    return rows


def sweep_markdown(report: Dict[str, Any], rows: List[Dict[str, Any]]) -> str:
    """The ranking as a markdown table (settings columns, then the protocol's scores)."""
    title, _ = RANK_BY[report["protocol"]]
    keys = [kv.split("=")[0] for kv in rows[0]["settings"].split(",")]
    cols = _COLUMNS[report["protocol"]] + [("FPS", "fps")]
    paired = any("auc_vs_best" in row for row in rows)
    extra = ["AUC vs rank 1, paired [95%]"] if paired else []
    lines = [f"# Sweep on {report['dataset']} ({report['sequences']} sequences), ranked by {title}", "",
             "| Rank | " + " | ".join(keys + [c for c, _ in cols] + extra) + " |",
             "|---" * (len(keys) + len(cols) + len(extra) + 1) + "|"]
    for row in rows:
        values = [kv.split("=", 1)[1] for kv in row["settings"].split(",")]
        cells = ["-" if row[k] is None else f"{row[k]:.1f}" if k in ("fps", "robustness") else
                 str(row[k]) if k == "failures" else f"{row[k]:.4f}" for _, k in cols]
        if paired:
            iv = row.get("auc_vs_best")
            cells.append(format_interval(iv, 4, signed=True) if iv else "-")
        lines.append(f"| {row['rank']} | " + " | ".join(values + cells) + " |")
    if paired:
        lines += ["", "An interval that holds 0: these sequences do not tell that setting from rank 1."]
    return "\n".join(lines) + "\n"


def run_sweep(dataset: Dataset, runner: Any, combos: List[Tuple[str, TrackerConfig]], out_dir: Path,
              name: str = "dasiamrt", progress: Optional[Progress] = None, plots: bool = True) -> Dict[str, Any]:
    """Run every combination, score them in one report and write the ranking.

    Args:
        dataset: what to run on.
        runner: a loaded :class:`~dasiamrt.runtime.tracker.Tracker` (combinations run one after the
            other on its backend) or a :class:`~dasiamrt.eval.parallel.RayPool`.
        combos: from :func:`parse_sweep`.
        out_dir: report folder; results go to ``<out_dir>/results/<name>-<label>``.
        name: prefix of the result folders.
        progress: run progress (sequence index counts over all combinations).
        plots: write the report's PNG plots.

    Returns:
        The report of :func:`dasiamrt.eval.evaluate`, with ``"sweep"``: the ranking rows.
    """
    from .evaluation import _record_config, evaluate

    out = Path(out_dir)
    jobs = [(out / "results" / f"{name}-{label}", config) for label, config in combos]
    for folder, config in jobs:
        _record_config(SimpleNamespace(config=config), folder)
    if hasattr(runner, "run_jobs"):
        runner.run_jobs(jobs, dataset, progress)
    else:
        for j, (folder, config) in enumerate(jobs):
            def shifted(i: int, n: int, seq: str, t: int, frames: int, _j: int = j) -> None:
                if progress is not None:
                    progress(_j * n + i, n * len(jobs), seq, t, frames)

            run_dataset(type(runner)(runner.backend, config), dataset, folder, shifted)
    report = evaluate(dataset, results=[f for f, _ in jobs], out_dir=out, plots=plots)
    rows = ranking(report, {f.name: label for (f, _), (label, _) in zip(jobs, combos)})
    atomic_write_text(out / "sweep.json", json.dumps({"dataset": report["dataset"], "protocol": report["protocol"],
                                                      "ranked_by": RANK_BY[report["protocol"]][1], "rows": rows},
                                                     indent=1) + "\n")
    atomic_write_text(out / "sweep.md", sweep_markdown(report, rows))
    report["sweep"] = rows
    return report
