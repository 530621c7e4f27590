"""The TensorRT calls of one engine build that are the same on every version: parse, profiles,
per-layer precision, build. Version branches live in :mod:`dasiamrt.trt.compat`."""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Sequence, Tuple

from ..errors import BackendError


def add_profiles(
    builder: Any,
    config: Any,
    network_inputs: Mapping[str, Sequence[int]],
    profiles: Sequence[Mapping[str, Tuple[Sequence[int], Sequence[int], Sequence[int]]]],
) -> List[Any]:
    """One optimization profile per entry, shapes set for every input that has a dynamic dimension.

    Args:
        network_inputs: name -> shape as parsed (-1 for dynamic dimensions).
        profiles: per profile, name -> (min, opt, max) shapes.

    Returns:
        The ``IOptimizationProfile`` objects, in order.
    """
    created = []
    for shapes in profiles:
        profile = builder.create_optimization_profile()
        for name, dims in network_inputs.items():
            if any(d < 0 for d in dims):
                lo, opt, hi = shapes[name]
                profile.set_shape(name, tuple(lo), tuple(opt), tuple(hi))
        config.add_optimization_profile(profile)
        created.append(profile)
    return created


def apply_layer_constraint(trt: Any, network: Any, config: Any, constraint: Any) -> List[str]:
    """Set per-layer precision on a weakly typed network (``layer.precision`` and
    ``set_output_type`` for each float output) and the ``OBEY``/``PREFER_PRECISION_CONSTRAINTS``
    builder flag (8.2+; without it TensorRT ignores the layer precisions).

    Args:
        constraint: a :class:`~.precision.LayerConstraint`.

    Returns:
        Names of the constrained layers (layers with a non-float output are left alone).
    """
    dtype = {"fp32": trt.float32, "fp16": trt.float16}[constraint.precision]
    layers = []
    for i in range(network.num_layers):
        layer = network.get_layer(i)
        inputs = [t.name for t in (layer.get_input(j) for j in range(layer.num_inputs)) if t is not None]
        outputs = [layer.get_output(k) for k in range(layer.num_outputs)]
        layers.append((layer, inputs, outputs))
    chosen = set(constraint.select([(ly.name, ins, [o.name for o in outs]) for ly, ins, outs in layers]))
    done = []
    for layer, _, outputs in layers:
        if layer.name not in chosen or not outputs or any(o.dtype != trt.float32 for o in outputs):
            continue
        layer.precision = dtype
        for k in range(len(outputs)):
            layer.set_output_type(k, dtype)
        done.append(layer.name)
    if done:
        flag = "OBEY_PRECISION_CONSTRAINTS" if constraint.obey else "PREFER_PRECISION_CONSTRAINTS"
        config.set_flag(getattr(trt.BuilderFlag, flag))
    return done


def parse_onnx(trt: Any, network: Any, trt_logger: Any, data: bytes, path: str) -> Any:
    """Parse an ONNX graph into ``network``; returns the parser (it must outlive the network).

    Raises:
        BackendError: with the parser's first error.
    """
    parser = trt.OnnxParser(network, trt_logger)
    if not parser.parse(data):
        errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
        raise BackendError(f"TensorRT cannot parse {path}: {errors[0] if errors else 'unknown error'}")
    return parser


def network_input_shapes(network: Any) -> Dict[str, Tuple[int, ...]]:
    """Input name -> shape (-1 for dynamic) of a parsed network."""
    out = {}
    for i in range(network.num_inputs):
        tensor = network.get_input(i)
        out[tensor.name] = tuple(int(d) for d in tensor.shape)
    return out


def build_serialized(builder: Any, network: Any, config: Any, what: str) -> bytes:
    """``build_serialized_network`` as bytes.

    Raises:
        BackendError: when TensorRT returns no engine (its log, at ERROR level, says why).
    """
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise BackendError(f"TensorRT could not build the {what} engine (see the TensorRT errors above)")
    return bytes(memoryview(plan))
