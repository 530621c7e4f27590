"""The checks behind the one-line errors, through the library API: schema of model.json, tracker settings,
graph roles, confined paths, colliding outputs, temp files, control channel, bench merge, --help."""
from __future__ import annotations

import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dasiamrt.artifacts.model_folder import precision_graphs, read_model_dir
from dasiamrt.assets import BUNDLED_MODEL
from dasiamrt.config import PRESETS, TrackerConfig
from dasiamrt.errors import ConfigError, DatasetError, ModelError, SourceError
from dasiamrt.fileio import AtomicFile, check_distinct, confine, remove_stale_temps, safe_name

from .runner import REPO, env


def _model_copy(tmp_path: Path, edit=None) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    for name in ("template.onnx", "search.onnx", "kernel_update.onnx"):
        (folder / name).symlink_to(BUNDLED_MODEL / name)
    manifest = json.loads((BUNDLED_MODEL / "model.json").read_text())
    if edit is not None:
        edit(manifest)
    (folder / "model.json").write_text(json.dumps(manifest))
    return folder


def test_bundled_model_and_presets_pass_the_schema():
    info = read_model_dir(BUNDLED_MODEL, verify=True)
    assert info.network == PRESETS[info.preset].network and set(info.graphs) == {"template", "search", "kernel_update"}
    assert info.preset == "mobile" and info.network.backbone == "mobilenetv2"  # the real-video model of #18
    for preset in PRESETS.values():
        assert TrackerConfig.from_dict(preset.tracker.to_dict()) == preset.tracker  # round trip, all valid


def test_any_variant_name_of_the_documented_shape_is_accepted(tmp_path):
    def edit(m):
        m["variants"] = {"int8-cpu": {"graphs": {"search": {"file": "search.onnx", "sha256": "0" * 64}},
                                      "method": "percentile"},
                         "int8-fp16": {"graphs": {"template": {"file": "template.onnx"}}}}
    info = read_model_dir(_model_copy(tmp_path, edit))
    assert precision_graphs(info, "int8-cpu")["search"] == info.root / "search.onnx"


@pytest.mark.parametrize("file", ["../search.onnx", "/etc/passwd", "sub/../../x.onnx", "C:\\x.onnx", "", 3])
def test_variant_graph_files_are_confined(tmp_path, file):
    def edit(m):
        m["variants"] = {"int8": {"graphs": {"search": {"file": file}}}}
    with pytest.raises(ModelError):
        read_model_dir(_model_copy(tmp_path, edit))


@pytest.mark.parametrize("changes, field", [
    ({"lr": "abc"}, "lr"), ({"lr": math.nan}, "lr"), ({"lr": 1.5}, "lr"), ({"lr": 0.0}, "lr"),
    ({"window_influence": 5}, "window_influence"), ({"window_influence": -0.1}, "window_influence"),
    ({"penalty_k": math.inf}, "penalty_k"), ({"context_amount": -1}, "context_amount"),
    ({"min_size": 0}, "min_size"), ({"instance_size": 255.0}, "instance_size"),
    ({"instance_size": True}, "instance_size"),
    ({"ratios": (0.33, 0.5, 1.0, 2.0, -3.0)}, "ratios"), ({"windowing": "hann"}, "windowing"),
    ({"exemplar_size": 128}, "exemplar_size"), ({"small_target_ratio": 2}, "small_target_ratio"),
    ({"distractor": {"threshold": 1.5}}, "distractor.threshold"), ({"distractor": {"n_max": 2.5}}, "distractor.n_max"),
    ({"distractor": {"eta": 0}}, "distractor.eta"), ({"distractor": {"enabled": 1}}, "distractor.enabled"),
    ({"long_term": {"lost_window_influence": 2}}, "long_term.lost_window_influence"),
    ({"long_term": {"lost_instance_size": 700}}, "search size 700"),
])
def test_tracker_settings_are_checked_for_type_and_range(changes, field):
    with pytest.raises(ConfigError, match=re.escape(field)):
        PRESETS["vot"].tracker.replace(**changes)


def test_threads_below_zero_is_refused_by_the_backend():
    from dasiamrt.runtime.tracker import Tracker

    with pytest.raises(ConfigError, match="threads must be an integer >= 0"):
        Tracker.from_model(BUNDLED_MODEL, backend="ort", threads=-3)


def test_every_graph_of_the_bundled_model_passes_its_role_and_no_other():
    import onnxruntime as ort

    from dasiamrt.runtime.graph_io import check_graph_io

    info = read_model_dir(BUNDLED_MODEL)
    sessions = {role: ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
                for role, path in info.graphs.items()}
    for graph_role, session in sessions.items():
        io = ({a.name: a.shape for a in session.get_inputs()}, {a.name: a.shape for a in session.get_outputs()})
        for role in sessions:
            if role == graph_role:
                check_graph_io(role, info.graphs[graph_role], *io, info.network)
            else:
                with pytest.raises(ModelError, match=f"is not a {role} graph"):
                    check_graph_io(role, info.graphs[graph_role], *io, info.network)
        with pytest.raises(ModelError, match="belong to different models"):
            check_graph_io(graph_role, info.graphs[graph_role], *io, PRESETS["vot"].network)


@pytest.mark.parametrize("name", ["../x", "..", ".", "", "a/b", "a\\b", "/abs", "x\0y", 7])
def test_unsafe_names_are_refused(name):
    with pytest.raises(DatasetError, match="cannot be a file name"):
        safe_name(name, "sequence name", DatasetError)


@pytest.mark.parametrize("name", ["Jogging.1", "bird1_2", "airplane-1", "..hidden..", "a b"])
def test_ordinary_names_pass(name):
    assert safe_name(name, "sequence name") == name


def test_confine_keeps_relative_subpaths(tmp_path):
    assert confine(tmp_path, "seq/img/0001.jpg", "image") == tmp_path / "seq/img/0001.jpg"
    for bad in ("../x", "seq/../../x", "/x", "\\\\server\\share\\x", "D:x"):
        with pytest.raises(SourceError, match="points outside|not a relative"):
            confine(tmp_path, bad, "image")


def test_outputs_that_are_inputs_or_each_other_are_refused_through_links(tmp_path):
    video = tmp_path / "in.mp4"
    video.write_bytes(b"x")
    (tmp_path / "link.mp4").symlink_to(video)
    os.link(video, tmp_path / "hard.mp4")
    for alias in ("link.mp4", "hard.mp4", "./in.mp4", "sub/../in.mp4"):
        (tmp_path / "sub").mkdir(exist_ok=True)
        with pytest.raises(ConfigError, match="would destroy the input"):
            check_distinct({"SOURCE": str(video)}, {"--save": str(tmp_path / alias)})
    with pytest.raises(ConfigError, match="both name"):
        check_distinct({}, {"--out": str(tmp_path / "a.csv"), "--save": str(tmp_path / "sub/../a.csv")})
    check_distinct({"SOURCE": str(video)}, {"--out": str(tmp_path / "a.csv"), "--save": str(tmp_path / "b.mp4")})


def test_temp_files_are_named_locked_and_stale_ones_removed(tmp_path):
    target = tmp_path / "boxes.csv"
    live = AtomicFile(target, ".csv")
    assert re.fullmatch(rf"\.boxes\.csv\.dasiamrt-{os.getpid()}-.+\.csv", live.tmp.name)
    with pytest.raises(SourceError, match=f"being written by another running dasiamrt \\(pid {os.getpid()}\\)"):
        AtomicFile(target, ".csv")  # a second writer of the same target, even in this process
    live.commit()
    stale = tmp_path / ".boxes.csv.dasiamrt-999999-abc.csv"  # what kill -9 leaves: nobody holds its lock
    stale.write_text("half")
    other = tmp_path / ".other.csv.dasiamrt-999999-abc.csv"
    other.write_text("not ours")
    assert remove_stale_temps(target) == [stale]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.csv.dasiamrt-999999-abc.csv", "boxes.csv"]


def test_udp_control_listens_on_loopback_by_default_and_checks_the_token():
    from dasiamrt.live.control import ControlMessage, open_control

    control = open_control("udp://0", token="s3cret")
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        assert control.address[0] == "127.0.0.1"
        for message in (b'{"cmd": "stop"}', b'{"cmd": "stop", "token": "wrong"}',
                        b'{"cmd": "init", "bbox": [1, 2, 3, 4], "token": "s3cret"}'):
            sender.sendto(message, control.address)
        got, deadline = [], time.monotonic() + 5
        while not got and time.monotonic() < deadline:
            got += control.poll()
            time.sleep(0.01)
        time.sleep(0.2)
        got += control.poll()
        assert got == [ControlMessage("init", (1.0, 2.0, 3.0, 4.0))]  # only the message with the token
    finally:
        sender.close()
        control.close()


def test_bench_merge_labels_each_column_with_its_model(tmp_path):
    from dasiamrt.bench.merge import merge_reports

    result = {"case": {"backend": "ort", "precision": "fp32", "search_size": 255, "da": False}, "fps": 20.0,
              "loop_ms": {"median": 50.0}}
    for name, model in (("a", "vot (random weights)"), ("b", "/x/models/tiny, backend ort fp32")):
        (tmp_path / f"{name}.json").write_text(json.dumps({"model": model, "machine": {"cpu": "EPYC"},
                                                           "results": [result]}))
    markdown, _ = merge_reports([tmp_path / "a.json", tmp_path / "b.json"], tmp_path / "c.png")
    assert markdown.splitlines()[0] == "| configuration | EPYC · vot (random weights) | EPYC · tiny |"


def test_help_shows_defaults_and_every_command_has_a_description():
    from dasiamrt.cli import COMMANDS, build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name in COMMANDS:
        assert sub.choices[name].description, f"{name} --help has no description"
    text = sub.choices["track"].format_help()
    assert "(default: 0)" in text  # --threads
    assert "distractor-aware tracking on (default: as the model/preset says)" in " ".join(text.split())
    assert "(default: None)" not in text and "(default: False)" not in text
    for name in COMMANDS:  # a flag shows no default: --no-da's argparse default True read as "off by default"
        assert "(default: True)" not in " ".join(sub.choices[name].format_help().split()), name
    assert "(default: 255,767)" in sub.choices["bench"].format_help()


def test_readme_python_example_runs(tmp_path):
    """The README's Python API example, as written (bundled model and clip, no download)."""
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## Python API"):]
    code = section[section.index("```python") + len("```python"):section.index("```", section.index("```python") + 9)]
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env(), cwd=tmp_path,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "tracking" in proc.stdout or "lost" in proc.stdout


def test_model_folder_copy_without_links_reads_too(tmp_path):
    folder = tmp_path / "copied"
    shutil.copytree(BUNDLED_MODEL, folder)
    assert read_model_dir(folder).graphs["search"] == folder / "search.onnx"
