"""``trtexec`` command lines equivalent to ``dasiamrt build``, for people who build on the device.

trtexec builds ONE optimization profile per engine (``--minShapes/--optShapes/--maxShapes``), so
where ``dasiamrt build`` makes one search engine with a profile per search size, these commands
make one plan per size (``search_255.plan``, ``search_767.plan``). They are for benchmarking with
``trtexec --loadEngine`` and for checking that a TensorRT/JetPack combination parses and builds the
graphs; the dasiamrt runtime loads the engines (and manifests) of ``dasiamrt build``.

Flags by version: ``--memPoolSize=workspace:N`` (MiB, 8.4+; ``--workspace`` is gone in 10),
``--fp16``/``--int8`` (weak typing, <= 10, removed in 11), ``--stronglyTyped`` (10+, a no-op on
11 where every network is strongly typed), ``--noTF32`` (fp32 means fp32), ``--timingCacheFile``;
the per-layer precision rules of :meth:`~.precision.PrecisionPlan.constraint_for` as
``--precisionConstraints=obey|prefer --layerPrecisions=NAME:fp32,...`` (8.2+; layer names are the
ONNX node names).
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from ..artifacts.engine_manifest import ProfileInfo
from .precision import PrecisionPlan


def _dims(shape: Sequence[int]) -> str:
    return "x".join(str(int(d)) for d in shape)


def _shape_flags(profile: ProfileInfo, dynamic: Optional[Sequence[str]]) -> List[str]:
    names = [n for n in profile.inputs if dynamic is None or n in dynamic]
    if not names:
        return []
    flags = []
    for flag, pick in (("--minShapes", "min"), ("--optShapes", "opt"), ("--maxShapes", "max")):
        flags.append(flag + "=" + ",".join(f"{n}:{_dims(getattr(profile.inputs[n], pick))}" for n in names))
    return flags


def trtexec_commands(
    graphs: Dict[str, Path],
    profiles: Dict[str, List[ProfileInfo]],
    plan: PrecisionPlan,
    out_dir: Path,
    workspace_mb: Optional[int] = None,
    timing_cache: Optional[Path] = None,
    dynamic_inputs: Optional[Mapping[str, Sequence[str]]] = None,
    graph_layers: Optional[Mapping[str, Sequence[Tuple[str, Sequence[str], Sequence[str]]]]] = None,
) -> List[str]:
    """One trtexec command per (engine, profile).

    Args:
        graphs: engine name -> the ONNX file to parse (already the precision's variant).
        profiles: engine name -> its profiles (:func:`~.profiles.engine_profiles`).
        plan: the precision plan (flags vs strongly typed).
        out_dir: where the plans go.
        workspace_mb, timing_cache: as for ``dasiamrt build``.
        dynamic_inputs: engine name -> inputs with dynamic dimensions (default: every input).
        graph_layers: engine name -> (node name, inputs, outputs) of its graph's compute nodes, for the
            per-layer precision flags (default: none written).

    Returns:
        Shell-quoted command lines.
    """
    common: List[str] = []
    if workspace_mb is not None:
        common.append(f"--memPoolSize=workspace:{int(workspace_mb)}")
    if timing_cache is not None:
        common.append(f"--timingCacheFile={timing_cache}")
    if plan.strongly_typed:
        common.append("--stronglyTyped")
    if "TF32" in plan.cleared_flags:
        common.append("--noTF32")
    lines = []
    for name, profs in profiles.items():
        flags = [f"--{flag.lower()}" for flag in plan.flags_for(name)]
        if plan.calibrator and "INT8" in plan.flags_for(name):
            # trtexec cannot run a Python calibrator: it reads the cache `dasiamrt build --calibrator
            # entropy` wrote (without one, --int8 would use placeholder ranges)
            flags.append(f"--calib={Path(out_dir) / f'{name}.calib'}")
        constraint = plan.constraint_for(name)
        chosen = constraint.select(list((graph_layers or {}).get(name, ()))) if constraint is not None else []
        if constraint is not None and chosen:
            flags.append(f"--precisionConstraints={'obey' if constraint.obey else 'prefer'}")
            flags.append("--layerPrecisions=" + ",".join(f"{n}:{constraint.precision}" for n in chosen))
        for profile in profs:
            suffix = f"_{profile.key}" if len(profs) > 1 else ""
            args = ["trtexec", f"--onnx={graphs[name]}", f"--saveEngine={Path(out_dir) / f'{name}{suffix}.plan'}"]
            args += _shape_flags(profile, (dynamic_inputs or {}).get(name))
            lines.append(" ".join(shlex.quote(a) for a in args + flags + common))
    return lines
