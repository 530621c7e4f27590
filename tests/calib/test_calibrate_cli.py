"""``dasiamrt calibrate`` that behaves: never into the package, --out gets a whole model, no quantizer chatter."""
from __future__ import annotations

import io
import json
import logging

import pytest

from dasiamrt.artifacts.model_folder import read_model_dir
from dasiamrt.assets import BUNDLED_MODEL, DEMO_CLIP
from dasiamrt.calib.api import calibrate
from dasiamrt.calib.progress import ProgressBar, quiet_quantizer
from dasiamrt.cli import main
from dasiamrt.errors import ConfigError
from dasiamrt.fileio import inside_package, sha256_file
from tests.calib.conftest import INIT

pytestmark = pytest.mark.skipif(not (BUNDLED_MODEL / "model.json").is_file(), reason="no bundled model")


def _snapshot(folder):
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir()}


def test_calibrating_the_bundled_model_without_out_is_refused(capsys):
    before = _snapshot(BUNDLED_MODEL)
    assert main(["calibrate", "--model", str(BUNDLED_MODEL), "--source", str(DEMO_CLIP), "--init", INIT]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "inside the installed dasiamrt package" in err[0]
    assert f"dasiamrt calibrate --model {BUNDLED_MODEL} --source ... --out DIR" in err[0]
    assert main(["calibrate", "--model", str(BUNDLED_MODEL), "--collect-only", "--source", str(DEMO_CLIP),
                 "--init", INIT]) == 2
    assert _snapshot(BUNDLED_MODEL) == before  # nothing written, not even the calibration set
    with pytest.raises(ConfigError, match="--out DIR"):  # the library refuses too, not only the CLI
        calibrate(str(BUNDLED_MODEL), [str(DEMO_CLIP)], [None])


def test_out_inside_the_package_is_refused(tmp_path, capsys):
    inside = BUNDLED_MODEL.parent / "tiny-int8"
    assert inside_package(inside) and not inside_package(tmp_path)
    assert main(["calibrate", "--model", str(BUNDLED_MODEL), "--source", str(DEMO_CLIP), "--init", INIT,
                 "--out", str(inside)]) == 2
    assert "inside the installed dasiamrt package" in capsys.readouterr().err
    assert not inside.exists()


def _grids(path):
    """(largest |int8 weight| of the graph's DequantizeLinear constants, {tensor: (scale, zero point)} of its
    QuantizeLinear nodes)."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    weights = [inits[n.input[0]] for n in model.graph.node
               if n.op_type == "DequantizeLinear" and n.input[0] in inits and inits[n.input[0]].dtype == np.int8]
    grids = {n.input[0]: (float(inits[n.input[1]]), int(inits[n.input[2]])) for n in model.graph.node
             if n.op_type == "QuantizeLinear"}
    return max(int(np.abs(w.astype(np.int32)).max()) for w in weights), grids


def test_out_gets_a_complete_model_folder_and_the_output_is_one_line(tmp_path, capsys, caplog):
    out = tmp_path / "tiny-int8"
    before = _snapshot(BUNDLED_MODEL)
    with caplog.at_level(logging.DEBUG):
        code = main(["calibrate", "--model", str(BUNDLED_MODEL), "--source", str(DEMO_CLIP), "--init", INIT,
                     "--out", str(out), "--per-input", "8", "--max-frames", "16", "--target", "cpu"])
    assert code == 0
    assert _snapshot(BUNDLED_MODEL) == before
    captured = capsys.readouterr()
    assert captured.out.count("\n") == 1 and captured.out.startswith("dasiamrt calibrate: calibration set")
    loud = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    for chatter in ("Collecting tensor data", "Please consider", "Finding optimal threshold"):
        assert chatter not in captured.out + captured.err and not any(chatter in m for m in loud)
    quiet = [r.getMessage() for r in caplog.records if r.name == "dasiamrt.calib.progress"]
    assert any("Collecting tensor data" in m for m in quiet)  # kept in the debug log (dasiamrt -v calibrate)
    info = read_model_dir(out, verify=True)  # a model folder of its own: fp32 graphs + model.json + INT8 graphs
    bundled = read_model_dir(BUNDLED_MODEL)
    for role in ("template", "search", "kernel_update"):
        assert sha256_file(info.graph(role)) == sha256_file(bundled.graph(role))
    variants = info.manifest["variants"]
    assert set(variants) == {"int8-cpu", "int8-cpu-w7"}  # --target cpu: the CPU forms only
    assert variants["int8-cpu"]["calibration_sha256"] == sha256_file(out / "calibration.npz")
    # the same activation grids; weights on [-127, 127] and on [-64, 64] (7 bits: no 16-bit pair overflow)
    assert (variants["int8-cpu"]["weight_bits"], variants["int8-cpu-w7"]["weight_bits"]) == (8, 7)
    w8, a8 = _grids(out / "search.int8-cpu.onnx")
    w7, a7 = _grids(out / "search.int8-cpu-w7.onnx")
    assert a8 == a7 and len(a8) > 5
    assert w8 == 127 and w7 == 64
    assert json.loads((out / "calibration.json").read_text())["counts"]["search_767"] == 8


def test_quiet_quantizer_demotes_prints_and_root_warnings(caplog, capsys):
    record = logging.LogRecord("root", logging.WARNING, "/x/site-packages/onnxruntime/quantization/quantize.py", 1,
                               "Please consider pre-processing before quantization.", None, None)
    other = logging.LogRecord("root", logging.WARNING, "/x/app.py", 1, "a user warning", None, None)
    with caplog.at_level(logging.DEBUG), quiet_quantizer():
        print("Collecting tensor data and making histogram ...")
        root = logging.getLogger()
        assert root.filter(record) is False and root.filter(other) is True
    assert capsys.readouterr().out == ""
    assert "Collecting tensor data" in caplog.text and "Please consider" in caplog.text
    assert not logging.getLogger().filters  # removed on the way out


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_draws_on_a_terminal_only():
    tty, pipe = _Tty(), io.StringIO()
    for stream in (tty, pipe):
        bar = ProgressBar(stream, width=10)
        bar.add(4)
        for _ in range(4):
            bar.advance(1, "search 767")
        bar.close()
    assert pipe.getvalue() == ""
    text = tty.getvalue()
    assert text.endswith("\n") and "\r" in text and "4/4 search 767" in text and "[##########]" in text
    assert text.count("\n") == 1  # one line, redrawn in place


@pytest.mark.parametrize("extra", [[], ["--collect-only"], ["--out", "OUT"]])
def test_a_set_made_for_another_model_is_refused_before_anything_is_written(int8_model, tmp_path, capsys, extra):
    """--from-set with a set collected for other graphs: exit 2, and neither the model folder (its own set and
    INT8 graphs) nor --out is touched."""
    import shutil

    from dasiamrt.artifacts.calibset import load_calibration, save_calibration

    model = tmp_path / "model"
    shutil.copytree(int8_model, model)
    foreign = load_calibration(model)
    foreign.manifest["model"]["sha256"] = {role: "0" * 64 for role in ("template", "search")}
    foreign_npz = save_calibration(foreign, tmp_path / "other-model-set")
    before = {p.name: sha256_file(p) for p in model.iterdir() if p.is_file()}
    out = tmp_path / "out"
    args = [str(out) if a == "OUT" else a for a in extra]
    assert main(["calibrate", "--model", str(model), "--from-set", str(foreign_npz), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "made for another model" in err[0]
    assert {p.name: sha256_file(p) for p in model.iterdir() if p.is_file()} == before
    assert not out.exists()


@pytest.mark.parametrize("flag", ["--float-limit", "--cpu-float-limit"])
@pytest.mark.parametrize("value", ["abc", "0", "-0.1", "inf", "nan"])
def test_a_float_limit_that_is_not_a_positive_error_is_refused_in_one_line(flag, value, tmp_path, capsys):
    with pytest.raises(SystemExit) as exited:  # argparse's usage error
        main(["calibrate", "--model", str(BUNDLED_MODEL), "--source", str(DEMO_CLIP), "--init", INIT,
              "--out", str(tmp_path / "out"), flag, value])
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and flag in err[0] and "'off'" in err[0]
    assert not (tmp_path / "out").exists()


def test_float_limits_reach_the_forms_they_name(int8_model, tmp_path, capsys):
    """--cpu-float-limit gives int8-cpu its own probe record; --float-limit off leaves the TensorRT forms without
    one (every node quantised)."""
    out = tmp_path / "limits"
    assert main(["calibrate", "--model", str(int8_model), "--from-set", str(int8_model / "calibration.npz"),
                 "--out", str(out), "--target", "cpu", "--target", "trt", "--cpu-float-limit", "0.2",
                 "--float-limit", "off"]) == 0
    entries = json.loads((out / "model.json").read_text())["variants"]
    cpu = entries["int8-cpu"]
    assert cpu["float_limit"] == 0.2 and set(cpu["float_nodes"]) == {"template", "search"}
    assert "float_limit" not in entries["int8"] and "float_nodes" not in entries["int8"]


def test_float_limit_flags_default_to_the_librarys_limits():
    from dasiamrt.calib.api import CalibrateOptions
    from dasiamrt.cli import build_parser

    args = build_parser().parse_args(["calibrate", "--model", "m", "--source", "s"])
    assert args.float_limit == CalibrateOptions().float_limit and args.cpu_float_limit is None
    assert build_parser().parse_args(["calibrate", "--model", "m", "--float-limit", "off"]).float_limit is None
