"""CI runs the README's test command exactly as a newcomer types it."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_ci_calls_the_readme_test_command() -> None:
    readme = (REPO / "README.md").read_text()
    found = re.search(r"^(\S.*?)\s+# run the test suite$", readme, re.MULTILINE)
    assert found, "README.md has no test command"
    command = found.group(1).strip()
    steps = [
        line.split("#")[0].strip().removeprefix("step ").strip()
        for line in (REPO / ".ci" / "run").read_text().splitlines()
        if line.startswith("step ")
    ]
    assert steps and steps[0] == command, (command, steps[:1])
