"""Which INT8 form runs where: per backend, per CPU feature set (faked), per TensorRT typing."""
from __future__ import annotations

import pytest

from dasiamrt.cpu_features import parse_cpuinfo
from dasiamrt.errors import ConfigError, ModelError
from dasiamrt.int8_forms import (
    FORMS,
    INT8,
    INT8_CPU,
    INT8_CPU_W7,
    INT8_FP16,
    available_forms,
    choose_int8_form,
    forms_for_targets,
    ort_session_entries,
    resolve_int8_form,
)

EPYC_VNNI = parse_cpuinfo("model name : AMD EPYC 9R14\nflags : fpu sse avx2 avx512f avx512_vnni avx512_bf16\n",
                          "x86_64")
ALDER_LAKE = parse_cpuinfo("model name : 12th Gen Intel Core i7\nflags : fpu avx2 avx_vnni\n", "x86_64")
AVX2_ONLY = parse_cpuinfo("model name : AMD EPYC 7571\nflags : fpu sse avx avx2 fma\n", "x86_64")
AVX512_NO_VNNI = parse_cpuinfo("model name : Intel Xeon Skylake\nflags : avx2 avx512f avx512bw\n", "x86_64")
ORIN = parse_cpuinfo("model name : ARMv8 Processor rev 1 (v8l)\nFeatures : fp asimd atomics asimddp\n", "aarch64")
SSE_ONLY = parse_cpuinfo("model name : Intel Core 2 Duo\nflags : fpu sse sse2 ssse3 sse4_1\n", "x86_64")
CORTEX_A57 = parse_cpuinfo("model name : ARMv8 Processor rev 1 (v8l)\nFeatures : fp asimd crc32\n", "aarch64")


@pytest.mark.parametrize("cpu, form", [(EPYC_VNNI, INT8_CPU), (ALDER_LAKE, INT8_CPU), (ORIN, INT8_CPU),
                                       (AVX2_ONLY, INT8_CPU_W7), (AVX512_NO_VNNI, INT8_CPU_W7), (CORTEX_A57, INT8)])
def test_onnx_runtime_cpu_form_follows_integer_kernels(cpu, form):
    choice = choose_int8_form("ort", cpu)
    assert choice.form == form
    if cpu.int8_dot_product:  # VNNI / dotprod: the fast integer form, nothing to warn about
        assert not choice.slower and "QLinearConv" in choice.reason
        assert ort_session_entries(cpu) == {}
    elif cpu.u8s8_overflow:  # x86 without VNNI: 7-bit weights on the fast kernels; exact kernels for 8-bit ones
        assert not choice.slower and "7-bit" in choice.reason and "16-bit" in choice.reason
        assert ort_session_entries(cpu) == {"session.x64quantprecision": "1"}
    else:  # ARM without dotprod: the TensorRT graph, to check its accuracy
        assert "no integer dot-product" in choice.slower and cpu.name in choice.slower
        assert ort_session_entries(cpu) == {}


def test_the_first_onnx_runtime_provider_decides():
    trt_ep = choose_int8_form("ort", EPYC_VNNI, providers=[("TensorrtExecutionProvider", {}), "CPUExecutionProvider"])
    assert trt_ep.form == INT8 and not trt_ep.slower
    cuda = choose_int8_form("ort", EPYC_VNNI, providers=["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert cuda.form == INT8 and "CUDAExecutionProvider" in cuda.slower
    assert choose_int8_form("ort", EPYC_VNNI, providers=["CPUExecutionProvider"]).form == INT8_CPU


def test_tensorrt_form_follows_typing_not_the_cpu():
    for cpu in (EPYC_VNNI, AVX2_ONLY):
        assert choose_int8_form("trt", cpu).form == INT8
        assert choose_int8_form("trt", cpu, strongly_typed=True).form == INT8_FP16
    with pytest.raises(ConfigError, match="no INT8 graphs"):
        choose_int8_form("torch", EPYC_VNNI)


def test_default_cpu_is_this_machine(monkeypatch):
    import dasiamrt.cpu_features as cpu_features

    monkeypatch.setattr(cpu_features, "detect", lambda *a: CORTEX_A57)
    assert choose_int8_form("ort").form == INT8
    assert ort_session_entries() == {}
    monkeypatch.setattr(cpu_features, "detect", lambda *a: AVX2_ONLY)
    assert ort_session_entries() == {"session.x64quantprecision": "1"}
    monkeypatch.setattr(cpu_features, "detect", lambda *a: ORIN)
    assert choose_int8_form("ort").form == INT8_CPU


def test_missing_form_falls_back_with_the_command_that_writes_it(caplog):
    choice = choose_int8_form("ort", EPYC_VNNI)
    assert resolve_int8_form(choice, (INT8, INT8_CPU), "m") == INT8_CPU
    with caplog.at_level("WARNING"):
        assert resolve_int8_form(choice, (INT8,), "models/vot") == INT8
    assert "--target cpu" in caplog.text and "models/vot" in caplog.text
    with pytest.raises(ModelError, match="dasiamrt calibrate --model m"):
        resolve_int8_form(choice, (), "m")
    # the two CPU forms stand in for each other before the float-out graph (integer kernels, no overflow)
    assert resolve_int8_form(choice, (INT8, INT8_CPU_W7), "m") == INT8_CPU_W7
    avx2 = choose_int8_form("ort", AVX2_ONLY)
    assert resolve_int8_form(avx2, (INT8, INT8_CPU, INT8_FP16), "m") == INT8_CPU  # on the exact kernels there


@pytest.mark.parametrize("choice, never", [
    (choose_int8_form("ort", EPYC_VNNI, providers=["TensorrtExecutionProvider"]), (INT8_CPU, INT8_CPU_W7)),
    (choose_int8_form("ort", EPYC_VNNI, providers=["CUDAExecutionProvider"]), (INT8_CPU, INT8_CPU_W7)),
    (choose_int8_form("trt", EPYC_VNNI), (INT8_CPU, INT8_CPU_W7)),
    (choose_int8_form("ort", SSE_ONLY), (INT8_CPU,)),  # no exact kernels without AVX2: int8-cpu would saturate
])
def test_a_fallback_never_runs_a_form_the_target_gets_wrong(choice, never):
    for form in never:
        with pytest.raises(ModelError, match="none this target runs correctly") as err:
            resolve_int8_form(choice, (form,), "m")
        assert "dasiamrt calibrate --model m" in str(err.value)
    assert not set(never) & set(choice.fallbacks)
    assert resolve_int8_form(choice, tuple(f for f in FORMS if f not in never), "m") == choice.form


def test_an_x86_cpu_whose_flags_cannot_be_read_takes_the_form_correct_on_every_x86():
    windows = parse_cpuinfo("", "AMD64")  # no /proc/cpuinfo: VNNI or not is unknown
    assert windows.x86 and windows.u8s8_overflow
    assert choose_int8_form("ort", windows).form == INT8_CPU_W7
    assert ort_session_entries(windows) == {"session.x64quantprecision": "1"}
    apple = parse_cpuinfo("", "arm64")
    assert not apple.x86 and not apple.u8s8_overflow and choose_int8_form("ort", apple).form == INT8


def test_available_forms_and_targets():
    manifest = {"variants": {"int8-cpu": {"graphs": {"search": {}}}, "int8": {"graphs": {}},
                             "fp16": {"graphs": {1: 1}}}}
    assert available_forms(manifest) == (INT8_CPU,)  # an entry without graphs is no form
    assert forms_for_targets(["all"]) == FORMS == forms_for_targets([])
    assert forms_for_targets(["trt-strongly-typed", "cpu"]) == (INT8_CPU, INT8_CPU_W7, INT8_FP16)
    assert forms_for_targets(["trt", "trt"]) == (INT8,)
    with pytest.raises(ConfigError, match="unknown calibration target"):
        forms_for_targets(["gpu"])
