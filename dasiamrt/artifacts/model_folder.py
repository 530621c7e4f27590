"""The model folder: ``model.json`` and the ONNX graphs it names. The one module that reads and writes it.

``model.json`` holds ``format``, ``preset``, ``network`` (name, width, feature_out, feature_channels),
``tracker`` (:class:`~dasiamrt.config.TrackerConfig` fields), ``opset``, ``precision`` and
``graphs``: ``{template|search|kernel_update: {file, sha256, inputs, outputs}}`` (written by
``dasiamrt export``, :func:`create_model_folder`). Other precisions of some graphs are ``variants``,
all of one shape: ``{name: {"graphs": {role: {file, sha256}}, ...}}``: ``fp16`` (``dasiamrt export
--precision fp16``) and the INT8 forms ``int8``, ``int8-cpu``, ``int8-cpu-w7``, ``int8-fp16`` (``dasiamrt calibrate``,
:mod:`dasiamrt.int8_forms`); roles a variant lacks run the fp32 graph. Folders written before fp16
became a variant list its graphs under a top-level ``fp16_graphs``: read as the ``fp16`` variant, and
still written beside it, so that an older dasiamrt (a board that was not updated) finds them too.

Every stage meets the folder here: export creates it, calibrate adds INT8 variants (to a copy with
``--out``), the engine builder and the runtime read it. The schema check is
:mod:`.model_schema`; graph files never leave the folder (:func:`dasiamrt.fileio.confine`).
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

from .. import spec
from ..config import ALEXNET, NetworkConfig, TrackerConfig
from ..errors import ConfigError, ModelError
from ..fileio import atomic_write_json, confine, sha256_file
from .model_schema import FORMAT_VERSION, check_manifest

#: the pre-variant key of the fp16 graphs (read, and mirrored on write, for older readers).
LEGACY_FP16_KEY = "fp16_graphs"
FP16 = "fp16"


@dataclass(frozen=True)
class ModelFolder:
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

    @classmethod
    def open(cls, model_dir: str | os.PathLike[str], verify: bool = False) -> "ModelFolder":
        """Load and validate ``model_dir/model.json``.

        Args:
            model_dir: folder written by ``dasiamrt export``.
            verify: also check each graph's sha256 (slow for big graphs).

        Raises:
            ModelError: missing folder/manifest/graph, unreadable JSON, a field of the wrong type or out of
                range (:mod:`.model_schema`, :class:`TrackerConfig`), a graph file outside the folder, or
                (``verify``) a hash mismatch.
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
        network = NetworkConfig(net["name"], float(net["width"]), int(net["feature_out"]), net.get("backbone", ALEXNET))
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
        return cls(root, manifest.get("preset", network.name), network, tracker,
                   manifest.get("precision", "fp32"), graphs, manifest)

    def graph(self, role: str) -> Path:
        """Path of the graph for ``role`` ("template", "search", "kernel_update")."""
        try:
            return self.graphs[role]
        except KeyError:
            raise ModelError(f"{self.root} has no {role} graph: re-export it with 'dasiamrt export'") from None

    # -- variants ----------------------------------------------------------------------------------
    @property
    def variants(self) -> Dict[str, Mapping[str, Any]]:
        """Variant name -> entry (``{"graphs": {role: {file, sha256}}, ...}``), the legacy fp16 key included."""
        out: Dict[str, Mapping[str, Any]] = dict(self.manifest.get("variants") or {})
        legacy = self.manifest.get(LEGACY_FP16_KEY)
        if FP16 not in out and isinstance(legacy, Mapping):
            out[FP16] = {"graphs": legacy}
        return out

    def has_variant(self, name: str) -> bool:
        """Whether ``name`` is recorded with at least one graph."""
        entry = self.variants.get(name)
        return isinstance(entry, Mapping) and bool(entry.get("graphs"))

    def variant_graphs(self, name: str, verify: bool = False) -> Dict[str, Path]:
        """Role -> path of the graphs variant ``name`` has (``kernel_update`` has no INT8 form).

        Raises:
            ModelError: the variant is not recorded, a file is missing, or (``verify``) a sha256 mismatch.
        """
        if not self.has_variant(name):
            what = f"INT8 graphs of the {name} form" if _is_int8(name) else f"{name} graphs"
            raise ModelError(f"{self.root} has no {what}: create them with '{_hint(self.root, name)}'")
        paths = {}
        for role, entry in self.variants[name]["graphs"].items():
            path = confine(self.root, entry.get("file"), f"{name} {role} graph file", ModelError)
            if not path.is_file() or (verify and sha256_file(path) != entry.get("sha256")):
                raise ModelError(f"{path} is missing or does not match model.json: write it again "
                                 f"('{_hint(self.root, name)}')")
            paths[role] = path
        return paths

    def graphs_for(self, precision: str) -> Dict[str, Path]:
        """Role -> path for ``precision`` (or a variant name): the folder's graphs with the variant's in place.

        Raises:
            ModelError: the folder has no such variant, or a variant graph is missing.
        """
        if precision == self.precision:
            return dict(self.graphs)
        return {**self.graphs, **self.variant_graphs(precision)}

    def fingerprint(self) -> Dict[str, str]:
        """sha256 of the fp32 template and search graphs (what a calibration set is made for)."""
        return {role: sha256_file(self.graph(role)) for role in ("template", "search")}

    def files(self) -> List[str]:
        """Every graph file ``model.json`` names (default graphs and variants), relative to the folder."""
        names = [entry["file"] for entry in self.manifest.get("graphs", {}).values()]
        names += [entry["file"] for entry in (self.manifest.get(LEGACY_FP16_KEY) or {}).values()]
        for variant in self.variants.values():
            names += [entry["file"] for entry in variant.get("graphs", {}).values()]
        return sorted(set(names))

    # -- writing -------------------------------------------------------------------------------------
    def with_variants(self, entries: Mapping[str, Mapping[str, Any]]) -> "ModelFolder":
        """Record ``entries`` (name -> entry whose ``graphs`` map role -> file name in the folder) in
        ``model.json``, each graph's sha256 computed here; returns the folder as read back.

        Raises:
            ModelError: a graph file is missing or outside the folder.
        """
        manifest = dict(self.manifest)
        variants = dict(manifest.get("variants") or {})
        for name, entry in entries.items():
            graphs = {}
            for role, file in entry["graphs"].items():
                name_only = file["file"] if isinstance(file, Mapping) else str(file)
                path = confine(self.root, name_only, f"{name} {role} graph file", ModelError)
                graphs[role] = {"file": name_only, "sha256": sha256_file(path)}
            variants[name] = {**entry, "graphs": graphs}
            if name == FP16:  # older readers know fp16 graphs by this key only
                manifest[LEGACY_FP16_KEY] = graphs
        manifest["variants"] = variants
        atomic_write_json(self.root / spec.MODEL_MANIFEST, manifest)
        return ModelFolder.open(self.root)

    def copy_to(self, out_dir: str | os.PathLike[str]) -> "ModelFolder":
        """Copy ``model.json`` and every graph it names into ``out_dir`` (engines stay behind).

        Nothing is copied when ``out_dir`` is this folder.

        Raises:
            ConfigError: ``out_dir`` holds another model (different fp32 graphs) or is a file.
        """
        dst = Path(out_dir)
        if dst.exists() and not dst.is_dir():
            raise ConfigError(f"--out {dst} is a file: give a folder")
        if dst.resolve() == self.root.resolve():
            return self
        if (dst / spec.MODEL_MANIFEST).is_file():
            if ModelFolder.open(dst).fingerprint() != self.fingerprint():
                raise ConfigError(f"--out {dst} holds another model: give an empty folder or that model's own folder")
        dst.mkdir(parents=True, exist_ok=True)
        for name in self.files():
            if (self.root / name).is_file():
                shutil.copyfile(self.root / name, dst / name)
        shutil.copyfile(self.root / spec.MODEL_MANIFEST, dst / spec.MODEL_MANIFEST)  # last: the graphs it names exist
        return ModelFolder.open(dst)


def is_model_folder(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` holds a ``model.json`` (not yet whether it is valid: :meth:`ModelFolder.open` says)."""
    return (Path(path) / spec.MODEL_MANIFEST).is_file()


def publish_model_folder(staged: Path, out_dir: Path) -> None:
    """Move the files of a folder written in ``staged`` into ``out_dir``, ``model.json`` last: a folder whose
    manifest is in place has every graph it names (an export stopped half-way leaves no new manifest)."""
    out_dir.mkdir(exist_ok=True)
    for item in sorted(staged.iterdir(), key=lambda p: p.name == spec.MODEL_MANIFEST):
        os.replace(item, out_dir / item.name)


def fp16_name(graph_file: str) -> str:
    """File of the fp16 variant of a graph: ``search.onnx`` -> ``search.fp16.onnx``."""
    stem = graph_file[:-5] if graph_file.endswith(".onnx") else graph_file
    return f"{stem}.fp16.onnx"


def read_model_dir(model_dir: str | os.PathLike[str], verify: bool = False) -> ModelFolder:
    """:meth:`ModelFolder.open` (the name every stage calls it by)."""
    return ModelFolder.open(model_dir, verify)


def precision_graphs(info: ModelFolder, precision: str) -> Dict[str, Path]:
    """:meth:`ModelFolder.graphs_for`."""
    return info.graphs_for(precision)


def create_model_folder(root: Path, preset: str, network: NetworkConfig, tracker: TrackerConfig,
                        graphs: Mapping[str, Mapping[str, Any]], extra: Optional[Mapping[str, Any]] = None) -> Path:
    """Write ``model.json`` for fp32 graphs already in ``root`` (the export's manifest).

    Args:
        graphs: role -> ``{"file": name in root, "inputs": ..., "outputs": ...}``; the sha256 is added here.
        extra: more top-level keys (the ONNX Runtime check, the weights' sha256...).

    Returns:
        The ``model.json`` path.
    """
    manifest = {
        "format": FORMAT_VERSION,
        "preset": preset,
        "network": {"name": network.name, "width": network.width, "feature_out": network.feature_out,
                    "feature_channels": network.feature_channels, "backbone": network.backbone},
        "tracker": tracker.to_dict(),
        "opset": spec.OPSET,
        "precision": "fp32",
        "graphs": {role: {"file": entry["file"], "sha256": sha256_file(root / entry["file"]),
                          **{k: v for k, v in entry.items() if k != "file"}}
                   for role, entry in graphs.items()},
        **(extra or {}),
    }
    return atomic_write_json(root / spec.MODEL_MANIFEST, manifest)


def _is_int8(name: str) -> bool:
    from ..int8_forms import FORMS

    return name in FORMS


def _hint(root: Path, name: str) -> str:
    """The command that writes variant ``name``."""
    from ..int8_forms import calibrate_hint

    return calibrate_hint(root, name) if _is_int8(name) else f"dasiamrt export --precision {name} ..."
