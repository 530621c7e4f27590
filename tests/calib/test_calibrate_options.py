"""`dasiamrt calibrate`'s defaults are built once, in the library (issue 15, move 4)."""
from __future__ import annotations

import pytest

from dasiamrt.artifacts.model_folder import read_model_dir
from dasiamrt.assets import BUNDLED_MODEL
from dasiamrt.calib.api import CalibrateOptions
from dasiamrt.calib.collect import CollectConfig
from dasiamrt.errors import ConfigError


def test_collection_follows_the_models_sizes_and_context():
    folder = read_model_dir(BUNDLED_MODEL)
    cfg = CalibrateOptions(per_input=12, seed=4).collect_config(folder)
    sizes = sorted({255, 767, *folder.tracker.search_sizes()})
    assert cfg == CollectConfig(per_input=12, seed=4, search_sizes=tuple(sizes),
                                context_amount=folder.tracker.context_amount)
    given = CollectConfig(per_input=3)
    assert CalibrateOptions(cfg=given).collect_config(folder) is given


def test_checks_before_any_work(tmp_path):
    with pytest.raises(ConfigError, match="give --source"):
        CalibrateOptions().check(str(tmp_path), [])
    with pytest.raises(ConfigError, match="inside the installed dasiamrt package"):
        CalibrateOptions().check(str(BUNDLED_MODEL), ["clip.mp4"])
    CalibrateOptions(out_dir=str(tmp_path / "out")).check(str(BUNDLED_MODEL), ["clip.mp4"])


def test_a_cpu_float_limit_without_the_cpu_form_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="--target cpu"):
        CalibrateOptions(forms=("int8",), cpu_float_limit=0.1).check(str(tmp_path), ["clip.mp4"])
    CalibrateOptions(forms=("int8", "int8-cpu"), cpu_float_limit=0.1).check(str(tmp_path), ["clip.mp4"])
