"""Optimization profiles of the three engines, derived from the model contract (:mod:`dasiamrt.spec`).

* template engine: exemplar crops (N, 3, 127, 127), one profile N in 1..n_max+1 (the target plus up
  to ``n_max`` distractors, :class:`~dasiamrt.config.DistractorConfig`), optimised for N = 1.
* search engine: one STATIC profile per search side H (255/271/287 and 767 for the long-term
  ``lost`` state); each becomes its own execution context (and CUDA graph) at run time, so
  switching 255 <-> 767 is choosing a context. The kernels (10, F, 4, 4) and (20, F, 4, 4) are
  inputs.
* kernel_update engine (distractor-aware fusion): one static profile per score side S of those
  search sizes (17 for 255, 81 for 767): features (1, C, S+5, S+5), weight map (1, 1, S, S).

Each profile also lists its output shapes, which size the device buffers.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from .. import spec
from ..config import TrackerConfig
from ..errors import ModelError
from ..runtime.backends.trt_manifest import ProfileInfo, ShapeRange

KERNEL_UPDATE_GRAPH = "kernel_update"


@dataclass(frozen=True)
class ModelInfo:
    """The parts of an exported model's ``model.json`` the engine builder needs.

    Attributes:
        model_dir: the model folder.
        feature_out: F, channels of the correlation kernels.
        feature_channels: C, channels of the backbone features.
        tracker: the tracker settings exported with the model.
        graphs: graph name ("template", "search", "kernel_update") -> ONNX file path.
        sha256: graph name -> sha256 recorded by export (may be empty).
    """

    model_dir: Path
    feature_out: int
    feature_channels: int
    tracker: TrackerConfig
    graphs: Dict[str, Path]
    sha256: Dict[str, str]


def read_model_info(model_dir: Path) -> ModelInfo:
    """Read ``<model_dir>/model.json`` (written by ``dasiamrt export``).

    Raises:
        ModelError: missing or malformed manifest, or a listed graph file is missing.
    """
    model_dir = Path(model_dir)
    path = model_dir / spec.MODEL_MANIFEST
    if not path.is_file():
        raise ModelError(f"{model_dir} has no {spec.MODEL_MANIFEST}: export the model first with `dasiamrt export`")
    try:
        data = json.loads(path.read_text())
        network = data["network"]
        graphs = {name: model_dir / g["file"] for name, g in data["graphs"].items()}
        sha = {name: str(g.get("sha256", "")) for name, g in data["graphs"].items()}
        tracker = TrackerConfig.from_dict(data.get("tracker", {}))
        info = ModelInfo(model_dir, int(network["feature_out"]), int(network["feature_channels"]), tracker, graphs, sha)
    except (ValueError, KeyError, TypeError) as err:
        raise ModelError(f"{path} is malformed ({err}): export the model again") from None
    for name in ("template", "search"):
        if name not in graphs or not graphs[name].is_file():
            raise ModelError(f"{model_dir} lacks the {name} graph: export the model again")
    return info


def search_sizes(tracker: TrackerConfig) -> Tuple[int, ...]:
    """Every search side the engines serve: the tracker's sizes plus the long-term ``lost`` size.

    The lost size is included even when long-term mode is off, so turning it on at run time
    needs no rebuild.
    """
    sizes = set(tracker.search_sizes()) | {tracker.long_term.lost_instance_size}
    return tuple(sorted(spec.check_search_size(s) for s in sizes))


def template_profiles(feature_out: int, n_max: int) -> List[ProfileInfo]:
    """One profile, N in 1..n_max+1 exemplars, optimised for N = 1 (the init frame)."""
    n_hi = n_max + 1
    z = (3, spec.EXEMPLAR_SIZE, spec.EXEMPLAR_SIZE)
    k = spec.KERNEL_SIZE
    return [
        ProfileInfo(
            key=n_hi,
            inputs={spec.TEMPLATE_INPUT: ShapeRange((1,) + z, (1,) + z, (n_hi,) + z)},
            outputs={
                spec.CLS_KERNEL: (n_hi, 2 * spec.ANCHOR_NUM, feature_out, k, k),
                spec.REG_KERNEL: (n_hi, 4 * spec.ANCHOR_NUM, feature_out, k, k),
            },
        )
    ]


def kernel_shapes(feature_out: int) -> Tuple[Tuple[int, ...], Tuple[int, ...]]:
    """Shapes of the search graph's kernel inputs: cls (10, F, 4, 4), reg (20, F, 4, 4)."""
    k = spec.KERNEL_SIZE
    return (2 * spec.ANCHOR_NUM, feature_out, k, k), (4 * spec.ANCHOR_NUM, feature_out, k, k)


def search_profiles(feature_out: int, feature_channels: int, sizes: Tuple[int, ...]) -> List[ProfileInfo]:
    """One static profile per search side H; outputs cls/delta (1, 10|20, S, S), features (1, C, S+5, S+5)."""
    cls_k, reg_k = kernel_shapes(feature_out)
    profiles = []
    for h in sizes:
        s, fs = spec.score_size(h), spec.search_feature_size(h)
        profiles.append(
            ProfileInfo(
                key=h,
                inputs={
                    spec.SEARCH_INPUT: ShapeRange.fixed((1, 3, h, h)),
                    spec.CLS_KERNEL: ShapeRange.fixed(cls_k),
                    spec.REG_KERNEL: ShapeRange.fixed(reg_k),
                },
                outputs={
                    spec.CLS_OUTPUT: (1, 2 * spec.ANCHOR_NUM, s, s),
                    spec.REG_OUTPUT: (1, 4 * spec.ANCHOR_NUM, s, s),
                    spec.FEATURE_OUTPUT: (1, feature_channels, fs, fs),
                },
            )
        )
    return profiles


#: Tensor names of the kernel_update graph (the lead's export contract).
WEIGHT_MAP = "weight_map"
ACC = "acc"
INV_TOTAL = "inv_total"
ACC_OUT = "acc_out"
FUSED = "fused"


def kernel_update_profiles(feature_out: int, feature_channels: int, sizes: Tuple[int, ...]) -> List[ProfileInfo]:
    """One static profile per score side S (key S): features (1, C, S+5, S+5), weight map (1, 1, S, S)."""
    cls_k, _ = kernel_shapes(feature_out)
    profiles = []
    for h in sizes:
        s, fs = spec.score_size(h), spec.search_feature_size(h)
        profiles.append(
            ProfileInfo(
                key=s,
                inputs={
                    spec.FEATURE_OUTPUT: ShapeRange.fixed((1, feature_channels, fs, fs)),
                    WEIGHT_MAP: ShapeRange.fixed((1, 1, s, s)),
                    ACC: ShapeRange.fixed(cls_k),
                    INV_TOTAL: ShapeRange.fixed((1,)),
                },
                outputs={ACC_OUT: cls_k, FUSED: cls_k},
            )
        )
    return profiles


def engine_profiles(info: ModelInfo, n_max: Optional[int] = None) -> Dict[str, List[ProfileInfo]]:
    """Profiles of every engine the model's graphs allow (kernel_update only if exported)."""
    sizes = search_sizes(info.tracker)
    n = info.tracker.distractor.n_max if n_max is None else n_max
    out = {
        "template": template_profiles(info.feature_out, n),
        "search": search_profiles(info.feature_out, info.feature_channels, sizes),
    }
    if KERNEL_UPDATE_GRAPH in info.graphs and info.graphs[KERNEL_UPDATE_GRAPH].is_file():
        out[KERNEL_UPDATE_GRAPH] = kernel_update_profiles(info.feature_out, info.feature_channels, sizes)
    return out
