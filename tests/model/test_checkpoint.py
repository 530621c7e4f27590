"""Official-format checkpoints load strictly; wrong files fail with one-line errors."""
from __future__ import annotations

import zipfile

import pytest
import torch

from dasiamrt.config import NETWORKS
from dasiamrt.errors import CheckpointError
from dasiamrt.model import (
    SiamRPNBIG,
    SiamRPNotb,
    SiamRPNvot,
    build_network,
    detect_network,
    load_network,
    save_checkpoint,
)


def test_official_key_names_and_shapes():
    keys = set(SiamRPNvot().state_dict())
    for k in ("featureExtract.0.weight", "featureExtract.15.running_var", "conv_r1.weight", "conv_cls2.bias",
              "regress_adjust.weight"):
        assert k in keys
    big = SiamRPNBIG().state_dict()
    assert big["conv_r1.weight"].shape == (512 * 20, 512, 3, 3)
    assert big["featureExtract.0.weight"].shape == (192, 3, 11, 11)
    n_params = sum(p.numel() for p in SiamRPNotb().parameters())
    # reference-trackers.md counts 22,635,684 including BN running mean and var (2 per channel).
    assert n_params == 22_635_684 - 2 * sum(NETWORKS["otb"].channels)


def test_legacy_checkpoint_loads_strictly(tmp_path, tiny_net):
    path = tmp_path / "SiamRPNtiny.model"
    save_checkpoint(tiny_net.state_dict(), path, legacy=True)
    assert not zipfile.is_zipfile(path)  # legacy (pre-1.6) serialization, like PyTorch 0.3 files
    raw = torch.load(path, map_location="cpu", weights_only=True)
    assert not any(k.endswith("num_batches_tracked") for k in raw)
    net = load_network(path, NETWORKS["tiny"])
    for k, v in tiny_net.state_dict().items():
        if not k.endswith("num_batches_tracked"):
            assert torch.equal(net.state_dict()[k], v), k


def test_zip_and_wrapped_checkpoints_load(tmp_path, tiny_net):
    path = tmp_path / "ckpt.pt"
    save_checkpoint({f"module.{k}": v for k, v in tiny_net.state_dict().items()}, path, epoch=3)
    net = load_network(path, NETWORKS["tiny"])
    assert torch.equal(net.conv_cls1.weight, tiny_net.conv_cls1.weight)


def test_checkpoint_for_another_preset_names_the_right_one(tmp_path, tiny_net):
    path = tmp_path / "tiny.model"
    save_checkpoint(tiny_net.state_dict(), path, legacy=True)
    with pytest.raises(CheckpointError, match="preset tiny, not vot: use --preset tiny"):
        load_network(path, NETWORKS["vot"])
    assert [n.name for n in detect_network(SiamRPNvot().state_dict())] == ["vot", "otb"]


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", b"PK\x03\x04broken zip"])
def test_garbage_files_fail_in_one_line(tmp_path, content):
    path = tmp_path / "bad.model"
    path.write_bytes(content)
    with pytest.raises(CheckpointError) as err:
        load_network(path, NETWORKS["tiny"])
    assert "\n" not in str(err.value) and "bad.model" in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_network(tmp_path / "nope.model", NETWORKS["vot"])


def test_tensor_dict_of_other_network(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"fc.weight": torch.zeros(2, 2)}, path)
    with pytest.raises(CheckpointError, match="not a SiamRPN checkpoint"):
        load_network(path, NETWORKS["vot"])


def test_random_weights_are_seeded():
    a = build_network(NETWORKS["tiny"], seed=5).state_dict()
    b = build_network(NETWORKS["tiny"], seed=5).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
