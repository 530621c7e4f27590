from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from dasiamrt.config import NETWORKS
from dasiamrt.model import SiamRPN, load_network
from dasiamrt.train.config import TrainConfig
from dasiamrt.train.loop import (
    TrainingNet,
    build_model,
    load_official_state,
    official_state,
    to_tensors,
    train,
    train_step,
)
from dasiamrt.train.sampler import PairSampler, SamplerConfig
from dasiamrt.train.targets import siamrpn_loss

from .test_sampler import PLAIN, moving_video


@pytest.fixture(scope="module")
def sampler() -> PairSampler:
    tracks = moving_video("a", [("red", "square", (60, 80)), ("blue", "square", (300, 300))])
    tracks += moving_video("b", [("green", "disc", (150, 150))])
    return PairSampler([(tracks, 1.0)], SamplerConfig(negative_same=0.2, negative_other=0.2, augment=PLAIN))


def _cfg(tmp_path, **changes) -> TrainConfig:
    base = TrainConfig(data=({"type": "unused"},), out_dir=str(tmp_path), epochs=2, steps_per_epoch=2, batch_size=2,
                       val_pairs=2, log_every=1, num_threads=1, lr_start=1e-3, lr_end=1e-4)
    return dataclasses.replace(base, **changes)


def test_one_step_lowers_the_loss_on_a_fixed_batch(tmp_path, sampler):
    torch.set_num_threads(1)
    cfg = _cfg(tmp_path)
    net = build_model(cfg)
    batch = to_tensors(sampler.batch(np.random.default_rng(0), 4), torch.device("cpu"))
    optimizer = torch.optim.SGD(net.parameters(), lr=1e-4, momentum=0.9)
    before = train_step(TrainingNet(net), optimizer, batch, cfg)[0]
    with torch.no_grad():
        after = siamrpn_loss(*TrainingNet(net)(batch["template"], batch["search"]), batch["labels"], batch["deltas"])[0]
    assert after.item() < before


def test_train_step_mines_hard_negatives_when_configured(tmp_path, sampler):
    """With labels.hard_negatives the step's class loss is the loss with the mined anchors (a second call of
    siamrpn_loss on the same outputs), and differs from the loss without them."""
    torch.set_num_threads(1)
    labels_cfg = dataclasses.replace(sampler.cfg.labels, hard_negatives=8)
    mining = PairSampler([(sampler.all_tracks, 1.0)], dataclasses.replace(sampler.cfg, labels=labels_cfg))
    cfg = _cfg(tmp_path, sampler=mining.cfg)
    net = build_model(cfg)
    batch = to_tensors(mining.batch(np.random.default_rng(1), 4), torch.device("cpu"))
    assert batch["far"].any()
    with torch.no_grad():
        cls, delta = TrainingNet(net)(batch["template"], batch["search"])
        mined = siamrpn_loss(cls, delta, batch["labels"], batch["deltas"], far=batch["far"], hard_negatives=8)[1]
        plain = siamrpn_loss(cls, delta, batch["labels"], batch["deltas"])[1]
    optimizer = torch.optim.SGD(net.parameters(), lr=0.0)
    step_cls = train_step(TrainingNet(net), optimizer, batch, cfg)[1]
    assert step_cls == pytest.approx(mined.item(), rel=1e-5) and abs(mined.item() - plain.item()) > 1e-4


def test_train_step_refuses_a_batch_without_the_far_mask_when_the_config_mines(tmp_path, sampler):
    """A sampler built without mining gives no ``far`` mask: a config that mines must not train on silently."""
    from dasiamrt.errors import ConfigError

    labels_cfg = dataclasses.replace(sampler.cfg.labels, hard_negatives=8)
    cfg = _cfg(tmp_path, sampler=dataclasses.replace(sampler.cfg, labels=labels_cfg))
    net = build_model(cfg)
    batch = to_tensors(sampler.batch(np.random.default_rng(1), 2), torch.device("cpu"))
    assert "far" not in batch
    with pytest.raises(ConfigError, match="far"):
        train_step(TrainingNet(net), torch.optim.SGD(net.parameters(), lr=0.0), batch, cfg)


def test_official_state_round_trip_and_same_function(tmp_path, sampler):
    net = build_model(_cfg(tmp_path)).eval()
    state = official_state(net)
    plain = SiamRPN(NETWORKS["tiny"]).eval()
    plain.load_state_dict(state)
    z = torch.rand(1, 3, 127, 127) * 255
    x = torch.rand(1, 3, 255, 255) * 255
    with torch.no_grad():
        a, b = TrainingNet(net)(z, x), plain(z, x)
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
    again = build_model(_cfg(tmp_path, seed=5))
    load_official_state(again, state)
    for key, value in net.state_dict().items():
        assert torch.equal(value, again.state_dict()[key]), key


def test_resume_gives_the_same_state(tmp_path, sampler):
    straight = train(_cfg(tmp_path / "a"), sampler=sampler)
    cut = train(_cfg(tmp_path / "b"), sampler=sampler, max_steps=3)
    assert (cut.epoch, cut.step) == (1, 1)
    resumed = train(_cfg(tmp_path / "b"), sampler=sampler, resume=True)
    assert dataclasses.asdict(resumed) == dataclasses.asdict(straight)
    a = torch.load(tmp_path / "a" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "b" / "last.pt", weights_only=True)
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    assert a["rng"] == b["rng"]
    # best.pt is a plain state_dict in the official layout
    load_network(tmp_path / "b" / "best.pt", NETWORKS["tiny"])


def test_frozen_convs_do_not_move(tmp_path, sampler):
    cfg = _cfg(tmp_path, freeze_first_convs=True)
    net = build_model(cfg)
    frozen = {k: v.clone() for k, v in net.state_dict().items() if k.split(".")[1] in ("0", "1", "4", "5", "8", "9")}
    params = [p for p in net.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=1e-2, momentum=0.9, weight_decay=5e-4)
    batch = to_tensors(sampler.batch(np.random.default_rng(0), 2), torch.device("cpu"))
    from dasiamrt.train.loop import set_train_mode

    set_train_mode(net, cfg)
    train_step(TrainingNet(net), optimizer, batch, cfg)
    state = net.state_dict()
    assert all(torch.equal(state[k], v) for k, v in frozen.items() if "num_batches" not in k)
    assert not torch.equal(state["featureExtract.11.weight"], build_model(cfg).state_dict()["featureExtract.11.weight"])


def test_mobile_training_freezes_the_imagenet_stride_8_part_and_keeps_raw_input(tmp_path, sampler):
    """MobileNetV2: no input rescaling (it normalises itself), the stem and blocks 1-6 fixed with their BN
    statistics, the dilated blocks, the neck and the heads trained."""
    from dasiamrt.train.loop import frozen_modules, set_train_mode

    cfg = _cfg(tmp_path, preset="mobile", freeze_first_convs=True)
    net = build_model(cfg)
    assert TrainingNet(net).scale == 1.0
    assert official_state(net).keys() == net.state_dict().keys()
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in official_state(net).items())
    frozen = {id(p) for m in frozen_modules(net) for p in m.parameters()}
    assert frozen == {id(p) for p in net.featureExtract.blocks[:7].parameters()}
    before = {k: v.clone() for k, v in net.state_dict().items()}
    optimizer = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=1e-2, momentum=0.9)
    set_train_mode(net, cfg)
    train_step(TrainingNet(net), optimizer, to_tensors(sampler.batch(np.random.default_rng(0), 2),
                                                      torch.device("cpu")), cfg)
    after = net.state_dict()
    moved = {k for k in before if "num_batches" not in k and not torch.equal(before[k], after[k])}
    assert not any(k.startswith(tuple(f"featureExtract.blocks.{i}." for i in range(7))) for k in moved)
    assert {"featureExtract.blocks.7.conv.0.weight", "featureExtract.neck.1.running_mean", "conv_r1.weight"} <= moved


def test_frozen_blocks_chooses_how_much_of_the_mobilenet_stays_fixed(tmp_path, sampler):
    """frozen_blocks=4: the stem and blocks 1-3 stay fixed with their BN statistics, blocks 4-6 now train."""
    from dasiamrt.config import MOBILENETV2_BLOCKS
    from dasiamrt.errors import ConfigError
    from dasiamrt.train.loop import set_train_mode

    cfg = _cfg(tmp_path, preset="mobile", freeze_first_convs=True, frozen_blocks=4)
    net = build_model(cfg)
    assert len(net.featureExtract.blocks) == MOBILENETV2_BLOCKS
    before = {k: v.clone() for k, v in net.state_dict().items()}
    optimizer = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=1e-2, momentum=0.9)
    set_train_mode(net, cfg)
    assert not net.featureExtract.blocks[3].conv[1].training and net.featureExtract.blocks[4].conv[1].training
    train_step(TrainingNet(net), optimizer, to_tensors(sampler.batch(np.random.default_rng(0), 2),
                                                      torch.device("cpu")), cfg)
    after = net.state_dict()
    moved = {k for k in before if "num_batches" not in k and not torch.equal(before[k], after[k])}
    assert not any(k.startswith(tuple(f"featureExtract.blocks.{i}." for i in range(4))) for k in moved)
    assert {"featureExtract.blocks.4.conv.0.weight", "featureExtract.blocks.6.conv.1.running_mean"} <= moved
    with pytest.raises(ConfigError, match="preset 'tiny' has the alexnet backbone"):
        TrainConfig(data=({"type": "unused"},), preset="tiny", freeze_first_convs=True, frozen_blocks=4)
    with pytest.raises(ConfigError, match="frozen_blocks must be 0..11"):
        TrainConfig(data=({"type": "unused"},), preset="mobile", freeze_first_convs=True, frozen_blocks=12)
    with pytest.raises(ConfigError, match="set freeze_first_convs to true"):  # else it would fix nothing, silently
        TrainConfig(data=({"type": "unused"},), preset="mobile", frozen_blocks=4)


def test_pretrained_backbone_is_for_mobilenet_presets_only():
    from dasiamrt.errors import ConfigError

    with pytest.raises(ConfigError, match="preset 'tiny' has the alexnet backbone"):
        TrainConfig(data=({"type": "unused"},), preset="tiny", pretrained_backbone="mobilenet_v2.pth")
    with pytest.raises(ConfigError, match="not both"):  # init_weights would silently win
        TrainConfig(data=({"type": "unused"},), preset="mobile", pretrained_backbone="mobilenet_v2.pth",
                    init_weights="runs/real-mobile/best.pt")
    assert TrainConfig(data=({"type": "unused"},), preset="mobile", init_weights="best.pt").pretrained_backbone is None
