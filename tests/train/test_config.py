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


def test_settings_merge_objects_key_by_key_and_replace_everything_else():
    from dasiamrt.train.config import merge_settings

    base = {"seed": 1, "sampler": {"max_gap": 10, "augment": {"shift": 12, "blur": 0.2}}, "data": [{"type": "a"}]}
    changes = {"seed": 2, "sampler": {"augment": {"shift": 64}}, "data": [{"type": "b"}], "epochs": 3}
    assert merge_settings(base, changes) == {"seed": 2, "epochs": 3, "data": [{"type": "b"}],
                                             "sampler": {"max_gap": 10, "augment": {"shift": 64, "blur": 0.2}}}
    assert base["sampler"]["augment"]["shift"] == 12  # the base is not changed in place


def test_a_config_file_stacks_on_its_base_chain(tmp_path, monkeypatch):
    from dasiamrt.train.config import read_config_file

    monkeypatch.chdir(tmp_path)  # 'base' paths are relative to where training runs, like every path
    (tmp_path / "a.json").write_text(json.dumps({"data": [{"type": "x"}], "epochs": 5, "sampler": {"max_gap": 7}}))
    (tmp_path / "b.json").write_text(json.dumps({"base": "a.json", "epochs": 6}))
    (tmp_path / "c.json").write_text(json.dumps({"base": "b.json", "sampler": {"negative_same": 0.3}}))
    cfg = TrainConfig.from_dict(read_config_file(tmp_path / "c.json"))
    assert (cfg.epochs, cfg.sampler.max_gap, cfg.sampler.negative_same) == (6, 7, 0.3)
    (tmp_path / "loop1.json").write_text(json.dumps({"base": "loop2.json"}))
    (tmp_path / "loop2.json").write_text(json.dumps({"base": "loop1.json"}))
    (tmp_path / "orphan.json").write_text(json.dumps({"base": "gone.json"}))
    (tmp_path / "odd.json").write_text(json.dumps({"base": 3}))
    (tmp_path / "broken.json").write_text("{")
    for name, message in (("loop1.json", "loops"), ("orphan.json", r"gone.json \(the 'base' of orphan.json\)"),
                          ("odd.json", "'base' must be the path"), ("broken.json", "not valid JSON"),
                          ("missing.json", "not found")):
        with pytest.raises(ConfigError, match=message):
            read_config_file(tmp_path / name)


def test_project_stage_configs_resolve_to_the_recorded_schedules(monkeypatch):
    """The real-data stages as train_logs/real/README.md records them, read through their base chain."""
    from dasiamrt.train.config import read_config_file

    monkeypatch.chdir(ROOT)
    read = {name: TrainConfig.from_dict(read_config_file(Path("configs") / f"train_real{name}.json"))
            for name in ("_part1", "", "_stage2", "_stage3", "_stage4b")}
    stage3, stage4b = read["_stage3"], read["_stage4b"]
    assert (read["_part1"].epochs, read["_part1"].sampler.max_gap, read[""].epochs) == (40, 100, 16)
    assert (read["_stage2"].sampler.max_gap, read["_stage2"].epochs, read["_stage2"].lr_start) == (2000, 10, 2e-4)
    assert (stage3.seed, stage3.sampler.augment.shift, stage3.validation.starts) == (21, 64, 5)
    assert (stage4b.seed, stage4b.epochs, stage4b.lr_start, stage4b.lr_end) == (23, 8, 1e-4, 5e-6)
    assert (stage4b.sampler.augment.stretch, stage4b.sampler.augment.max_stretch) == (0.5, 4.0)
    assert stage4b.sampler.augment.shift == 64 and stage4b.validation.starts == 5  # inherited from stage 3
    assert [d["weight"] for d in stage4b.data] == [0.6, 0.25, 0.15]  # stage 2's data mix, inherited
