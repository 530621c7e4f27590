"""CPU feature detection from /proc/cpuinfo text (x86 and ARM samples)."""
from __future__ import annotations

from dasiamrt.cpu_features import detect, parse_cpuinfo

ZEN4 = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 9R14 96-Core Processor
flags\t\t: fpu sse2 avx avx2 fma avx512f avx512bw avx512_vnni avx512_bf16
processor\t: 1
model name\t: should not be read
"""
HASWELL = "model name\t: Intel(R) Xeon(R) CPU E5-2680 v3\nflags\t\t: fpu sse2 avx avx2 fma\n"
ALDER = "model name\t: 12th Gen Intel(R) Core(TM) i7-12700\nflags\t\t: avx2 avx_vnni\n"
ORIN = "processor\t: 0\nBogoMIPS\t: 62.50\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics asimddp\n"
NANO = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32\n"


def test_zen4_has_vnni_and_bf16():
    f = parse_cpuinfo(ZEN4, "x86_64")
    assert f.name.startswith("AMD EPYC 9R14")
    assert (f.avx2, f.avx512, f.vnni, f.bf16, f.int8_dot_product) == (True, True, True, True, True)
    assert not f.u8s8_overflow
    assert "vnni" in f.summary() and "bf16" in f.summary()


def test_avx2_only_has_no_integer_dot_product():
    f = parse_cpuinfo(HASWELL, "x86_64")
    assert f.avx2 and not f.avx512 and not f.vnni and not f.int8_dot_product
    assert f.u8s8_overflow  # ONNX Runtime's fast u8 x s8 kernels saturate here


def test_avx_vnni_without_avx512_counts():
    f = parse_cpuinfo(ALDER, "x86_64")
    assert f.vnni and not f.avx512 and f.int8_dot_product and not f.u8s8_overflow


def test_arm_dotprod_orin_vs_nano():
    assert parse_cpuinfo(ORIN, "aarch64").int8_dot_product
    nano = parse_cpuinfo(NANO, "aarch64")
    assert not nano.int8_dot_product and nano.name == "aarch64"
    assert not nano.u8s8_overflow  # an x86 matter (ONNX Runtime: SSE4.1/AVX2/AVX-512 without VNNI)


def test_unreadable_cpuinfo_reads_all_false(tmp_path):
    f = detect(tmp_path / "missing")
    assert not f.flags and not f.int8_dot_product
