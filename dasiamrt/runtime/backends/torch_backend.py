"""PyTorch backend: the reference path, straight from a checkpoint (no export needed)."""
from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np
from numpy.typing import NDArray

from ...config import NetworkConfig
from ...errors import MissingDependencyError
from .base import Array, Backend, SearchOutput


class TorchBackend(Backend):
    """Backend on a :class:`dasiamrt.model.SiamRPN` in eval mode (CPU unless ``device`` is given).

    Args:
        net: the network, or None to load ``weights`` into ``network``.
        weights: checkpoint path (official ``.model`` files included).
        network: layout for ``weights``.
        device: torch device string.
    """

    name = "torch"
    supports_fusion = True

    def __init__(
        self,
        net: Any = None,
        weights: Optional[str] = None,
        network: Optional[NetworkConfig] = None,
        device: str = "cpu",
    ) -> None:
        super().__init__()
        try:
            import torch
        except ImportError:
            raise MissingDependencyError("torch", "the torch backend", "pip install 'dasiamrt[export]'") from None
        from ...model import KernelUpdate, load_network

        if net is None:
            if weights is None or network is None:
                raise ValueError("TorchBackend needs a net, or weights and a network layout")
            net = load_network(weights, network)
        self._torch = torch
        self.device = torch.device(device)
        self.net = net.to(self.device).eval()
        self._update = KernelUpdate(self.net)

    def _t(self, array: Array) -> Any:
        return self._torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)).to(self.device)

    @staticmethod
    def _np(tensor: Any) -> Array:
        return tensor.detach().cpu().numpy().astype(np.float32, copy=False)  # type: ignore[no-any-return]

    def template(self, crops: Array) -> Tuple[Array, Array]:
        with self._torch.no_grad():
            cls, reg = self.net.template(self._t(crops))
        return self._np(cls), self._np(reg)

    def search(self, crop: Array, want_features: bool = False) -> SearchOutput:
        cls_k, reg_k = self._kernels()
        with self._torch.no_grad():
            cls, delta, features = self.net.search(self._t(crop), self._t(cls_k), self._t(reg_k))
        feats = self._np(features) if want_features else None
        self._last_features = feats
        return SearchOutput(self._np(cls), self._np(delta), feats)

    def kernel_update(
        self, features: Array, window_index: NDArray[np.int64], window_weight: Array, acc: Array, inv_total: float
    ) -> Tuple[Array, Array]:
        with self._torch.no_grad():
            acc_out, fused = self._update(
                self._t(features),
                self._torch.from_numpy(np.ascontiguousarray(window_index, dtype=np.int64)).to(self.device),
                self._t(window_weight), self._t(acc), self._t(np.array([inv_total], dtype=np.float32)),
            )
        return self._np(acc_out), self._np(fused)
