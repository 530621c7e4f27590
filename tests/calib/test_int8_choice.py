"""``--precision int8`` runs the form for this CPU (feature detection faked) and says which and why."""
from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import pytest

from dasiamrt.artifacts.model_folder import read_model_dir
from dasiamrt.assets import DEMO_CLIP, DEMO_INIT_XYWH
from dasiamrt.runtime.backends.ort import OrtBackend
from tests.test_int8_forms import AVX2_ONLY, CORTEX_A57, EPYC_VNNI, ORIN


def _search_outputs(backend, crop, kernels):
    backend.set_kernels(*kernels)
    out = backend.search(crop)
    return out.cls, out.delta


@pytest.mark.parametrize("cpu, form, slower", [(EPYC_VNNI, "int8-cpu", False), (ORIN, "int8-cpu", False),
                                               (AVX2_ONLY, "int8-cpu-w7", False), (CORTEX_A57, "int8", True)])
def test_ort_int8_runs_the_form_of_the_cpu(int8_model, clip_frames, caplog, cpu, form, slower):
    info = read_model_dir(int8_model)
    with caplog.at_level(logging.INFO):
        backend = OrtBackend(info, precision="int8", cpu=cpu)
    assert backend.int8_form == form and backend.precision == "int8"
    assert f"INT8 form {form}:" in caplog.text
    warned = [r for r in caplog.records if "will not be faster" in r.getMessage()]
    assert bool(warned) == slower and (not warned or warned[0].levelno == logging.WARNING)
    # it really runs that form's graphs: same outputs as the form opened by name
    crop = np.ascontiguousarray(np.transpose(clip_frames[1][:255, :255], (2, 0, 1))[None], dtype=np.float32)
    by_name = OrtBackend(info, precision="int8", int8_form=form, cpu=cpu)
    kernels = tuple(k[0] for k in by_name.template(crop[:, :, :127, :127].copy()))
    for a, b in zip(_search_outputs(backend, crop, kernels), _search_outputs(by_name, crop, kernels)):
        np.testing.assert_array_equal(a, b)
    other = "int8" if form != "int8" else "int8-cpu"
    assert not np.array_equal(_search_outputs(OrtBackend(info, precision="int8", int8_form=other, cpu=cpu), crop,
                                              kernels)[0], _search_outputs(backend, crop, kernels)[0])


def _folder_without(int8_model, tmp_path, *forms):
    """A copy of the calibrated folder whose model.json lacks ``forms`` (as one calibrated before they existed)."""
    folder = tmp_path / "old"
    shutil.copytree(int8_model, folder)
    manifest = json.loads((folder / "model.json").read_text())
    for form in forms:
        del manifest["variants"][form]
    (folder / "model.json").write_text(json.dumps(manifest))
    return folder


@pytest.mark.parametrize("dropped, runs", [(("int8-cpu",), "int8-cpu-w7"), (("int8-cpu", "int8-cpu-w7"), "int8")])
def test_a_folder_without_the_cpu_form_runs_the_nearest_and_says_how_to_add_it(int8_model, tmp_path, caplog,
                                                                               dropped, runs):
    """On a VNNI CPU: the other CPU form (integer kernels, no overflow on any CPU) before the float-out graph."""
    folder = _folder_without(int8_model, tmp_path, *dropped)
    with caplog.at_level(logging.INFO):
        backend = OrtBackend(read_model_dir(folder), precision="int8", cpu=EPYC_VNNI)
    assert backend.int8_form == runs
    assert "--target cpu" in caplog.text and "in place of int8-cpu" in caplog.text
    # the float-out graph runs its convolutions in float on a CPU: the user is told, as for a CPU without VNNI
    assert ("INT8 will not be faster than fp32 here: the float-out" in caplog.text) == (runs == "int8")


def test_an_x86_without_vnni_falls_back_to_int8_cpu_on_the_exact_kernels(int8_model, tmp_path, caplog):
    """A folder calibrated before int8-cpu-w7 existed: such a CPU runs its int8-cpu (8-bit weights, exact kernels
    there), not the float-out int8 graph (2.1x fp32's time there), and is told how to write the w7 form."""
    folder = _folder_without(int8_model, tmp_path, "int8-cpu-w7")
    with caplog.at_level(logging.INFO):
        backend = OrtBackend(read_model_dir(folder), precision="int8", cpu=AVX2_ONLY)
    assert backend.int8_form == "int8-cpu"
    assert "--target cpu" in caplog.text and "in place of int8-cpu-w7" in caplog.text
    assert "INT8 will not be faster than fp32 here: int8-cpu's 8-bit weights run on ONNX Runtime's exact" in caplog.text
    # every session of that backend takes the exact kernels (the CPU it was given, not this machine's)
    for session in backend._sessions.values():
        assert session.get_session_options().get_session_config_entry("session.x64quantprecision") == "1"
    vnni = OrtBackend(read_model_dir(folder), precision="int8", cpu=EPYC_VNNI)
    with pytest.raises(RuntimeError, match="does not have configuration"):
        vnni._sessions["search"].get_session_options().get_session_config_entry("session.x64quantprecision")


def _saturating_conv(tmp_path, weight=127):
    """A Conv-out Q/DQ graph (uint8 activations, int8 per-channel weights, as ``int8-cpu``) whose exact
    result needs 32-bit sums: 16 input channels at 255 times weights of 127, 518,160 per output, where a
    16-bit sum of a pair of products holds at most 32,767 (``weight`` 64, as ``int8-cpu-w7``: a pair sums to
    32,640). The weight scale is 1 / weight, so the float result is 4080 either way. Input: (1, 16, 6, 6)
    float, output (1, 4, 6, 6)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    inits = [numpy_helper.from_array(np.array(1.0, np.float32), "x_scale"),
             numpy_helper.from_array(np.array(0, np.uint8), "x_zero"),
             numpy_helper.from_array(np.full((4, 16, 1, 1), weight, np.int8), "w_q"),
             numpy_helper.from_array(np.full(4, 1.0 / weight, np.float32), "w_scale"),
             numpy_helper.from_array(np.zeros(4, np.int8), "w_zero"),
             numpy_helper.from_array(np.array(16.0, np.float32), "y_scale"),
             numpy_helper.from_array(np.array(0, np.uint8), "y_zero")]
    nodes = [helper.make_node("QuantizeLinear", ["x", "x_scale", "x_zero"], ["x_q"]),
             helper.make_node("DequantizeLinear", ["x_q", "x_scale", "x_zero"], ["x_dq"]),
             helper.make_node("DequantizeLinear", ["w_q", "w_scale", "w_zero"], ["w_dq"], axis=0),
             helper.make_node("Conv", ["x_dq", "w_dq"], ["y_f"]),
             helper.make_node("QuantizeLinear", ["y_f", "y_scale", "y_zero"], ["y_q"]),
             helper.make_node("DequantizeLinear", ["y_q", "y_scale", "y_zero"], ["y"])]
    graph = helper.make_graph(nodes, "saturating_conv",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16, 6, 6])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 6, 6])], inits)
    path = tmp_path / f"conv{weight}.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    return path


def _run(path, options):
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return session.run(None, {"x": np.full((1, 16, 6, 6), 255.0, np.float32)})[0]


def test_int8_sessions_compute_exact_integer_sums_on_this_cpu(tmp_path):
    """On x86 without VNNI ONNX Runtime's fast u8 x s8 kernels add pairs of products in 16 bits with saturation;
    the runtime's INT8 sessions take its exact kernels there (session.x64quantprecision), so on every CPU the
    fused integer Conv gives what the Q/DQ arithmetic gives: 16 x 255 x 127 / 127 = 4080, on the output grid
    of 16: 4080 (fails on such a CPU without the option: the saturated sums read about half)."""
    import onnxruntime as ort

    from dasiamrt.runtime.backends.ort import session_options

    out = _run(_saturating_conv(tmp_path), session_options(ort, int8=True))
    np.testing.assert_allclose(out, 4080.0)
    exact = ort.SessionOptions()  # DequantizeLinear -> float Conv -> QuantizeLinear, unfused
    exact.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    np.testing.assert_allclose(_run(_saturating_conv(tmp_path), exact), 4080.0)


def test_without_the_option_an_x86_cpu_without_vnni_saturates(tmp_path, monkeypatch):
    """The other side, where this machine can show it: the fast kernels' sums are wrong there."""
    import onnxruntime as ort

    import dasiamrt.runtime.backends.ort as ort_backend
    from dasiamrt.cpu_features import detect

    if not detect().u8s8_overflow:
        pytest.skip("this CPU's integer kernels do not saturate (VNNI, ARM): nothing to show")
    monkeypatch.setattr(ort_backend, "ort_session_entries", lambda cpu=None: {})
    out = _run(_saturating_conv(tmp_path), ort_backend.session_options(ort, int8=True))
    assert float(out.max()) < 3000.0


@pytest.mark.parametrize("cpu, form, slower", [(AVX2_ONLY, "int8-cpu-w7", False), (CORTEX_A57, "int8", True)])
def test_track_cli_logs_the_form(int8_model, tmp_path, monkeypatch, caplog, cpu, form, slower):
    import dasiamrt.cpu_features as cpu_features
    from dasiamrt.cli import main

    monkeypatch.setattr(cpu_features, "detect", lambda *a: cpu)
    with caplog.at_level(logging.INFO):
        assert main(["track", str(DEMO_CLIP), "--init", ",".join(map(str, DEMO_INIT_XYWH)), "--model",
                     str(int8_model), "--precision", "int8", "--max-frames", "2", "--out", str(tmp_path / "b.csv"),
                     "--quiet"]) == 0
    assert f"INT8 form {form}:" in caplog.text
    assert ("INT8 will not be faster than fp32 here" in caplog.text) == slower


def test_the_exact_kernels_take_8_bit_weights_and_leave_7_bit_ones_on_the_fast_path(tmp_path):
    """What the session option does, on any AVX2 x86 host (VNNI ones included: ONNX Runtime's overflow test holds
    on all of them): it converts int8 weights outside [-64, 64] to uint8 for the exact u8 x u8 kernels and leaves
    7-bit weights on the fast u8 x s8 kernels, where their pair sums cannot overflow: 4080 either way."""
    import onnx
    import onnxruntime as ort

    from dasiamrt.cpu_features import detect
    from dasiamrt.runtime.backends.ort import session_options

    if not detect().avx2:
        pytest.skip("ONNX Runtime's exact integer kernels are an AVX2 / AVX-512 matter")
    for weight, converted in ((127, True), (64, False)):
        options = session_options(ort, int8=True, cpu=AVX2_ONLY)
        options.optimized_model_filepath = str(tmp_path / f"optimised{weight}.onnx")
        np.testing.assert_allclose(_run(_saturating_conv(tmp_path, weight), options), 4080.0)
        weights = [i for i in onnx.load(options.optimized_model_filepath).graph.initializer if i.name.startswith("w_q")]
        assert [w.name.endswith("_s8_2_u8") for w in weights] == [converted], weight
    # 7-bit weights need no option: the fast kernels' sums are exact
    np.testing.assert_allclose(_run(_saturating_conv(tmp_path, 64), ort.SessionOptions()), 4080.0)
