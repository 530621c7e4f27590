"""Held-out tracking validation: the AUC it reports, and best.pt chosen on it (not on a training batch)."""
from __future__ import annotations

import dataclasses
import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from dasiamrt.errors import ConfigError
from dasiamrt.eval.datasets.base import Sequence
from dasiamrt.train import loop as loop_module
from dasiamrt.train.config import TrainConfig
from dasiamrt.train.loop import train
from dasiamrt.train.sampler import PairSampler, SamplerConfig
from dasiamrt.train.validate import ValidationConfig, run_sequence, summarize

from ..conftest import DATA, ROOT
from .test_real_data import _real_root, _split
from .test_sampler import PLAIN, moving_video


class _Oracle:
    """A fake tracker that returns the ground truth, shifted by ``dx`` pixels."""

    def __init__(self, gt: np.ndarray, dx: float) -> None:
        self.gt, self.dx, self.t = gt, dx, 0

    def init(self, frame, box) -> None:
        self.t = 0

    def track(self, frame):
        self.t += 1
        x, y, w, h = self.gt[self.t]
        return SimpleNamespace(bbox_xywh=(x + self.dx, y, w, h), score=0.9, state="tracking")


def _seq(n: int = 6) -> Sequence:
    gt = np.array([[10.0 + i, 20.0, 40.0, 20.0] for i in range(n)])
    return Sequence(name="s", gt=gt, frames=[np.zeros((80, 120, 3), np.uint8)] * n)


def test_summary_of_a_perfect_and_a_half_shifted_tracker():
    seq = _seq()
    perfect = summarize([run_sequence(_Oracle(seq.gt, 0.0), seq)])
    assert perfect["auc"] == pytest.approx(20 / 21)  # IoU 1 passes every threshold but 1.0 (strict >)
    shifted = run_sequence(_Oracle(seq.gt, 20.0), seq)  # half the width off: IoU = 20*20 / (60*20) = 1/3
    # frame 0 is the init box (IoU 1), frames 1..5 have IoU 1/3: thresholds 0..0.30 pass (7 of 21)
    expected = (20 / 21 + 5 * 7 / 21) / 6
    assert summarize([shifted])["auc"] == pytest.approx(expected)
    assert shifted.scores[1:].tolist() == [0.9] * 5


def _cfg(tmp_path, root, split) -> TrainConfig:
    return TrainConfig(data=({"type": "unused"},), out_dir=str(tmp_path / "out"), epochs=3, steps_per_epoch=1,
                       batch_size=2, val_pairs=2, log_every=1, num_threads=1, lr_start=1e-3, lr_end=1e-4,
                       validation=ValidationConfig(split=str(split), root=str(root)))


def test_best_checkpoint_is_the_one_with_the_highest_validation_auc(tmp_path, monkeypatch):
    root = _real_root(tmp_path)
    split = _split(tmp_path, root)
    scripted = iter([0.30, 0.50, 0.20, 0.40])  # step 0, then after epochs 1, 2, 3
    seen = []

    class FakeValidator:
        def __init__(self, *args, **kwargs) -> None:
            pass

        def __call__(self, state):
            seen.append({k: v.clone() for k, v in state.items()})
            return {"auc": next(scripted), "precision_20": 0.0, "per_sequence": {}}

    monkeypatch.setattr(loop_module, "TrackingValidator", FakeValidator)
    tracks = moving_video("a", [("red", "square", (60, 80)), ("blue", "square", (300, 300))])
    sampler = PairSampler([(tracks, 1.0)], SamplerConfig(negative_same=0.2, negative_other=0.2, augment=PLAIN))
    progress = train(_cfg(tmp_path, root, split), sampler=sampler)
    assert len(seen) == 4 and progress.best_auc == 0.5
    best = torch.load(tmp_path / "out" / "best.pt", weights_only=True)
    for key, value in best.items():
        torch.testing.assert_close(value, seen[1][key])  # the weights validated after epoch 1
    assert not torch.equal(best["conv_r2.weight"], seen[3]["conv_r2.weight"])  # not the last ones
    records = [json.loads(line) for line in (tmp_path / "out" / "metrics.jsonl").read_text().splitlines()]
    assert [r["val_auc"] for r in records if "val_auc" in r] == [0.30, 0.50, 0.20, 0.40]


def test_training_with_a_validation_split_refuses_its_sequences(tmp_path):
    root = _real_root(tmp_path)
    split = _split(tmp_path, root)
    from dasiamrt.train.datasets import ImageCache, read_sequence_folders

    tracks = read_sequence_folders(str(root / "sequences"), ImageCache())
    sampler = PairSampler([(tracks, 1.0)], SamplerConfig(augment=PLAIN))
    with pytest.raises(ConfigError, match="refusing to train on 'Dog'"):
        train(_cfg(tmp_path, root, split), sampler=sampler)
    # a config whose real source excludes the validation side is accepted (one step is enough)
    cfg = dataclasses.replace(_cfg(tmp_path, root, split), epochs=1,
                              data=({"type": "real", "root": str(root), "split": str(split)},))
    progress = train(cfg, max_steps=1)
    assert progress.global_step == 1 and progress.best_auc >= 0  # validated at step 0


def test_validation_section_of_a_config_round_trips(tmp_path):
    data = json.loads((ROOT / "configs" / "train_real.json").read_text())
    cfg = TrainConfig.from_dict(data)
    assert cfg.validation is not None and cfg.validation.split == "configs/real_split.json"
    assert TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    with pytest.raises(ConfigError):
        TrainConfig.from_dict({**data, "validation": {"every_epochs": 1}})


@pytest.mark.skipif(not (DATA / "real" / "manifest.json").is_file(), reason="no ../shared/data/real")
def test_validator_reads_the_project_split():
    from dasiamrt.train.validate import TrackingValidator

    cfg = ValidationConfig(split=str(ROOT / "configs" / "real_split.json"), root=str(DATA / "real"), max_frames=3)
    validator = TrackingValidator(cfg, "tiny")
    names = json.loads((ROOT / "configs" / "real_split.json").read_text())["validation"]
    assert validator.names() == tuple(names)
    assert [len(s) for s in validator.dataset] == [len(s.gt) for s in validator.dataset]


@pytest.mark.parametrize("max_frames", [0, 1, -5])
def test_validation_needs_a_tracked_frame_after_the_init(max_frames):
    """max_frames 0 made summarize() fail with an IndexError at the first validation; 1 scored the init box alone
    (AUC ~0.95 for any weights), so best.pt would be chosen on nothing."""
    with pytest.raises(ConfigError, match="max_frames"):
        ValidationConfig(split="configs/real_split.json", max_frames=max_frames)
    assert ValidationConfig(split="configs/real_split.json", max_frames=2).max_frames == 2


def test_later_starts_begin_at_evenly_spaced_frames_with_a_known_box():
    from dasiamrt.train.validate import later_starts

    n = 41  # starts at int(41 k / 4) = 10, 20, 30; a cut must keep more than 10 frames
    gt = np.array([[10.0 + i, 20.0, 40.0, 20.0] for i in range(n)])
    gt[20] = np.nan  # the target is not annotated at the second cut's frame: the cut moves on to 21
    seq = Sequence(name="s", gt=gt, frames=[np.full((80, 120, 3), i, np.uint8) for i in range(n)])
    cuts = later_starts(seq, 4)
    assert [c.name for c in cuts] == ["s@10", "s@21", "s@30"]
    for cut, t0 in zip(cuts, (10, 21, 30)):
        assert len(cut) == n - t0 and int(cut.frame(0)[0, 0, 0]) == t0
        np.testing.assert_array_equal(cut.init_xywh, gt[t0])
        run = run_sequence(_Oracle(cut.gt, 0.0), cut)  # frame 0 of the cut is the init: the oracle stays on it
        known = np.isfinite(cut.gt).all(axis=1).mean()  # s@10 holds the unannotated frame 20: it fails success
        assert summarize([run])["auc"] == pytest.approx(20 / 21 * known)
    assert later_starts(seq, 1) == [] and [c.name for c in later_starts(seq, 2)] == ["s@21"]
    assert [c.name for c in later_starts(seq, 4, min_frames=11)] == ["s@10", "s@21"]  # s@30 keeps 11 frames


def test_start_source_inverts_the_cut_names():
    from dasiamrt.train.validate import later_starts, start_source

    frames = [np.zeros((8, 8, 3), np.uint8)] * 40
    seq = Sequence(name="car@home", gt=np.tile([1.0, 2.0, 3.0, 4.0], (40, 1)), frames=frames)
    cuts = later_starts(seq, 3)
    assert [c.name for c in cuts] == ["car@home@13", "car@home@26"]
    assert [start_source(c.name) for c in cuts] == ["car@home", "car@home"]
    assert [start_source(n) for n in ("Dog", "car@home", "@5", "x@")] == ["Dog", "car@home", "@5", "x@"]
    with pytest.raises(ConfigError, match="starts must be at least 1"):
        ValidationConfig(split="x.json", starts=0)


def test_with_later_starts_keeps_the_one_pass_runs_first():
    """The first len(sequences) entries are the sequences themselves (the one-pass protocol), then every
    sequence's later starts in sequence order; a generator is read once."""
    from dasiamrt.train.validate import later_starts, with_later_starts

    seqs = [Sequence(name=name, gt=np.tile([5.0, 5.0, 10.0, 10.0], (n, 1)), frames=[None] * n)
            for name, n in (("a", 40), ("b", 30))]
    out = with_later_starts(iter(seqs), 3)
    assert out[:2] == seqs
    assert [s.name for s in out[2:]] == [c.name for seq in seqs for c in later_starts(seq, 3)] == \
        ["a@13", "a@26", "b@10"]
    assert with_later_starts(seqs, 1) == seqs


def test_validator_tracks_every_sequence_from_each_start(tmp_path):
    from dasiamrt.train.validate import TrackingValidator

    from .test_real_data import _sequence

    root = _real_root(tmp_path)
    _sequence(root / "sequences" / "Dog", frames=31)  # long enough for two later starts; group1_1 (4) is not
    validator = TrackingValidator(ValidationConfig(split=str(_split(tmp_path, root)), root=str(root), starts=3), "tiny")
    assert validator.names() == ("group1_1", "Dog")
    assert [s.name for s in validator.sequences] == ["group1_1", "Dog", "Dog@10", "Dog@20"]


def test_runs_score_0_based_boxes_against_0_based_ground_truth():
    # a 1-based sequence (OTB, LaSOT): the tracker's boxes are 0-based, so the ground truth they are
    # scored against must be too (before: the file's numbers, 1 px off in x and y)
    base = _seq(8)
    one_based = Sequence(name="s1", gt=base.gt + [1.0, 1.0, 0.0, 0.0], frames=base.frames, origin=1.0)
    run = run_sequence(_Oracle(one_based.gt_xywh(), 0.0), one_based)
    np.testing.assert_array_equal(run.gt, base.gt)
    assert summarize([run])["auc"] == pytest.approx(20 / 21)


def test_reproduce_script_chains_its_training_configs(monkeypatch):
    """train_logs/real/reproduce.sh: every config it trains with loads, and each stage starts from the
    best.pt the stage before it writes (stage 1 from the synthetic model the script extracts)."""
    import re

    script = (ROOT / "train_logs" / "real" / "reproduce.sh").read_text()
    configs = re.findall(r"train --config (\S+)", script)
    assert configs[:2] == ["configs/train_real_part1.json", "configs/train_real.json"] and len(configs) >= 3
    from dasiamrt.train.config import read_config_file

    monkeypatch.chdir(ROOT)  # the script runs from the repository root: 'base' paths are relative to it
    cfgs = [TrainConfig.from_dict(read_config_file(ROOT / c)) for c in configs]
    assert cfgs[0].out_dir == cfgs[1].out_dir  # part 2 resumes part 1
    assert cfgs[0].init_weights == "runs/tiny_synthetic.pt" and "> runs/tiny_synthetic.pt" in script
    for before, after in zip(cfgs[1:], cfgs[2:]):
        assert after.init_weights == f"{before.out_dir}/best.pt"
    exported = re.search(r"export --weights (\S+) --preset tiny", script)
    assert exported and exported.group(1) == f"{cfgs[-1].out_dir}/best.pt"
    assert not re.search(r"(cp \S+|>|--out) dasiamrt/assets", script)  # the bundle is the mobile model's now
    for cfg in cfgs:
        assert cfg.validation is not None and cfg.validation.split == "configs/real_split.json"


def test_mobile_reproduce_script_chains_from_imagenet_weights(monkeypatch):
    """train_logs/real/reproduce_mobile.sh: the ImageNet file it fetches is stage 1's pretrained_backbone, stage 2
    starts from stage 1's best.pt, and what it exports is stage 2's best.pt with the model's own settings."""
    import re

    script = (ROOT / "train_logs" / "real" / "reproduce_mobile.sh").read_text()
    fetch = (ROOT / "train_logs" / "real" / "fetch_mobilenetv2.sh").read_text()
    configs = re.findall(r"train --config (\S+)", script)
    from dasiamrt.train.config import read_config_file

    monkeypatch.chdir(ROOT)
    first, second = (TrainConfig.from_dict(read_config_file(ROOT / c)) for c in configs)
    assert first.preset == second.preset == "mobile" and first.init_weights is None
    assert first.pretrained_backbone and first.pretrained_backbone in fetch
    assert second.init_weights == f"{first.out_dir}/best.pt" and second.pretrained_backbone is None
    bundled = re.search(r"cp (\S+) (dasiamrt/assets/\S+)", script)
    assert bundled and bundled.group(1) == f"{second.out_dir}/best.pt"
    from dasiamrt.assets import BUNDLED_MODEL, BUNDLED_WEIGHTS

    assert (ROOT / bundled.group(2)).resolve() == BUNDLED_WEIGHTS
    exported = re.search(r"export --weights (\S+) --preset mobile\s+\\?\s*--tracker (\S+) --out (\S+)", script)
    assert exported and exported.group(1) == bundled.group(2) and (ROOT / exported.group(3)).resolve() == BUNDLED_MODEL
    assert (ROOT / exported.group(2)).is_file()
    for cfg in (first, second):
        assert cfg.validation is not None and cfg.validation.split == "configs/real_split.json"
