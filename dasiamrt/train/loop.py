"""The training loop: SGD on SiamRPN pairs, checkpoints with exact resume, optional DDP.

One process trains on CPU or one GPU. Under ``torchrun`` (``WORLD_SIZE`` > 1) each process samples
its own pairs (rng ``[seed, rank]``), gradients are averaged by DistributedDataParallel, and rank 0
alone writes checkpoints and logs. ``out_dir`` receives:
    last.pt       model, optimizer, epoch/step, best monitor loss / validation AUC, every rank's RNG state
    best.pt       weights (official key names) with the highest held-out tracking AUC when the config
                  has a ``validation`` section (checked at step 0 and every ``every_epochs`` epochs;
                  no training track may come from a validation sequence), else with the lowest loss
                  on the fixed monitor batch
    metrics.jsonl one line per log interval and per epoch
    config.json   the resolved configuration
Resuming from ``last.pt`` continues with the same batches as an uninterrupted run would draw.
"""
from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, cast

import numpy as np
import torch

from ..config import ALEXNET, NETWORKS
from ..errors import CheckpointError, ConfigError
from ..eval.datasets.real_split import read_split
from ..model import SiamRPN, build_network, load_network, save_checkpoint
from ..model.mobilenet import MobileNetV2Features
from .config import TrainConfig
from .datasets import ImageCache
from .real_data import check_not_validation
from .sampler import PairSampler
from .sources import build_sources
from .targets import siamrpn_loss
from .validate import TrackingValidator

log = logging.getLogger(__name__)
FROZEN_CONVS = (0, 4, 8)
#: Training sees crops scaled by this (and the first conv's weights divided by it): the network's
#: contract is raw BGR 0..255 input, which makes the first conv's gradient ~100x too large for its
#: weights under SGD. A power of two, so converting weights to and from the official form is exact.
#: AlexNet only: the MobileNetV2 backbone normalises its input itself (scale 1).
INPUT_SCALE = 1.0 / 128.0
_FIRST_CONV = "featureExtract.0.weight"


def input_scale(net: SiamRPN) -> float:
    """The factor training multiplies crops by for ``net`` (:data:`INPUT_SCALE` for AlexNet, else 1)."""
    return INPUT_SCALE if net.network.backbone == ALEXNET else 1.0


class TrainingNet(torch.nn.Module):
    """SiamRPN in training parametrisation: ``forward(z, x) = net(z * s, x * s)``, s = :func:`input_scale`."""

    def __init__(self, net: SiamRPN) -> None:
        super().__init__()
        self.net = net
        self.scale = input_scale(net)

    def forward(self, z: torch.Tensor, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        return cast("Tuple[torch.Tensor, torch.Tensor]", self.net(z * self.scale, x * self.scale))


def official_state(net: SiamRPN) -> Dict[str, torch.Tensor]:
    """The trained network's weights for raw 0..255 input (official layout and semantics)."""
    state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    if _FIRST_CONV in state:
        state[_FIRST_CONV] = state[_FIRST_CONV] * input_scale(net)
    return state


def load_official_state(net: SiamRPN, state: Dict[str, torch.Tensor]) -> None:
    """Inverse of :func:`official_state`: weights for 0..255 input into the training parametrisation."""
    state = dict(state)
    if _FIRST_CONV in state:
        state[_FIRST_CONV] = state[_FIRST_CONV] / input_scale(net)
    net.load_state_dict(state)


def frozen_modules(net: SiamRPN, frozen_blocks: Optional[int] = None) -> List[torch.nn.Module]:
    """What ``freeze_first_convs`` fixes: AlexNet's convs 0, 4, 8 with their BN (paper 4.1); MobileNetV2's
    first ``frozen_blocks`` blocks, by default the stem and blocks 1-6 (its ImageNet stride-2..8 part; the
    dilated blocks, the neck and the heads train)."""
    if net.network.backbone == ALEXNET:
        layers = cast(torch.nn.Sequential, net.featureExtract)
        return [layers[i + k] for i in FROZEN_CONVS for k in (0, 1)]
    features = cast(MobileNetV2Features, net.featureExtract)
    return features.first_blocks() if frozen_blocks is None else features.first_blocks(frozen_blocks)


def balance_heads(net: SiamRPN) -> None:
    """Rescale each bilinear head pair (conv_cls1 x conv_cls2, conv_r1 x conv_r2) to equal weight norms.

    The correlation is bilinear in the two convs' outputs, so scaling one by k and the other by 1/k
    changes no output; it evens their gradients (a small factor gets a huge gradient otherwise).
    """
    with torch.no_grad():
        for kernel_conv, feature_conv in ((net.conv_cls1, net.conv_cls2), (net.conv_r1, net.conv_r2)):
            k = (feature_conv.weight.norm() / kernel_conv.weight.norm().clamp_min(1e-12)).sqrt()
            assert kernel_conv.bias is not None and feature_conv.bias is not None  # the head convs have biases
            kernel_conv.weight.mul_(k)
            kernel_conv.bias.mul_(k)
            feature_conv.weight.div_(k)
            feature_conv.bias.div_(k)


@dataclass
class Progress:
    """Where a run is: next epoch/step to run, steps done, best monitor loss, best validation AUC."""

    epoch: int = 0
    step: int = 0
    global_step: int = 0
    best_val: float = float("inf")
    best_auc: float = -1.0


@dataclass
class TrainRun:
    """What one process's training loop works with, built once by :func:`train`.

    Attributes:
        cfg: the run's configuration; out_dir: its output folder.
        net: the network (official layout); model: what the steps run (``net`` wrapped for the loss, and for
            DistributedDataParallel when ``world`` > 1).
        optimizer, sampler: SGD over the trainable parameters; the pair sampler.
        rng: this rank's pair-sampling generator (seed ``[cfg.seed, rank]``).
        rank, world, device: this process's place in the run and its torch device.
        validator: tracking validation (rank 0, with a ``validation`` section), else None.
    """

    cfg: TrainConfig
    net: SiamRPN
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    sampler: PairSampler
    rng: np.random.Generator
    rank: int
    world: int
    device: torch.device
    out_dir: Path
    validator: Optional[TrackingValidator] = None


def build_model(cfg: TrainConfig) -> SiamRPN:
    """The network to train (training parametrisation, see :class:`TrainingNet`): pretrained weights if given,
    else ``build_network``'s seeded random init (with ``pretrained_backbone``'s ImageNet blocks for MobileNetV2).

    ``build_network`` scales the first conv for 0..255 input and the kernel heads so that logits
    start with std ~1 and deltas ~0.2 (~0.02 over ImageNet blocks); PyTorch's default init gives logits
    in the tens, and the first steps then only undo that.
    """
    torch.manual_seed(cfg.seed)
    network = NETWORKS[cfg.preset]
    if cfg.init_weights:
        net = load_network(cfg.init_weights, network)
    else:
        net = build_network(network, seed=cfg.seed, backbone_weights=cfg.pretrained_backbone)
        balance_heads(net)
    load_official_state(net, net.state_dict())
    net.train()
    if cfg.freeze_first_convs:
        for module in frozen_modules(net, cfg.frozen_blocks):
            for p in module.parameters():
                p.requires_grad_(False)
    return net


def set_train_mode(net: SiamRPN, cfg: TrainConfig) -> None:
    """Train mode, but frozen blocks keep their BatchNorm statistics (eval mode)."""
    net.train()
    if cfg.freeze_first_convs:
        for module in frozen_modules(net, cfg.frozen_blocks):
            for bn in module.modules():
                if isinstance(bn, torch.nn.BatchNorm2d):
                    bn.eval()


def to_tensors(batch: Dict[str, np.ndarray], device: torch.device) -> Dict[str, torch.Tensor]:
    return {k: torch.from_numpy(v).to(device) for k, v in batch.items()}


def _loss(cls: torch.Tensor, delta: torch.Tensor, batch: Dict[str, torch.Tensor], cfg: TrainConfig) -> Any:
    """:func:`siamrpn_loss` of a batch with the config's weights and hard-negative mining: (total, cls, reg).

    Raises:
        ConfigError: the config mines hard negatives but the batch has no ``far`` mask (its sampler was
            configured without mining: mining would be silently off).
    """
    k = cfg.sampler.labels.hard_negatives
    if k and "far" not in batch:
        raise ConfigError(f"training mines {k} hard negatives per pair but the sampler's batches carry no 'far' "
                          "mask: give the sampler the same labels.hard_negatives as the config")
    return siamrpn_loss(cls, delta, batch["labels"], batch["deltas"], cfg.reg_weight, far=batch.get("far"),
                        hard_negatives=k)


def train_step(net: torch.nn.Module, optimizer: torch.optim.Optimizer, batch: Dict[str, torch.Tensor],
               cfg: TrainConfig) -> Tuple[float, float, float]:
    """One SGD step on a batch; returns (total, cls, reg) losses before the step."""
    cls, delta = net(batch["template"], batch["search"])
    total, cls_loss, reg_loss = _loss(cls, delta, batch, cfg)
    optimizer.zero_grad(set_to_none=True)
    total.backward()
    if cfg.grad_clip > 0:
        torch.nn.utils.clip_grad_norm_([p for p in net.parameters() if p.requires_grad], cfg.grad_clip)
    optimizer.step()
    return total.item(), cls_loss.item(), reg_loss.item()


@torch.no_grad()
def monitor_loss(net: SiamRPN, batch: Dict[str, torch.Tensor], cfg: TrainConfig, chunk: int = 16) -> float:
    """Loss on the fixed monitor batch in eval mode (BatchNorm running statistics, as the tracker uses)."""
    was_training = net.training
    net.eval()
    losses = []
    n = batch["template"].shape[0]
    for s in range(0, n, chunk):
        part = {k: v[s:s + chunk] for k, v in batch.items()}
        cls, delta = TrainingNet(net)(part["template"], part["search"])
        losses.append(float(_loss(cls, delta, part, cfg)[0]))
    if was_training:
        set_train_mode(net, cfg)
    return float(np.mean(losses))


def _distributed() -> Tuple[int, int, torch.device]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, torch.device("cuda" if torch.cuda.is_available() else "cpu")
    import torch.distributed as dist

    local = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
    else:
        device = torch.device("cpu")
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return dist.get_rank(), world, device


def _gather_rng(rng: np.random.Generator, world: int) -> List[str]:
    state = json.dumps(rng.bit_generator.state)
    if world == 1:
        return [state]
    import torch.distributed as dist

    states: List[Any] = [None] * world
    dist.all_gather_object(states, state)
    return states


def save_state(path: Path, net: SiamRPN, optimizer: torch.optim.Optimizer, progress: Progress,
               rng_states: List[str], cfg: TrainConfig) -> None:
    """Write ``last.pt`` atomically (weights under "model", everything else beside it)."""
    save_checkpoint(
        official_state(net), path, optimizer=optimizer.state_dict(),
        progress=json.dumps(progress.__dict__), rng=json.dumps(rng_states),
        torch_rng=torch.get_rng_state(), config=json.dumps(cfg.to_dict()),
    )


def load_state(path: Path, net: SiamRPN, optimizer: torch.optim.Optimizer,
               rank: int) -> Tuple[Progress, Dict[str, Any]]:
    """Restore model and optimizer from ``last.pt``; returns the progress and this rank's RNG state."""
    if not path.is_file():
        raise CheckpointError(f"no checkpoint to resume at {path}: run without --resume to start fresh")
    obj = torch.load(path, map_location="cpu", weights_only=True)
    load_official_state(net, obj["model"])
    optimizer.load_state_dict(obj["optimizer"])
    torch.set_rng_state(obj["torch_rng"])
    states = json.loads(obj["rng"])
    if rank >= len(states):
        raise CheckpointError(f"{path} was written by {len(states)} processes; resume with the same --nproc_per_node")
    return Progress(**json.loads(obj["progress"])), json.loads(states[rank])


def _write_metrics(out_dir: Path, record: Dict[str, Any]) -> None:
    with open(out_dir / "metrics.jsonl", "a") as fh:
        fh.write(json.dumps(record) + "\n")


def train(cfg: TrainConfig, resume: bool = False, sampler: Optional[PairSampler] = None,
          max_steps: Optional[int] = None) -> Progress:
    """Run (or continue) training as configured.

    Args:
        cfg: the run's configuration.
        resume: continue from ``out_dir/last.pt`` (same config, same number of processes).
        sampler: pair sampler to use instead of building one from ``cfg.data`` (tests).
        max_steps: stop after this many steps of this call (tests; checkpoints are written first).

    Returns:
        The progress reached.
    """
    torch.set_num_threads(cfg.num_threads)
    rank, world, device = _distributed()
    out_dir = Path(cfg.out_dir)
    if rank == 0:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2))
    validator = None
    if cfg.validation is not None:
        from ..eval.datasets.real_manifest import find_manifest

        split = read_split(cfg.validation.split, find_manifest(Path(cfg.validation.data_root())))
        sources = build_sources(cfg.data, ImageCache()) if sampler is None else sampler.sources
        check_not_validation(sources, split)
        if sampler is None:
            sampler = PairSampler(sources, cfg.sampler)
        if rank == 0:
            validator = TrackingValidator(cfg.validation, cfg.preset)
    if sampler is None:
        sampler = PairSampler(build_sources(cfg.data, ImageCache()), cfg.sampler)
    net = build_model(cfg).to(device)
    params = [p for p in net.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=cfg.lr_start, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    rng = np.random.default_rng([cfg.seed, rank])
    progress = Progress()
    if resume:
        progress, state = load_state(out_dir / "last.pt", net, optimizer, rank)
        rng.bit_generator.state = state
    model: torch.nn.Module = TrainingNet(net)
    if world > 1:
        model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    val_batch = to_tensors(sampler.batch(np.random.default_rng(cfg.val_seed), cfg.val_pairs), device)
    if validator is not None and progress.global_step == 0 and progress.best_auc < 0:
        _validate(validator, net, progress, out_dir, lr=0.0)
    run = TrainRun(cfg, net, model, optimizer, sampler, rng, rank, world, device, out_dir, validator)
    return _run(run, progress, val_batch, max_steps)


def _validate(validator: TrackingValidator, net: SiamRPN, progress: Progress, out_dir: Path, lr: float) -> None:
    """Track the validation sequences with the current weights; a new best AUC writes ``best.pt``."""
    start = time.time()
    result = validator(official_state(net))
    improved = result["auc"] > progress.best_auc
    if improved:
        progress.best_auc = result["auc"]
        save_checkpoint(official_state(net), out_dir / "best.pt", legacy=True)
    log.info("validation after %d steps: AUC %.4f, precision@20 %.3f (best %.4f%s), %.0f s", progress.global_step,
             result["auc"], result["precision_20"], progress.best_auc, ", saved best.pt" if improved else "",
             time.time() - start)
    _write_metrics(out_dir, {"epoch": progress.epoch, "global_step": progress.global_step, "val_auc": result["auc"],
                             "val_precision_20": result["precision_20"], "val_per_sequence": result["per_sequence"],
                             "best": improved, "lr": lr, "time": time.time()})


def _run(run: TrainRun, progress: Progress, val_batch: Dict[str, torch.Tensor], max_steps: Optional[int]) -> Progress:
    cfg, net, out_dir = run.cfg, run.net, run.out_dir
    last_save = tick = time.time()
    done, window = 0, []
    while progress.epoch < cfg.epochs:
        lr = cfg.lr_at(progress.epoch)
        for group in run.optimizer.param_groups:
            group["lr"] = lr
        set_train_mode(net, cfg)
        while progress.step < cfg.steps_per_epoch:
            if max_steps is not None and done >= max_steps:
                _checkpoint(run, progress)
                return progress
            batch = to_tensors(run.sampler.batch(run.rng, cfg.batch_size), run.device)
            window.append(train_step(run.model, run.optimizer, batch, cfg))
            progress.step += 1
            progress.global_step += 1
            done += 1
            if run.rank == 0 and progress.global_step % cfg.log_every == 0:
                tick = _log(cfg, progress, window, lr, tick, run.world, out_dir)
                window = []
            if time.time() - last_save > cfg.checkpoint_every_s:
                _checkpoint(run, progress)
                last_save = time.time()
        progress.epoch += 1
        progress.step = 0
        val = monitor_loss(net, val_batch, cfg)
        improved = val < progress.best_val
        progress.best_val = min(val, progress.best_val)
        if run.rank == 0:
            if run.validator is not None and cfg.validation is not None and (
                    progress.epoch % cfg.validation.every_epochs == 0 or progress.epoch == cfg.epochs):
                _validate(run.validator, net, progress, out_dir, lr)
            elif improved and run.validator is None:
                save_checkpoint(official_state(net), out_dir / "best.pt", legacy=True)
            log.info("epoch %d/%d done: monitor loss %.4f (best %.4f)", progress.epoch, cfg.epochs, val,
                     progress.best_val)
            _write_metrics(out_dir, {"epoch": progress.epoch, "global_step": progress.global_step, "monitor_loss": val,
                                     "lr": lr, "time": time.time()})
        _checkpoint(run, progress)
        last_save = time.time()
    return progress


def _checkpoint(run: TrainRun, progress: Progress) -> None:
    states = _gather_rng(run.rng, run.world)
    if run.rank == 0:
        save_state(run.out_dir / "last.pt", run.net, run.optimizer, progress, states, run.cfg)


def _log(cfg: TrainConfig, progress: Progress, window: List[Tuple[float, float, float]], lr: float, tick: float,
         world: int, out_dir: Path) -> float:
    now = time.time()
    total, cls_l, reg_l = (float(v) for v in np.mean(window, axis=0))
    rate = len(window) * cfg.batch_size * world / max(now - tick, 1e-9)
    done = progress.epoch * cfg.steps_per_epoch + progress.step
    log.info("epoch %d/%d step %d/%d [%5.1f%%] loss %.4f (cls %.4f reg %.4f) lr %.2e %.1f pairs/s",
             progress.epoch + 1, cfg.epochs, progress.step, cfg.steps_per_epoch,
             100.0 * done / (cfg.epochs * cfg.steps_per_epoch), total, cls_l, reg_l, lr, rate)
    _write_metrics(out_dir, {"epoch": progress.epoch, "step": progress.step, "global_step": progress.global_step,
                             "loss": total, "cls": cls_l, "reg": reg_l, "lr": lr, "pairs_per_s": rate, "time": now})
    return now
