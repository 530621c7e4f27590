"""INT8 Q/DQ graphs (explicit quantization) of the template and search graphs, calibrated on tracking crops.

What is quantised, and how (the form TensorRT's explicit quantization and ONNX Runtime both take):
    * the backbone (every node upstream of the backbone features: Conv, MaxPool, Relu): weights
      symmetric per output channel (int8, zero point 0), activations per tensor, symmetric int8
      (zero point 0, TensorRT's forms) or uint8 from the tensor's range (ONNX Runtime's ``int8-cpu``:
      :data:`CPU_ACTIVATIONS`), biases left fp32 (TensorRT fuses them in float);
    * not quantised: the dynamic-kernel correlation (a Conv whose weight is a graph input: its
      kernels change every frame and with distractor fusion), the kernel heads ``conv_cls1`` /
      ``conv_r1`` (template), the adjust heads ``conv_cls2`` / ``conv_r2`` / ``regress_adjust``
      (search) and the ``kernel_update`` graph; ``scope="all"`` also quantises the constant-weight
      heads (measured in ``benchmarks/int8.md``);
    * left in float: any backbone node whose quantisation alone moves the graph's first output by more
      than :data:`FLOAT_LIMIT` on a few calibration crops (:func:`sensitive_nodes`; in the bundled
      MobileNetV2 see ``train_logs/real/int8_synthetic_mobile.md``; in the tests' random-weight tiny, none).
Activation ranges come from the calibration set (:mod:`dasiamrt.artifacts.calibset`): ``entropy``
(KL divergence, TensorRT's legacy default), ``percentile`` (99.999 % of |x|) or ``minmax``. Search
crops of every size feed one histogram per tensor, one size at a time (ONNX Runtime's calibrators
cannot stack tensors of different shapes).
"""
from __future__ import annotations

import copy
import inspect
import logging
import os
import tempfile
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Set, Tuple

import numpy as np

from .. import spec
from ..artifacts.calibset import KERNEL_TEMPLATE, TEMPLATE, CalibrationSet, kernel_key, search_key
from ..errors import ConfigError, MissingDependencyError

log = logging.getLogger(__name__)

METHODS = ("entropy", "percentile", "minmax")
DEFAULT_METHOD = "percentile"
SCOPES = ("backbone", "all")
#: crops per ONNX Runtime calibration pass (bounds the memory of the stored intermediate tensors).
CHUNK = 4
ROLES = ("template", "search")


def _import_quant() -> Any:
    try:
        import onnx  # noqa: F401
        from onnxruntime import quantization
    except ImportError as err:
        raise MissingDependencyError(err.name or "onnxruntime", "INT8 calibration",
                                     "pip install 'dasiamrt[export,ort]'") from None
    return quantization


def _producers(model: Any) -> Dict[str, Any]:
    return {out: node for node in model.graph.node for out in node.output}


def _ancestors(model: Any, tensor: str) -> List[Any]:
    """Nodes that ``tensor`` depends on (including its producer), in graph order."""
    producers, seen, stack = _producers(model), set(), [tensor]
    while stack:
        node = producers.get(stack.pop())
        if node is None or node.name in seen:
            continue
        seen.add(node.name)
        stack.extend(node.input)
    return [n for n in model.graph.node if n.name in seen]


def feature_tensor(model: Any, role: str) -> str:
    """Name of the backbone output: ``search_features`` in the search graph; in the template graph the
    input of the Conv that makes the cls kernel (``conv_cls1``)."""
    if role == "search":
        return spec.FEATURE_OUTPUT
    producers = _producers(model)
    node = producers.get(spec.CLS_KERNEL)
    while node is not None and node.op_type != "Conv":
        node = producers.get(node.input[0])
    if node is None:
        raise ConfigError(f"the template graph has no Conv before {spec.CLS_KERNEL}: re-export the model")
    return str(node.input[0])


def _constant_weight_convs(model: Any) -> Set[str]:
    consts = {init.name for init in model.graph.initializer}
    consts |= {o for n in model.graph.node if n.op_type == "Constant" for o in n.output}
    return {n.name for n in model.graph.node if n.op_type == "Conv" and n.input[1] in consts}


def nodes_to_quantize(model: Any, role: str, scope: str = "backbone") -> List[str]:
    """Names of the nodes to quantise in graph ``role`` ("template" or "search").

    ``backbone``: Conv, MaxPool and Relu upstream of the backbone features. ``all``: also every other
    Conv with constant weights (the heads). Convs with graph-input weights (the correlation) never.
    """
    if scope not in SCOPES:
        raise ConfigError(f"unknown quantisation scope {scope!r}: choose one of {', '.join(SCOPES)}")
    constant = _constant_weight_convs(model)
    backbone = [n for n in _ancestors(model, feature_tensor(model, role))
                if n.op_type in ("MaxPool", "Relu") or n.name in constant]
    names = [n.name for n in backbone]
    if scope == "all":
        names += [n.name for n in model.graph.node if n.name in constant and n.name not in names]
    return names


class _Feeds:
    """CalibrationDataReader over a list of input dicts (one ``get_next`` per dict)."""

    def __init__(self, feeds: Sequence[Dict[str, np.ndarray]]) -> None:
        self._it: Iterator[Dict[str, np.ndarray]] = iter(feeds)

    def get_next(self) -> Optional[Dict[str, np.ndarray]]:
        return next(self._it, None)


def feed_groups(calib: CalibrationSet, role: str, template_session: Any) -> List[List[Dict[str, np.ndarray]]]:
    """Calibration inputs of graph ``role``, grouped so that every group has one tensor shape.

    Templates go in batches of :data:`CHUNK`; each search crop goes with the fp32 kernels of its
    sequence's first-frame template: those stored in the set (:mod:`.kernels`), else made with
    ``template_session`` (the fp32 template graph; None is fine for a set that stores them).
    """
    if role == "template":
        crops = calib.blobs(TEMPLATE)
        return [[{spec.TEMPLATE_INPUT: crops[i:i + CHUNK]} for i in range(0, len(crops), CHUNK)]]
    if calib.has_search_kernels:
        cls_k, reg_k = calib.search_kernels()
    else:
        cls_k, reg_k = template_session.run([spec.CLS_KERNEL, spec.REG_KERNEL],
                                            {spec.TEMPLATE_INPUT: calib.blobs(KERNEL_TEMPLATE)})
    groups = []
    for size in calib.search_sizes:
        crops, owners = calib.blobs(search_key(size)), calib.arrays[kernel_key(size)]
        groups.append([{spec.SEARCH_INPUT: crops[i:i + 1], spec.CLS_KERNEL: cls_k[k],
                        spec.REG_KERNEL: reg_k[k]} for i, k in enumerate(owners)])
    return groups


def _calibrator_options(method: str) -> Dict[str, Any]:
    if method == "minmax":
        return {"symmetric": True}
    if method == "entropy":
        return {"symmetric": True, "num_bins": 2048, "num_quantized_bins": 128}
    return {"symmetric": True, "num_bins": 2048, "percentile": 99.999}


#: a backbone node whose quantisation alone moves the graph's first output (cls logits / cls kernel) by more
#: than this relative L2 on probe crops stays in float (:func:`sensitive_nodes`); None quantises every node.
FLOAT_LIMIT = 0.1
#: calibration inputs per graph that :func:`sensitive_nodes` probes with (255 searches, templates).
PROBES = 4


def probe_feeds(groups: Sequence[Sequence[Dict[str, np.ndarray]]], role: str) -> List[Dict[str, np.ndarray]]:
    """A few calibration inputs of graph ``role`` from its :func:`feed_groups` (the first group: templates, or
    the smallest search size)."""
    group = groups[0]
    if role == "template":  # one batch of templates
        return [{k: v[:PROBES] for k, v in group[0].items()}]
    return list(group[:PROBES])


def sensitive_nodes(model_path: Path, ranges: Any, nodes: Sequence[str], feeds: Sequence[Dict[str, np.ndarray]],
                    method: str, work: Path, limit: float, output_qdq: bool = False,
                    weight_bits: int = 8) -> Dict[str, float]:
    """The nodes of ``nodes`` whose quantisation alone moves the graph's first output by more than ``limit``.

    Each node is quantised alone (Q/DQ with ``ranges``, in the form :func:`write_qdq` writes for
    ``output_qdq`` and ``weight_bits``: float-out for the TensorRT forms, Conv-out for the CPU forms) and run on
    ``feeds`` (the runtime's session options); the error is
    ||y_q - y|| / ||y|| over all feeds, y the fp32 graph's first output (the cls logits of the search
    graph, the cls kernel of the template graph). A MobileNetV2's first depthwise Conv is such a node:
    its input holds channels of very different ranges under one per-tensor scale
    (``train_logs/real/int8_synthetic_mobile.md``).

    Returns:
        node name -> its error, for the nodes above ``limit``, most sensitive first.
    """
    import onnxruntime as ort

    from ..runtime.backends.ort import session_options

    options = session_options(ort, int8=True)  # the runtime's: exact integer kernels on x86 without VNNI

    def first_output(path: Path) -> np.ndarray:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        name = session.get_outputs()[0].name
        return np.concatenate([session.run([name], feed)[0].ravel() for feed in feeds])

    reference = first_output(model_path)
    norm = float(np.linalg.norm(reference)) or 1.0
    ranges = _form_ranges(model_path, ranges, output_qdq)  # once, not once per probe
    errors = {}
    for index, node in enumerate(nodes):
        probe = work / f"probe_{index}.onnx"
        _write_qdq_with_ranges(model_path, probe, ranges, [node], method, work, output_qdq, weight_bits)
        errors[node] = float(np.linalg.norm(first_output(probe) - reference)) / norm
        probe.unlink()
    return dict(sorted(((n, round(e, 4)) for n, e in errors.items() if e > limit), key=lambda t: -t[1]))


def calibration_passes(groups: Sequence[Sequence[Dict[str, np.ndarray]]],
                       method: str) -> List[List[Dict[str, np.ndarray]]]:
    """``groups`` cut into ONNX Runtime calibration passes: it keeps every intermediate tensor of a pass
    in memory, so big crops (and min-max, which stores more) go one at a time, others :data:`CHUNK` at a time."""
    passes = []
    for group in groups:
        side = next(iter(group[0].values())).shape[-1] if group else 0
        per_pass = 1 if method == "minmax" or side > 300 else CHUNK
        passes += [list(group[i:i + per_pass]) for i in range(0, len(group), per_pass)]
    return passes


def compute_ranges(model_path: Path, groups: Sequence[Sequence[Dict[str, np.ndarray]]], method: str,
                   work_dir: Path, progress: Any = None, what: str = "") -> Any:
    """Run ONNX Runtime's calibrator over ``groups`` (pass by pass) and return its ``TensorsData``.

    ``progress`` (a :class:`~dasiamrt.calib.progress.ProgressBar` or None) gets one unit per pass.
    """
    q = _import_quant()
    kinds = {"minmax": q.CalibrationMethod.MinMax, "entropy": q.CalibrationMethod.Entropy,
             "percentile": q.CalibrationMethod.Percentile}
    calibrator = q.create_calibrator(model_path, None, augmented_model_path=str(work_dir / "augmented.onnx"),
                                     calibrate_method=kinds[method], extra_options=_calibrator_options(method))
    passes = calibration_passes(groups, method)
    if progress is not None:
        progress.add(len(passes))
    for feeds in passes:
        calibrator.collect_data(_Feeds(feeds))
        if progress is not None:
            side = next(iter(feeds[0].values())).shape[-1]
            progress.advance(1, f"{what} {side}".strip())
    return calibrator.compute_data()


#: activations of the Conv-out form (``int8-cpu``): ONNX Runtime's x86 integer kernels multiply uint8 activations
#: by int8 weights (VNNI's vpdpbusd); with a range from 0 (a ReLU or ReLU6 output) the zero point is 0 and the
#: QuantizeLinear saturates exactly where the activation does: ONNX Runtime's quantiser drops a Relu, its graph
#: optimiser a ReLU6 Clip, and QLinearConvs chain. Symmetric int8 (zero point 0 over a signed grid) kept every
#: Clip as a float op between DequantizeLinear and QuantizeLinear: the bundled MobileNetV2's search graph ran 22
#: of 31 backbone Convs as QLinearConv and took 2.4x (255) / 1.96x (767) the time of the uint8 form
#: (train_logs/real/int8_cpu_uint8.md).
#: On ARM64, ONNX Runtime's symmetric-conv kernels take uint8 activations too (shifted by 128 onto the signed
#: dot product; read in MLAS's source, not measured: train_logs/real/int8_cpu_uint8.md, "ARM64").
#: The TensorRT forms stay symmetric int8 (TensorRT takes zero points of 0 only).
CPU_ACTIVATIONS = "uint8 asymmetric per tensor"
TRT_ACTIVATIONS = "int8 symmetric per tensor"


def _quant_options(output_qdq: bool = False) -> Dict[str, Any]:
    options: Dict[str, Any] = {"ActivationSymmetric": not output_qdq, "WeightSymmetric": True, "QuantizeBias": False}
    if not output_qdq:
        # Conv outputs are not re-quantised: the next quantised node (MaxPool, Relu, Conv) quantises
        # its input anyway, and the last backbone Conv hands float features to the fp32 heads (one
        # rounding fewer; TensorRT runs such a Conv in INT8 with a float output). ONNX Runtime's CPU
        # provider only fuses DQ -> Conv -> Q into an integer QLinearConv, so it runs this form in
        # float (see benchmarks/int8.md for both forms' speed and accuracy).
        options["OpTypesToExcludeOutputQuantization"] = ["Conv"]
    return options


def role_ranges(model_path: Path, groups: Sequence[Sequence[Dict[str, np.ndarray]]], role: str, method: str,
                work: Path, progress: Any = None) -> Any:
    """Activation ranges of graph ``role`` (fp32 ``model_path``) over its calibration inputs ``groups``
    (:func:`feed_groups`)."""
    if method not in METHODS:
        raise ConfigError(f"unknown calibration method {method!r}: choose one of {', '.join(METHODS)}")
    return compute_ranges(model_path, groups, method, work, progress, role)


def _constant_value(model: Any, name: str) -> Optional[float]:
    """The scalar value of tensor ``name`` when it is an initializer or a Constant node's output, else None."""
    from onnx import numpy_helper

    for init in model.graph.initializer:
        if init.name == name:
            value = numpy_helper.to_array(init)
            return float(value) if value.size == 1 else None
    for node in model.graph.node:
        if node.op_type == "Constant" and node.output[0] == name:
            values = [numpy_helper.to_array(a.t) for a in node.attribute if a.name == "value"]
            return float(values[0]) if values and values[0].size == 1 else None
    return None


def _activation_floor(model: Any, node: Any) -> Optional[float]:
    """The lower bound >= 0 of a Relu (0) or of a Clip with a constant min >= 0 (MobileNetV2's ReLU6 exports as
    Clip(x, 0, 6)); None for any other node."""
    if node.op_type == "Relu":
        return 0.0
    if node.op_type != "Clip":
        return None
    if len(node.input) > 1 and node.input[1]:  # opset >= 11: min is an input
        low = _constant_value(model, node.input[1])
    else:  # opset < 11: an attribute, absent = no lower bound
        low = next((float(a.f) for a in node.attribute if a.name == "min"), None)
    return low if low is not None and low >= 0.0 else None


def share_relu_ranges(model: Any, ranges: Any) -> Any:
    """Ranges for the Conv-out form: each Conv output (and MaxPool between) takes the range of the Relu after it
    (or of a Clip from 0, MobileNetV2's ReLU6).

    In the Conv-out form every backbone Conv output is quantised (DQ -> Conv -> Q is what ONNX
    Runtime fuses into an integer QLinearConv), and so is the Relu output after it (the next Conv's
    input). With ranges of their own that is two roundings, and the Conv output's symmetric range is
    set by its negative half, which the Relu zeroes anyway: the score-map error grew ~1.4x over the
    float-out form. With the Relu output's range the negative values below it clip (the Relu zeroes
    them anyway), the positive ones land on the Relu output's grid, and the second rounding is exact:
    one rounding at the float-out form's step. MaxPool commutes with both. A ReLU6 (Clip to [0, 6])
    is the same case, and a worse one without sharing: the pre-activation range of a MobileNetV2
    Conv is many times 6, so its grid put a handful of steps where the Clip keeps values. A Conv
    with no such activation after it (the last backbone Conv, a linear bottleneck) keeps its own range.
    The shared range starts at the activation's floor (0): a symmetric calibration (min-max) reports
    [-m, m] for a Relu output, and on the uint8 grid of ``int8-cpu``, where the quantiser drops the
    Relu and its Q does the clipping, a range from -m would let negative values through.

    Args:
        model: the fp32 ONNX graph (names as in ``ranges``).
        ranges: ONNX Runtime ``TensorsData`` from :func:`compute_ranges`.

    Returns:
        A new ``TensorsData``.
    """
    from onnxruntime.quantization.calibrate import TensorData, TensorsData

    producers = _producers(model)
    data = dict(ranges.data)
    for node in model.graph.node:
        floor = _activation_floor(model, node)
        if floor is None or node.output[0] not in data:
            continue
        low, high = (float(np.asarray(v).reshape(-1)[0]) for v in data[node.output[0]].range_value)
        shared = TensorData(lowest=np.float32(max(low, floor)), highest=np.float32(max(high, floor)))
        data[node.output[0]] = shared
        tensor = node.input[0]
        while tensor in producers and producers[tensor].op_type == "MaxPool":
            data[tensor] = shared
            tensor = producers[tensor].input[0]
        if tensor in producers and producers[tensor].op_type == "Conv" and tensor in data:
            data[tensor] = shared
    return TensorsData(ranges.calibration_method, data)


#: ops whose float weights ONNX Runtime's ``WeightBiasQuantization`` quantises when they sit between Q/DQ.
_WEIGHTED_OPS = ("Conv", "ConvTranspose", "Gemm")


def _leads_to_quantize(node: Any, consumers: Dict[str, List[Any]]) -> bool:
    """Whether ``node``'s output reaches a QuantizeLinear through single-consumer Relu/Clip nodes only."""
    while len(node.output) == 1 and len(consumers.get(node.output[0], [])) == 1:
        node = consumers[node.output[0]][0]
        if node.op_type == "QuantizeLinear":
            return True
        if node.op_type not in ("Relu", "Clip"):
            return False
    return False


def _grid_bounds(inits: Dict[str, Any], dq: Any) -> Optional[Tuple[float, float]]:
    """The interval a per-tensor DequantizeLinear can output: ((qmin - zp) * scale, (qmax - zp) * scale); None
    when its scale is not one constant. ``inits``: the graph's initializers by name."""
    from onnx import numpy_helper

    if dq.input[1] not in inits or len(dq.input) < 3 or dq.input[2] not in inits:
        return None
    scale, zero = (numpy_helper.to_array(inits[name]) for name in dq.input[1:3])
    if scale.size != 1 or zero.dtype not in (np.int8, np.uint8):
        return None
    info = np.iinfo(zero.dtype)
    step, zp = float(scale.item()), int(zero.item())
    return (float((info.min - zp) * step), float((info.max - zp) * step))


def unsandwich_float_nodes(model: Any) -> List[str]:
    """Feed float nodes between quantised ones their float input, so that ONNX Runtime keeps them float.

    A float Conv (weights not from a DequantizeLinear) whose input comes from a DequantizeLinear and
    whose output reaches a QuantizeLinear (through Relu/Clip) reads to ONNX Runtime (>= 1.20,
    ``WeightBiasQuantization``, graph optimisation level 1) as a quantised Conv missing its weight
    quantisation: it quantises the weights symmetric *per tensor* and the bias to int32. For a node
    left in float because it is quantisation-sensitive that is the worst case: on the bundled
    MobileNetV2's Conv-out graph the cls-logit error went 0.14 -> 1.74. Such a node is rewired to
    ``Clip(x, lo, hi)`` of the tensor x before the Q/DQ pair in front of it, [lo, hi] the pair's grid:
    the value the pair passed on without its rounding (the clamp stays: with uint8 activations the
    quantiser drops a Relu before the pair, whose Q then does the Relu's work); float nodes reading
    one tensor on one grid share one Clip. The pair is dropped when nothing else reads it (the node
    before then runs with a float output).

    Args:
        model: a Q/DQ ``onnx.ModelProto``, changed in place.

    Returns:
        The names of the rewired nodes.
    """
    from onnx import helper, numpy_helper

    producers = _producers(model)
    consumers: Dict[str, List[Any]] = {}
    for node in model.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    graph_outputs = {o.name for o in model.graph.output}
    inits = {i.name: i for i in model.graph.initializer}
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 11)
    rewired: List[str] = []
    clips: Dict[str, Any] = {}  # first rewired node's first output -> the Clip to put before it
    made: Dict[Tuple[str, Tuple[float, float]], str] = {}  # (tensor before the pair, grid) -> its Clip's output
    dropped: Set[str] = set()  # first outputs of the Q/DQ nodes to remove
    for node in model.graph.node:
        if node.op_type not in _WEIGHTED_OPS or len(node.input) < 2:
            continue
        weight, dq = producers.get(node.input[1]), producers.get(node.input[0])
        if (weight is not None and weight.op_type == "DequantizeLinear") or dq is None \
                or dq.op_type != "DequantizeLinear" or not _leads_to_quantize(node, consumers):
            continue
        q, bounds = producers.get(dq.input[0]), _grid_bounds(inits, dq)
        if q is None or q.op_type != "QuantizeLinear" or bounds is None:
            continue  # a DQ of an initializer (nothing float to go back to), or a per-channel grid
        clipped = made.get((q.input[0], bounds))
        if clipped is None:  # the first float reader of this tensor on this grid makes the Clip; later ones share it
            clipped = made[(q.input[0], bounds)] = f"{node.name}_float_input"
            if opset >= 11:
                limits = [numpy_helper.from_array(np.array(v, np.float32), f"{clipped}_{k}")
                          for k, v in zip("lh", bounds)]
                model.graph.initializer.extend(limits)
                clip = helper.make_node("Clip", [q.input[0], limits[0].name, limits[1].name], [clipped], name=clipped)
            else:
                clip = helper.make_node("Clip", [q.input[0]], [clipped], name=clipped, min=bounds[0], max=bounds[1])
            clips[node.output[0]] = clip
        node.input[0] = clipped
        consumers[dq.output[0]].remove(node)
        rewired.append(node.name)
        if not consumers[dq.output[0]] and dq.output[0] not in graph_outputs:
            dropped.add(dq.output[0])
            if all(c.output[0] in dropped for c in consumers[q.output[0]]) and q.output[0] not in graph_outputs:
                dropped.add(q.output[0])  # (a Q feeding several DQs goes with the last of them)
    if rewired:
        kept = [n for n in model.graph.node if not n.output or n.output[0] not in dropped]
        orphans = {name for n in model.graph.node if n.output and n.output[0] in dropped for name in n.input[1:]}
        orphans -= {name for n in kept for name in n.input}
        ordered = [m for n in kept for m in ([clips[n.output[0]]] if n.output and n.output[0] in clips else []) + [n]]
        del model.graph.node[:]
        model.graph.node.extend(ordered)
        kept_inits = [i for i in model.graph.initializer if i.name not in orphans]  # less the pairs' scales, zps
        del model.graph.initializer[:]
        model.graph.initializer.extend(kept_inits)
    return rewired


def write_qdq(model_path: Path, out_path: Path, ranges: Any, nodes: Sequence[str], method: str, work: Path,
              output_qdq: bool = False, weight_bits: int = 8) -> None:
    """Write the Q/DQ graph of the fp32 graph ``model_path`` with precomputed ``ranges`` (atomically).

    ``output_qdq`` (the Conv-out forms) also quantises every Conv output, with the ranges of
    :func:`share_relu_ranges`. ``weight_bits`` 7 puts the weights on [-64, 64] (ONNX Runtime's
    ``reduce_range``: ``int8-cpu-w7``, whose integer products cannot overflow a 16-bit pair sum), 8 on
    [-127, 127]. Float nodes between quantised ones read float inputs (:func:`unsandwich_float_nodes`).
    """
    _write_qdq_with_ranges(model_path, out_path, _form_ranges(model_path, ranges, output_qdq), nodes, method, work,
                           output_qdq, weight_bits)


def _form_ranges(model_path: Path, ranges: Any, output_qdq: bool) -> Any:
    """The ranges a form quantises with: the Conv-out form's (``output_qdq``) through :func:`share_relu_ranges`
    on the fp32 graph ``model_path``, the float-out form's as calibrated."""
    if not output_qdq:
        return ranges
    import onnx

    return share_relu_ranges(onnx.load(str(model_path)), ranges)


def _write_qdq_with_ranges(model_path: Path, out_path: Path, ranges: Any, nodes: Sequence[str], method: str,
                           work: Path, output_qdq: bool, weight_bits: int = 8) -> None:
    """:func:`write_qdq` with ``ranges`` used as given (already through :func:`_form_ranges`)."""
    import onnx

    if weight_bits not in (7, 8):
        raise ValueError(f"weight_bits must be 7 or 8, not {weight_bits!r}")
    q = _import_quant()
    kwargs: Dict[str, Any] = dict(
        quant_format=q.QuantFormat.QDQ, per_channel=True, reduce_range=weight_bits == 7,
        activation_type=q.QuantType.QUInt8 if output_qdq else q.QuantType.QInt8, weight_type=q.QuantType.QInt8,
        nodes_to_quantize=list(nodes),
        extra_options=_quant_options(output_qdq))
    staged = out_path.with_name(f".{out_path.name}.tmp")
    try:
        _quantize_with_ranges(q, model_path, staged, ranges, method, work, kwargs)
        written = onnx.load(str(staged))
        if unsandwich_float_nodes(written):
            onnx.save(written, str(staged))
        os.replace(staged, out_path)
    finally:
        staged.unlink(missing_ok=True)


def quantize_graph(model_path: Path, out_path: Path, calib: CalibrationSet, role: str, template_session: Any,
                   method: str = DEFAULT_METHOD, scope: str = "backbone", output_qdq: bool = False) -> List[str]:
    """Write the INT8 Q/DQ version of one fp32 graph (ranges and graph in one call).

    Args:
        model_path: fp32 graph (template.onnx or search.onnx).
        out_path: where to write the Q/DQ graph (atomically).
        calib: validated calibration set.
        role: "template" or "search".
        template_session: ONNX Runtime session of the fp32 template graph (search kernels).
        method: activation range method (:data:`METHODS`).
        scope: :data:`SCOPES`.
        output_qdq: also quantise every Conv output (the DQ -> Conv -> Q form ONNX Runtime's CPU
            provider runs with integer kernels).

    Returns:
        The names of the quantised nodes.
    """
    import onnx

    nodes = nodes_to_quantize(onnx.load(str(model_path)), role, scope)
    with tempfile.TemporaryDirectory(prefix="dasiamrt-qdq-") as tmp:
        work = Path(tmp)
        ranges = role_ranges(model_path, feed_groups(calib, role, template_session), role, method, work)
        write_qdq(model_path, out_path, ranges, nodes, method, work, output_qdq)
    log.info("wrote %s (%d nodes quantised, %s calibration)", out_path, len(nodes), method)
    return nodes


def _quantize_with_ranges(q: Any, model_path: Path, out: Path, ranges: Any, method: str, work: Path,
                          kwargs: Dict[str, Any]) -> None:
    """``quantize_static`` on precomputed ranges (its JSON calibration cache), or ``QDQQuantizer`` on
    ONNX Runtime releases without the cache parameter."""
    kinds = {"minmax": "MinMax", "entropy": "Entropy", "percentile": "Percentile"}
    if "calibration_cache_path" in inspect.signature(q.quantize_static).parameters:
        from onnxruntime.quantization.calibrate import save_tensors_data

        cache = work / "ranges.json"
        save_tensors_data(ranges, cache)
        q.quantize_static(str(model_path), str(out), None, calibrate_method=getattr(q.CalibrationMethod, kinds[method]),
                          calibration_cache_path=str(cache), **kwargs)
        return
    from onnxruntime.quantization.qdq_quantizer import QDQQuantizer
    from onnxruntime.quantization.quant_utils import load_model_with_shape_infer
    from onnxruntime.quantization.registry import QDQRegistry, QLinearOpsRegistry

    model = load_model_with_shape_infer(model_path)
    op_types = sorted(set(QLinearOpsRegistry) | set(QDQRegistry))  # quantize_static's default
    # a copy: the quantiser writes adjusted ranges (a Relu's input takes its output's) into what it is given,
    # and the caller hands the same ranges to every probe and form
    quantizer = QDQQuantizer(model, kwargs["per_channel"], kwargs["reduce_range"], kwargs["weight_type"],
                             kwargs["activation_type"], copy.deepcopy(ranges), kwargs["nodes_to_quantize"], [],
                             op_types, kwargs["extra_options"])
    quantizer.quantize_model()
    quantizer.model.save_model_to_file(str(out))
