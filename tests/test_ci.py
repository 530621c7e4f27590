"""CI runs exactly the README's test command: lint (ruff), types (mypy) and the tests, in that order."""
from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _readme_test_line() -> str:
    lines = [line.split("    #")[0].strip() for line in (REPO / "README.md").read_text().splitlines()
             if "python -m pytest -q" in line and line.startswith("pip install")]
    assert len(lines) == 1, lines
    return lines[0]


def test_ci_runs_the_readme_test_command():
    script = (REPO / ".ci" / "run").read_text()
    commands = [line.strip() for line in script.splitlines() if line.strip() and not line.lstrip().startswith("#")
                and not re.match(r"(set |cd )", line.strip())]
    assert commands == [_readme_test_line()]


def test_the_test_command_lints_and_type_checks_before_the_tests():
    steps = [step.strip() for step in _readme_test_line().split("&&")]
    assert steps[1:] == ["ruff check .", "mypy dasiamrt", "python -m pytest -q"]
