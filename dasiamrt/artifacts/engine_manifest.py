"""The JSON manifest written next to every TensorRT plan, and the check run before loading one.

A plan file only runs on the GPU model and the exact TensorRT version that built it. The manifest
records both (plus precision, ONNX sha256, the optimization profiles with every I/O shape, and the
build options), so that loading a mismatched engine fails with the ``dasiamrt build`` command that
rebuilds it, instead of a deserialization error deep inside TensorRT.

The one module that reads and writes the manifest: the engine builder (:mod:`dasiamrt.engine.builder`) writes
it, the runtime's TensorRT backend and ``dasiamrt doctor`` read it. Pure Python (json, :mod:`dasiamrt.fileio`,
version parsing from :mod:`dasiamrt.trt.compat`): its checks are unit-tested without TensorRT or a GPU.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..errors import BackendError, ModelError
from ..fileio import atomic_write_json
from ..trt.compat import parse_version

MANIFEST_FORMAT = "dasiamrt-engine/1"
#: Engines of a model: ``<model>/engines/<precision>/<name>.plan`` + ``<name>.json``.
ENGINE_NAMES = ("template", "search", "kernel_update")

Shape = Tuple[int, ...]


@dataclass(frozen=True)
class ShapeRange:
    """Min/opt/max shapes of one input in one optimization profile."""

    min: Shape
    opt: Shape
    max: Shape

    @classmethod
    def fixed(cls, shape: Sequence[int]) -> "ShapeRange":
        s = tuple(int(d) for d in shape)
        return cls(s, s, s)


@dataclass(frozen=True)
class ProfileInfo:
    """One optimization profile of an engine.

    Attributes:
        key: what selects it at run time: the search side H (search engine), the score side S
            (kernel_update engine) or the largest exemplar batch (template engine).
        inputs: input name -> shape range.
        outputs: output name -> shape at the profile's ``max`` input shapes (buffer sizes).
    """

    key: int
    inputs: Dict[str, ShapeRange]
    outputs: Dict[str, Shape]

    def to_dict(self) -> Dict[str, Any]:
        return {
            "key": self.key,
            "inputs": {k: {"min": list(v.min), "opt": list(v.opt), "max": list(v.max)} for k, v in self.inputs.items()},
            "outputs": {k: list(v) for k, v in self.outputs.items()},
        }

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "ProfileInfo":
        return cls(
            key=int(data["key"]),
            inputs={
                k: ShapeRange(tuple(v["min"]), tuple(v["opt"]), tuple(v["max"])) for k, v in data["inputs"].items()
            },
            outputs={k: tuple(v) for k, v in data["outputs"].items()},
        )


@dataclass(frozen=True)
class DeviceInfo:
    """The GPU and TensorRT an engine is built for, or that the runtime has."""

    tensorrt_version: str
    gpu_name: str
    compute_capability: str  # "8.7"


@dataclass
class EngineManifest:
    """Everything the runtime must know about a plan file before deserializing it."""

    engine: str
    plan_file: str
    plan_sha256: str
    precision: str
    device: DeviceInfo
    onnx_file: str
    onnx_sha256: str
    profiles: List[ProfileInfo]
    build_options: Dict[str, Any] = field(default_factory=dict)
    format: str = MANIFEST_FORMAT

    def profile_for(self, key: int) -> Tuple[int, ProfileInfo]:
        """(index, profile) whose key is ``key``.

        Raises:
            BackendError: no profile for that key (e.g. a search size the engine was not built for).
        """
        for index, profile in enumerate(self.profiles):
            if profile.key == key:
                return index, profile
        keys = ", ".join(str(p.key) for p in self.profiles)
        raise BackendError(
            f"the {self.engine} engine has no profile for {key} (it has {keys}): rebuild it with "
            f"`{rebuild_command(self.build_options.get('model_dir', 'MODEL_DIR'), self.precision)}`"
        )

    def to_dict(self) -> Dict[str, Any]:
        data = asdict(self)
        data["profiles"] = [p.to_dict() for p in self.profiles]
        return data

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "EngineManifest":
        if data.get("format") != MANIFEST_FORMAT:
            raise ModelError(f"not a dasiamrt engine manifest (format {data.get('format')!r}): rebuild the engines")
        values = dict(data)
        values["device"] = DeviceInfo(**values["device"])
        values["profiles"] = [ProfileInfo.from_dict(p) for p in values["profiles"]]
        return cls(**values)


def rebuild_command(model_dir: str, precision: str) -> str:
    return f"dasiamrt build --model {model_dir} --precision {precision}"


def check_compatible(manifest: EngineManifest, here: DeviceInfo, model_dir: str) -> None:
    """Refuse an engine built for another GPU model or TensorRT version.

    Raises:
        BackendError: one line naming both sides and the command that rebuilds the engine.
    """
    built = manifest.device
    same_trt = parse_version(built.tensorrt_version) == parse_version(here.tensorrt_version)
    same_gpu = built.compute_capability == here.compute_capability and built.gpu_name == here.gpu_name
    if same_trt and same_gpu:
        return
    raise BackendError(
        f"engine {manifest.plan_file} was built with TensorRT {built.tensorrt_version} for {built.gpu_name} "
        f"(sm {built.compute_capability}), this machine has TensorRT {here.tensorrt_version} and "
        f"{here.gpu_name} (sm {here.compute_capability}): rebuild it with "
        f"`{rebuild_command(model_dir, manifest.precision)}`"
    )


def manifest_path(engine_dir: Path, name: str) -> Path:
    return Path(engine_dir) / f"{name}.json"


def write_manifest(engine_dir: Path, manifest: EngineManifest) -> Path:
    path = manifest_path(engine_dir, manifest.engine)
    atomic_write_json(path, manifest.to_dict(), sort_keys=True)
    return path


def read_manifest(
    engine_dir: Path, name: str, model_dir: Optional[str] = None, precision: str = "fp16"
) -> EngineManifest:
    """Read ``<engine_dir>/<name>.json``.

    Raises:
        BackendError: the manifest (so the engine) is missing; the message names the build command.
        ModelError: the manifest is corrupt.
    """
    path = manifest_path(engine_dir, name)
    if not path.is_file():
        raise BackendError(
            f"no {name} engine in {engine_dir}: build it with `{rebuild_command(model_dir or 'MODEL_DIR', precision)}`"
        )
    try:
        data = json.loads(path.read_text())
        return EngineManifest.from_dict(data)
    except (ValueError, KeyError, TypeError) as err:
        raise ModelError(f"engine manifest {path} is corrupt ({err}): rebuild the engines") from None
