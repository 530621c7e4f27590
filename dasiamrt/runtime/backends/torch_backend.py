"""PyTorch backend: the reference path straight from a checkpoint, and the GPU path without TensorRT.

``device`` is "cpu", "cuda" or "cuda:N"; ``precision`` "fp32" (IEEE: TF32 off) or "fp16". On a CUDA device the
search step of each search size is one CUDA graph (:mod:`.torch_graphs`): a static crop buffer
and static kernel buffers that new kernels are copied into, so a graph is captured once per size
and replayed every frame. Distractor-aware fusion runs on the device too: the running kernel sum
stays there in fp32 in every precision (an fp16 sum that grows with t loses later frames), the
search features never leave the device, and the fused kernel is copied into the static cls kernel
buffer. Inputs and outputs at the :class:`~.base.Backend` protocol stay float32 host arrays.

fp16 on the CPU is allowed where this torch has CPU float16 convolutions (2.x does): it is slow
(emulated) and meant for checking fp16 numerics without a GPU.
"""
from __future__ import annotations

import contextlib
import copy
import logging
import re
from typing import Any, Iterator, Optional, Tuple

import numpy as np
from numpy.typing import NDArray

from ...config import NetworkConfig
from ...errors import BackendError, ConfigError, MissingDependencyError
from .base import Array, Backend, SearchOutput

log = logging.getLogger(__name__)

PRECISIONS = ("fp32", "fp16")
_DEVICE = re.compile(r"^(cpu|cuda)(?::(\d+))?$")


def parse_device(text: str) -> str:
    """Check a device string ("cpu", "cuda", "cuda:N") without importing torch; returns it normalised.

    Raises:
        ConfigError: anything else (the message lists the accepted forms).
    """
    match = _DEVICE.match(str(text).strip().lower())
    if match is None or (match.group(1) == "cpu" and match.group(2) is not None):
        raise ConfigError(f"--device takes cpu, cuda or cuda:N (N = GPU index, see nvidia-smi), got {text!r}")
    return match.group(0)


def check_precision(precision: str) -> str:
    """The torch backend runs fp32 or fp16.

    Raises:
        ConfigError: another precision (int8 runs on the ort and trt backends).
    """
    if precision not in PRECISIONS:
        raise ConfigError(f"the torch backend runs fp32 or fp16, not {precision!r}: int8 runs on --backend ort "
                          "(after 'dasiamrt calibrate') or --backend trt")
    return precision


def open_device(torch: Any, text: str) -> Any:
    """``torch.device`` for ``text``, after checking that this torch and machine can use it.

    Raises:
        ConfigError: malformed device string.
        BackendError: a CPU-only torch build, no visible GPU, or a GPU index out of range.
    """
    name = parse_device(text)
    if name == "cpu":
        return torch.device("cpu")
    if getattr(torch.version, "cuda", None) is None:
        raise BackendError(f"--device {name}: this torch ({torch.__version__}) is built without CUDA: install a "
                           "CUDA build of torch (pytorch.org/get-started), or use --device cpu")
    if not torch.cuda.is_available():
        raise BackendError(f"--device {name}: torch {torch.__version__} (CUDA {torch.version.cuda}) sees no GPU: "
                           "check the driver (nvidia-smi) and CUDA_VISIBLE_DEVICES, or use --device cpu")
    count = torch.cuda.device_count()
    device = torch.device(name)
    index = 0 if device.index is None else device.index
    if index >= count:
        raise BackendError(f"--device {name}: this machine has {count} CUDA GPU(s): use cuda:0..cuda:{count - 1}")
    return torch.device("cuda", index)


def _check_cpu_fp16(torch: Any) -> None:
    try:
        x = torch.zeros((1, 1, 2, 2), dtype=torch.float16)
        torch.nn.functional.conv2d(x, torch.zeros((1, 1, 1, 1), dtype=torch.float16))
    except RuntimeError:
        raise ConfigError(f"fp16 on the CPU needs float16 CPU convolutions, which torch {torch.__version__} lacks: "
                          "use --precision fp32, or --device cuda") from None
    log.warning("fp16 on the CPU is emulated by torch (slow): use it to check fp16 numerics; fp32 or --device cuda "
                "for speed")


class TorchBackend(Backend):
    """Backend on a :class:`dasiamrt.model.SiamRPN` in eval mode.

    Args:
        net: the network, or None to load ``weights`` into ``network``. A net that must change
            device or precision is copied first (the caller's stays as it was).
        weights: checkpoint path (official ``.model`` files included).
        network: layout for ``weights``.
        device: "cpu", "cuda" or "cuda:N".
        precision: "fp32" or "fp16" (the network's weights and activations; I/O stays float32).
        cuda_graph: on a CUDA device, replay one CUDA graph per search size (False: eager).
        capture: graph capture strategy (default: real CUDA graphs on a CUDA device, none on the
            CPU); tests pass a fake that freezes its inputs at capture like a real graph.

    Raises:
        MissingDependencyError: torch is not installed.
        ConfigError: bad device string or precision.
        BackendError: the device cannot be used here (see :func:`open_device`).
    """

    name = "torch"
    supports_fusion = True
    #: the running sum, the features and the fused kernel stay on the device (see module docstring).
    fuses_on_device = True

    def __init__(self, net: Any = None, weights: Optional[str] = None, network: Optional[NetworkConfig] = None,
                 device: str = "cpu", precision: str = "fp32", cuda_graph: bool = True,
                 capture: Any = None) -> None:
        super().__init__()
        self.precision = check_precision(precision)
        parse_device(device)  # a malformed string fails before torch is imported
        try:
            import torch
        except ImportError:
            raise MissingDependencyError("torch", "the torch backend", "pip install 'dasiamrt[export]'") from None
        from ...model import KernelUpdate

        self._torch = torch
        self.device = open_device(torch, device)
        self.dtype = torch.float16 if precision == "fp16" else torch.float32
        if precision == "fp16" and self.device.type == "cpu":
            _check_cpu_fp16(torch)
        self.net = self._place(net, weights, network)
        self._update: Any = KernelUpdate(self.net)
        anchors, f, k = self.net.anchor, self.net.feature_out, 4
        self._kernel_bufs = (torch.zeros((2 * anchors, f, k, k), dtype=self.dtype, device=self.device),
                             torch.zeros((4 * anchors, f, k, k), dtype=self.dtype, device=self.device))
        self._acc_device: Any = None  # (10, F, 4, 4) float32 device tensor: the running sum of Eq. 4
        self._features: Any = None  # backbone features of the last search, on the device
        if capture is None and cuda_graph and self.device.type == "cuda":
            from .torch_graphs import CudaGraphCapture

            capture = CudaGraphCapture(torch, self.device)
        from .torch_graphs import SearchSteps

        self.steps = SearchSteps(torch, self._search_step, self._kernel_bufs, self.device, capture)

    def _place(self, net: Any, weights: Optional[str], network: Optional[NetworkConfig]) -> Any:
        """The network on this backend's device and precision, in eval mode (a given net is copied first
        when it must change: the caller's stays as it was)."""
        if net is None:
            if weights is None or network is None:
                raise ValueError("TorchBackend needs a net, or weights and a network layout")
            from ...model import load_network

            net = load_network(weights, network)
        elif self.device.type != "cpu" or self.dtype != self._torch.float32:
            net = copy.deepcopy(net)
        return net.to(device=self.device, dtype=self.dtype).eval()

    def _search_step(self, crop: Any, cls_kernel: Any, reg_kernel: Any) -> Tuple[Any, Any, Any]:
        """float32 device crop (1, 3, H, H) -> (cls, delta, features) in the network's precision."""
        return self.net.search(crop.to(self.dtype), cls_kernel, reg_kernel)  # type: ignore[no-any-return]

    @contextlib.contextmanager
    def _on_device(self) -> Iterator[None]:
        """No autograd; on a GPU: the backend's GPU current (graphs replay on the current device's stream)
        and, for fp32, cuDNN without TF32 (torch's default on Ampere and newer rounds conv inputs to a
        10-bit mantissa: fp16-sized errors under an "fp32" label). The global flag is restored after."""
        self._require_open()
        torch = self._torch
        with torch.no_grad():
            if self.device.type != "cuda":
                yield
                return
            cudnn = torch.backends.cudnn
            tf32 = cudnn.allow_tf32
            cudnn.allow_tf32 = tf32 and self.dtype != torch.float32
            try:
                with torch.cuda.device(self.device):
                    yield
            finally:
                cudnn.allow_tf32 = tf32

    def _t(self, array: Any, dtype: Any = None) -> Any:
        host = self._torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
        return host.to(device=self.device, dtype=dtype or self.dtype)

    def _np(self, tensor: Any) -> Array:
        """A new float32 host array (never a view of a static buffer that the next replay overwrites)."""
        host = tensor.detach().to(device="cpu", dtype=self._torch.float32, copy=True)
        return host.numpy()  # type: ignore[no-any-return]

    def _template_impl(self, crops: Array) -> Tuple[Array, Array]:
        with self._on_device():
            cls, reg = self.net.template(self._t(crops))
            return self._np(cls), self._np(reg)

    def _set_kernels_impl(self, cls_kernel: Array, reg_kernel: Array) -> None:
        """Copy the kernels into the static device buffers every search (and graph) reads."""
        with self._on_device():
            for buf, value in zip(self._kernel_bufs, (cls_kernel, reg_kernel)):
                buf.copy_(self._torch.from_numpy(value))

    def _search_impl(self, crop: Array, want_features: bool) -> SearchOutput:
        with self._on_device():
            cls, delta, features = self.steps.run(crop)
            self._features = features
            feats = self._np(features) if want_features else None
            return SearchOutput(self._np(cls), self._np(delta), feats)

    def kernel_update(
        self, features: Array, window_index: NDArray[np.int64], window_weight: Array, acc: Array, inv_total: float
    ) -> Tuple[Array, Array]:
        """The protocol's host-array fusion step (see :meth:`.base.Backend.kernel_update`); acc stays fp32."""
        with self._on_device():
            acc_out, fused = self._fusion_step(self._t(features), window_index, window_weight,
                                               self._t(acc, self._torch.float32), inv_total)
            return self._np(acc_out), self._np(fused)

    def _fusion_step(self, features: Any, window_index: NDArray[np.int64], window_weight: Array, acc: Any,
                     inv_total: float) -> Tuple[Any, Any]:
        """acc (fp32) + sum_n w_n D(window_n) (computed in the network's precision) -> (acc_out, fused), fp32."""
        torch = self._torch
        index = torch.from_numpy(np.ascontiguousarray(window_index, dtype=np.int64)).to(self.device)
        inv = torch.tensor([inv_total], dtype=torch.float32, device=self.device)
        return self._update(features, index, self._t(window_weight), acc, inv)  # type: ignore[no-any-return]

    # -- distractor-aware fusion on the device ----------------------------------------------------
    def _reset_fusion_impl(self, cls_kernel: Array, weight: float) -> None:
        """Running sum A = weight * K(z), kept on the device in fp32."""
        with self._on_device():
            start = np.float32(weight) * np.asarray(cls_kernel, dtype=np.float32)
            self._acc_device = self._t(start, self._torch.float32)

    def _fuse_impl(self, window_index: NDArray[np.int64], window_weight: Array, inv_total: float) -> None:
        """A += sum_n w_n K(window_n) over the last search's device features; cls kernel := A * inv_total.

        Only the (N * 36,) indices, the N weights and ``inv_total`` go host -> device; the fused
        kernel is copied into the static cls kernel buffer (graphs keep reading the same address).
        """
        with self._on_device():
            if self._acc_device is None or self._features is None:
                raise RuntimeError("fuse() needs reset_fusion() and a search() first")
            self._acc_device, fused = self._fusion_step(self._features, window_index, window_weight,
                                                            self._acc_device, inv_total)
            self._kernel_bufs[0].copy_(fused)

    def fused_kernel(self) -> Array:
        """The cls kernel the searches read now (10, F, 4, 4) float32, copied back (tests, debugging)."""
        with self._on_device():
            return self._np(self._kernel_bufs[0])

    def running_sum(self) -> Array:
        """The fp32 running sum A (10, F, 4, 4), copied back (tests, debugging)."""
        with self._on_device():
            if self._acc_device is None:
                raise RuntimeError("running_sum() needs reset_fusion() first")
            return self._np(self._acc_device)

    def _close_impl(self) -> None:
        """Drop the graphs, buffers and network (their GPU memory returns to torch's allocator). Idempotent."""
        self.steps = None  # type: ignore[assignment]
        self._kernel_bufs = ()  # type: ignore[assignment]
        self._acc_device = self._features = None
        self.net = self._update = None

    def describe(self) -> str:
        """"torch cuda:0 fp16, CUDA graphs at 255/767" (what ran, for tables and logs)."""
        text = f"torch {self.device} {self.precision}"
        if self._closed:
            return text + " (closed)"
        graphs = self.steps.graph_sizes
        if not self.steps.captures:
            text += ", eager"
        if graphs:
            text += ", CUDA graphs at " + "/".join(str(s) for s in graphs)
        if self.steps.eager_sizes:
            text += ", eager at " + "/".join(str(s) for s in sorted(self.steps.eager_sizes))
        return text
