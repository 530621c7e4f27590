"""The precision plan: how each TensorRT version is told to build fp32 / fp16 / int8 engines.

TensorRT 11 removed weak typing (``BuilderFlag.FP16``/``INT8``, calibrators): precision is written
into the ONNX graph (an fp16 graph, a Q/DQ graph) and the network is strongly typed. TensorRT 10
offers both routes; 8.5/8.6 only the builder-flag route. The same graphs run in ONNX Runtime on a
CPU, which is how their accuracy is measured (``benchmarks/README.md``).

=========  ======================  ===========================  =========================
precision  TensorRT 8.5 / 8.6      10.x                         11.x
=========  ======================  ===========================  =========================
fp32       fp32 graph              fp32 graph                   fp32 graph, strongly typed
fp16       fp32 graph + FP16 flag  flag, or fp16 graph strongly fp16 graph, strongly typed
                                   typed (``strongly_typed``)
int8       Q/DQ graph + INT8 flag  Q/DQ graph + INT8 flag, or   Q/DQ graph, strongly typed
           (+FP16)                 strongly typed
int8,      fp32 graph + INT8 flag  fp32 graph + INT8 flag       (removed: refused)
entropy    (+FP16) + calibrator    (+FP16) + calibrator
=========  ======================  ===========================  =========================

"int8, entropy" is the legacy implicit-quantization route (``dasiamrt build --calibrator entropy``):
the builder measures activation ranges itself with an ``IInt8EntropyCalibrator2`` fed from the
model's ``calibration.npz`` (:mod:`dasiamrt.engine.calibrator`).

Per-engine rules on weakly typed builds (flags), where TensorRT picks each layer's precision itself:

* ``kernel_update`` never gets the INT8 flag: it has no Q/DQ and no calibrator, so INT8 would run
  on placeholder ranges (trtexec's ``setTensorDynamicRange``).
* ``kernel_update``'s running sum stays FP32 under the FP16 flag: the layers fed by ``acc`` are
  constrained to FP32 (``OBEY_PRECISION_CONSTRAINTS``). An fp16 sum that grows like t x kernel
  loses each new frame's term (2.6% error at 1,000 frames); the fp16 GRAPH keeps them fp32 too
  (:func:`dasiamrt.graphs.fp16.convert_to_fp16`).
* calibrator route: every layer outside the backbone (heads, correlation with the dynamic kernels,
  whose input ranges were fixed at calibration while fused kernels have others) prefers FP16
  (``PREFER_PRECISION_CONSTRAINTS``), so only the backbone runs INT8.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from ..artifacts.model_schema import PRECISIONS
from ..errors import ConfigError
from ..trt.compat import TrtFeatures


@dataclass(frozen=True)
class PrecisionPlan:
    """How to build one precision on one TensorRT.

    Attributes:
        precision: what the user asked for ("fp32", "fp16", "int8").
        graph: which ONNX variant to parse: "fp32", "fp16" (fp16 weights and compute, fp32 I/O) or
            "qdq" (INT8 Q/DQ graph from ``dasiamrt calibrate``).
        strongly_typed: create the network with ``STRONGLY_TYPED`` (types come from the graph).
        builder_flags: ``trt.BuilderFlag`` member names to set.
        cleared_flags: ``trt.BuilderFlag`` member names to clear where they exist: fp32 clears TF32
            (on by default on Ampere/Orin, it rounds convolution inputs to a 10-bit mantissa).
        calibrator: implicit INT8 with an entropy calibrator (legacy route, TensorRT <= 10).
    """

    precision: str
    graph: str
    strongly_typed: bool
    builder_flags: Tuple[str, ...]
    cleared_flags: Tuple[str, ...] = ()
    calibrator: bool = False

    def describe(self) -> str:
        route = "strongly typed" if self.strongly_typed else ("flags " + "+".join(self.builder_flags) or "fp32")
        return f"{self.precision}: {self.graph} graph, {route}" + (", entropy calibrator" if self.calibrator else "")

    def flags_for(self, engine: str) -> Tuple[str, ...]:
        """Builder flags of one engine: ``kernel_update`` (no Q/DQ, never calibrated) never gets INT8."""
        if engine == "kernel_update":
            return tuple(f for f in self.builder_flags if f != "INT8")
        return self.builder_flags

    def constraint_for(self, engine: str) -> Optional["LayerConstraint"]:
        """The per-layer precision constraint of one engine on a weakly typed build (module docstring)."""
        if self.strongly_typed:
            return None  # the graph's types are the law; TensorRT refuses layer precisions here
        if engine == "kernel_update" and "FP16" in self.flags_for(engine):
            return LayerConstraint("accumulator", "fp32", obey=True)
        if self.calibrator and engine in ("template", "search"):
            return LayerConstraint("non-backbone", "fp16", obey=False)
        return None


#: Layers of the backbone (``featureExtract`` in every exported graph's node names).
BACKBONE = "featureExtract"
#: Inputs whose downstream layers form the fusion's running sum.
ACCUMULATOR_INPUTS = ("acc", "inv_total")


@dataclass(frozen=True)
class LayerConstraint:
    """Which layers of an engine get which precision.

    Attributes:
        rule: "accumulator" (layers fed, directly or not, by ``acc``/``inv_total``) or
            "non-backbone" (every layer whose name is not in the backbone).
        precision: "fp32" or "fp16".
        obey: OBEY (build fails if impossible) rather than PREFER the constraint.
    """

    rule: str
    precision: str
    obey: bool

    def select(self, layers: Sequence[Tuple[str, Sequence[str], Sequence[str]]]) -> List[str]:
        """Names of the constrained layers among (name, input tensor names, output tensor names),
        given in topological order (a TensorRT network's or an ONNX graph's)."""
        if self.rule == "non-backbone":
            return [name for name, _, _ in layers if BACKBONE not in name]
        reached = set(ACCUMULATOR_INPUTS)
        picked = []
        for name, inputs, outputs in layers:
            if reached & set(inputs):
                picked.append(name)
                reached.update(outputs)
        return picked


def plan_precision(precision: str, features: TrtFeatures, strongly_typed: bool = False,
                   calibrator: bool = False) -> PrecisionPlan:
    """Choose the graph variant, network flags and builder flags for ``precision``.

    Args:
        precision: "fp32", "fp16" or "int8".
        features: the installed TensorRT (:func:`dasiamrt.trt.compat.detect_features`).
        strongly_typed: on TensorRT 10, prefer the strongly typed route (fp16/Q-DQ graph) over
            builder flags. Implied on 11; refused where the flag does not exist.
        calibrator: int8 by the legacy entropy-calibrator route (TensorRT <= 10, fp32 graphs).

    Raises:
        ConfigError: unknown precision, ``strongly_typed`` on a TensorRT without it, or the
            calibrator route where it does not apply (not int8, strongly typed, TensorRT 11).
    """
    if precision not in PRECISIONS:
        raise ConfigError(f"unknown precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
    if strongly_typed and not (features.strongly_typed_flag or features.always_strongly_typed):
        raise ConfigError(f"TensorRT {features.version} cannot build strongly typed networks: drop --strongly-typed")
    if calibrator:
        if precision != "int8":
            raise ConfigError("--calibrator is for --precision int8: drop it")
        if not features.calibrators:
            raise ConfigError(f"TensorRT {features.version} has no INT8 calibrators (removed in 11.0): "
                              "drop --calibrator to build from the Q/DQ graphs")
        if strongly_typed:
            raise ConfigError("a calibrated INT8 build is weakly typed: drop --strongly-typed or --calibrator")
        return PrecisionPlan("int8", "fp32", False, ("INT8", "FP16"), calibrator=True)
    typed = features.always_strongly_typed or strongly_typed
    if precision == "fp32":
        return PrecisionPlan("fp32", "fp32", features.always_strongly_typed, (), ("TF32",))
    if precision == "fp16":
        if typed:
            return PrecisionPlan("fp16", "fp16", True, ())
        return PrecisionPlan("fp16", "fp32", False, ("FP16",))
    # int8: explicit quantization (Q/DQ) in every route; the INT8 flag enables it on weakly typed builds.
    if typed:
        return PrecisionPlan("int8", "qdq", True, ())
    return PrecisionPlan("int8", "qdq", False, ("INT8", "FP16"))
