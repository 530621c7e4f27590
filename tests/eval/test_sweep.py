"""`eval --sweep`: the grid, one folder per combination with its settings, one ranking."""
from __future__ import annotations

import json

import pytest

from dasiamrt import cli
from dasiamrt.config import TrackerConfig
from dasiamrt.errors import ConfigError
from dasiamrt.eval.sweep import parse_sweep


def test_grid_covers_every_combination_with_typed_values():
    base = TrackerConfig()
    combos = parse_sweep("penalty_k=0.04,0.1; window_influence=0.3,0.44;distractor.enabled=on,off", base)
    assert len(combos) == 8
    labels = [label for label, _ in combos]
    assert labels[0] == "penalty_k=0.04,window_influence=0.3,distractor.enabled=True"
    assert len(set(labels)) == 8
    seen = {(c.penalty_k, c.window_influence, c.distractor.enabled) for _, c in combos}
    assert seen == {(p, w, d) for p in (0.04, 0.1) for w in (0.3, 0.44) for d in (True, False)}
    assert all(c.lr == base.lr and c.distractor.threshold == base.distractor.threshold for _, c in combos)
    (_, cfg), = parse_sweep("instance_size=287", base)
    assert cfg.instance_size == 287 and isinstance(cfg.instance_size, int)


@pytest.mark.parametrize("spec, message", [
    ("penalty=0.1", "unknown tracker setting 'penalty'"),
    ("exemplar_size=255", "unknown tracker setting 'exemplar_size'"),
    ("penalty_k", "takes 'setting=v1,v2"),
    ("penalty_k=0.1;penalty_k=0.2", "given twice"),
    ("penalty_k=abc", "expected float values"),
    ("distractor.enabled=maybe", "expected true/false"),
    ("instance_size=256", "is not a valid setting"),
    ("  ;  ", "names no setting"),
])
def test_bad_sweeps_are_refused(spec, message):
    with pytest.raises(ConfigError, match=message):
        parse_sweep(spec, TrackerConfig())


def test_cli_unknown_setting_is_one_line_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "sweep"
    assert cli.main(["eval", "--dataset", "synthetic:plain:1:0:5", "--sweep", "penalty=0.1", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("dasiamrt eval: error: --sweep: unknown tracker setting 'penalty'")
    assert not out.exists()


def test_sweep_runs_each_combination_and_ranks_them(tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    out = tmp_path / "sweep"
    assert cli.main(["eval", "--dataset", "synthetic:distractors:2:7:25", "--sweep", "penalty_k=0.04,0.3;lr=0.1,0.45",
                     "--out", str(out), "--no-plots", "--quiet"]) == 0
    printed = capsys.readouterr().out
    folders = sorted((out / "results").iterdir())
    assert [f.name for f in folders] == ["bundled-penalty_k=0.04,lr=0.1", "bundled-penalty_k=0.04,lr=0.45",
                                         "bundled-penalty_k=0.3,lr=0.1", "bundled-penalty_k=0.3,lr=0.45"]
    for folder in folders:  # each run records the settings it ran with
        config = json.loads((folder / "config.json").read_text())
        expected = dict(kv.split("=") for kv in folder.name.split("-", 1)[1].split(","))
        assert config["penalty_k"] == float(expected["penalty_k"]) and config["lr"] == float(expected["lr"])
    rows = json.loads((out / "sweep.json").read_text())["rows"]
    aucs = [r["auc"] for r in rows]
    assert aucs == sorted(aucs, reverse=True) and [r["rank"] for r in rows] == [1, 2, 3, 4]
    # the ranking's scores are those of scoring each folder on its own
    for row in rows:
        one = tmp_path / f"one-{row['rank']}"
        assert cli.main(["eval", "--dataset", "synthetic:distractors:2:7:25", "--results",
                         str(out / "results" / row["name"]), "--out", str(one), "--no-plots"]) == 0
        summary = json.loads((one / "report.json").read_text())["trackers"][row["name"]]["summary"]
        assert summary["auc"] == pytest.approx(row["auc"], abs=1e-12)
    assert len({r["auc"] for r in rows}) > 1  # the settings matter on this set, so the ranking means something
    assert "auc_vs_best" not in rows[0]  # each later row: its paired difference from rank 1 (same sequences,
    for row in rows[1:]:                 # so the mean difference is the difference of the means)
        iv = row["auc_vs_best"]
        assert iv["estimate"] == pytest.approx(row["auc"] - rows[0]["auc"], abs=1e-12) and iv["clusters"] == 2
        assert iv["low"] <= iv["estimate"] <= 1e-12 and iv["estimate"] <= iv["high"]  # rank 1 is best on average
    assert "| AUC vs rank 1, paired [95%] |" in printed
    assert printed.startswith("# Sweep on synthetic-distractors (2 sequences), ranked by AUC")
    assert (out / "sweep.md").read_text() in printed


def test_workers_without_ray_is_refused(capsys):
    assert cli.main(["eval", "--dataset", "synthetic:plain:1:0:5", "--workers", "2"]) == 2
    assert "add --ray" in capsys.readouterr().err
