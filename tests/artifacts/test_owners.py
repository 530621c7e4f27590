"""Each artifact has one module that reads and writes it (issue 15, move 1): no other module of the package
names its file or format, so no other module can write it."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "dasiamrt"

#: artifact -> (the names and file names that address it, the modules allowed to use them)
OWNERS = {
    "model.json": ({"MODEL_MANIFEST", "model.json"}, {"spec.py", "artifacts/model_folder.py"}),
    "calibration set": ({"CALIB_NPZ", "CALIB_JSON", "calibration.npz", "calibration.json"},
                        {"artifacts/calibset.py"}),
    "engine manifest": ({"MANIFEST_FORMAT", "dasiamrt-engine/1"}, {"artifacts/engine_manifest.py"}),
}


def _code_tokens(path: Path) -> set:
    """Names, attributes and string constants of a module, docstrings left out."""
    tree = ast.parse(path.read_text())
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    tokens = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            tokens.add(node.id)
        elif isinstance(node, ast.Attribute):
            tokens.add(node.attr)
        elif isinstance(node, ast.alias):
            tokens.add(node.name.split(".")[-1])
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            tokens.add(node.value)
    return tokens


def test_each_artifact_is_addressed_by_its_owner_only():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = path.relative_to(PACKAGE).as_posix()
        tokens = _code_tokens(path)
        for artifact, (names, owners) in OWNERS.items():
            used = sorted(names & tokens)
            if used and module not in owners:
                offenders.append(f"{module} addresses the {artifact} directly ({', '.join(used)})")
    assert not offenders, "\n".join(offenders)
