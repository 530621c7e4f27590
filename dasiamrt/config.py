"""Presets and configuration dataclasses.

Vocabulary (the field's names, defined once here):
    exemplar_size     side of the template (z) crop fed to the network, 127 px.
    instance_size     side of the search (x) crop fed to the network (255, 271, 287, 767).
    context_amount    context added around the target: the crop side s_z is
                      sqrt((w + c(w+h)) (h + c(w+h))) with c = context_amount (0.5).
    penalty_k         strength of the scale/ratio change penalty exp(-(r_c s_c - 1) penalty_k).
    window_influence  weight of the cosine (Hann) motion window in the final score.
    lr                size learning rate; the applied rate is lr * penalty * score of the winner.
    s_z, s_x, scale_z side of the template / search region in image pixels, and 127 / s_z.

Presets reproduce the official ``foolwood/DaSiamRPN`` ``net.py`` per-model settings (``big``,
``vot``, ``otb``), add the paper's setting (``paper``: 255 search, distractor-aware and long-term
on) and dasiamrt's own small network (``tiny``).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Tuple

from . import spec
from .errors import ConfigError


def _number(name: str, value: Any, low: float, high: float, open_low: bool = False, integer: bool = False) -> None:
    """Refuse a setting that is not a finite number in [low, high] ((low, high] when ``open_low``).

    Raises:
        ConfigError: naming the setting, the range and the value found.
    """
    kind = int if integer else (int, float)
    ok = isinstance(value, kind) and not isinstance(value, bool) and math.isfinite(value)
    if ok and (value <= low if open_low else value < low) or ok and value > high:
        ok = False
    if not ok:
        what = "an integer" if integer else "a number"
        if math.isfinite(high):
            span = f"in {'(' if open_low else '['}{low:g}, {high:g}]"
        else:
            span = f"{'>' if open_low else '>='} {low:g}"
        raise ConfigError(f"tracker setting {name} must be {what} {span}, got {value!r}")


def _flag(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise ConfigError(f"tracker setting {name} must be true or false, got {value!r}")


ALEXNET = "alexnet"
MOBILENETV2 = "mobilenetv2"
#: blocks of dasiamrt's MobileNetV2 backbone: the stem (block 0) and inverted-residual blocks 1-10.
MOBILENETV2_BLOCKS = 11
BACKBONES = (ALEXNET, MOBILENETV2)


@dataclass(frozen=True)
class NetworkConfig:
    """Layout of a SiamRPN network (official ``net.py``: ``SiamRPN(size, feature_out)``).

    Attributes:
        name: preset name of the layout ("big", "vot", "otb", "tiny", "mobile").
        width: channel multiplier of the AlexNet backbone (channels 96/256/384/384/256 x width); 1 for
            MobileNetV2 (its ImageNet width).
        feature_out: F, channels of the correlation features and kernels.
        backbone: "alexnet" (the official layout) or "mobilenetv2" (ImageNet MobileNetV2 blocks 0-10 and a
            1x1 neck to F channels, :mod:`dasiamrt.model.mobilenet`); both give the same feature-map sizes.
    """

    name: str
    width: float
    feature_out: int
    backbone: str = ALEXNET

    def __post_init__(self) -> None:
        if self.backbone not in BACKBONES:
            raise ConfigError(f"unknown backbone {self.backbone!r}: choose one of {', '.join(BACKBONES)}")

    @property
    def channels(self) -> Tuple[int, int, int, int, int]:
        """AlexNet backbone channels C1..C5."""
        c = tuple(int(round(b * self.width)) for b in (96, 256, 384, 384, 256))
        return c  # type: ignore[return-value]

    @property
    def feature_channels(self) -> int:
        """C, channels of the backbone output (the template/search embedding): AlexNet's C5, or the
        MobileNetV2 neck's F."""
        return self.channels[-1] if self.backbone == ALEXNET else self.feature_out


@dataclass(frozen=True)
class DistractorConfig:
    """Distractor-aware inference (paper Sec. 3.3, Eq. 2-4).

    Attributes:
        enabled: re-rank proposals with the fused distractor-aware kernel.
        threshold: h, a proposal (after NMS) scoring above it becomes a distractor.
        n_max: at most this many distractors per frame.
        nms_iou: IoU above which proposals are suppressed.
        alpha_hat: weight of the distractor term (0.5 in the paper).
        alpha_i: weight of each distractor (1 in the paper).
        eta: incremental-learning rate; beta_t = sum_{i<t} (eta / (1 - eta))^i.
    """

    enabled: bool = False
    threshold: float = 0.5
    n_max: int = 8
    nms_iou: float = 0.3
    alpha_hat: float = 0.5
    alpha_i: float = 1.0
    eta: float = 0.01

    def __post_init__(self) -> None:
        _flag("distractor.enabled", self.enabled)
        _number("distractor.threshold", self.threshold, 0.0, 1.0)
        _number("distractor.n_max", self.n_max, 0, 1024, integer=True)
        _number("distractor.nms_iou", self.nms_iou, 0.0, 1.0)
        _number("distractor.alpha_hat", self.alpha_hat, 0.0, math.inf)
        _number("distractor.alpha_i", self.alpha_i, 0.0, math.inf, open_low=True)
        _number("distractor.eta", self.eta, 0.0, 0.5, open_low=True)


@dataclass(frozen=True)
class LongTermConfig:
    """Local-to-global search for long-term tracking (paper Sec. 3.4).

    Attributes:
        enabled: switch to the large search region when the score says the target is lost.
        lost_instance_size: search side while lost (767 in the paper).
        enter_threshold: best score below this enters ``lost`` (0.8).
        leave_threshold: best score above this leaves ``lost`` (0.95).
        lost_window_influence: motion-window weight while lost (almost off).
        patience: consecutive frames scoring below ``enter_threshold`` that enter ``lost`` (1: the
            first such frame, the paper's rule). Frames of a shorter dip are tracked as in plain mode.
    """

    enabled: bool = False
    lost_instance_size: int = 767
    enter_threshold: float = 0.8
    leave_threshold: float = 0.95
    lost_window_influence: float = 0.001
    patience: int = 1

    def __post_init__(self) -> None:
        _flag("long_term.enabled", self.enabled)
        _number("long_term.lost_instance_size", self.lost_instance_size, spec.MIN_SEARCH_SIZE, spec.MAX_SEARCH_SIZE,
                integer=True)
        spec.check_search_size(self.lost_instance_size)
        _number("long_term.enter_threshold", self.enter_threshold, 0.0, 1.0)
        _number("long_term.leave_threshold", self.leave_threshold, 0.0, 1.0)
        _number("long_term.lost_window_influence", self.lost_window_influence, 0.0, 1.0)
        _number("long_term.patience", self.patience, 1, 1000, integer=True)
        if self.enter_threshold > self.leave_threshold:
            raise ConfigError("long-term thresholds need 0 <= enter_threshold <= leave_threshold <= 1")


@dataclass(frozen=True)
class TrackerConfig:
    """Hyper-parameters of the tracker (official ``TrackerConfig`` plus DA and LT).

    ``small_instance_size`` is the official BIG model's adaptive rule: when the initial box covers
    less than ``small_target_ratio`` of the frame, search at that size for the whole sequence.
    """

    instance_size: int = 271
    exemplar_size: int = spec.EXEMPLAR_SIZE
    context_amount: float = 0.5
    ratios: Tuple[float, ...] = (0.33, 0.5, 1.0, 2.0, 3.0)
    scales: Tuple[float, ...] = (8.0,)
    penalty_k: float = 0.055
    window_influence: float = 0.42
    lr: float = 0.295
    windowing: str = "cosine"
    small_instance_size: Optional[int] = None
    small_target_ratio: float = 0.004
    min_size: float = 10.0
    distractor: DistractorConfig = field(default_factory=DistractorConfig)
    long_term: LongTermConfig = field(default_factory=LongTermConfig)

    def __post_init__(self) -> None:
        """Check every setting's type and range (one schema for presets, ``model.json`` and overrides).

        Raises:
            ConfigError: naming the first bad setting, its range and the value found.
        """
        for name in ("instance_size", "small_instance_size"):
            size = getattr(self, name)
            if size is not None:
                _number(name, size, spec.MIN_SEARCH_SIZE, spec.MAX_SEARCH_SIZE, integer=True)
                spec.check_search_size(size)
        _check_fixed(self.exemplar_size, spec.TOTAL_STRIDE)
        _number("context_amount", self.context_amount, 0.0, 10.0)
        _number("penalty_k", self.penalty_k, 0.0, 100.0)
        _number("window_influence", self.window_influence, 0.0, 1.0)
        _number("lr", self.lr, 0.0, 1.0, open_low=True)
        _number("small_target_ratio", self.small_target_ratio, 0.0, 1.0)
        _number("min_size", self.min_size, 0.0, math.inf, open_low=True)
        if self.windowing not in ("cosine", "uniform"):
            raise ConfigError(f"windowing must be 'cosine' or 'uniform', not {self.windowing!r}")
        for name in ("ratios", "scales"):
            values = getattr(self, name)
            if not isinstance(values, tuple):
                raise ConfigError(f"tracker setting {name} must be a list of numbers, got {values!r}")
            for value in values:
                _number(name, value, 0.0, 100.0, open_low=True)
        if len(self.ratios) * len(self.scales) != spec.ANCHOR_NUM:
            raise ConfigError(f"the networks predict {spec.ANCHOR_NUM} anchors per cell: give 5 ratios x 1 scale")
        if not isinstance(self.distractor, DistractorConfig) or not isinstance(self.long_term, LongTermConfig):
            raise ConfigError("tracker settings distractor and long_term must be objects of their settings")

    @property
    def anchor_num(self) -> int:
        """A, anchors per score-map cell."""
        return len(self.ratios) * len(self.scales)

    def search_sizes(self) -> Tuple[int, ...]:
        """Every search side this configuration can use (for precomputing anchors/windows)."""
        sizes = {self.instance_size}
        if self.small_instance_size is not None:
            sizes.add(self.small_instance_size)
        if self.long_term.enabled:
            sizes.add(self.long_term.lost_instance_size)
        return tuple(sorted(sizes))

    def replace(self, **changes: Any) -> "TrackerConfig":
        """A copy with ``changes``; nested ``distractor``/``long_term`` take dicts of fields too."""
        for key in ("distractor", "long_term"):
            if isinstance(changes.get(key), Mapping):
                changes[key] = dataclasses.replace(getattr(self, key), **changes[key])
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> Dict[str, Any]:
        """JSON-friendly dict (saved next to every run's results)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TrackerConfig":
        """Inverse of :meth:`to_dict`; unknown keys raise :class:`ConfigError`."""
        data = dict(data) if isinstance(data, Mapping) else data
        if isinstance(data, dict) and "total_stride" in data:  # written by older versions: the networks' stride
            _check_fixed(data.get("exemplar_size", spec.EXEMPLAR_SIZE), data.pop("total_stride"))
        values = dict(_known("", cls, data))
        values["distractor"] = DistractorConfig(**_known("distractor.", DistractorConfig, values.get("distractor", {})))
        values["long_term"] = LongTermConfig(**_known("long_term.", LongTermConfig, values.get("long_term", {})))
        for key in ("ratios", "scales"):
            if key in values:
                if not isinstance(values[key], (list, tuple)):
                    raise ConfigError(f"tracker setting {key} must be a list of numbers, got {values[key]!r}")
                values[key] = tuple(values[key])
        return cls(**values)


def _check_fixed(exemplar_size: Any, total_stride: Any) -> None:
    """exemplar_size and total_stride are the networks' (:mod:`dasiamrt.spec`), not settings.

    Raises:
        ConfigError: either differs from the networks'.
    """
    if exemplar_size != spec.EXEMPLAR_SIZE or total_stride != spec.TOTAL_STRIDE:
        raise ConfigError(f"tracker settings exemplar_size and total_stride are fixed by the networks: "
                          f"{spec.EXEMPLAR_SIZE} and {spec.TOTAL_STRIDE}, got {exemplar_size!r} and "
                          f"{total_stride!r}")


def read_tracker_settings(path: str, base: TrackerConfig) -> TrackerConfig:
    """``base`` with the fields of a JSON file (nested ``long_term``/``distractor`` objects allowed; keys starting
    with ``_`` are comments), e.g. a model's own thresholds for ``dasiamrt export --tracker``.

    Raises:
        ConfigError: the file is missing, not JSON, not an object, or names an unknown or out-of-range setting.
    """
    import json
    from pathlib import Path

    try:
        changes = json.loads(Path(path).read_text())
    except OSError:
        raise ConfigError(f"tracker settings file {path} not found") from None
    except ValueError as err:
        raise ConfigError(f"{path} is not valid JSON ({err})") from None
    if not isinstance(changes, dict):
        raise ConfigError(f"{path} must hold a JSON object of tracker settings")
    changes = {k: v for k, v in changes.items() if not k.startswith("_")}  # "_comment" keys
    try:
        return base.replace(**changes)
    except TypeError as err:
        raise ConfigError(f"{path}: unknown tracker setting ({err})") from None


def _known(prefix: str, cls: Any, data: Any) -> Mapping[str, Any]:
    """``data`` if it is a mapping of ``cls``'s field names, else a ConfigError naming the problem."""
    if not isinstance(data, Mapping):
        where = f" {prefix.rstrip('.')}" if prefix else ""
        raise ConfigError(f"tracker settings{where} must be an object, got {data!r}")
    unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
    if unknown:
        raise ConfigError(f"unknown tracker setting(s): {', '.join(prefix + str(k) for k in sorted(unknown, key=str))}")
    return data


@dataclass(frozen=True)
class Preset:
    """A network layout and the tracker settings that go with it."""

    name: str
    network: NetworkConfig
    tracker: TrackerConfig
    description: str


NETWORKS: Dict[str, NetworkConfig] = {
    "big": NetworkConfig("big", width=2.0, feature_out=512),
    "vot": NetworkConfig("vot", width=1.0, feature_out=256),
    "otb": NetworkConfig("otb", width=1.0, feature_out=256),
    "tiny": NetworkConfig("tiny", width=0.25, feature_out=64),
    "mobile": NetworkConfig("mobile", width=1.0, feature_out=64, backbone=MOBILENETV2),
}

_PAPER_DA = DistractorConfig(enabled=True)
_PAPER_LT = LongTermConfig(enabled=True)

PRESETS: Dict[str, Preset] = {
    "big": Preset(
        "big",
        NETWORKS["big"],
        TrackerConfig(lr=0.295, window_influence=0.42, penalty_k=0.055, instance_size=271, small_instance_size=287),
        "official SiamRPNBIG (SiamRPNBIG.model, VOT2018 entry); 287 search for targets < 0.4% of the frame",
    ),
    "vot": Preset(
        "vot",
        NETWORKS["vot"],
        TrackerConfig(lr=0.45, window_influence=0.44, penalty_k=0.04, instance_size=271),
        "official SiamRPNvot (SiamRPNVOT.model)",
    ),
    "otb": Preset(
        "otb",
        NETWORKS["otb"],
        TrackerConfig(lr=0.30, window_influence=0.40, penalty_k=0.22, instance_size=271),
        "official SiamRPNotb (SiamRPNOTB.model)",
    ),
    "paper": Preset(
        "paper",
        NETWORKS["vot"],
        TrackerConfig(
            lr=0.45, window_influence=0.44, penalty_k=0.04, instance_size=255,
            distractor=_PAPER_DA, long_term=_PAPER_LT,
        ),
        "the paper's DaSiamRPN: vot network, 255 search, distractor-aware and long-term on",
    ),
    "tiny": Preset(
        "tiny",
        NETWORKS["tiny"],
        TrackerConfig(lr=0.35, window_influence=0.40, penalty_k=0.10, instance_size=255),
        "dasiamrt's quarter-width network (the bundled, self-trained model)",
    ),
    "mobile": Preset(
        "mobile",
        NETWORKS["mobile"],
        TrackerConfig(lr=0.35, window_influence=0.40, penalty_k=0.10, instance_size=255),
        "ImageNet MobileNetV2 backbone (blocks 0-10, stride 8) with the SiamRPN heads, fine-tuned by dasiamrt",
    ),
}


def get_preset(name: str) -> Preset:
    """Look up a preset by name.

    Raises:
        ConfigError: for an unknown name (the message lists the known ones).
    """
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(f"unknown preset {name!r}: choose one of {', '.join(PRESETS)}") from None
