"""CPU instruction-set features that decide how fast each precision runs on a CPU.

INT8 convolutions beat fp32 on a CPU only where it has integer dot-product instructions: x86 VNNI
(``avx512_vnni`` on AVX-512 parts, ``avx_vnni`` on AVX2-only parts from Alder Lake / Zen 5) or the
ARM dot-product extension (``asimddp``, Jetson Orin's Cortex-A78AE has it). An x86 CPU without VNNI
also needs ONNX Runtime's exact integer kernels (:attr:`CpuFeatures.u8s8_overflow`). Every CPU
benchmark table records :meth:`CpuFeatures.summary` because the development machines differ.

Read from ``/proc/cpuinfo`` (Linux). Elsewhere everything reads False and the name comes from
:mod:`platform`; nothing here raises.
"""
from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path
from typing import FrozenSet, Optional, Set

CPUINFO = Path("/proc/cpuinfo")


@dataclass(frozen=True)
class CpuFeatures:
    """What the CPU can do, as far as the choice of precision is concerned.

    Attributes:
        name: model name ("AMD EPYC 9R14", "ARMv8 Processor rev 1 (v8l)").
        machine: ``platform.machine()`` ("x86_64", "aarch64").
        flags: every flag the kernel reports (x86 ``flags``, ARM ``Features``), lower case.
    """

    name: str
    machine: str
    flags: FrozenSet[str]

    @property
    def avx2(self) -> bool:
        return "avx2" in self.flags

    @property
    def avx512(self) -> bool:
        return "avx512f" in self.flags

    @property
    def vnni(self) -> bool:
        """x86 integer dot products (AVX-512 VNNI or AVX-VNNI)."""
        return bool({"avx512_vnni", "avx_vnni"} & self.flags)

    @property
    def bf16(self) -> bool:
        return "avx512_bf16" in self.flags

    @property
    def arm_dotprod(self) -> bool:
        """ARMv8.2 dot product (``asimddp``)."""
        return "asimddp" in self.flags

    @property
    def x86(self) -> bool:
        return self.machine.lower() in ("x86_64", "amd64", "x86", "i386", "i686")

    @property
    def u8s8_overflow(self) -> bool:
        """x86 with AVX2 (or AVX-512) but no VNNI: ONNX Runtime's fast uint8 x int8 kernels there (``vpmaddubsw``)
        add each pair of products in 16 bits with saturation, which 8-bit weights over uint8 activations overflow.

        Such CPUs run the 7-bit-weight form ``int8-cpu-w7``, and every INT8 session there takes ONNX Runtime's
        exact kernels for 8-bit weights (:mod:`dasiamrt.int8_forms`, "x86 without VNNI"). An x86 CPU whose flags
        cannot be read (no ``/proc/cpuinfo``: Windows, macOS) counts as one: both are correct on every x86 CPU.
        """
        return self.x86 and not self.vnni and (self.avx2 or not self.flags)

    @property
    def int8_dot_product(self) -> bool:
        """True where integer convolutions (QLinearConv) can beat fp32."""
        return self.vnni or self.arm_dotprod

    def summary(self) -> str:
        """One line for benchmark tables: name and the flags that matter."""
        keys = (("avx2", self.avx2), ("avx512", self.avx512), ("vnni", self.vnni), ("bf16", self.bf16),
                ("asimddp", self.arm_dotprod))
        present = [k for k, v in keys if v]
        return f"{self.name} [{', '.join(present) or 'no AVX2/AVX-512/VNNI/dotprod'}]"


def parse_cpuinfo(text: str, machine: Optional[str] = None) -> CpuFeatures:
    """Features from the text of ``/proc/cpuinfo`` (the first processor's block is enough)."""
    name = ""
    flags: Set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("model name", "hardware", "cpu model") and not name:
            name = value.strip()
        elif key in ("flags", "features") and not flags:
            flags = set(value.lower().split())
    machine = machine or platform.machine()
    return CpuFeatures(name or platform.processor() or machine, machine, frozenset(flags))


def detect(cpuinfo: Path = CPUINFO) -> CpuFeatures:
    """This machine's features (all False where ``/proc/cpuinfo`` cannot be read)."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        text = ""
    return parse_cpuinfo(text)
