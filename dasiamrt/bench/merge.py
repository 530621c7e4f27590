"""``dasiamrt bench --merge a.json b.json ...``: reports from several machines -> one table + bar chart.

Report formats read:

* what ``dasiamrt bench --json`` writes (:class:`dasiamrt.bench.run.BenchReport`)::

    {"model": ..., "machine": {"cpu": ..., "gpu": {...}?, ...},
     "results": [{"case": {"backend", "precision", "search_size", "da"}, "fps": ..., "loop_ms": {"median": ...}}]}

  (the machine block gets its GPU/CUDA/TensorRT keys from :func:`dasiamrt.bench.env.system_info`);
* a flat form for hand-made or external numbers::

    {"env": {...}, "rows": [{"backend": "trt", "precision": "fp16", "size": 255, "ms": 3.1, "fps": 322.6}]}

  where a row needs ``ms`` or ``fps`` (positive numbers; one is derived from the other) and at least
  one of ``preset``, ``backend``, ``precision``, ``size``, ``da`` (its label).

Each column is one report: its machine (GPU name, else CPU, else the file name) and, when the report
names it, the model measured (``vot (random weights)``, ``tiny``...), so reports of two models on one
machine are not mistaken for two machines. Anything else is a one-line :class:`DatasetError`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..errors import DatasetError
from .env import machine_label

_KEY_FIELDS = ("preset", "backend", "precision", "size", "da")


def _load(path: Path) -> Tuple[str, List[Dict[str, Any]]]:
    """(column label, rows with "ms" and "fps") of one report.

    Raises:
        DatasetError: unreadable, not a bench report, or a row without a label or a positive time.
    """
    hint = "write it with `dasiamrt bench --json`"
    try:
        data = json.loads(Path(path).read_text())
        rows = [_flat(r) for r in data["results"]] if "results" in data else list(data["rows"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise DatasetError(f"{path} is not a dasiamrt bench report ({type(err).__name__}: {err}): {hint}") from None
    if not rows:
        raise DatasetError(f"{path} has no result rows: {hint}")
    env = data.get("machine") or data.get("env") or {}
    label = machine_label(env) if isinstance(env, dict) and (env.get("cpu") or env.get("gpu")) else Path(path).stem
    model = _model_name(data.get("model"))
    for number, row in enumerate(rows, 1):
        where = f"{path}: row {number}"
        if not isinstance(row, dict) or not any(row.get(k) is not None for k in _KEY_FIELDS):
            raise DatasetError(f"{where} names no configuration (none of {', '.join(_KEY_FIELDS)}): {hint}")
        if "ms" not in row and "fps" not in row:
            raise DatasetError(f"{where} has neither 'ms' nor 'fps': {hint}")
        for key in ("ms", "fps"):
            if key in row and not _positive(row[key]):
                raise DatasetError(f"{where} has {key} {row[key]!r}: it must be a number > 0; {hint}")
        if "fps" not in row:
            row["fps"] = 1000.0 / float(row["ms"])
        if "ms" not in row:
            row["ms"] = 1000.0 / float(row["fps"])
    return (f"{label} · {model}" if model else label), rows


def _positive(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0


def _model_name(value: Any) -> str:
    """The model of a report: ``"tiny"`` from ``"/x/models/tiny, backend ort fp32"``; empty when absent."""
    if not isinstance(value, str) or not value.strip():
        return ""
    text = value.split(", backend")[0].strip().rstrip("/")
    return Path(text).name if "/" in text and "(" not in text else text


def _flat(result: Dict[str, Any]) -> Dict[str, Any]:
    """A :class:`dasiamrt.bench.run.BenchResult` dict as a flat row (the loop's median ms per frame)."""
    case = result["case"]
    return {
        "backend": case["backend"],
        "precision": case["precision"],
        "size": case["search_size"],
        "da": case.get("da"),
        "fps": float(result["fps"]),
        "ms": float(result["loop_ms"]["median"]),
    }


def _row_key(row: Dict[str, Any]) -> str:
    parts = []
    for name in _KEY_FIELDS:
        if row.get(name) is not None:
            value = row[name]
            parts.append(("DA" if value else "no DA") if name == "da" else str(value))
    return " ".join(parts)


def _unique(labels: List[str]) -> List[str]:
    seen: Dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label} ({seen[label]})")
    return out


def merge_table(paths: Sequence[Path]) -> Tuple[List[str], List[str], Dict[Tuple[str, str], Dict[str, float]]]:
    """(machine labels, row labels, {(row, machine): {"ms", "fps"}}) of several reports."""
    loaded = [_load(Path(p)) for p in paths]
    machines = _unique([label for label, _ in loaded])
    rows: List[str] = []
    cells: Dict[Tuple[str, str], Dict[str, float]] = {}
    for machine, (_, report_rows) in zip(machines, loaded):
        for row in report_rows:
            key = _row_key(row)
            if key not in rows:
                rows.append(key)
            cells[(key, machine)] = {"ms": float(row["ms"]), "fps": float(row["fps"])}
    return machines, rows, cells


def merge_reports(paths: Sequence[Path], png_path: Optional[Path] = None) -> Tuple[str, Optional[Path]]:
    """Merge reports into a markdown table (ms per frame, FPS) and a PNG grouped bar chart of FPS.

    Args:
        paths: report JSON files, one per machine/run.
        png_path: where to write the chart (default: next to the first report, ``bench_merged.png``);
            no chart when matplotlib is missing (returns None).

    Raises:
        DatasetError: a file is not a bench report.
    """
    if not paths:
        raise DatasetError("give at least one bench report to merge")
    machines, rows, cells = merge_table(paths)
    lines = ["| configuration | " + " | ".join(machines) + " |", "|---|" + "---:|" * len(machines)]
    for row in rows:
        vals = [
            f"{cells[(row, m)]['ms']:.1f} ms ({cells[(row, m)]['fps']:.0f} FPS)" if (row, m) in cells else "-"
            for m in machines
        ]
        lines.append(f"| {row} | " + " | ".join(vals) + " |")
    markdown = "\n".join(lines) + "\n"
    png = Path(png_path) if png_path else Path(paths[0]).with_name("bench_merged.png")
    return markdown, _bar_chart(machines, rows, cells, png)


def _bar_chart(
    machines: List[str], rows: List[str], cells: Dict[Tuple[str, str], Dict[str, float]], png: Path
) -> Optional[Path]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    import io

    from ..fileio import atomic_write_bytes

    width = 0.8 / max(len(machines), 1)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(rows) + 2), 4))
    for i, machine in enumerate(machines):
        xs = [j + i * width for j in range(len(rows))]
        ax.bar(xs, [cells.get((r, machine), {}).get("fps", 0.0) for r in rows], width, label=machine)
    ax.set_xticks([j + width * (len(machines) - 1) / 2 for j in range(len(rows))])
    ax.set_xticklabels(rows, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("frames per second (network only)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    plt.close(fig)
    atomic_write_bytes(png, buf.getvalue())
    return png
