"""The SiamRPN network with the official layer layout and state_dict key names.

Layout (``foolwood/DaSiamRPN`` ``code/net.py``): an AlexNet-like ``featureExtract`` (no padding,
total stride 8, BN -> MaxPool -> ReLU in the first two blocks, no ReLU after the last BN), and the
RPN heads ``conv_cls1``/``conv_r1`` (template features -> correlation kernels),
``conv_cls2``/``conv_r2`` (search features -> correlation inputs) and ``regress_adjust`` (1x1).

Shapes, with F = feature_out, C = backbone channels, N exemplars, H search side, S = (H-127)/8+1:
    template branch: z (N, 3, 127, 127) -> cls kernel (N, 10, F, 4, 4), reg kernel (N, 20, F, 4, 4)
    search branch:   x (1, 3, H, H), cls kernel (10, F, 4, 4), reg kernel (20, F, 4, 4)
                     -> cls logits (1, 10, S, S), deltas (1, 20, S, S), features (1, C, S+5, S+5)
Kernel out-channel oc of ``conv_cls1`` maps to (oc // F, oc % F) of the kernel.
"""
from __future__ import annotations

import os
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ..config import ALEXNET, NETWORKS, NetworkConfig
from ..spec import ANCHOR_NUM, KERNEL_SIZE
from .mobilenet import MobileNetV2Features, imagenet_state


def _feature_extract(channels: Tuple[int, ...]) -> nn.Sequential:
    c1, c2, c3, c4, c5 = channels
    return nn.Sequential(
        nn.Conv2d(3, c1, kernel_size=11, stride=2),
        nn.BatchNorm2d(c1),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.ReLU(inplace=True),
        nn.Conv2d(c1, c2, kernel_size=5),
        nn.BatchNorm2d(c2),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.ReLU(inplace=True),
        nn.Conv2d(c2, c3, kernel_size=3),
        nn.BatchNorm2d(c3),
        nn.ReLU(inplace=True),
        nn.Conv2d(c3, c4, kernel_size=3),
        nn.BatchNorm2d(c4),
        nn.ReLU(inplace=True),
        nn.Conv2d(c4, c5, kernel_size=3),
        nn.BatchNorm2d(c5),
    )


class SiamRPN(nn.Module):
    """SiamRPN with the official parameter names (``featureExtract.N.*``, ``conv_r1.*``, ...).

    With ``network.backbone == "mobilenetv2"`` the ``featureExtract`` module is
    :class:`~dasiamrt.model.mobilenet.MobileNetV2Features` (same feature-map sizes, C = F channels).

    Args:
        network: layout (width multiplier and feature_out).
    """

    def __init__(self, network: NetworkConfig) -> None:
        super().__init__()
        self.network = network
        self.anchor = ANCHOR_NUM
        self.feature_out = f = network.feature_out
        c5 = network.feature_channels
        self.featureExtract: nn.Module = (_feature_extract(network.channels) if network.backbone == ALEXNET
                                          else MobileNetV2Features(c5))
        self.conv_r1 = nn.Conv2d(c5, f * 4 * self.anchor, kernel_size=3)
        self.conv_r2 = nn.Conv2d(c5, f, kernel_size=3)
        self.conv_cls1 = nn.Conv2d(c5, f * 2 * self.anchor, kernel_size=3)
        self.conv_cls2 = nn.Conv2d(c5, f, kernel_size=3)
        self.regress_adjust = nn.Conv2d(4 * self.anchor, 4 * self.anchor, kernel_size=1)

    def kernels(self, template_features: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Template features (N, C, 6, 6) -> cls kernels (N, 10, F, 4, 4), reg kernels (N, 20, F, 4, 4)."""
        n = template_features.shape[0]
        k = KERNEL_SIZE
        cls = self.conv_cls1(template_features).view(n, 2 * self.anchor, self.feature_out, k, k)
        reg = self.conv_r1(template_features).view(n, 4 * self.anchor, self.feature_out, k, k)
        return cls, reg

    def template(self, z: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Exemplar crops (N, 3, 127, 127) -> (cls kernels, reg kernels), one per exemplar."""
        return self.kernels(self.featureExtract(z))

    def search(
        self, x: torch.Tensor, cls_kernel: torch.Tensor, reg_kernel: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One search crop against one kernel pair.

        Args:
            x: (1, 3, H, H) search crop.
            cls_kernel: (10, F, 4, 4).
            reg_kernel: (20, F, 4, 4).

        Returns:
            cls logits (1, 10, S, S), deltas (1, 20, S, S), backbone features (1, C, S+5, S+5).
        """
        features = self.featureExtract(x)
        delta = self.regress_adjust(F.conv2d(self.conv_r2(features), reg_kernel))
        cls = F.conv2d(self.conv_cls2(features), cls_kernel)
        return cls, delta, features

    def forward(self, z: torch.Tensor, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Training pass over B pairs: z (B, 3, 127, 127), x (B, 3, H, H) -> cls (B, 10, S, S), delta (B, 20, S, S)."""
        cls_k, reg_k = self.template(z)
        x_f = self.featureExtract(x)
        cls = xcorr_batched(self.conv_cls2(x_f), cls_k)
        delta = self.regress_adjust(xcorr_batched(self.conv_r2(x_f), reg_k))
        return cls, delta


def xcorr_batched(features: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    """Per-pair correlation as one grouped conv: (B, F, h, w) x (B, O, F, k, k) -> (B, O, h-k+1, w-k+1)."""
    b, o, f, k, _ = kernels.shape
    out = F.conv2d(features.reshape(1, b * f, *features.shape[2:]), kernels.reshape(b * o, f, k, k), groups=b)
    return out.view(b, o, out.shape[2], out.shape[3])


class TemplateBranch(nn.Module):
    """Export wrapper: exemplar crops (N, 3, 127, 127) -> cls kernels, reg kernels."""

    def __init__(self, net: SiamRPN) -> None:
        super().__init__()
        self.net = net

    def forward(self, z: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        return self.net.template(z)


class SearchBranch(nn.Module):
    """Export wrapper: (search crop, cls kernel, reg kernel) -> (cls, delta, search features)."""

    def __init__(self, net: SiamRPN) -> None:
        super().__init__()
        self.net = net

    def forward(
        self, x: torch.Tensor, cls_kernel: torch.Tensor, reg_kernel: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.net.search(x, cls_kernel, reg_kernel)


class KernelHead(nn.Module):
    """Export wrapper for distractor-aware tracking: 6x6 features (N, C, 6, 6) -> cls kernels (N, 10, F, 4, 4)."""

    def __init__(self, net: SiamRPN) -> None:
        super().__init__()
        self.net = net

    def forward(self, template_features: torch.Tensor) -> torch.Tensor:
        n = template_features.shape[0]
        k = KERNEL_SIZE
        return self.net.conv_cls1(template_features).view(n, 2 * self.net.anchor, self.net.feature_out, k, k)


class SiamRPNBIG(SiamRPN):
    """Official ``SiamRPNBIG`` (size 2, feature_out 512): ``SiamRPNBIG.model``."""

    def __init__(self) -> None:
        super().__init__(NETWORKS["big"])


class SiamRPNvot(SiamRPN):
    """Official ``SiamRPNvot`` (size 1, feature_out 256): ``SiamRPNVOT.model``."""

    def __init__(self) -> None:
        super().__init__(NETWORKS["vot"])


class SiamRPNotb(SiamRPN):
    """Official ``SiamRPNotb`` (same layout as vot): ``SiamRPNOTB.model``."""

    def __init__(self) -> None:
        super().__init__(NETWORKS["otb"])


class SiamRPNtiny(SiamRPN):
    """dasiamrt's quarter-width layout (channels 24/64/96/96/64, feature_out 64)."""

    def __init__(self) -> None:
        super().__init__(NETWORKS["tiny"])


def _normalise_heads(net: SiamRPN, gen: torch.Generator, delta_std: float = 0.2) -> None:
    """Scale the kernel generators so random-weight logits have std ~1 and deltas ``delta_std`` (no saturation)."""
    z = torch.rand((1, 3, 127, 127), generator=gen) * 255
    x = torch.rand((1, 3, 255, 255), generator=gen) * 255
    cls_k, reg_k = net.template(z)
    cls, _, features = net.search(x, cls_k[0], reg_k[0])
    reg = F.conv2d(net.conv_r2(features), reg_k[0])
    for conv, out, target in ((net.conv_cls1, cls, 1.0), (net.conv_r1, reg, delta_std)):
        scale = target / float(out.std().clamp_min(1e-6))
        conv.weight.mul_(scale)
        conv.bias.mul_(scale)
    net.regress_adjust.bias.zero_()


def build_network(network: NetworkConfig, seed: int | None = None,
                  backbone_weights: str | os.PathLike[str] | None = None) -> SiamRPN:
    """A network of ``network``'s layout in eval mode; ``seed`` gives reproducible random weights.

    Random weights are for speed measurements, tests and as a training start: BN statistics are set so
    activations stay in a sane range (running mean 0, running var 1, affine weight 1/sqrt(fan) scaled).
    ``backbone_weights`` (MobileNetV2 layouts, with ``seed``): ImageNet MobileNetV2 weights for the backbone
    blocks (:func:`~dasiamrt.model.mobilenet.imagenet_state`), loaded before the heads are scaled.
    """
    if backbone_weights is not None and network.backbone == ALEXNET:
        raise ValueError(f"backbone_weights are ImageNet MobileNetV2 weights: the {network.name} layout is AlexNet")
    if seed is not None:
        gen = torch.Generator().manual_seed(seed)
        net = SiamRPN(network)
        with torch.no_grad():
            for module in net.modules():
                if isinstance(module, nn.Conv2d):
                    fan_in = module.weight[0].numel()
                    module.weight.copy_(torch.randn(module.weight.shape, generator=gen) / fan_in**0.5)
                    if module.bias is not None:
                        module.bias.copy_(torch.randn(module.bias.shape, generator=gen) * 0.01)
                elif isinstance(module, nn.BatchNorm2d):
                    module.weight.copy_(1.0 + 0.1 * torch.randn(module.weight.shape, generator=gen))
                    module.bias.copy_(0.1 * torch.randn(module.bias.shape, generator=gen))
                    module.running_mean.copy_(0.1 * torch.randn(module.running_mean.shape, generator=gen))
                    module.running_var.copy_(1.0 + 0.1 * torch.rand(module.running_var.shape, generator=gen))
            if network.backbone == ALEXNET:
                # Input crops are 0..255 BGR: scale the first conv so features start near unit range
                # (MobileNetV2 normalises its input itself).
                net.featureExtract[0].weight.mul_(1.0 / 128.0)
            elif backbone_weights is not None:
                net.featureExtract.load_state_dict(imagenet_state(backbone_weights, net.featureExtract), strict=False)
            # With ImageNet features the heads train from step 0: start the box deltas near 0 (no change),
            # where the box loss is already low; deltas of std 0.2 cost 6x more and their gradients
            # swamp the class head's under gradient clipping.
            _normalise_heads(net.eval(), gen, delta_std=0.2 if backbone_weights is None else 0.02)
    else:
        if backbone_weights is not None:
            raise ValueError("backbone_weights needs a seed for the layers ImageNet does not provide")
        net = SiamRPN(network)
    return net.eval()


class KernelUpdate(nn.Module):
    """The distractor-aware fusion step as a graph (see :mod:`dasiamrt.runtime.distractor`).

    Inputs:
        search_features: (1, C, Hf, Hf) backbone features of a search crop (Hf = S + 5).
        window_index: (N * 36,) int64 flat indices into one channel's Hf*Hf plane of the N 6x6
            windows (window n, element k = (r_n + k // 6) * Hf + c_n + k % 6).
        window_weight: (N,) weight of each window.
        acc: (10, F, 4, 4) running sum, in difference form (background rows zero).
        inv_total: (1,) scale of the fused kernel.
    Outputs:
        acc_out = acc + sum_n w_n D(window_n) and fused = acc_out * inv_total, both (10, F, 4, 4),
        where D(f) is the cls kernel of f in difference form: background rows 0, foreground rows
        K_fg(f) - K_bg(f).

    Difference form: the tracker only uses softmax(bg, fg) per anchor, which depends on fg - bg
    alone, and the correlation is linear in the kernel, so a kernel with rows (0, K_fg - K_bg)
    scores exactly like (K_bg, K_fg). Folding it halves the kernel head this graph must stream
    (the head's weights dominate its cost). K is affine (conv_cls1 has a bias), so
    sum_n w_n D(window_n) = W_d * (sum_n w_n window_n) + (sum_n w_n) b_d: a gather, a weighted
    sum, then ONE half-size conv. Shapes stay static except Hf and N, so the graph exports with
    dynamic axes and builds in TensorRT.
    """

    def __init__(self, net: SiamRPN) -> None:
        super().__init__()
        self.net = net

    def forward(
        self,
        search_features: torch.Tensor,
        window_index: torch.Tensor,
        window_weight: torch.Tensor,
        acc: torch.Tensor,
        inv_total: torch.Tensor,
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        c = self.net.network.feature_channels
        side = 6
        planes = search_features.flatten(2)  # (1, C, Hf * Hf)
        windows = torch.index_select(planes, 2, window_index).reshape(1, c, -1, side * side)  # (1, C, N, 36)
        pooled = (windows * window_weight.reshape(1, 1, -1, 1)).sum(dim=2).reshape(1, c, side, side)
        conv = self.net.conv_cls1
        half = self.net.anchor * self.net.feature_out  # out-channels [0, half) background, [half, 2 half) foreground
        weight = conv.weight[half:] - conv.weight[:half]
        bias = conv.bias[half:] - conv.bias[:half]
        k = KERNEL_SIZE
        fg = F.conv2d(pooled, weight, bias * window_weight.sum()).reshape(self.net.anchor, self.net.feature_out, k, k)
        acc_out = acc + torch.cat([torch.zeros_like(fg), fg], dim=0)
        return acc_out, acc_out * inv_total

