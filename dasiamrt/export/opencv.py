"""Export for OpenCV's ``cv2.TrackerDaSiamRPN``: the three ONNX files it loads, from any weights dasiamrt loads.

What OpenCV's tracker (``modules/video/src/tracking/tracker_dasiamrpn.cpp``) expects, read from its
source:

* ``dasiamrpn_model.onnx`` (``Params.model``): one input, a BGR 0..255 crop (1, 3, H, H). At init
  it is fed the 127 template crop and run only up to the layer named ``63``: the backbone features
  (1, 256, 6, 6). Then the weights (blob 0) of the layers named ``65`` and ``68`` are replaced with
  the kernels: ``65`` is the regression correlation (``conv_r2`` output x (20, 256, 4, 4)), followed
  by ``regress_adjust``; ``68`` is the classification correlation (``conv_cls2`` output x
  (10, 256, 4, 4)). Each frame it runs the 271 search crop and reads the unconnected outputs in
  order: ``outs[0]`` the deltas (1, 20, 19, 19), ``outs[1]`` the scores (1, 10, 19, 19).
* ``dasiamrpn_kernel_r1.onnx`` / ``dasiamrpn_kernel_cls1.onnx`` (``Params.kernel_r1`` /
  ``kernel_cls1``): features (1, 256, 6, 6) -> ``conv_r1`` (1, 5120, 4, 4) / ``conv_cls1``
  (1, 2560, 4, 4), which the tracker reshapes to (20, 256, 4, 4) / (10, 256, 4, 4): out-channel
  oc -> (oc // 256, oc % 256), the layout of :meth:`dasiamrt.model.SiamRPN.kernels`.

The tracker hard-codes 256 kernel channels, a 19 x 19 score map (search 271) and its own settings
(window influence 0.43, lr 0.4, penalty_k 0.055, a Hann window that is the square root of the
official one), so only the 256-channel ``vot``/``otb`` layouts can be exported; ``big`` (512) and
``tiny`` (64) are refused. Opset 11 with a dynamic input side, which OpenCV 4.x and 5.x import.
"""
from __future__ import annotations

import inspect
import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any, Dict, List

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError, SourceError
from ..model import SiamRPN

log = logging.getLogger(__name__)

MODEL_FILE = "dasiamrpn_model.onnx"
KERNEL_R1_FILE = "dasiamrpn_kernel_r1.onnx"
KERNEL_CLS1_FILE = "dasiamrpn_kernel_cls1.onnx"
FILES = (MODEL_FILE, KERNEL_R1_FILE, KERNEL_CLS1_FILE)
#: layer names the tracker looks up: backbone features, regression and classification correlations.
FEATURES, REG_CORRELATION, CLS_CORRELATION = "63", "65", "68"
#: the deltas' output name, as in OpenCV's own file: the tracker takes outs[0] as the deltas, and
#: OpenCV's classic engine lists the unconnected outputs by name ("66" < "68"), the new one by order.
DELTAS = "66"
#: kernel channels, score-map side and search side OpenCV's tracker hard-codes.
CHANNELS, SEARCH_SIZE = 256, 271
OPSET = 11


class _Model(nn.Module):
    """Backbone + search heads + the two correlations with their kernels as (replaceable) weights."""

    def __init__(self, net: SiamRPN, reg_kernel: torch.Tensor, cls_kernel: torch.Tensor) -> None:
        super().__init__()
        self.net = net
        self.reg_kernel = nn.Parameter(reg_kernel.clone(), requires_grad=False)
        self.cls_kernel = nn.Parameter(cls_kernel.clone(), requires_grad=False)

    def forward(self, x: torch.Tensor) -> Any:
        features = self.net.featureExtract(x)
        delta = self.net.regress_adjust(F.conv2d(self.net.conv_r2(features), self.reg_kernel))
        score = F.conv2d(self.net.conv_cls2(features), self.cls_kernel)
        return delta, score


class _KernelHead(nn.Module):
    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        self.conv = conv

    def forward(self, features: torch.Tensor) -> Any:
        return self.conv(features)


def check_layout(net: SiamRPN) -> None:
    """Refuse networks OpenCV's tracker cannot run.

    Raises:
        ConfigError: kernel channels other than 256 (the big and tiny layouts).
    """
    if net.feature_out != CHANNELS or net.network.feature_channels != CHANNELS:
        raise ConfigError(f"OpenCV's TrackerDaSiamRPN supports the 256-channel vot/otb layouts only; the "
                          f"{net.network.name} layout has {net.feature_out} kernel channels: export it with "
                          "'dasiamrt export' (ONNX graphs for dasiamrt's own runtime) instead")


def _export(module: nn.Module, example: torch.Tensor, path: Path, output_names: List[str],
            dynamic: Dict[str, Dict[int, str]]) -> None:
    kwargs: Dict[str, Any] = dict(input_names=["input"], output_names=output_names, dynamic_axes=dynamic,
                                  opset_version=OPSET, do_constant_folding=True)
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:  # the keyword exists from torch 2.5
        kwargs["dynamo"] = False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (example,), str(path), **kwargs)


def _name_layers(path: Path) -> None:
    """Give the backbone output and the two correlation Convs the names the tracker looks up."""
    import onnx

    model = onnx.load(str(path))
    producers = {out: node for node in model.graph.node for out in node.output}
    correlations = [n for n in model.graph.node if n.op_type == "Conv" and len(n.input) == 2]
    regress = next(n for n in model.graph.node if n.output[0] == "delta")
    reg_corr = producers[regress.input[0]]
    cls_corr = producers["score"]
    if sorted(n.name for n in correlations) != sorted(n.name for n in (reg_corr, cls_corr)):
        raise RuntimeError("unexpected OpenCV export graph: the correlations are not where they should be")
    features = producers[reg_corr.input[0]].input[0]  # the input of conv_r2: the backbone output
    renames = {features: FEATURES, reg_corr.output[0]: REG_CORRELATION, "score": CLS_CORRELATION, "delta": DELTAS}
    for node in model.graph.node:
        node.input[:] = [renames.get(i, i) for i in node.input]
        node.output[:] = [renames.get(o, o) for o in node.output]
        # unnamed, as in OpenCV's own files: its importer then names each layer after its output,
        # "63" (OpenCV <= 4.5) or "onnx_node_output_0!63" (later), which is what each tracker looks up
        node.name = ""
    for value in model.graph.output:
        value.name = renames.get(value.name, value.name)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def export_opencv(net: SiamRPN, out_dir: str | os.PathLike[str]) -> List[Path]:
    """Write the three files of ``cv2.TrackerDaSiamRPN`` into ``out_dir`` (all or none).

    Args:
        net: a 256-channel network (vot/otb layout), weights loaded.
        out_dir: destination folder (created).

    Returns:
        Paths of ``dasiamrpn_model.onnx``, ``dasiamrpn_kernel_r1.onnx``, ``dasiamrpn_kernel_cls1.onnx``.

    Raises:
        ConfigError: a layout OpenCV cannot run.
        SourceError: ``out_dir`` cannot be written.
    """
    net = net.eval()
    check_layout(net)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise SourceError(f"{out} is a file: give a folder for the OpenCV model files (--out DIR)")
    try:
        out.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=out, prefix=".opencv."))
    except OSError as err:
        raise SourceError(f"cannot write {out}: {err.strerror or err}") from None
    try:
        with torch.no_grad():
            gray = torch.full((1, 3, 127, 127), 117.0)  # placeholder kernels: the tracker replaces them at init
            cls_k, reg_k = (k[0] for k in net.template(gray))
            features = net.featureExtract(gray)
        search = torch.rand((1, 3, SEARCH_SIZE, SEARCH_SIZE), generator=torch.Generator().manual_seed(0)) * 255
        _export(_Model(net, reg_k, cls_k).eval(), search, tmp / MODEL_FILE, ["delta", "score"],
                {"input": {2: "height", 3: "width"}})
        _name_layers(tmp / MODEL_FILE)
        _export(_KernelHead(net.conv_r1).eval(), features, tmp / KERNEL_R1_FILE, ["r1"], {})
        _export(_KernelHead(net.conv_cls1).eval(), features, tmp / KERNEL_CLS1_FILE, ["cls1"], {})
        for name in FILES:
            os.replace(tmp / name, out / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("wrote %s for cv2.TrackerDaSiamRPN", ", ".join(FILES))
    return [out / name for name in FILES]


def layer_name(net: Any, output: str) -> str:
    """The name OpenCV's importer gave the layer producing ``output`` ("63" up to OpenCV 4.5,
    "onnx_node_output_0!63" later)."""
    names = set(net.getLayerNames())
    for candidate in (f"onnx_node_output_0!{output}", output):
        if candidate in names:
            return candidate
    raise RuntimeError(f"OpenCV named no layer after {output!r}: the export does not fit this OpenCV")


def check_with_opencv(net: SiamRPN, out_dir: str | os.PathLike[str], seed: int = 0) -> float:
    """Run the written files the way the tracker does (``cv2.dnn``) and compare with torch.

    A random 127 template goes to layer ``63``, through both kernel nets, into the weights of ``65``
    and ``68``; a random 271 search crop then gives deltas and scores, compared with
    :meth:`SiamRPN.search` on the same kernels.

    Returns:
        The worst relative error max|cv - torch| / max|torch| over kernels, deltas and scores.

    Raises:
        MissingDependencyError: OpenCV without the dnn module.
    """
    import numpy as np

    from ..errors import MissingDependencyError

    try:
        import cv2

        dnn = cv2.dnn
    except (ImportError, AttributeError):
        raise MissingDependencyError("opencv-python", "checking the OpenCV export",
                                     "pip install opencv-python") from None
    engine = getattr(dnn, "ENGINE_CLASSIC", None)  # OpenCV 5: setParam needs the classic engine

    def read_net(path: str) -> Any:
        return dnn.readNet(path) if engine is None else dnn.readNet(path, "", "", engine)
    folder = Path(out_dir)
    gen = torch.Generator().manual_seed(seed)
    z = torch.rand((1, 3, 127, 127), generator=gen) * 255
    x = torch.rand((1, 3, SEARCH_SIZE, SEARCH_SIZE), generator=gen) * 255
    model, r1_net, cls1_net = (read_net(str(folder / name)) for name in FILES)
    model.setInput(z.numpy())
    features = model.forward(layer_name(model, FEATURES))
    r1_net.setInput(features)
    cls1_net.setInput(features)
    r1, cls1 = r1_net.forward(), cls1_net.forward()
    reg_k, cls_k = r1.reshape(20, CHANNELS, 4, 4), cls1.reshape(10, CHANNELS, 4, 4)
    model.setParam(model.getLayerId(layer_name(model, REG_CORRELATION)), 0, reg_k)
    model.setParam(model.getLayerId(layer_name(model, CLS_CORRELATION)), 0, cls_k)
    model.setInput(x.numpy())
    delta, score = model.forward(model.getUnconnectedOutLayersNames())
    with torch.no_grad():
        cls_t, reg_t = (k[0] for k in net.template(z))
        score_t, delta_t, _ = net.search(x, cls_t, reg_t)
    pairs = [(cls_k, cls_t), (reg_k, reg_t), (delta, delta_t), (score, score_t)]
    return max(float(np.abs(np.asarray(a) - b.numpy()).max() / max(float(b.abs().max()), 1e-12)) for a, b in pairs)
