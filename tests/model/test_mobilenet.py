"""The MobileNetV2 backbone: the SiamRPN geometry, its cell-to-pixel mapping, ImageNet weights in, checkpoints."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from dasiamrt import spec
from dasiamrt.config import NETWORKS
from dasiamrt.errors import CheckpointError
from dasiamrt.model import build_network, detect_network, load_network, save_checkpoint
from dasiamrt.model.mobilenet import CROP, MEAN_BGR, STD_BGR, MobileNetV2Features, imagenet_state

MOBILE = NETWORKS["mobile"]


@pytest.fixture(scope="module")
def mobile_net():
    torch.manual_seed(0)
    return build_network(MOBILE, seed=3)


@pytest.mark.parametrize("size", [255, 271, 767])
def test_feature_and_score_sizes_are_the_alexnet_ones(mobile_net, size):
    with torch.no_grad():
        cls_k, reg_k = mobile_net.template(torch.rand(2, 3, 127, 127) * 255)
        cls, delta, features = mobile_net.search(torch.rand(1, 3, size, size) * 255, cls_k[0], reg_k[0])
    s = spec.score_size(size)
    assert cls_k.shape == (2, 10, 64, spec.KERNEL_SIZE, spec.KERNEL_SIZE) and reg_k.shape[1] == 20
    assert cls.shape == (1, 10, s, s) and delta.shape == (1, 20, s, s)
    fs = spec.search_feature_size(size)
    assert features.shape == (1, MOBILE.feature_channels, fs, fs)


def test_an_8px_shift_moves_interior_features_by_one_cell(mobile_net):
    """Translation equivariance at the total stride: cells whose receptive field stays inside both crops."""
    image = torch.rand(1, 3, 255 + 16, 255 + 16) * 255
    with torch.no_grad():
        a = mobile_net.featureExtract(image[:, :, :255, :255])
        b = mobile_net.featureExtract(image[:, :, 8:263, 8:263])
    torch.testing.assert_close(b[:, :, 8:13, 8:13], a[:, :, 9:14, 9:14], rtol=1e-4, atol=1e-4)
    assert (b[:, :, 8:13, 8:13] - a[:, :, 8:13, 8:13]).abs().max() > 1e-2  # the shift is seen at all


def test_a_cell_sees_the_input_centred_on_8_times_its_padded_index(mobile_net):
    """Cell i of the cropped map has its receptive field centred on pixel 8 (i + CROP): the same offset for
    template and search, so the score map's centre cell is zero displacement (as in the unpadded AlexNet)."""
    x = (torch.rand(1, 3, 255, 255) * 255).requires_grad_(True)
    features = mobile_net.featureExtract.eval()(x)
    for i, j in ((9, 11), (12, 10)):
        (grad,) = torch.autograd.grad(features[0, :, i, j].sum(), x, retain_graph=True)
        rows = grad.abs().sum(dim=(0, 1, 3)).nonzero().flatten()
        cols = grad.abs().sum(dim=(0, 1, 2)).nonzero().flatten()
        assert rows.min() > 0 and rows.max() < 254  # receptive field inside the crop: its support is symmetric
        assert (rows.min() + rows.max()) / 2 == 8 * (i + CROP)
        assert (cols.min() + cols.max()) / 2 == 8 * (j + CROP)
    # template 127: centre cells 2..3 -> pixel 8 * 7.5 = 60, crop centre 63; search 255: cells 10..11 -> 124, 127
    assert 63 - 8 * (2.5 + CROP) == 127 - 8 * (10.5 + CROP)


def _imagenet_file(tmp_path, features: MobileNetV2Features, **broken):
    """An ImageNet-layout file (keys features.N.*, RGB stem) holding ``features``' blocks."""
    state = {"features." + k[len("blocks."):]: v.clone() for k, v in features.state_dict().items()
             if k.startswith("blocks.") and not k.endswith("num_batches_tracked")}
    state["features.0.0.weight"] = state["features.0.0.weight"].flip(1)
    state["features.18.0.weight"] = torch.zeros(1280, 320, 1, 1)  # the classifier end, not used
    state.update(broken)
    path = tmp_path / "mobilenet_v2.pth"
    torch.save(state, path)
    return path


def test_imagenet_weights_load_into_the_blocks_with_bgr_input(tmp_path, mobile_net):
    source = mobile_net.featureExtract
    path = _imagenet_file(tmp_path, source)
    fresh = MobileNetV2Features(MOBILE.feature_channels)
    state = imagenet_state(path, fresh)
    assert set(state) == {k for k in fresh.state_dict() if k.startswith("blocks.")}
    for key, value in state.items():
        if not key.endswith("num_batches_tracked"):
            assert torch.equal(value, source.state_dict()[key]), key
    # The stem on BGR 0..255 input equals the ImageNet stem on RGB input normalised the ImageNet way.
    rgb_weight = torch.load(path, weights_only=True)["features.0.0.weight"]
    bgr = torch.rand(1, 3, 31, 31) * 255
    rgb = bgr.flip(1) / 255
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    want = F.conv2d((rgb - mean) / std, rgb_weight, stride=2, padding=1)
    got = F.conv2d((bgr - torch.tensor(MEAN_BGR).view(1, 3, 1, 1)) / torch.tensor(STD_BGR).view(1, 3, 1, 1),
                   state["blocks.0.0.weight"], stride=2, padding=1)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


def test_an_imagenet_file_of_another_layout_is_refused(tmp_path, mobile_net):
    path = _imagenet_file(tmp_path, mobile_net.featureExtract, **{"features.9.conv.3.weight": torch.zeros(3, 1, 3, 3)})
    with pytest.raises(CheckpointError, match=r"features\.9\.conv\.3\.weight: expected \(384, 1, 3, 3\)"):
        imagenet_state(path, MobileNetV2Features(64))


def test_build_network_takes_the_imagenet_blocks_and_scales_the_heads(tmp_path, mobile_net):
    path = _imagenet_file(tmp_path, mobile_net.featureExtract)
    net = build_network(MOBILE, seed=11, backbone_weights=path)
    assert torch.equal(net.featureExtract.blocks[7].conv[3].weight, mobile_net.featureExtract.blocks[7].conv[3].weight)
    with torch.no_grad():
        cls_k, reg_k = net.template(torch.rand(1, 3, 127, 127) * 255)
        cls, _, _ = net.search(torch.rand(1, 3, 255, 255) * 255, cls_k[0], reg_k[0])
    assert 0.3 < float(cls.std()) < 3  # logits start in a trainable range
    with pytest.raises(ValueError, match="seed"):
        build_network(MOBILE, backbone_weights=path)
    with pytest.raises(ValueError, match="the tiny layout is AlexNet"):
        build_network(NETWORKS["tiny"], seed=0, backbone_weights=path)


def test_mobile_checkpoints_are_detected_and_refused_for_alexnet_presets(tmp_path, mobile_net):
    path = tmp_path / "mobile.model"
    save_checkpoint(mobile_net.state_dict(), path, legacy=True)
    assert [n.name for n in detect_network(mobile_net.state_dict())] == ["mobile"]
    loaded = load_network(path, MOBILE)
    assert torch.equal(loaded.conv_r1.weight, mobile_net.conv_r1.weight)
    with pytest.raises(CheckpointError, match="preset mobile, not tiny: use --preset mobile"):
        load_network(path, NETWORKS["tiny"])
