"""Reading an exported model folder: ``model.json`` plus the ONNX graphs it names.

``model.json`` (written by :mod:`dasiamrt.export`) holds: ``format``, ``preset``, ``network``
(name, width, feature_out, feature_channels), ``tracker`` (TrackerConfig fields), ``opset``,
``precision``, and ``graphs``: ``{template|search|kernel_update: {file, sha256, inputs, outputs}}``.
Optional ``variants``: ``{int8: {graphs: {template|search: {file, sha256}}, ...}}`` (other precisions
of some graphs, written by ``dasiamrt calibrate``; ``fp16_graphs`` of ``dasiamrt export --precision fp16``
has the same role); roles a variant lacks run the fp32 graph.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Mapping

from .. import spec
from ..config import NetworkConfig, TrackerConfig
from ..errors import ConfigError, ModelError
from ..fileio import confine
from ..fileio import sha256_file as sha256_file  # re-exported: part of this module's API
from .model_schema import FORMAT_VERSION as FORMAT_VERSION  # re-exported
from .model_schema import check_manifest


@dataclass(frozen=True)
class ModelInfo:
    """A validated model folder.

    Attributes:
        root: the folder.
        preset: preset name the model was exported with.
        network: network layout.
        tracker: tracker settings stored with the model.
        precision: "fp32", "fp16" or "int8" (of the default graphs).
        graphs: graph role -> absolute path.
        manifest: the raw ``model.json`` content.
    """

    root: Path
    preset: str
    network: NetworkConfig
    tracker: TrackerConfig
    precision: str
    graphs: Dict[str, Path]
    manifest: Mapping[str, Any]

    def graph(self, role: str) -> Path:
        """Path of the graph for ``role`` ("template", "search", "kernel_update")."""
        try:
            return self.graphs[role]
        except KeyError:
            raise ModelError(f"{self.root} has no {role} graph: re-export it with 'dasiamrt export'") from None


def read_model_dir(model_dir: str | os.PathLike[str], verify: bool = False) -> ModelInfo:
    """Load and validate ``model_dir/model.json``.

    Args:
        model_dir: folder written by ``dasiamrt export``.
        verify: also check each graph's sha256 (slow for big graphs).

    Raises:
        ModelError: missing folder/manifest/graph, unreadable JSON, a field of the wrong type or out of
            range (:mod:`dasiamrt.runtime.model_schema`, :class:`TrackerConfig`), a graph file outside
            the folder, or (``verify``) a hash mismatch.
    """
    root = Path(model_dir)
    manifest_path = root / spec.MODEL_MANIFEST
    if not manifest_path.is_file():
        raise ModelError(
            f"{root} is not a dasiamrt model folder (no {spec.MODEL_MANIFEST}): create one with "
            "'dasiamrt export --weights FILE --preset P --out DIR'"
        )
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError) as err:
        raise ModelError(f"{manifest_path} is not readable JSON ({err}): re-export the model") from None
    check_manifest(manifest, manifest_path)
    net = manifest["network"]
    network = NetworkConfig(net["name"], float(net["width"]), int(net["feature_out"]))
    try:
        tracker = TrackerConfig.from_dict(manifest["tracker"])
    except ConfigError as err:
        raise ModelError(f"{manifest_path}: {err}: fix the file or re-export the model") from None
    graphs = {role: confine(root, entry["file"], f"graphs.{role}.file", ModelError)
              for role, entry in manifest["graphs"].items()}
    for role, path in graphs.items():
        if not path.is_file():
            raise ModelError(f"{path} is missing ({role} graph of {root}): re-export the model")
        if verify and sha256_file(path) != manifest["graphs"][role].get("sha256"):
            raise ModelError(f"{path} does not match the sha256 in {manifest_path}: re-export the model")
    return ModelInfo(root, manifest.get("preset", network.name), network, tracker,
                     manifest.get("precision", "fp32"), graphs, manifest)


def precision_graphs(info: ModelInfo, precision: str) -> Dict[str, Path]:
    """Graph role -> path for ``precision``: the folder's graphs, with a variant's graphs in place of theirs.

    Raises:
        ModelError: the folder has no such variant, or a variant graph is missing.
    """
    if precision == info.precision:
        return dict(info.graphs)
    variant = info.manifest.get("variants", {}).get(precision)
    if variant is None and isinstance(info.manifest.get(f"{precision}_graphs"), Mapping):
        # "fp16_graphs", written by 'dasiamrt export --precision fp16'
        variant = {"graphs": info.manifest[f"{precision}_graphs"]}
    if not isinstance(variant, Mapping) or not variant.get("graphs"):
        from ..int8_forms import calibrate_hint

        hint = calibrate_hint(info.root) if precision == "int8" else f"dasiamrt export --precision {precision} ..."
        raise ModelError(f"{info.root} has no {precision} graphs: create them with '{hint}'")
    graphs = dict(info.graphs)
    for role, entry in variant["graphs"].items():
        path = confine(info.root, entry["file"], f"{precision} {role} graph file", ModelError)
        if not path.is_file():
            raise ModelError(f"{path} is missing ({precision} {role} graph of {info.root}): "
                             "write it again ('dasiamrt calibrate' for int8, 'dasiamrt export' for fp16)")
        graphs[role] = path
    return graphs
