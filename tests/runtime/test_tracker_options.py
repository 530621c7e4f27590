"""The choice of model, backend and settings is the library's (issue 15, move 4): the Python API reaches the
bundled-model default and every check the CLI makes, through the same TrackerOptions."""
from __future__ import annotations

import argparse

import pytest

from dasiamrt import TrackerOptions
from dasiamrt.artifacts.model_folder import read_model_dir
from dasiamrt.assets import BUNDLED_MODEL, DEMO_INIT_XYWH
from dasiamrt.cli import build_parser
from dasiamrt.commands._common import options_from_args
from dasiamrt.config import get_preset
from dasiamrt.errors import ConfigError
from dasiamrt.runtime.tracker import Tracker

pytest.importorskip("onnxruntime")


def test_no_model_is_the_bundled_model_on_onnx_runtime_with_the_switches(clip_frames):
    with Tracker.from_options(TrackerOptions(distractor=True, search_size=271)) as tracker:
        assert tracker.backend.name == "ort"
        assert tracker.config == read_model_dir(BUNDLED_MODEL).tracker.replace(distractor={"enabled": True},
                                                                              instance_size=271)
        tracker.init(clip_frames[0], DEMO_INIT_XYWH)
        assert tracker.track(clip_frames[1]).search_size == 271


def test_preset_with_a_model_takes_the_presets_settings():
    with Tracker.from_options(TrackerOptions(model=str(BUNDLED_MODEL), preset="otb")) as tracker:
        assert tracker.config == get_preset("otb").tracker


@pytest.mark.parametrize("options, message", [
    (TrackerOptions(model="m", weights="w.pt"), "not both"),
    (TrackerOptions(weights="w.pt", backend="ort"), "export first"),
    (TrackerOptions(device="cuda", backend="trt"), "TensorRT always runs on the GPU"),
    (TrackerOptions(device="gpu"), "--device takes cpu, cuda or cuda:N"),
    (TrackerOptions(model=str(BUNDLED_MODEL), backend="torch"), "not a model folder"),
    (TrackerOptions(backend="onnx"), "unknown backend"),
    (TrackerOptions(precision="int4"), "unknown precision 'int4': choose one of fp32, fp16, int8"),
])
def test_contradictions_are_refused_by_the_library(options, message):
    with pytest.raises(ConfigError, match=message):
        Tracker.from_options(options)


def test_the_cli_only_parses_into_the_same_options():
    parser = build_parser()
    args = parser.parse_args(["track", "clip.mp4", "--init", "1,2,3,4", "--weights", "w.pt", "--preset", "tiny",
                              "--device", "cpu", "--precision", "fp16", "--no-da", "--long-term", "--search-size",
                              "287", "--threads", "2"])
    assert options_from_args(args) == TrackerOptions(weights="w.pt", preset="tiny", device="cpu", precision="fp16",
                                                     threads=2, distractor=False, long_term=True, search_size=287)
    assert options_from_args(argparse.Namespace()) == TrackerOptions()
