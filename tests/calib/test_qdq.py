"""Q/DQ graph structure, INT8 close to fp32, the int8 variant in model.json, --precision int8."""
from __future__ import annotations

import copy
import json
import os

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from dasiamrt import spec
from dasiamrt.artifacts.calibset import load_calibration
from dasiamrt.artifacts.model_folder import read_model_dir
from dasiamrt.assets import DEMO_INIT_XYWH
from dasiamrt.calib.collect import CollectConfig, collect_crops
from dasiamrt.calib.compare import box_agreement, score_map_errors, step_agreement
from dasiamrt.calib.qdq import nodes_to_quantize
from dasiamrt.calib.trajectories import gt_trajectory
from dasiamrt.calib.variants import int8_graph_paths
from dasiamrt.errors import ModelError
from dasiamrt.fileio import sha256_file
from dasiamrt.runtime.backends.ort import OrtBackend
from dasiamrt.runtime.loop import track_boxes
from dasiamrt.runtime.tracker import Tracker


def _conv_inputs(model):
    producers = {o: n for n in model.graph.node for o in n.output}
    inits = {i.name: i for i in model.graph.initializer}
    graph_inputs = {i.name for i in model.graph.input}
    return producers, inits, graph_inputs


@pytest.mark.parametrize("role", ["template", "search"])
def test_backbone_quantised_correlation_and_heads_not(int8_model, role):
    model = onnx.load(str(int8_model / f"{role}.int8.onnx"))
    producers, inits, graph_inputs = _conv_inputs(model)
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    backbone = [n for n in convs if "featureExtract" in n.name]
    assert len(backbone) == 5
    for node in backbone:
        act, weight = producers.get(node.input[0]), producers.get(node.input[1])
        assert act is not None and act.op_type == "DequantizeLinear", node.name
        assert weight is not None and weight.op_type == "DequantizeLinear", node.name
        q_weight, scale, zero = (inits[name] for name in weight.input)
        out_channels = numpy_helper.to_array(q_weight).shape[0]
        assert numpy_helper.to_array(q_weight).dtype == np.int8
        assert numpy_helper.to_array(scale).shape == (out_channels,)  # per output channel
        assert not numpy_helper.to_array(zero).any()  # symmetric
        act_zero = numpy_helper.to_array(inits[act.input[2]])
        assert act_zero.dtype == np.int8 and act_zero.size == 1 and act_zero == 0  # symmetric per tensor
        assert node.input[2] in inits and numpy_helper.to_array(inits[node.input[2]]).dtype == np.float32  # fp32 bias
    others = [n for n in convs if n not in backbone]
    correlation = [n for n in others if n.input[1] in graph_inputs]
    assert len(correlation) == (2 if role == "search" else 0)
    for node in others:  # heads and correlation: plain float inputs and weights
        plain = [producers.get(i) is None or producers[i].op_type != "DequantizeLinear" for i in node.input[1:]]
        assert all(plain), node.name
        if node in correlation:
            assert node.input[1] in (spec.CLS_KERNEL, spec.REG_KERNEL)
    fp32 = onnx.load(str(int8_model / f"{role}.onnx"))
    assert [i.name for i in model.graph.input] == [i.name for i in fp32.graph.input]
    assert [o.name for o in model.graph.output] == [o.name for o in fp32.graph.output]


def test_scope_all_adds_the_constant_weight_heads(tiny_model_dir):
    model = onnx.load(str(tiny_model_dir / "search.onnx"))
    backbone, everything = nodes_to_quantize(model, "search"), nodes_to_quantize(model, "search", "all")
    heads = set(everything) - set(backbone)
    assert {n.split("/")[1] for n in heads} == {"conv_cls2", "conv_r2", "regress_adjust"}
    assert not any(n in ("/Conv", "/Conv_1") for n in everything)  # the correlation never


def test_model_json_records_the_int8_variant(int8_model):
    manifest = json.loads((int8_model / "model.json").read_text())
    entry = manifest["variants"]["int8"]
    assert entry["calibration_sha256"] == sha256_file(int8_model / "calibration.npz")
    assert entry["method"] == "percentile" and entry["counts"]["search_767"] == 8
    paths = int8_graph_paths(int8_model)
    assert set(paths) == {"template", "search"}
    for role, path in paths.items():
        assert entry["graphs"][role]["sha256"] == sha256_file(path)
    assert manifest["precision"] == "fp32" and manifest["graphs"]["search"]["file"] == "search.onnx"


def test_int8_outputs_close_to_fp32_on_held_out_crops(int8_model, clip_frames):
    info = read_model_dir(int8_model)
    boxes = np.array([DEMO_INIT_XYWH] * 30, dtype=np.float64)  # frames 20..29: not the calibration frames
    traj = gt_trajectory("held-out", clip_frames[20:30], boxes[:10], 9, np.random.default_rng(11), 0.5)
    held_out = collect_crops([traj], CollectConfig(per_input=6, seed=11, search_sizes=(255, 767)))
    errors = score_map_errors(OrtBackend(info), OrtBackend(info, precision="int8"), held_out)
    for size, err in errors.items():
        assert err["max_abs"] < 0.1, (size, err)  # foreground probabilities within 0.1 everywhere
        assert err["rel_l2_logits"] < 0.1, (size, err)
        assert err["max_abs"] > 0.0  # the INT8 graph really is a different computation


@pytest.mark.parametrize("method", ["minmax", "entropy"])
def test_cpu_form_is_as_close_to_fp32_as_the_float_out_form_with_every_range_method(int8_model, clip_frames, method,
                                                                                     tmp_path):
    """int8-cpu drops each Relu and lets its Q clip at 0: that needs the shared range to start at 0 even when the
    calibrator reports a symmetric [-m, m] (min-max did: logit error 2.8 against the float-out form's 0.03 before
    share_relu_ranges floored it). The reference is the float-out form of the same ranges (entropy clips harder
    than percentile in both); int8-cpu-w7 (7-bit weights) against int8-cpu."""
    from dasiamrt.calib.variants import write_int8_variants

    folder = tmp_path / method
    folder.mkdir()
    for name in ("model.json", "template.onnx", "search.onnx", "kernel_update.onnx"):
        (folder / name).write_bytes((int8_model / name).read_bytes())
    write_int8_variants(folder, load_calibration(int8_model), method, forms=("int8-cpu", "int8-cpu-w7", "int8"))
    fp32 = OrtBackend(read_model_dir(int8_model))
    boxes = np.array([DEMO_INIT_XYWH] * 30, dtype=np.float64)
    traj = gt_trajectory("held-out", clip_frames[20:30], boxes[:10], 9, np.random.default_rng(11), 0.5)
    held_out = collect_crops([traj], CollectConfig(per_input=6, seed=11, search_sizes=(255, 767)))
    errors = {form: score_map_errors(fp32, OrtBackend(read_model_dir(folder), precision="int8", int8_form=form),
                                     held_out) for form in ("int8-cpu", "int8-cpu-w7", "int8")}
    for size, err in errors["int8-cpu"].items():
        reference = errors["int8"][size]["rel_l2_logits"]
        assert err["rel_l2_logits"] <= max(1.5 * reference, 0.05), (method, size, err, reference)
        # one bit less on the weights' grid: at most about twice the weight rounding, never a broken graph
        w7 = errors["int8-cpu-w7"][size]["rel_l2_logits"]
        assert w7 <= max(2.0 * err["rel_l2_logits"], 0.05), (method, size, w7, err)


def test_int8_tracker_follows_the_fp32_tracker(int8_model, clip_frames):
    info = read_model_dir(int8_model)
    fp32 = track_boxes(Tracker(OrtBackend(info), info.tracker), clip_frames, DEMO_INIT_XYWH, 25)
    int8 = track_boxes(Tracker(OrtBackend(info, precision="int8"), info.tracker), clip_frames, DEMO_INIT_XYWH, 25)
    agreement = box_agreement(fp32, int8)
    assert agreement["frames"] == 24 and agreement["mean_iou"] > 0.9


def test_int8_precision_needs_calibration(tiny_model_dir):
    with pytest.raises(ModelError, match="dasiamrt calibrate"):
        OrtBackend(read_model_dir(tiny_model_dir), precision="int8")
    with pytest.raises(ModelError, match="no INT8 graphs"):
        int8_graph_paths(tiny_model_dir)


def test_bench_and_track_take_precision_int8(int8_model, tmp_path, capsys):
    from dasiamrt.cli import main

    assert main(["bench", "--model", str(int8_model), "--precision", "int8", "--sizes", "255", "--da", "off",
                 "--frames", "2", "--warmup", "0"]) == 0
    assert "| ort | int8 | 255 |" in capsys.readouterr().out
    out = tmp_path / "boxes.csv"
    from dasiamrt.assets import DEMO_CLIP

    assert main(["track", str(DEMO_CLIP), "--init", ",".join(map(str, DEMO_INIT_XYWH)), "--model", str(int8_model),
                 "--precision", "int8", "--max-frames", "3", "--out", str(out), "--quiet"]) == 0
    assert len(out.read_text().strip().splitlines()) >= 3


def test_recalibrating_from_a_saved_set_is_deterministic(int8_model, tmp_path):
    import shutil

    from dasiamrt.calib.variants import write_int8_variant

    copy = tmp_path / "copy"
    shutil.copytree(int8_model, copy)
    write_int8_variant(copy, load_calibration(copy))
    for role in ("template", "search"):
        assert sha256_file(copy / f"{role}.int8.onnx") == sha256_file(int8_model / f"{role}.int8.onnx")


def test_conv_output_form_quantises_every_backbone_conv_output(int8_model):
    # calibrate writes every form by default: int8 (float-out) and int8-cpu (Conv-out) from one set of ranges
    entries = json.loads((int8_model / "model.json").read_text())["variants"]
    assert entries["int8-cpu"]["conv_outputs_quantized"] is True and entries["int8"]["conv_outputs_quantized"] is False
    for role in ("template", "search"):
        default, qconv = (onnx.load(str(int8_model / f"{role}.{form}.onnx")) for form in ("int8", "int8-cpu"))
        for model, expect in ((default, False), (qconv, True)):
            consumers = {}
            for node in model.graph.node:
                for name in node.input:
                    consumers.setdefault(name, []).append(node.op_type)
            backbone = [n for n in model.graph.node if n.op_type == "Conv" and "featureExtract" in n.name]
            quantised_out = [consumers.get(n.output[0], []) == ["QuantizeLinear"] for n in backbone]
            assert all(quantised_out) if expect else not any(quantised_out), (role, expect)
        # same ranges on other grids: the float-out form's symmetric int8 (zero point 0, top 127 x scale) and the
        # Conv-out form's uint8 (top (255 - zero point) x scale) end at the same value for every tensor both quantise
        grids = [_activation_grids(m) for m in (default, qconv)]
        shared = set(grids[0]) & set(grids[1])
        assert shared and all(zp == 0 and dtype == np.int8 for _, zp, dtype in grids[0].values())
        for name in shared:
            (s8, _, _), (u8, zp, dtype) = grids[0][name], grids[1][name]
            assert dtype == np.uint8 and (255 - zp) * u8 == pytest.approx(127 * s8, rel=0.01), name
        # ... and each Conv output before a Relu is quantised on the Relu output's grid starting at 0 (one rounding,
        # not two): the Q saturates where the Relu does, so the quantiser drops the Relu (ONNX Runtime then chains
        # QLinearConvs; a symmetric grid kept the Relu as a float op between them)
        fp32 = onnx.load(str(int8_model / f"{role}.onnx"))
        pairs = _conv_relu_pairs(fp32)
        assert pairs and not any(n.op_type == "Relu" for n in qconv.graph.node)
        by_name = {n.name: n for n in qconv.graph.node}
        for conv, relu in pairs:
            scale, zp, _ = grids[1][by_name[conv].output[0]]
            assert zp == 0 and 255 * scale == pytest.approx(127 * grids[0][relu][0], rel=0.01), conv


def _activation_grids(model):
    """Quantised tensor name -> (scale, zero point, zero point dtype) of the QuantizeLinear on it (activations)."""
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    return {n.input[0]: (inits[n.input[1]].item(), int(inits[n.input[2]].item()), inits[n.input[2]].dtype.type)
            for n in model.graph.node if n.op_type == "QuantizeLinear" and n.input[0] not in inits}


def _conv_relu_pairs(model):
    """(backbone Conv name, output of the Relu after it, through MaxPools) in an fp32 graph."""
    consumers = {}
    for node in model.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    pairs = []
    for conv in (n for n in model.graph.node if n.op_type == "Conv" and "featureExtract" in n.name):
        node = conv
        while len(consumers.get(node.output[0], [])) == 1 and node.op_type != "Relu":
            node = consumers[node.output[0]][0]
            if node.op_type not in ("MaxPool", "Relu"):
                break
        if node.op_type == "Relu":
            pairs.append((conv.name, node.output[0]))
    return pairs


def test_fallback_quantizer_leaves_the_callers_ranges_alone(tmp_path, monkeypatch):
    """ONNX Runtime's QDQQuantizer gives a Relu's input the Relu output's range by writing into the ranges it is
    handed; callers reuse one set of ranges for every probe and form, so the fallback must hand it a copy
    (a Conv -> Relu -> Conv graph, the Conv output's range unlike the Relu's)."""
    import onnxruntime.quantization as q
    from onnx import TensorProto, helper
    from onnxruntime.quantization.calibrate import CalibrationMethod, TensorData, TensorsData

    from dasiamrt.calib.qdq import write_qdq

    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.normal(size=(4, 3, 3, 3)).astype(np.float32), "w1"),
             numpy_helper.from_array(rng.normal(size=(2, 4, 3, 3)).astype(np.float32), "w2")]
    nodes = [helper.make_node("Conv", ["x", "w1"], ["a"], name="A"), helper.make_node("Relu", ["a"], ["r"], name="R"),
             helper.make_node("Conv", ["r", "w2"], ["y"], name="B")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    src = tmp_path / "float.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(src))
    given = {"x": (-1.0, 1.0), "a": (-5.0, 7.0), "r": (0.0, 3.0), "y": (-2.0, 2.0)}
    ranges = TensorsData(CalibrationMethod.MinMax, {k: TensorData(lowest=np.float32(lo), highest=np.float32(hi))
                                                    for k, (lo, hi) in given.items()})

    def without_cache_parameter(model_input, model_output, calibration_data_reader=None, **kwargs):
        raise AssertionError("the fallback must not call quantize_static")

    monkeypatch.setattr(q, "quantize_static", without_cache_parameter)
    write_qdq(src, tmp_path / "int8.onnx", ranges, ["A", "R", "B"], "minmax", tmp_path)
    after = {k: tuple(float(np.asarray(v).ravel()[0]) for v in d.range_value) for k, d in ranges.data.items()}
    assert after == given
    assert (tmp_path / "int8.onnx").is_file()


def test_fallback_quantizer_for_older_onnxruntime_gives_the_same_graph(int8_model, tmp_path, monkeypatch):
    from pathlib import Path

    import onnxruntime as ort
    import onnxruntime.quantization as q

    from dasiamrt.calib.qdq import quantize_graph

    calib = load_calibration(int8_model)
    session = ort.InferenceSession(str(int8_model / "template.onnx"), providers=["CPUExecutionProvider"])

    def without_cache_parameter(model_input, model_output, calibration_data_reader=None, **kwargs):
        raise AssertionError("the fallback must not call quantize_static")

    monkeypatch.setattr(q, "quantize_static", without_cache_parameter)  # an ONNX Runtime before the cache option
    out = tmp_path / "template.int8.onnx"
    quantize_graph(Path(int8_model / "template.onnx"), out, calib, "template", session)
    fallback, default = onnx.load(str(out)), onnx.load(str(int8_model / "template.int8.onnx"))
    assert [n.op_type for n in fallback.graph.node] == [n.op_type for n in default.graph.node]
    z = calib.blobs("template")[:2]
    a = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, {spec.TEMPLATE_INPUT: z})
    b = ort.InferenceSession(str(int8_model / "template.int8.onnx"),
                             providers=["CPUExecutionProvider"]).run(None, {spec.TEMPLATE_INPUT: z})
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


class _ShiftedBackend(OrtBackend):
    """fp32 ONNX Runtime with every proposal moved right: dx += 0.05 (anchor widths); scores unchanged."""

    def search(self, crop, want_features=False):
        out = super().search(crop, want_features)
        out.delta = out.delta.copy()
        out.delta[:, 0:5] += 0.05  # delta is (1, 20, S, S), coordinate-major: dx of the 5 anchors first
        return out


def test_step_agreement_gives_the_candidate_the_reference_state(tiny_model_dir, clip_frames):
    info = read_model_dir(tiny_model_dir)
    same = step_agreement(Tracker(OrtBackend(info), info.tracker), Tracker(OrtBackend(info), info.tracker),
                          clip_frames, DEMO_INIT_XYWH, 12)
    assert same["frames"] == 11 and same["min_iou"] == pytest.approx(1.0)

    ref, cand = Tracker(OrtBackend(info), info.tracker), Tracker(_ShiftedBackend(info), info.tracker)
    boxes = []
    for t, frame in enumerate(clip_frames[:12]):
        if t == 0:
            ref.init(frame, DEMO_INIT_XYWH)
            cand.init(frame, DEMO_INIT_XYWH)
            continue
        cand.state = copy.deepcopy(ref.state)
        boxes.append((ref.track(frame).bbox_xywh, cand.track(frame).bbox_xywh))
    r, c = (np.array(b) for b in zip(*boxes))
    # the shift moves only x: same winner (scores and sizes untouched), so y, w, h agree exactly
    np.testing.assert_allclose(c[:, 1:], r[:, 1:], atol=1e-9)
    # ... and x moves right, except where the centre is clipped to the frame's edge (random weights drift)
    assert np.all(c[:, 0] >= r[:, 0]) and np.all(c[:4, 0] > r[:4, 0])
    shifted = step_agreement(Tracker(OrtBackend(info), info.tracker), Tracker(_ShiftedBackend(info), info.tracker),
                             clip_frames, DEMO_INIT_XYWH, 12)
    expected = box_agreement(np.vstack([[DEMO_INIT_XYWH], r]), np.vstack([[DEMO_INIT_XYWH], c]))
    assert shifted["mean_iou"] == pytest.approx(expected["mean_iou"]) and shifted["mean_iou"] < 1.0


def test_calibrate_writes_files_with_the_usual_permissions(int8_model):
    # mkstemp's 0600 must not leak into model folders other users or services read
    umask = os.umask(0)
    os.umask(umask)
    for name in ("model.json", "calibration.npz", "calibration.json", "search.int8.onnx"):
        assert (int8_model / name).stat().st_mode & 0o777 == 0o666 & ~umask, name


def test_relu6_clip_shares_its_range_with_the_conv_before_it():
    """share_relu_ranges on a hand-built graph: a Conv before Clip(0, 6) (MobileNetV2's ReLU6, min/max as
    Constant inputs) and one before a Relu take the activation's range; a Conv before Clip(-1, 1) (it does not
    zero negatives) and a Conv with no activation keep their own."""
    from onnx import TensorProto, helper
    from onnxruntime.quantization.calibrate import CalibrationMethod, TensorData, TensorsData

    from dasiamrt.calib.qdq import share_relu_ranges

    def const(name, value):
        return helper.make_node("Constant", [], [name], value=helper.make_tensor(name, TensorProto.FLOAT, [], [value]))

    weight = numpy_helper.from_array(np.ones((1, 1, 1, 1), np.float32), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c1"]), const("lo", 0.0), const("hi", 6.0),
             helper.make_node("Clip", ["c1", "lo", "hi"], ["r6"]),
             helper.make_node("Conv", ["r6", "w"], ["c2"]), const("lo2", -1.0), const("hi2", 1.0),
             helper.make_node("Clip", ["c2", "lo2", "hi2"], ["cl"]),
             helper.make_node("Conv", ["cl", "w"], ["c3"]), helper.make_node("Relu", ["c3"], ["r"]),
             helper.make_node("Conv", ["r", "w"], ["y"])]
    io = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 1, 4, 4]) for n in ("x", "y")]
    model = helper.make_model(helper.make_graph(nodes, "g", io[:1], io[1:], [weight]))
    own = {"c1": (-30.0, 40.0), "r6": (0.0, 6.0), "c2": (-5.0, 5.0), "cl": (-1.0, 1.0), "c3": (-3.0, 2.0),
           "r": (0.0, 2.0), "y": (-7.0, 7.0)}
    data = {k: TensorData(lowest=np.float32(lo), highest=np.float32(hi)) for k, (lo, hi) in own.items()}
    shared = share_relu_ranges(model, TensorsData(CalibrationMethod.MinMax, data)).data
    got = {k: tuple(float(v) for v in shared[k].range_value) for k in own}
    assert got["c1"] == own["r6"] and got["c3"] == own["r"]
    assert got["c2"] == own["c2"] and got["y"] == own["y"]
    assert all(got[k] == own[k] for k in ("r6", "cl", "r"))


def test_a_node_whose_input_channels_differ_wildly_in_range_is_found_and_kept_in_float(int8_model, tmp_path):
    """Scale the first Conv's output channel 0 by 1000 and the next Conv's input channel 0 by 1/1000: the
    network computes the same function (MaxPool and Relu commute with a positive scale), but one per-tensor
    activation scale over the scaled tensor crushes the other channels. sensitive_nodes finds the nodes that
    quantise that tensor (the Conv after it among them), and none in the graph as exported; calibrate records
    what it kept in float."""
    from dasiamrt.calib.kernels import template_session
    from dasiamrt.calib.qdq import FLOAT_LIMIT, feed_groups, probe_feeds, role_ranges, sensitive_nodes

    model = onnx.load(str(int8_model / "search.onnx"))
    inits = {i.name: i for i in model.graph.initializer}
    convs = [n for n in model.graph.node if n.op_type == "Conv" and "featureExtract" in n.name]
    first, second = convs[0], convs[1]
    for name, scale, index in ((first.input[1], 1000.0, np.s_[0]), (first.input[2], 1000.0, np.s_[0]),
                               (second.input[1], 1e-3, np.s_[:, 0])):
        array = numpy_helper.to_array(inits[name]).copy()
        array[index] *= scale
        inits[name].CopyFrom(numpy_helper.from_array(array, name))
    scaled = tmp_path / "scaled.onnx"
    onnx.save(model, str(scaled))
    calib = load_calibration(int8_model)
    session = template_session(read_model_dir(int8_model))
    groups = feed_groups(calib, "search", session)
    feeds = probe_feeds(groups, "search")
    nodes = nodes_to_quantize(model, "search")
    found = {}
    for label, path in (("exported", int8_model / "search.onnx"), ("scaled", scaled)):
        work = tmp_path / label
        work.mkdir()
        ranges = role_ranges(path, groups, "search", "percentile", work)
        found[label] = sensitive_nodes(path, ranges, nodes, feeds, "percentile", work, FLOAT_LIMIT)
        # the Conv-out probe (int8-cpu's --cpu-float-limit) quantises each node in that form
        found[f"{label} conv-out"] = sensitive_nodes(path, ranges, nodes, feeds, "percentile", work, FLOAT_LIMIT,
                                                     output_qdq=True)
    import onnxruntime as ort

    outputs = [ort.InferenceSession(str(p)).run(["cls"], feeds[0])[0] for p in (int8_model / "search.onnx", scaled)]
    assert np.abs(outputs[1] - outputs[0]).max() <= 1e-3 * np.abs(outputs[0]).max()  # the same function
    assert found["exported"] == {} and found["exported conv-out"] == {}
    assert second.name in found["scaled"] and first.name not in found["scaled"]
    assert second.name in found["scaled conv-out"]
    assert all(error > FLOAT_LIMIT for error in found["scaled"].values())
    entries = json.loads((int8_model / "model.json").read_text())["variants"]
    for form, entry in entries.items():
        if form in ("int8-cpu", "int8-cpu-w7"):  # the fast forms quantise every node unless asked (--cpu-float-limit)
            assert "float_nodes" not in entry and entry["quantized_nodes"]["search"] == nodes
            continue
        assert entry["float_limit"] == FLOAT_LIMIT and set(entry["float_nodes"]) == {"template", "search"}
        assert not set(entry["float_nodes"]["search"]) & set(entry["quantized_nodes"]["search"])


def test_a_float_conv_between_quantised_ones_stays_float_under_onnx_runtimes_optimiser(tmp_path):
    """Conv A (quantised) -> Relu -> Conv B (left float) -> Relu -> Conv C (quantised), Conv-out form. B's
    weights span 1 and 1e-3 per output channel, so a per-tensor int8 weight grid (what ONNX Runtime's
    WeightBiasQuantization gives a float Conv it finds between DQ and Q) rounds the small channel to a few
    steps. The graph as written must compute the same with ONNX Runtime's optimiser on and off (the
    optimiser may fuse, not change numbers), and B must read A's output in float."""
    import onnxruntime as ort
    from onnx import TensorProto, helper
    from onnxruntime.quantization.calibrate import CalibrationMethod, TensorData, TensorsData

    from dasiamrt.calib.qdq import write_qdq
    from dasiamrt.runtime.backends.ort import session_options

    rng = np.random.default_rng(0)
    w_b = rng.normal(size=(8, 8, 3, 3)).astype(np.float32)
    w_b[4:] *= 1e-3
    weights = {"wa": rng.normal(size=(8, 4, 3, 3)), "wb": w_b, "wc": rng.normal(size=(4, 8, 3, 3)) * 1e3}
    inits = [numpy_helper.from_array(np.asarray(v, np.float32), k) for k, v in weights.items()]
    nodes = [helper.make_node("Conv", ["x", "wa"], ["a"], name="A", pads=[1] * 4),
             helper.make_node("Relu", ["a"], ["ra"], name="RA"),
             helper.make_node("Conv", ["ra", "wb"], ["b"], name="B", pads=[1] * 4),
             helper.make_node("Relu", ["b"], ["rb"], name="RB"),
             helper.make_node("Conv", ["rb", "wc"], ["y"], name="C", pads=[1] * 4)]
    shapes = {"x": [1, 4, 8, 8], "y": [1, 4, 8, 8]}
    io = {k: helper.make_tensor_value_info(k, TensorProto.FLOAT, v) for k, v in shapes.items()}
    model = helper.make_model(helper.make_graph(nodes, "g", [io["x"]], [io["y"]], inits),
                              opset_imports=[helper.make_opsetid("", 17)])
    src = tmp_path / "float.onnx"
    onnx.save(model, str(src))
    x = rng.normal(size=shapes["x"]).astype(np.float32)
    probe = copy.deepcopy(model)
    probe.graph.output.extend(helper.make_tensor_value_info(t, TensorProto.FLOAT, None) for t in ("a", "ra", "b", "rb"))
    values = dict(zip(("y", "a", "ra", "b", "rb"), ort.InferenceSession(probe.SerializeToString()).run(None, {"x": x})))
    ranges = TensorsData(CalibrationMethod.MinMax, {
        k: TensorData(lowest=np.float32(v.min()), highest=np.float32(v.max())) for k, v in {**values, "x": x}.items()})

    out = tmp_path / "convout.onnx"
    write_qdq(src, out, ranges, ["A", "RA", "C"], "minmax", tmp_path, output_qdq=True)
    written = onnx.load(str(out))
    producers = {o: n for n in written.graph.node for o in n.output}
    b_node = next(n for n in written.graph.node if n.name == "B")
    assert b_node.input[1] == "wb" and producers[b_node.input[0]].op_type == "Clip"  # float input, float weights

    def run(level):
        options = session_options(ort, int8=True)  # the runtime's (exact integer sums on x86 without VNNI)
        options.graph_optimization_level = level
        return ort.InferenceSession(str(out), options, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]

    plain = run(ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    optimised = run(ort.GraphOptimizationLevel.ORT_ENABLE_ALL)
    scale = float(np.abs(plain).max())
    assert np.abs(optimised - plain).max() <= 1e-4 * scale
    assert np.linalg.norm(plain - values["y"]) <= 0.05 * np.linalg.norm(values["y"])  # still close to fp32


def test_unsandwich_drops_a_shared_pair_only_when_every_float_consumer_left_it():
    """One Q feeding two DQs, each in front of a float Conv whose output is re-quantised: both Convs read one
    Clip(x) on the pair's grid, the two DQs and the shared Q go, and the graph computes what it did up to the rounding
    the pair did (checked with ONNX Runtime's optimiser off, the graph's own semantics)."""
    import onnxruntime as ort
    from onnx import TensorProto, checker, helper

    from dasiamrt.calib.qdq import unsandwich_float_nodes

    rng = np.random.default_rng(1)
    scale, zero = 0.02, 128
    inits = [numpy_helper.from_array(np.array(scale, np.float32), "s"),
             numpy_helper.from_array(np.array(zero, np.uint8), "z"),
             numpy_helper.from_array(rng.normal(size=(2, 2, 1, 1)).astype(np.float32), "wb"),
             numpy_helper.from_array(rng.normal(size=(2, 2, 1, 1)).astype(np.float32), "wc")]
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["xq"], name="Q0")]
    for k in ("b", "c"):
        nodes += [helper.make_node("DequantizeLinear", ["xq", "s", "z"], [f"dq{k}"], name=f"DQ{k}"),
                  helper.make_node("Conv", [f"dq{k}", f"w{k}"], [k], name=k.upper()),
                  helper.make_node("QuantizeLinear", [k, "s", "z"], [f"{k}q"], name=f"Q{k}"),
                  helper.make_node("DequantizeLinear", [f"{k}q", "s", "z"], [f"y{k}"], name=f"DQ{k}out")]
    io = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 2, 3, 3]) for n in ("x", "yb", "yc")]
    model = helper.make_model(helper.make_graph(nodes, "g", io[:1], io[1:], inits),
                              opset_imports=[helper.make_opsetid("", 17)])
    x = {"x": rng.uniform(-2, 2, (1, 2, 3, 3)).astype(np.float32)}

    def run(m):
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        return ort.InferenceSession(m.SerializeToString(), options, providers=["CPUExecutionProvider"]).run(None, x)

    before = run(model)
    rewritten = copy.deepcopy(model)
    assert sorted(unsandwich_float_nodes(rewritten)) == ["B", "C"]
    checker.check_model(rewritten)
    names = {n.name for n in rewritten.graph.node}
    assert not names & {"Q0", "DQb", "DQc"} and "B_float_input" in names and "C_float_input" not in names
    clip_readers = [n.name for n in rewritten.graph.node if "B_float_input" in n.input]
    assert clip_readers == ["B", "C"]  # one Clip per tensor and grid, read by both float Convs
    for a, b in zip(before, run(rewritten)):  # the input rounding (step 0.02) is gone; the output grids stay
        assert np.abs(a - b).max() <= 3 * scale
