"""What the TensorRT backend reads from a deserialized engine: I/O tensors, profiles, checked against the manifest.

The engine, not the JSON manifest, is the truth about its I/O: tensor names, modes, dtypes and, per
optimization profile, the input shape ranges (``num_io_tensors``, ``get_tensor_name``,
``get_tensor_mode``, ``get_tensor_dtype``, ``get_tensor_profile_shape``) and the output shapes
(``IExecutionContext.get_tensor_shape`` once every input shape is set), as Polygraphy's TRT runner
reads them. Buffers are sized from these; the manifest is compared with them, so an edited or stale
manifest fails with the rebuild command instead of letting TensorRT write past a buffer's end.

TensorRT's version branches (context memory, activation size) are in :mod:`dasiamrt.trt.compat`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Tuple

import numpy as np

from ...artifacts.engine_manifest import ProfileInfo, ShapeRange
from ...errors import BackendError

Shape = Tuple[int, ...]


@dataclass(frozen=True)
class TensorIO:
    """One I/O tensor of an engine: name, direction, numpy dtype, engine shape (-1: dynamic)."""

    name: str
    is_input: bool
    dtype: np.dtype
    shape: Shape


def read_io(trt: Any, engine: Any) -> Dict[str, TensorIO]:
    """Every I/O tensor of ``engine``, in the engine's order."""
    out: Dict[str, TensorIO] = {}
    for i in range(int(engine.num_io_tensors)):
        name = engine.get_tensor_name(i)
        is_input = engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
        dtype = np.dtype(trt.nptype(engine.get_tensor_dtype(name)))
        out[name] = TensorIO(name, is_input, dtype, tuple(int(d) for d in engine.get_tensor_shape(name)))
    return out


def check(ok: Any, what: str, hint: str) -> None:
    """TensorRT reports many failures as a False return (and a log line): turn it into an error.

    Raises:
        BackendError: ``ok`` is falsy.
    """
    if not ok:
        raise BackendError(f"TensorRT refused to {what} (see its log): {hint}")


def engine_profile(trt: Any, engine: Any, context: Any, io: Dict[str, TensorIO], index: int, key: int,
                   hint: str) -> ProfileInfo:
    """Profile ``index`` as the engine has it, with ``context`` (already on that profile) set to the
    largest input shapes, so the output shapes read from it size the buffers.

    Raises:
        BackendError: a refused shape, or an output shape TensorRT cannot resolve.
    """
    inputs: Dict[str, ShapeRange] = {}
    for name, tensor in io.items():
        if tensor.is_input:
            lo, opt, hi = (tuple(int(d) for d in s) for s in engine.get_tensor_profile_shape(name, index))
            inputs[name] = ShapeRange(lo, opt, hi)
            check(context.set_input_shape(name, hi), f"set the shape of {name} to {hi}", hint)
    outputs: Dict[str, Shape] = {}
    for name, tensor in io.items():
        if not tensor.is_input:
            shape = tuple(int(d) for d in context.get_tensor_shape(name))
            if any(d < 0 for d in shape):
                raise BackendError(f"TensorRT cannot resolve the shape of {name} ({shape}): {hint}")
            outputs[name] = shape
    return ProfileInfo(key, inputs, outputs)


def compare_profile(engine_name: str, built: ProfileInfo, recorded: ProfileInfo, hint: str) -> None:
    """Refuse a manifest whose profile disagrees with the engine's (names, input ranges, output shapes).

    Raises:
        BackendError: one line naming the first difference and the rebuild command.
    """
    for kind, have, want in (("inputs", built.inputs, recorded.inputs), ("outputs", built.outputs, recorded.outputs)):
        if set(have) != set(want):
            raise BackendError(f"the {engine_name} engine's {kind} {sorted(have)} do not match its manifest's "
                               f"{sorted(want)}: {hint}")
        for name in have:
            if have[name] != want[name]:
                raise BackendError(f"the {engine_name} engine's {name} is {have[name]} in profile {recorded.key}, "
                                   f"its manifest says {want[name]}: {hint}")
