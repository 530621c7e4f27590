"""INT8 Q/DQ graphs (explicit quantization) of the template and search graphs, calibrated on tracking crops.

What is quantised, and how (the form TensorRT's explicit quantization and ONNX Runtime both take):
    * the backbone (every node upstream of the backbone features: Conv, MaxPool, Relu): weights
      symmetric per output channel (int8, zero point 0), activations symmetric per tensor (int8,
      zero point 0), biases left fp32 (TensorRT fuses them in float);
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

import inspect
import logging
import os
import tempfile
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Set

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
                    method: str, work: Path, limit: float) -> Dict[str, float]:
    """The nodes of ``nodes`` whose quantisation alone moves the graph's first output by more than ``limit``.

    Each node is quantised alone (float-out Q/DQ with ``ranges``) and run on ``feeds``; the error is
    ||y_q - y|| / ||y|| over all feeds, y the fp32 graph's first output (the cls logits of the search
    graph, the cls kernel of the template graph). A MobileNetV2's first depthwise Conv is such a node:
    its input holds channels of very different ranges under one per-tensor scale
    (``train_logs/real/int8_synthetic_mobile.md``).

    Returns:
        node name -> its error, for the nodes above ``limit``, most sensitive first.
    """
    import onnxruntime as ort

    def first_output(path: Path) -> np.ndarray:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        name = session.get_outputs()[0].name
        return np.concatenate([session.run([name], feed)[0].ravel() for feed in feeds])

    reference = first_output(model_path)
    norm = float(np.linalg.norm(reference)) or 1.0
    errors = {}
    for index, node in enumerate(nodes):
        probe = work / f"probe_{index}.onnx"
        write_qdq(model_path, probe, ranges, [node], method, work, output_qdq=False)
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


def _quant_options(output_qdq: bool = False) -> Dict[str, Any]:
    options: Dict[str, Any] = {"ActivationSymmetric": True, "WeightSymmetric": True, "QuantizeBias": False}
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


def _zeroes_negatives(model: Any, node: Any) -> bool:
    """A Relu, or a Clip whose lower bound is a constant >= 0 (MobileNetV2's ReLU6 exports as Clip(x, 0, 6))."""
    if node.op_type == "Relu":
        return True
    if node.op_type != "Clip":
        return False
    if len(node.input) > 1 and node.input[1]:  # opset >= 11: min is an input
        low = _constant_value(model, node.input[1])
    else:  # opset < 11: an attribute, absent = no lower bound
        low = next((float(a.f) for a in node.attribute if a.name == "min"), None)
    return low is not None and low >= 0.0


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

    Args:
        model: the fp32 ONNX graph (names as in ``ranges``).
        ranges: ONNX Runtime ``TensorsData`` from :func:`compute_ranges`.

    Returns:
        A new ``TensorsData``.
    """
    from onnxruntime.quantization.calibrate import TensorsData

    producers = _producers(model)
    data = dict(ranges.data)
    for node in model.graph.node:
        if not _zeroes_negatives(model, node) or node.output[0] not in data:
            continue
        tensor = node.input[0]
        while tensor in producers and producers[tensor].op_type == "MaxPool":
            data[tensor] = data[node.output[0]]
            tensor = producers[tensor].input[0]
        if tensor in producers and producers[tensor].op_type == "Conv" and tensor in data:
            data[tensor] = data[node.output[0]]
    return TensorsData(ranges.calibration_method, data)


def write_qdq(model_path: Path, out_path: Path, ranges: Any, nodes: Sequence[str], method: str, work: Path,
              output_qdq: bool = False) -> None:
    """Write the Q/DQ graph of the fp32 graph ``model_path`` with precomputed ``ranges`` (atomically).

    ``output_qdq`` (the Conv-out form) also quantises every Conv output, with the ranges of
    :func:`share_relu_ranges`.
    """
    q = _import_quant()
    if output_qdq:
        import onnx

        ranges = share_relu_ranges(onnx.load(str(model_path)), ranges)
    kwargs: Dict[str, Any] = dict(
        quant_format=q.QuantFormat.QDQ, per_channel=True, reduce_range=False,
        activation_type=q.QuantType.QInt8, weight_type=q.QuantType.QInt8, nodes_to_quantize=list(nodes),
        extra_options=_quant_options(output_qdq))
    staged = out_path.with_name(f".{out_path.name}.tmp")
    try:
        _quantize_with_ranges(q, model_path, staged, ranges, method, work, kwargs)
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
    quantizer = QDQQuantizer(model, kwargs["per_channel"], kwargs["reduce_range"], kwargs["weight_type"],
                             kwargs["activation_type"], ranges, kwargs["nodes_to_quantize"], [], op_types,
                             kwargs["extra_options"])
    quantizer.quantize_model()
    quantizer.model.save_model_to_file(str(out))
