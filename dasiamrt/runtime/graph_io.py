"""The inputs and outputs each graph role must have, checked when a backend opens a graph.

A graph in the wrong role (the template graph saved as ``search.onnx``) or graphs of another network
than ``model.json`` describes (tiny graphs under a ``vot`` manifest) would otherwise fail deep inside
the first inference, or run with garbage. Names come from :mod:`dasiamrt.spec`; shapes from the
network of ``model.json`` (F = ``feature_out``, C = backbone channels). ``None`` is a dimension that
may vary (batch N, search side H, score side S).
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Mapping, Optional, Sequence, Tuple

from .. import spec
from ..config import NetworkConfig
from ..errors import ModelError

Shape = Tuple[Optional[int], ...]
#: Outputs a role's graph may lack (the search features are only read by distractor-aware tracking).
OPTIONAL_OUTPUTS = {spec.FEATURE_OUTPUT}


def expected_io(role: str, network: NetworkConfig) -> Tuple[Dict[str, Shape], Dict[str, Shape]]:
    """(inputs, outputs): tensor name -> shape for ``role`` ("template", "search", "kernel_update")."""
    f, c, k = network.feature_out, network.feature_channels, spec.KERNEL_SIZE
    e = spec.EXEMPLAR_SIZE
    cls_k, reg_k = (2 * spec.ANCHOR_NUM, f, k, k), (4 * spec.ANCHOR_NUM, f, k, k)
    if role == "template":
        return ({spec.TEMPLATE_INPUT: (None, 3, e, e)},
                {spec.CLS_KERNEL: (None, *cls_k), spec.REG_KERNEL: (None, *reg_k)})
    if role == "search":
        score, delta = (1, 2 * spec.ANCHOR_NUM, None, None), (1, 4 * spec.ANCHOR_NUM, None, None)
        return ({spec.SEARCH_INPUT: (1, 3, None, None), spec.CLS_KERNEL: cls_k, spec.REG_KERNEL: reg_k},
                {spec.CLS_OUTPUT: score, spec.REG_OUTPUT: delta, spec.FEATURE_OUTPUT: (1, c, None, None)})
    if role == "kernel_update":
        return ({spec.FEATURE_OUTPUT: (1, c, None, None), spec.WINDOW_INDEX: (None,), spec.WINDOW_WEIGHT: (None,),
                 spec.ACC: cls_k, spec.INV_TOTAL: (1,)},
                {spec.ACC_OUTPUT: cls_k, spec.FUSED_KERNEL: cls_k})
    raise ModelError(f"unknown graph role {role!r}: expected template, search or kernel_update")


def check_graph_io(role: str, path: Path, inputs: Mapping[str, Sequence[object]],
                   outputs: Mapping[str, Sequence[object]], network: NetworkConfig) -> None:
    """Check a graph's tensors (name -> shape as the backend reports it: ints, or names/None when dynamic).

    Raises:
        ModelError: the graph has another role's tensors (files mixed up), or a fixed dimension that
            contradicts ``network`` (graphs and ``model.json`` of different models).
    """
    want_in, want_out = expected_io(role, network)
    needed_out = {n for n in want_out if n not in OPTIONAL_OUTPUTS}
    if set(inputs) != set(want_in) or not needed_out <= set(outputs):
        raise ModelError(
            f"{path} is not a {role} graph: it takes {', '.join(inputs) or 'nothing'} and gives "
            f"{', '.join(outputs) or 'nothing'}; a {role} graph takes {', '.join(want_in)} and gives "
            f"{', '.join(want_out)}: the graph files were mixed up, re-export the model ('dasiamrt export')")
    for kind, got, want in (("input", inputs, want_in), ("output", outputs, want_out)):
        for name, shape in got.items():
            if name in want and not _fits(shape, want[name]):
                raise ModelError(
                    f"{path}: {kind} {name} has shape {_show(shape)} where model.json's {network.name} network "
                    f"(F={network.feature_out}) needs {_show(want[name])}: the graphs and model.json belong to "
                    "different models, re-export the model ('dasiamrt export')")


def _fits(shape: Sequence[object], want: Shape) -> bool:
    if len(shape) != len(want):
        return False
    return all(w is None or not isinstance(s, int) or s == w for s, w in zip(shape, want))


def _show(shape: Sequence[object]) -> str:
    return "(" + ", ".join(str(s) if isinstance(s, int) else "?" for s in shape) + ")"
