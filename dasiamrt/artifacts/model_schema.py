"""The one schema check of ``model.json``, run by :meth:`.model_folder.ModelFolder.open` on load.

Layout (written by :mod:`.model_folder` for ``dasiamrt export``; ``variants`` for ``dasiamrt export
--precision fp16`` and ``dasiamrt calibrate``)::

    {"format": 1, "preset": str, "precision": "fp32"|"fp16"|"int8", "opset": int,
     "network": {"name": str, "width": number > 0, "feature_out": int > 0, "feature_channels": int?,
                 "backbone": "alexnet" | "mobilenetv2" (absent: alexnet)},
     "tracker": {TrackerConfig fields, checked by TrackerConfig itself: types and ranges},
     "graphs": {"template": GRAPH, "search": GRAPH, "kernel_update": GRAPH?},
     "fp16_graphs": {role: GRAPH}?, "variants": {any name: {"graphs": {role: GRAPH}, ...}}?, ...}
    GRAPH = {"file": a file name inside the model folder, "sha256": 64 hex digits?, ...}

Every problem is one :class:`~dasiamrt.errors.ModelError` naming the field, what it must be and the
fix. Graph files are confined to the model folder (:func:`dasiamrt.fileio.confine`). Whether each
graph really has the inputs and outputs of its role is checked when a backend opens it
(:mod:`dasiamrt.runtime.graph_io`).
"""
from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Mapping, Tuple

from ..config import BACKBONES
from ..errors import ModelError
from ..fileio import confine

FORMAT_VERSION = 1
PRECISIONS = ("fp32", "fp16", "int8")
REQUIRED_ROLES = ("template", "search")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _fail(path: Path, what: str) -> ModelError:
    return ModelError(f"{path}: {what}: fix the file or re-export the model ('dasiamrt export')")


def check_manifest(data: Any, path: Path) -> None:
    """Check the structure of a parsed ``model.json`` (``path`` names it in messages).

    The tracker block is checked by :meth:`dasiamrt.config.TrackerConfig.from_dict`.

    Raises:
        ModelError: the first problem found.
    """
    if not isinstance(data, dict):
        raise _fail(path, f"expected a JSON object, found {_kind(data)}")
    if data.get("format") != FORMAT_VERSION:
        raise ModelError(f"{path} has format {data.get('format')!r}; this dasiamrt reads {FORMAT_VERSION}: re-export")
    for key in ("network", "tracker", "graphs"):
        if not isinstance(data.get(key), dict):
            raise _fail(path, f"'{key}' must be an object, found {_kind(data.get(key))}")
    if not isinstance(data.get("preset", ""), str):
        raise _fail(path, f"'preset' must be a name, found {data.get('preset')!r}")
    if data.get("precision", "fp32") not in PRECISIONS:
        raise _fail(path, f"'precision' must be one of {', '.join(PRECISIONS)}, found {data.get('precision')!r}")
    _check_network(data["network"], path)
    root = path.parent
    _check_graphs(data["graphs"], root, path, "graphs", REQUIRED_ROLES)
    if "fp16_graphs" in data:
        _check_graphs(data["fp16_graphs"], root, path, "fp16_graphs", ())
    variants = data.get("variants", {})
    if not isinstance(variants, dict):
        raise _fail(path, f"'variants' must be an object of named variants, found {_kind(variants)}")
    for name, variant in variants.items():
        if not isinstance(variant, dict):
            raise _fail(path, f"variant {name!r} must be an object with 'graphs', found {_kind(variant)}")
        _check_graphs(variant.get("graphs"), root, path, f"variants.{name}.graphs", ())


def _check_network(net: Mapping[str, Any], path: Path) -> None:
    if not isinstance(net.get("name"), str) or not net["name"]:
        raise _fail(path, f"network.name must be a preset name, found {net.get('name')!r}")
    width: Any = net.get("width")
    if not (_is_number(width) and float(width) > 0):
        raise _fail(path, f"network.width must be a number > 0, found {width!r}")
    if "backbone" in net and net["backbone"] not in BACKBONES:
        raise _fail(path, f"network.backbone must be one of {', '.join(BACKBONES)}, found {net['backbone']!r}")
    for key in ("feature_out", "feature_channels"):
        value: Any = net.get(key)
        if (key in net or key == "feature_out") and not (_is_int(value) and int(value) > 0):
            raise _fail(path, f"network.{key} must be an integer > 0, found {value!r}")


def _check_graphs(graphs: Any, root: Path, path: Path, where: str, required: Tuple[str, ...]) -> None:
    if not isinstance(graphs, dict) or (not graphs and not required):
        raise _fail(path, f"'{where}' must be an object of graph roles, found {_kind(graphs)}")
    missing = [role for role in required if role not in graphs]
    if missing:
        raise _fail(path, f"'{where}' lacks the {' and '.join(missing)} graph")
    for role, entry in graphs.items():
        if not isinstance(entry, dict):
            raise _fail(path, f"{where}.{role} must be an object with 'file', found {_kind(entry)}")
        confine(root, entry.get("file"), f"{where}.{role}.file", ModelError)
        sha = entry.get("sha256")
        if sha is not None and not (isinstance(sha, str) and _SHA256.match(sha)):
            raise _fail(path, f"{where}.{role}.sha256 must be 64 hex digits, found {sha!r}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


_JSON_KINDS = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "a number",
               float: "a number"}


def _kind(value: Any) -> str:
    """How a JSON value looks, for messages: ``an array [1, 2]``."""
    if value is None:
        return "nothing"
    return f"{_JSON_KINDS.get(type(value), type(value).__name__)} {str(value)[:40]}"
