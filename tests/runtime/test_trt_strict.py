"""The TensorRT backend against the STRICT fakes: frozen CUDA graphs, validated shapes and profiles,
bools TensorRT returns, manifest/engine mismatches, shared activation memory, use after close, and
``dasiamrt build`` -> ``dasiamrt track --backend trt`` through the real CLI (issue 13)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("torch")

from dasiamrt.errors import BackendError  # noqa: E402
from dasiamrt.runtime.backends.trt import TensorRTBackend  # noqa: E402
from tests.runtime.fake_gpu import FakeDevice, build_fake_engines, make_fake_runtime  # noqa: E402
from tests.runtime.test_trt_backend import _crop, _session, engines  # noqa: E402,F401  (module fixture)

ROOT = Path(__file__).resolve().parents[2]


def _backend(model_dir, device=None, version="10.3.0.30", engine_dir=None, graphs=True):
    device = device or FakeDevice()
    return TensorRTBackend(engine_dir or Path(model_dir) / "engines" / "fp32", model_dir=model_dir,
                           trt=make_fake_runtime(device, version), device=device, cuda_graphs=graphs)


def _kernels(model_dir, rng):
    z = (rng.random((1, 3, 127, 127)) * 255).astype(np.float32)
    ck, rk = _session(model_dir, "template").run(None, {"template": z})
    return ck[0], rk[0]


def test_a_replayed_graph_keeps_the_addresses_of_its_capture(engines):  # noqa: F811
    rng = np.random.default_rng(0)
    ck, rk = _kernels(engines, rng)
    with _backend(engines) as be:
        be.set_kernels(ck, rk)
        ctx = be._search[255]
        elsewhere = be.device.malloc(ctx.host["cls"].nbytes)
        assert ctx.context.set_tensor_address("cls", elsewhere)  # a rebinding AFTER the capture...
        x = _crop(rng, 255)
        got = be.search(x).cls
        want = _session(engines, "search").run(None, {"search": x, "cls_kernel": ck, "reg_kernel": rk})[0]
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)  # ...is not seen by the replay
        assert not be.device.view(elsewhere, ctx.host["cls"].nbytes).any()


def test_shapes_outside_the_contexts_profile_are_refused(engines):  # noqa: F811
    with _backend(engines, graphs=False) as be:
        search_255 = be._search[255].context
        assert not search_255.set_input_shape("search", (1, 3, 767, 767))
        assert not search_255.set_input_shape("search", (1, 3, 255))
        assert not search_255.set_input_shape("nothing", (1,))
        assert search_255.set_input_shape("search", (1, 3, 255, 255))
        with pytest.raises(BackendError, match="takes 1..9 exemplars"):
            be.template(np.zeros((10, 3, 127, 127), np.float32))


def _edit_manifest(engine_dir, name, edit):
    path = engine_dir / f"{name}.json"
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize("engine, edit, match", [
    ("search", lambda m: m["profiles"][0]["outputs"].__setitem__("cls", [1, 10, 19, 19]), "cls is"),
    ("template", lambda m: m["profiles"][0]["inputs"]["template"].__setitem__("max", [20, 3, 127, 127]), "template is"),
    ("kernel_update", lambda m: m["profiles"][0]["outputs"].pop("acc_out"), "outputs"),
    ("search", lambda m: m["profiles"].append(dict(m["profiles"][0], key=271)), "refused to select profile 2"),
])
def test_a_manifest_that_does_not_match_its_engine_is_refused(engines, tmp_path, engine, edit, match):  # noqa: F811
    engine_dir = build_fake_engines(engines, "fp32", out_dir=tmp_path / "fp32")
    _edit_manifest(engine_dir, engine, edit)
    device = FakeDevice()
    with pytest.raises(BackendError, match=match) as err:
        _backend(engines, device, engine_dir=engine_dir)
    assert "\n" not in str(err.value) and "dasiamrt build --model" in str(err.value)
    assert device.closed and not device.mem  # nothing leaks


def test_a_failed_graph_capture_clears_cudas_last_error(engines):  # noqa: F811
    rng = np.random.default_rng(1)
    ck, rk = _kernels(engines, rng)
    device = FakeDevice(fail_capture=True)
    with _backend(engines, device) as be:
        assert all(ctx.graph is None for ctx in be._search.values()) and device.cleared == len(be._search)
        be.set_kernels(ck, rk)
        x = _crop(rng, 767)
        want = _session(engines, "search").run(None, {"search": x, "cls_kernel": ck, "reg_kernel": rk})[0]
        np.testing.assert_allclose(be.search(x).cls, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("version", ["8.6.2.3", "10.0.1.6", "10.3.0.30", "11.0.0.114"])
def test_all_contexts_share_one_activation_block(engines, tmp_path, version):  # noqa: F811
    engine_dir = build_fake_engines(engines, "fp32", version, out_dir=tmp_path / version)
    with _backend(engines, version=version, engine_dir=engine_dir) as be:
        contexts = [be._template] + list(be._search.values()) + list(be._fusion.values())
        assert len({c.context.memory for c in contexts}) == 1 and contexts[0].context.user_managed
        report = be.memory_report()
        assert report["contexts"] == len(contexts) == 5
        biggest = max(e._memory_size() for e in be._engines.values())
        assert report["activation_mib"] == pytest.approx(biggest / 2**20)
        assert report["activation_unshared_mib"] > 2 * report["activation_mib"]


def test_every_method_refuses_to_run_after_close(engines):  # noqa: F811
    k = (np.zeros((10, 64, 4, 4), np.float32), np.zeros((20, 64, 4, 4), np.float32))
    be = _backend(engines, graphs=False)
    be.close()
    calls = [lambda: be.set_kernels(*k), lambda: be.reset_fusion(k[0], 1.0),
             lambda: be.template(np.zeros((1, 3, 127, 127), np.float32)),
             lambda: be.search(np.zeros((1, 3, 255, 255), np.float32)),
             lambda: be.fuse(np.zeros(36, np.int64), np.ones(1, np.float32), 1.0), be.fused_kernel]
    for call in calls:
        with pytest.raises(RuntimeError, match="closed"):
            call()
    be.close()  # still idempotent


def _cli(*args, cwd, version="10.3.0.30"):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "tests" / "fake_site"), str(ROOT)]),
               DASIAMRT_FAKE_TRT=version)
    return subprocess.run([sys.executable, "-m", "dasiamrt.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=600)


@pytest.mark.parametrize("version", ["8.5.2.2", "11.0.0.114"])
def test_build_then_track_through_the_cli_on_the_fakes(tmp_path, version):
    """`dasiamrt build` writes plans + manifests; `dasiamrt track --backend trt` loads them, binds every
    tensor, captures graphs and tracks the bundled clip: the boxes equal ONNX Runtime's."""
    import shutil

    from dasiamrt.assets import BUNDLED_MODEL, DEMO_CLIP, DEMO_INIT_XYWH

    model = tmp_path / "tiny"
    shutil.copytree(BUNDLED_MODEL, model)
    build = _cli("build", "--model", str(model), "--precision", "fp32", cwd=tmp_path, version=version)
    assert build.returncode == 0, build.stderr
    assert (model / "engines" / "fp32" / "search.plan").is_file()
    init = ",".join(str(v) for v in DEMO_INIT_XYWH)
    rows = {}
    for backend in ("trt", "ort"):
        out = tmp_path / f"{backend}.csv"
        run = _cli("track", str(DEMO_CLIP), "--init", init, "--model", str(model), "--backend", backend,
                   "--precision", "fp32", "--da", "--max-frames", "15", "--out", str(out), "--quiet",
                   cwd=tmp_path, version=version)
        assert run.returncode == 0, run.stderr
        rows[backend] = np.loadtxt(out, delimiter=",", skiprows=1, usecols=(1, 2, 3, 4))
    assert len(rows["trt"]) == 15
    np.testing.assert_allclose(rows["trt"], rows["ort"], atol=1e-2)


def test_track_with_engines_of_another_tensorrt_fails_in_one_line(tmp_path):
    import shutil

    from dasiamrt.assets import BUNDLED_MODEL, DEMO_CLIP

    model = tmp_path / "tiny"
    shutil.copytree(BUNDLED_MODEL, model)
    built = _cli("build", "--model", str(model), "--precision", "fp32", cwd=tmp_path, version="10.3.0.30")
    assert built.returncode == 0
    run = _cli("track", str(DEMO_CLIP), "--init", "10,10,50,50", "--model", str(model), "--backend", "trt",
               "--precision", "fp32", "--quiet", cwd=tmp_path, version="10.4.0.26")
    assert run.returncode == 2 and len(run.stderr.strip().splitlines()) == 1
    assert f"dasiamrt build --model {model} --precision fp32" in run.stderr


def test_bench_reports_engine_memory_through_the_cli(tmp_path):
    import shutil

    from dasiamrt.assets import BUNDLED_MODEL

    model = tmp_path / "tiny"
    shutil.copytree(BUNDLED_MODEL, model)
    assert _cli("build", "--model", str(model), "--precision", "fp32", cwd=tmp_path).returncode == 0
    run = _cli("bench", "--model", str(model), "--backend", "trt", "--precision", "fp32", "--sizes", "255",
               "--da", "on", "--frames", "2", "--warmup", "0", "--json", str(tmp_path / "b.json"), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "engine GPU memory:" in run.stdout and "shared by 5 contexts" in run.stdout
    memory = json.loads((tmp_path / "b.json").read_text())["engine_memory"]
    assert 0 < memory["activation_mib"] < memory["activation_unshared_mib"]
