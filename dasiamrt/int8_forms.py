"""The INT8 forms of a model, and which one each target runs: the one place that decides.

``dasiamrt calibrate`` writes up to four Q/DQ forms of the template and search graphs from one set
of activation ranges, each a ``variants`` entry of ``model.json`` named as below (graph files
``<role>.<form>.onnx``). All quantise the backbone convolutions (int8 symmetric per-channel weights,
per-tensor activations: symmetric int8 for TensorRT, uint8 over the tensor's range for the CPU forms),
the TensorRT forms less the quantisation-sensitive ones (``float_nodes``); the correlation with the
dynamic kernels, the heads and ``kernel_update`` stay in higher precision. They differ in where the
Q/DQ pairs sit, in the weights' range and in the float type around them:

===============  ==========================================  =============================================
form             graph                                        runs fast on
===============  ==========================================  =============================================
``int8``         "float-out" Q/DQ from the fp32 graph: DQ on   weakly typed TensorRT (8.5-10, INT8 + FP16
                 the inputs of each quantised Conv, its        flags pick fp16 for the rest); ONNX Runtime's
                 output stays float                            TensorRT provider
``int8-cpu``     "Conv-out" Q/DQ from the fp32 graph: every    ONNX Runtime's CPU provider on a CPU with
                 quantised Conv is DQ -> Conv -> Q, which      integer dot products (x86 ``avx512_vnni`` /
                 ONNX Runtime fuses into integer QLinearConv  ``avx_vnni``, ARM ``asimddp``)
``int8-cpu-w7``  ``int8-cpu`` with weights in [-64, 64]        ONNX Runtime's CPU provider on x86 with AVX2
                 (7 bits, ONNX Runtime's ``reduce_range``)     (or AVX-512) but without VNNI
``int8-fp16``    the ``int8`` graph made fp16 (opset 19,       strongly typed TensorRT (10 with
                 fp16 scales): heads and correlation fp16      ``--strongly-typed``, every 11.x)
===============  ==========================================  =============================================

A strongly typed build takes every type from the graph, so from the fp32-based ``int8`` graph it
would run the unquantised heads and the correlation in FP32 (slower than an fp16 engine);
``int8-fp16`` keeps them in fp16.

x86 without VNNI: ONNX Runtime's fast u8 x s8 kernels there (``vpmaddubsw``) add each pair of products
in 16 bits with saturation; 8-bit weights over uint8 activations overflow it (2 x 255 x 127 > 32,767),
7-bit ones cannot (2 x 255 x 64 = 32,640). The bundled model's ``int8-cpu`` on such a CPU read a real-
validation AUC of 0.329 against fp32's 0.515; ``int8-cpu-w7`` reads 0.505 at 0.76x fp32's search time
(255; 0.66x at 767), and ``int8-cpu`` on ONNX Runtime's exact u8 x u8 kernels (``session.x64quantprecision``,
which :func:`ort_session_entries` turns on for every INT8 session there) 0.519, but at 1.01x / 0.83x
(``benchmarks/int8.md``, "x86 without VNNI"). Such CPUs therefore run ``int8-cpu-w7``, and ``int8-cpu``
on the exact kernels where a folder lacks it. Other CPUs without integer dot products (x86 without AVX2,
ARM without ``asimddp``) run ``int8``, the graph TensorRT builds, to check its accuracy, and are told that
INT8 will not be faster there.

:func:`choose_int8_form` maps (backend, CPU features, strongly typed) to a form;
:func:`resolve_int8_form` falls back to a form the model folder has. Nothing here imports a heavy
library: the runtime, ``calib`` and ``engine`` all read it.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Collection, Dict, Mapping, Optional, Sequence, Set, Tuple

from .cpu_features import CpuFeatures
from .errors import ConfigError, ModelError

log = logging.getLogger(__name__)

INT8 = "int8"
INT8_CPU = "int8-cpu"
INT8_CPU_W7 = "int8-cpu-w7"
INT8_FP16 = "int8-fp16"
#: every INT8 form, in the order ``dasiamrt calibrate`` writes them.
FORMS = (INT8, INT8_CPU, INT8_CPU_W7, INT8_FP16)
#: the Conv-out forms ONNX Runtime's CPU provider runs with integer kernels (uint8 activations).
CPU_FORMS = (INT8_CPU, INT8_CPU_W7)
#: bits of each form's weight grid (8: [-127, 127]; 7: [-64, 64], ONNX Runtime's ``reduce_range``).
WEIGHT_BITS: Dict[str, int] = {INT8: 8, INT8_CPU: 8, INT8_CPU_W7: 7, INT8_FP16: 8}
#: ``dasiamrt calibrate --target`` choices -> the forms each target runs.
TARGETS: Dict[str, Tuple[str, ...]] = {"trt": (INT8,), "cpu": CPU_FORMS, "trt-strongly-typed": (INT8_FP16,)}
#: how each form is made (recorded in ``model.json``).
DESCRIPTIONS: Dict[str, str] = {
    INT8: "float-out Q/DQ from the fp32 graph (weakly typed TensorRT)",
    INT8_CPU: "Conv-out Q/DQ from the fp32 graph (integer QLinearConv in ONNX Runtime on a CPU)",
    INT8_CPU_W7: "Conv-out Q/DQ from the fp32 graph, 7-bit weights (integer QLinearConv in ONNX Runtime on x86 "
                 "without VNNI)",
    INT8_FP16: "float-out Q/DQ in the fp16 graph, fp16 scales, opset 19 (strongly typed TensorRT)",
}
@dataclass(frozen=True)
class Int8Choice:
    """Which INT8 form to run, and why.

    Attributes:
        form: a name of :data:`FORMS`.
        reason: one sentence for the log.
        slower: why INT8 will not be faster than fp32 on this target ("" where it will be).
        fallbacks: the forms this target can also run correctly, best first, where a folder lacks ``form``
            (a TensorRT target never takes a CPU form; a CPU whose integer kernels saturate never takes
            ``int8-cpu`` without the exact kernels).
        slower_fallbacks: fallback -> why that form will not be faster than fp32 here (on a CPU: the float-out
            graphs run their convolutions in float; ``int8-cpu`` on the exact kernels of x86 without VNNI).
    """

    form: str
    reason: str
    slower: str = ""
    fallbacks: Tuple[str, ...] = ()
    slower_fallbacks: Mapping[str, str] = field(default_factory=dict)


def _provider_name(provider: Any) -> str:
    return str(provider[0] if isinstance(provider, (tuple, list)) else provider)


def choose_int8_form(backend: str, cpu: Optional[CpuFeatures] = None, strongly_typed: bool = False,
                     providers: Sequence[Any] = ()) -> Int8Choice:
    """The INT8 form for a backend on this machine.

    Args:
        backend: "ort" (ONNX Runtime) or "trt" (TensorRT engines).
        cpu: the CPU's features (default: :func:`dasiamrt.cpu_features.detect`); read for ONNX
            Runtime's CPU provider only.
        strongly_typed: the TensorRT build is strongly typed (10 with ``--strongly-typed``, 11.x).
        providers: ONNX Runtime execution providers in order of preference (names or
            ``(name, options)``); the first decides. Empty: the CPU provider.

    Raises:
        ConfigError: a backend without INT8 graphs (torch).
    """
    if backend == "trt":
        if strongly_typed:
            return Int8Choice(INT8_FP16, "a strongly typed TensorRT build takes every type from the graph: the Q/DQ "
                                         "graph made from the fp16 graph keeps the heads and correlation in fp16",
                              fallbacks=(INT8,))
        return Int8Choice(INT8, "weakly typed TensorRT (INT8 + FP16 flags) runs the fp32-based Q/DQ graph, "
                                "with the unquantised layers in fp16", fallbacks=(INT8_FP16,))
    if backend != "ort":
        raise ConfigError(f"the {backend} backend has no INT8 graphs: use --backend ort or trt for --precision int8")
    first = _provider_name(providers[0]) if providers else "CPUExecutionProvider"
    if first == "TensorrtExecutionProvider":
        return Int8Choice(INT8, "ONNX Runtime's TensorRT provider builds weakly typed engines from the fp32-based "
                                "Q/DQ graph", fallbacks=(INT8_FP16,))
    if first != "CPUExecutionProvider":
        return Int8Choice(INT8, "running the fp32-based Q/DQ graph (what TensorRT builds) to check its accuracy",
                          slower=f"{first} has no integer convolutions", fallbacks=(INT8_FP16,))
    if cpu is None:
        from .cpu_features import detect

        cpu = detect()
    float_out = {form: "the float-out Q/DQ graph runs its convolutions in float on ONNX Runtime's CPU provider"
                 for form in (INT8, INT8_FP16)}
    if cpu.int8_dot_product:
        flag = "VNNI" if cpu.vnni else "the ARM dot-product extension"
        return Int8Choice(INT8_CPU, f"this CPU has {flag}: ONNX Runtime fuses the Conv-out Q/DQ graph into integer "
                                    "convolutions (QLinearConv)", fallbacks=(INT8_CPU_W7, INT8, INT8_FP16),
                          slower_fallbacks=float_out)
    if cpu.u8s8_overflow:  # int8-cpu as a fallback: every INT8 session here takes the exact kernels
        exact = "int8-cpu's 8-bit weights run on ONNX Runtime's exact integer kernels here, about as fast as fp32"
        return Int8Choice(INT8_CPU_W7, "x86 without VNNI: the Conv-out Q/DQ graph with 7-bit weights runs on ONNX "
                                       "Runtime's fast u8 x s8 integer kernels without overflowing their 16-bit "
                                       "pair sums", fallbacks=(INT8_CPU, INT8, INT8_FP16),
                          slower_fallbacks={**float_out, INT8_CPU: exact})
    # x86 without AVX2 (the exact kernels are AVX2 / AVX-512 only: int8-cpu would saturate), ARM without dotprod
    safe_cpu = (INT8_CPU_W7,) if cpu.x86 else (INT8_CPU_W7, INT8_CPU)
    return Int8Choice(INT8, "running the fp32-based Q/DQ graph (what TensorRT builds) to check its accuracy",
                      slower=f"this CPU ({cpu.name}) has no integer dot-product instructions (VNNI / ARM dotprod)",
                      fallbacks=(INT8_FP16, *safe_cpu))


#: ONNX Runtime's session option for exact integer kernels on x86 without VNNI (its
#: ``kOrtSessionOptionsAvx2PrecisionMode``: "x64 SSE4.1/AVX2/AVX512(with no VNNI) has overflow problem with
#: quantized matrix multiplication with U8S8 ... use slower U8U8"; only effective with AVX2 or AVX-512).
X64_QUANT_PRECISION = "session.x64quantprecision"


def ort_session_entries(cpu: Optional[CpuFeatures] = None) -> Dict[str, str]:
    """Session config entries every ONNX Runtime CPU session that runs INT8 (Q/DQ) graphs takes on this CPU.

    On x86 with AVX2 but without VNNI, or whose flags cannot be read (:attr:`CpuFeatures.u8s8_overflow`), the
    exact u8 x u8 kernels, so that an 8-bit-weight graph (``int8-cpu``) computes there what a VNNI or ARM CPU
    computes, in the runtime, the calibration probes and the benchmarks. ONNX Runtime converts a graph's int8
    weights to uint8 for them only where a weight lies outside [-64, 64], so ``int8-cpu-w7`` keeps its fast
    kernels (measured: ``benchmarks/int8.md``; releases whose test was [-64, 63] would convert it: exact, slower).
    Elsewhere nothing: ONNX Runtime's own overflow test (``MlasPlatformU8S8Overflow``, read in its source) holds on
    every AVX2 CPU, VNNI ones included, so set there the option would move ``int8-cpu`` onto the slower kernels.
    """
    if cpu is None:
        from .cpu_features import detect

        cpu = detect()
    return {X64_QUANT_PRECISION: "1"} if cpu.u8s8_overflow else {}


def available_forms(manifest: Any) -> Tuple[str, ...]:
    """The INT8 forms a ``model.json`` records (``variants`` entries named in :data:`FORMS`)."""
    variants = manifest.get("variants", {}) if hasattr(manifest, "get") else {}
    return tuple(form for form in FORMS if isinstance(variants.get(form), dict) and variants[form].get("graphs"))


def calibrate_hint(root: Any, form: Optional[str] = None) -> str:
    """The command that writes ``form`` (every form when None) for the model folder ``root``."""
    from .fileio import inside_package

    target = next((t for t, forms in TARGETS.items() if form in forms), None)
    extra = f" --target {target}" if target else ""
    if inside_package(root):  # the bundled model: calibrate refuses to write into the package
        extra += " --out DIR' and use '--model DIR"
    return f"dasiamrt calibrate --model {root} --source VIDEO --init x,y,w,h{extra}"


def resolve_int8_form(choice: Int8Choice, available: Collection[str], root: Any = "DIR") -> str:
    """The form to load: ``choice.form`` if the folder has it, else the first of ``choice.fallbacks`` it has
    (logged with the command that writes the chosen form).

    Raises:
        ModelError: the folder has none of the forms this target can run.
    """
    if choice.form in available:
        return choice.form
    for form in choice.fallbacks:
        if form in available:
            log.warning("%s has no %s graphs (%s): running its %s graphs instead; write them with '%s'",
                        root, choice.form, DESCRIPTIONS[choice.form], form, calibrate_hint(root, choice.form))
            return form
    if not available:
        raise ModelError(f"{root} has no int8 graphs: create them with '{calibrate_hint(root)}'")
    raise ModelError(f"{root} has INT8 graphs ({', '.join(available)}) but none this target runs correctly "
                     f"({', '.join((choice.form, *choice.fallbacks))}): create them with "
                     f"'{calibrate_hint(root, choice.form)}'")


def log_choice(choice: Int8Choice, form: str) -> None:
    """One INFO line naming the form that runs and why; a WARNING where INT8 will not be faster."""
    if form == choice.form:
        log.info("INT8 form %s: %s", form, choice.reason)
    else:
        log.info("INT8 form %s (in place of %s, which the model folder lacks)", form, choice.form)
    slower = choice.slower or (choice.slower_fallbacks.get(form, "") if form != choice.form else "")
    if slower:
        log.warning("INT8 will not be faster than fp32 here: %s; use --precision fp32 for speed", slower)


def forms_for_targets(targets: Sequence[str]) -> Tuple[str, ...]:
    """``--target`` values ("all", "cpu", "trt", "trt-strongly-typed") -> forms, in :data:`FORMS` order.

    Raises:
        ConfigError: an unknown target.
    """
    chosen: Set[str] = set()
    for target in targets or ("all",):
        if target == "all":
            chosen.update(FORMS)
        elif target in TARGETS:
            chosen.update(TARGETS[target])
        else:
            raise ConfigError(f"unknown calibration target {target!r}: choose all, {', '.join(TARGETS)}")
    return tuple(form for form in FORMS if form in chosen)
