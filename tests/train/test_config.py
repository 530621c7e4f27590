from __future__ import annotations

import json
from pathlib import Path

import pytest

from dasiamrt.errors import ConfigError
from dasiamrt.train.config import TrainConfig

ROOT = Path(__file__).resolve().parents[2]


def test_example_config_loads_and_round_trips():
    cfg = TrainConfig.from_dict(json.loads((ROOT / "configs" / "train_tiny.json").read_text()))
    assert cfg.preset == "tiny" and cfg.sampler.instance_size == 255
    assert TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


def test_lr_decays_in_log_space():
    cfg = TrainConfig(data=({"type": "x"},), epochs=5, lr_start=1e-2, lr_end=1e-4)
    assert [cfg.lr_at(e) for e in range(5)] == pytest.approx([1e-2, 10 ** -2.5, 1e-3, 10 ** -3.5, 1e-4], rel=1e-12)


@pytest.mark.parametrize("bad", [{"data": [{"type": "x"}], "epochz": 3},
                                 {"data": [{"type": "x"}], "sampler": {"augment": {"blurr": 1}}},
                                 {"data": []}, {"data": [{"type": "x"}], "preset": "huge"},
                                 {"data": [{"type": "x"}], "sampler": {"negative_same": 0.7, "negative_other": 0.7}}])
def test_bad_configs_raise_config_errors(bad):
    with pytest.raises(ConfigError):
        TrainConfig.from_dict(bad)
