"""Feature detection and the precision plan per TensorRT version, on fake ``tensorrt`` modules."""

from __future__ import annotations

import logging

import pytest

from dasiamrt.engine.precision import plan_precision
from dasiamrt.errors import BackendError, ConfigError
from dasiamrt.trt import compat
from tests.engine.fake_trt import VERSIONS, make_fake_trt


@pytest.mark.parametrize("version", VERSIONS)
def test_detected_features_match_the_version_table(version):
    major = int(version.split(".")[0])
    f = compat.detect_features(make_fake_trt(version))
    assert f.major == major and f.tensor_api
    assert f.needs_explicit_batch == (major < 10)
    assert f.strongly_typed_flag == (major >= 10)
    assert f.precision_flags == f.calibrators == (major < 11)
    # the number-only table (for printing trtexec lines) agrees with detection on every version
    assert compat.features_for_version(version) == f


def test_version_parsing_is_numeric_not_lexicographic():
    # "10.3" < "8.5" as strings; the major must come out as 10.
    assert compat.detect_features(make_fake_trt("10.3.0.30")).needs_explicit_batch is False
    assert compat.features_for_version("9.9").major == 9


def test_too_old_tensorrt_is_refused():
    trt = make_fake_trt("8.5.2.2")
    del trt.IExecutionContext.execute_async_v3
    with pytest.raises(BackendError, match="8.5 or newer"):
        compat.require_supported(compat.detect_features(trt))


@pytest.mark.parametrize(
    "version, precision, typed, graph, strongly, flags",
    [
        ("8.5.2.2", "fp32", False, "fp32", False, ()),
        ("8.5.2.2", "fp16", False, "fp32", False, ("FP16",)),
        ("8.6.2.3", "int8", False, "qdq", False, ("INT8", "FP16")),
        ("10.3.0.30", "fp16", False, "fp32", False, ("FP16",)),
        ("10.3.0.30", "fp16", True, "fp16", True, ()),
        ("10.3.0.30", "int8", True, "qdq", True, ()),
        ("11.0.0.114", "fp32", False, "fp32", True, ()),
        ("11.0.0.114", "fp16", False, "fp16", True, ()),
        ("11.0.0.114", "int8", False, "qdq", True, ()),
    ],
)
def test_precision_plan(version, precision, typed, graph, strongly, flags):
    trt = make_fake_trt(version)
    features = compat.detect_features(trt)
    plan = plan_precision(precision, features, typed)
    assert (plan.graph, plan.strongly_typed, plan.builder_flags) == (graph, strongly, flags)
    # every flag the plan names exists in that version's BuilderFlag, and applying the plan works
    config = trt.Builder(None).create_builder_config()
    compat.set_builder_flags(trt, config, features, plan.builder_flags)
    assert config.flags == list(flags)


def test_strongly_typed_refused_on_8x_and_unknown_precision():
    f = compat.detect_features(make_fake_trt("8.6.2.3"))
    with pytest.raises(ConfigError, match="strongly typed"):
        plan_precision("fp16", f, strongly_typed=True)
    with pytest.raises(ConfigError, match="fp32, fp16, int8"):
        plan_precision("bf16", f)


def test_fp16_flag_on_11_is_a_clear_error():
    trt = make_fake_trt("11.0.0.114")
    with pytest.raises(BackendError, match="no BuilderFlag.FP16"):
        compat.set_builder_flags(trt, trt.Builder(None).create_builder_config(), compat.detect_features(trt), ["FP16"])


@pytest.mark.parametrize(
    "version, typed, expected",
    [
        ("8.5.2.2", False, {"EXPLICIT_BATCH"}),
        ("10.3.0.30", False, set()),
        ("10.3.0.30", True, {"STRONGLY_TYPED"}),
        ("11.0.0.114", True, {"STRONGLY_TYPED"}),
    ],
)
def test_network_flags(version, typed, expected):
    trt = make_fake_trt(version)
    mask = compat.network_flags(trt, compat.detect_features(trt), typed)
    names = {m.name for m in trt.NetworkDefinitionCreationFlag if mask & (1 << int(m))}
    assert names == expected


def test_logger_routes_severity_to_python_logging(caplog):
    trt = make_fake_trt("10.3.0.30")
    trt_logger = compat.make_logger(trt)
    with caplog.at_level(logging.DEBUG, logger="dasiamrt.tensorrt"):
        trt_logger.log(trt.ILogger.Severity.ERROR, "boom")
        trt_logger.log(trt.ILogger.Severity.VERBOSE, "chatter")
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.ERROR, "boom"),
        (logging.DEBUG, "chatter"),
    ]


class _CacheConfig:
    """create_timing_cache returns None for bytes TensorRT cannot read; set_timing_cache rejects a mismatch."""

    def __init__(self, readable: bool, matches: bool) -> None:
        self.readable, self.matches, self.cache = readable, matches, None

    def create_timing_cache(self, data):
        return object() if self.readable else None

    def set_timing_cache(self, cache, ignore_mismatch):
        assert cache is not None and ignore_mismatch is False
        self.cache = cache
        return self.matches


@pytest.mark.parametrize("readable, matches", [(False, True), (True, False)])
def test_unusable_timing_cache_is_a_one_line_error(readable, matches):
    with pytest.raises(BackendError, match="delete it and rebuild"):
        compat.load_timing_cache(_CacheConfig(readable, matches), b"\x00garbage")


def test_usable_timing_cache_is_set():
    config = _CacheConfig(True, True)
    compat.load_timing_cache(config, b"cache")
    assert config.cache is not None


@pytest.mark.parametrize("version", ["8.5.2.2", "8.6.2.3", "10.3.0.30"])
@pytest.mark.parametrize("calibrator", [False, True])
def test_kernel_update_is_never_built_with_the_int8_flag(version, calibrator):
    """kernel_update has no Q/DQ and no calibrator: with INT8 TensorRT would use placeholder ranges."""
    plan = plan_precision("int8", compat.detect_features(make_fake_trt(version)), calibrator=calibrator)
    assert "INT8" in plan.flags_for("search") and "INT8" not in plan.flags_for("kernel_update")
    assert "FP16" in plan.flags_for("kernel_update")
