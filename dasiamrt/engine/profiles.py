"""Optimization profiles of the three engines, derived from the model contract (:mod:`dasiamrt.spec`).

* template engine: exemplar crops (N, 3, 127, 127), one profile N in 1..n_max+1 (the target plus up
  to ``n_max`` distractors, :class:`~dasiamrt.config.DistractorConfig`), optimised for N = 1.
* search engine: one STATIC profile per search side H (255/271/287 and 767 for the long-term
  ``lost`` state); each becomes its own execution context (and CUDA graph) at run time, so
  switching 255 <-> 767 is choosing a context. The kernels (10, F, 4, 4) and (20, F, 4, 4) are
  inputs.
* kernel_update engine (distractor-aware fusion): one profile per score side S of those search
  sizes (17 for 255, 81 for 767): features (1, C, S+5, S+5), and N = 1..n_max+1 windows to fold in
  (``window_index`` (36 N,) int64, ``window_weight`` (N,)).

Each profile also lists its output shapes, which size the device buffers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Tuple

from .. import spec
from ..artifacts.engine_manifest import ProfileInfo, ShapeRange
from ..artifacts.model_folder import ModelFolder, read_model_dir
from ..config import TrackerConfig

#: the kernel-update engine (and graph role); its ONNX file is the model folder's ``graphs["kernel_update"]``
KERNEL_UPDATE_ENGINE = "kernel_update"


def read_model_info(model_dir: Path) -> ModelFolder:
    """The model folder as the runtime reads it (:func:`dasiamrt.artifacts.model_folder.read_model_dir`).

    Raises:
        ModelError: missing or malformed folder, or a graph the engines need is missing.
    """
    info = read_model_dir(model_dir)
    for name in ("template", "search"):
        info.graph(name)
    return info


def search_sizes(tracker: TrackerConfig, extra: Tuple[int, ...] = ()) -> Tuple[int, ...]:
    """Every search side the engines serve: the tracker's sizes plus the long-term ``lost`` size.

    The lost size is included even when long-term mode is off, so turning it on at run time
    needs no rebuild.
    """
    sizes = set(tracker.search_sizes()) | {tracker.long_term.lost_instance_size} | set(extra)
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


def kernel_update_profiles(
    feature_out: int, feature_channels: int, sizes: Tuple[int, ...], n_max: int
) -> List[ProfileInfo]:
    """One profile per score side S (key S): features (1, C, S+5, S+5) static, N = 1..n_max+1 windows
    (the target and up to ``n_max`` distractors): ``window_index`` (36 N,), ``window_weight`` (N,)."""
    cls_k, _ = kernel_shapes(feature_out)
    n_hi = n_max + 1
    window = spec.TEMPLATE_FEATURE_SIZE**2
    profiles = []
    for h in sizes:
        fs = spec.search_feature_size(h)
        profiles.append(
            ProfileInfo(
                key=spec.score_size(h),
                inputs={
                    spec.FEATURE_OUTPUT: ShapeRange.fixed((1, feature_channels, fs, fs)),
                    spec.WINDOW_INDEX: ShapeRange((window,), (window * min(2, n_hi),), (window * n_hi,)),
                    spec.WINDOW_WEIGHT: ShapeRange((1,), (min(2, n_hi),), (n_hi,)),
                    spec.ACC: ShapeRange.fixed(cls_k),
                    spec.INV_TOTAL: ShapeRange.fixed((1,)),
                },
                outputs={spec.ACC_OUTPUT: cls_k, spec.FUSED_KERNEL: cls_k},
            )
        )
    return profiles


def engine_profiles(
    info: ModelFolder, n_max: Optional[int] = None, extra_sizes: Tuple[int, ...] = ()
) -> Dict[str, List[ProfileInfo]]:
    """Profiles of every engine the model's graphs allow (kernel_update only if exported)."""
    sizes = search_sizes(info.tracker, extra_sizes)
    n = info.tracker.distractor.n_max if n_max is None else n_max
    f, c = info.network.feature_out, info.network.feature_channels
    out = {"template": template_profiles(f, n), "search": search_profiles(f, c, sizes)}
    if KERNEL_UPDATE_ENGINE in info.graphs:
        out[KERNEL_UPDATE_ENGINE] = kernel_update_profiles(f, c, sizes, n)
    return out
