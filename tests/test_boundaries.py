"""The dependency direction of every package (issue 15, move 5), read from the source with ``ast``.

Every import of a ``dasiamrt`` module, at module level or inside a function, counts. Each package (and each
top-level module) has the set of packages it may import, below it in ``ARCHITECTURE.md``'s stages: the
foundation imports nothing above itself, the artifacts' owners no stage, the runtime no build-side package
(torch/onnx/export/engine/calib), engine and export nothing of the runtime, and no module of the package
imports ``benchmarks``. A package missing from the table fails the test, so a new one gets a place first.
"""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, Iterator, Set, Tuple

PACKAGE = Path(__file__).resolve().parents[1] / "dasiamrt"

FOUNDATION = {"errors", "spec", "config", "fileio", "interrupts", "cpu_features", "int8_forms", "assets"}
#: package or top-level module -> what it may import (itself and ``dasiamrt.__version__`` always)
ALLOWED: Dict[str, Set[str]] = {
    # foundation: contracts, settings, errors, atomic files
    "errors": set(),
    "interrupts": set(),
    "cpu_features": set(),
    "assets": set(),
    "spec": {"errors"},
    "config": {"errors", "spec"},
    "fileio": {"errors"},
    "int8_forms": {"cpu_features", "errors", "fileio"},
    # edges to heavy libraries, each on its own
    "trt": {"errors"},
    "graphs": {"errors", "fileio"},
    "model": {"config", "errors", "fileio", "spec"},
    "videoio": {"errors", "fileio"},
    "synthetic": {"errors", "fileio"},  # the scene generator and photo composites (numpy, OpenCV)
    # the artifacts between the stages, one owner each
    "artifacts": {"config", "errors", "fileio", "int8_forms", "spec", "trt"},
    # stages
    "export": {"artifacts", "config", "errors", "fileio", "graphs", "model", "spec"},
    "engine": {"artifacts", "config", "errors", "fileio", "graphs", "int8_forms", "spec", "trt"},
    "runtime": {"artifacts", "assets", "config", "cpu_features", "errors", "fileio", "int8_forms", "spec", "trt",
                "model"},  # model: only the torch backend, lazily (RUNTIME_TORCH_EDGE)
    "doctor": {"artifacts", "errors", "trt"},
    # drivers of the runtime
    "tracking": {"errors", "interrupts", "runtime", "videoio"},
    "eval": {"config", "errors", "fileio", "runtime", "synthetic", "videoio"},
    "integrations": {"errors", "eval", "fileio", "runtime"},
    "live": {"errors", "fileio", "interrupts", "runtime", "videoio"},
    "calib": {"artifacts", "errors", "eval", "fileio", "graphs", "int8_forms", "runtime", "spec", "videoio"},
    "train": {"config", "errors", "eval", "model", "runtime", "spec", "synthetic"},
    "bench": {"artifacts", "assets", "config", "cpu_features", "errors", "export", "fileio", "model", "runtime",
              "trt", "videoio"},
    # the command line: parses flags, calls the library
    "commands": {"artifacts", "assets", "bench", "calib", "config", "doctor", "engine", "errors", "eval", "export",
                 "fileio", "int8_forms", "integrations", "interrupts", "live", "runtime", "spec", "tracking",
                 "train", "videoio"},
    "cli": {"commands", "errors", "interrupts"},
    "__init__": {"runtime"},  # the lazy Python API (Tracker, TrackerOptions)
}
#: the runtime modules that may reach torch and the network definitions (lazily: the torch backend)
RUNTIME_TORCH_EDGE = {"runtime/backends/torch_backend.py", "runtime/backends/torch_graphs.py"}
BUILD_SIDE_LIBRARIES = {"torch", "onnx", "onnxconverter_common", "onnxsim"}


def _unit(module: str) -> str:
    """``dasiamrt.x.y`` -> ``x`` (``__init__`` for the package itself)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path) -> Iterator[Tuple[str, int]]:
    """(absolute module name, line) of every import in ``path``; ``from . import x`` yields ``pkg.x``."""
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    package = parts[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if not node.level:
                yield str(node.module), node.lineno
                continue
            base = ".".join(package[: len(package) - node.level + 1])
            if node.module:
                yield f"{base}.{node.module}", node.lineno
            else:
                for alias in node.names:
                    yield f"{base}.{alias.name}", node.lineno


def _module_level_imports(path: Path) -> Set[str]:
    """Top-level names imported when ``path`` is imported (not inside functions or TYPE_CHECKING blocks)."""
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module.split(".")[0])
    return names


def package_imports() -> Dict[str, Dict[str, Set[str]]]:
    """unit -> imported dasiamrt unit -> the modules (paths) that import it."""
    found: Dict[str, Dict[str, Set[str]]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        me = rel.split("/")[0]
        me = me[:-3] if me.endswith(".py") else me
        found.setdefault(me, {})
        for module, _line in _imports(path):
            if module.split(".")[0] != "dasiamrt" or module == "dasiamrt.__version__":
                continue
            target = _unit(module)
            if target != me:
                found[me].setdefault(target, set()).add(rel)
    return found


def test_every_package_imports_only_what_is_below_it():
    found = package_imports()
    missing = sorted(set(found) - set(ALLOWED))
    assert not missing, f"packages without a place in the dependency table: {missing}"
    offenders = [f"{unit} imports {target} ({', '.join(sorted(paths))})"
                 for unit, targets in found.items() for target, paths in sorted(targets.items())
                 if target not in ALLOWED[unit]]
    assert not offenders, "\n".join(offenders)


def test_the_table_has_no_cycle():
    """The allowed imports form a DAG: there is an order in which every package comes after what it uses."""
    remaining = {unit: set(deps) for unit, deps in ALLOWED.items()}
    while remaining:
        ready = [unit for unit, deps in remaining.items() if not deps & set(remaining) - {unit}]
        assert ready, f"cycle among {sorted(remaining)}"
        for unit in ready:
            del remaining[unit]


def test_foundation_imports_only_foundation():
    for unit in FOUNDATION:
        assert ALLOWED[unit] <= FOUNDATION, unit


def test_runtime_reaches_model_and_torch_only_through_the_torch_backend():
    offenders = []
    for path in sorted((PACKAGE / "runtime").rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        heavy = _module_level_imports(path) & (BUILD_SIDE_LIBRARIES | {"tensorrt"})
        if heavy:
            offenders.append(f"{rel} imports {sorted(heavy)} at module level")
        if rel in RUNTIME_TORCH_EDGE:
            continue
        for module, line in _imports(path):
            top = module.split(".")[0]
            if top in BUILD_SIDE_LIBRARIES or (top == "dasiamrt" and _unit(module) == "model"):
                offenders.append(f"{rel}:{line} imports {module}")
    assert not offenders, "\n".join(offenders)


def test_no_module_imports_the_benchmark_scripts():
    offenders = [f"{path.relative_to(PACKAGE)}:{line}" for path in sorted(PACKAGE.rglob("*.py"))
                 for module, line in _imports(path) if module.split(".")[0] == "benchmarks"]
    assert not offenders, offenders


def test_the_scan_sees_imports_of_every_form(tmp_path, monkeypatch):
    """The scanner itself: absolute, relative, ``from .. import x`` and function-level imports are all found."""
    package = tmp_path / "dasiamrt"
    (package / "runtime" / "backends").mkdir(parents=True)
    (package / "runtime" / "backends" / "x.py").write_text(
        "from ...engine import builder\nfrom .. import crop\nimport dasiamrt.export.api\n"
        "def f():\n    from ... import calib\n    from ...model import SiamRPN\n")
    monkeypatch.setitem(globals(), "PACKAGE", package)
    found = package_imports()
    assert set(found["runtime"]) == {"engine", "export", "calib", "model"}
    assert found["runtime"]["calib"] == {"runtime/backends/x.py"}


def test_readme_layout_and_architecture_name_every_package():
    """README's layout section and ARCHITECTURE.md's dependency direction list every package of the tree."""
    repo = PACKAGE.parent
    readme = (repo / "README.md").read_text()
    layout = readme[readme.index("## How it is built"):].split("```")[1]
    architecture = (repo / "ARCHITECTURE.md").read_text()
    direction = architecture[architecture.index("## Dependency direction"):].split("```")[1]
    packages = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())
    assert [p for p in packages if f"{p}/" not in layout] == []
    assert [p for p in packages if p not in direction] == []
    assert set(packages) <= set(ALLOWED)
