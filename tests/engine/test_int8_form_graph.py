"""Finding 10 of the TensorRT audit: a strongly typed INT8 build parses the Q/DQ graph made from the fp16 graph.

A strongly typed network takes every tensor type from the graph, so the layers the Q/DQ graph does
not quantise (heads, the correlation with the dynamic kernels) must be fp16 in the graph the
builder parses; weakly typed builds keep the fp32-based graph (the FP16 flag picks fp16 there).
"""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from dasiamrt.artifacts.model_folder import read_model_dir
from dasiamrt.engine.graphs import graph_for
from dasiamrt.engine.precision import plan_precision
from dasiamrt.trt import compat

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def int8_forms_model(tiny_model, tmp_path_factory):
    """The tiny model with a calibration set and the int8 + int8-fp16 forms (8 crops per input)."""
    from dasiamrt.assets import DEMO_CLIP, DEMO_INIT_XYWH
    from dasiamrt.calib.api import calibrate
    from dasiamrt.calib.collect import CollectConfig

    folder = tmp_path_factory.mktemp("int8forms") / "tiny"
    shutil.copytree(tiny_model[0], folder)
    calibrate(str(folder), [str(DEMO_CLIP)], [DEMO_INIT_XYWH], cfg=CollectConfig(per_input=8, seed=3,
              search_sizes=(255, 767)), max_frames=16, forms=("int8", "int8-fp16"))
    return folder


def _float_types(path):
    """name -> elem type of every tensor of the graph (after shape inference)."""
    model = onnx.shape_inference.infer_shapes(onnx.load(str(path)))
    graph = model.graph
    types = {v.name: v.type.tensor_type.elem_type for v in [*graph.value_info, *graph.input, *graph.output]}
    types.update({i.name: i.data_type for i in graph.initializer})
    return model, types


def _unquantised_convs(model):
    """Convs whose weight is not dequantised: the heads and the correlation (weights are graph inputs)."""
    producers = {o: n for n in model.graph.node for o in n.output}
    return [n for n in model.graph.node if n.op_type == "Conv"
            and (n.input[1] not in producers or producers[n.input[1]].op_type != "DequantizeLinear")]


def _assert_unquantised_layers(path, elem_type, correlations):
    model, types = _float_types(path)
    convs = _unquantised_convs(model)
    graph_inputs = {i.name for i in model.graph.input}
    casts = {n.output[0]: n.input[0] for n in model.graph.node if n.op_type == "Cast"}
    fed_by_kernels = [n for n in convs if casts.get(n.input[1], n.input[1]) in graph_inputs]
    assert len(fed_by_kernels) == correlations
    assert len(convs) > correlations  # the heads too
    for node in convs:
        for name in (node.input[0], node.input[1], node.output[0]):
            assert types.get(name) == elem_type, (path.name, node.name, name, types.get(name))


def _plan(version, strongly_typed=False):
    return plan_precision("int8", compat.features_for_version(version), strongly_typed)


@pytest.mark.parametrize("version, typed", [("11.0", False), ("10.3", True)])
def test_strongly_typed_int8_parses_fp16_heads_and_correlation(int8_forms_model, tmp_path, version, typed):
    plan = _plan(version, typed)
    assert plan.strongly_typed
    info = read_model_dir(int8_forms_model)
    search = graph_for(info, "search", plan, tmp_path)
    template = graph_for(info, "template", plan, tmp_path)
    assert search.name == "search.int8-fp16.onnx" and template.name == "template.int8-fp16.onnx"
    _assert_unquantised_layers(search, onnx.TensorProto.FLOAT16, correlations=2)
    _assert_unquantised_layers(template, onnx.TensorProto.FLOAT16, correlations=0)
    # ... with the same quantised backbone: int8 weights, the same count of Q/DQ pairs as the int8 form
    int8 = onnx.load(str(int8_forms_model / "search.int8.onnx"))
    fp16 = onnx.load(str(search))
    ops = [n.op_type for n in fp16.graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")]
    assert ops == [n.op_type for n in int8.graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")]
    weights = {i.name: i.data_type for i in fp16.graph.initializer}
    assert sum(t == onnx.TensorProto.INT8 for t in weights.values()) >= 5
    # the graph's interface is unchanged (fp32 in and out): the runtime binds the same buffers
    assert [(v.name, v.type.tensor_type.elem_type) for v in fp16.graph.input] == \
        [(v.name, v.type.tensor_type.elem_type) for v in int8.graph.input]


def test_weakly_typed_int8_keeps_the_fp32_based_graph(int8_forms_model, tmp_path):
    plan = _plan("10.3")
    assert not plan.strongly_typed and "INT8" in plan.builder_flags
    search = graph_for(read_model_dir(int8_forms_model), "search", plan, tmp_path)
    assert search == int8_forms_model / "search.int8.onnx"
    _assert_unquantised_layers(search, onnx.TensorProto.FLOAT, correlations=2)


def test_int8_fp16_graph_is_derived_for_a_folder_calibrated_without_it(int8_forms_model, tmp_path):
    import json

    folder = tmp_path / "old"
    shutil.copytree(int8_forms_model, folder)
    manifest = json.loads((folder / "model.json").read_text())
    del manifest["variants"]["int8-fp16"]  # as calibrated by an older dasiamrt or with --target trt
    (folder / "model.json").write_text(json.dumps(manifest))
    (folder / "search.int8-fp16.onnx").unlink()
    engines = tmp_path / "engines"
    plan = _plan("11.0")
    info = read_model_dir(folder)
    assert graph_for(info, "search", plan, engines, write=False) == engines / "search.int8-fp16.onnx"
    assert not engines.exists()  # write=False (trtexec lines of a dry run) writes nothing
    search = graph_for(info, "search", plan, engines)
    assert search == engines / "search.int8-fp16.onnx"
    _assert_unquantised_layers(search, onnx.TensorProto.FLOAT16, correlations=2)


def test_int8_fp16_graph_computes_what_the_int8_graph_does(int8_forms_model):
    """fp16 rounding only: on calibration crops the two forms agree to a fraction of the INT8 error itself."""
    import onnxruntime as ort

    from dasiamrt.artifacts.calibset import load_calibration

    calib = load_calibration(int8_forms_model)
    kernels = ort.InferenceSession(str(int8_forms_model / "template.onnx"), providers=["CPUExecutionProvider"]).run(
        None, {"template": calib.blobs("kernel_template")})
    feeds = {"search": calib.blobs("search_255")[:1], "cls_kernel": kernels[0][0], "reg_kernel": kernels[1][0]}
    outs = {}
    for name in ("search.onnx", "search.int8.onnx", "search.int8-fp16.onnx"):
        session = ort.InferenceSession(str(int8_forms_model / name), providers=["CPUExecutionProvider"])
        outs[name] = session.run(["cls", "delta"], feeds)
    for i in range(2):
        ref = outs["search.onnx"][i]
        err_int8 = np.linalg.norm(outs["search.int8.onnx"][i] - ref) / np.linalg.norm(ref)
        err_fp16 = np.linalg.norm(outs["search.int8-fp16.onnx"][i] - ref) / np.linalg.norm(ref)
        assert 0 < err_fp16 < max(2 * err_int8, 0.02), (i, err_int8, err_fp16)
