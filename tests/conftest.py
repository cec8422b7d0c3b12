"""Markers of the test suite that are not declared in ``pyproject.toml``."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``slurm`` marker.

    Args:
        config: The pytest config.
    """
    config.addinivalue_line(
        "markers",
        "slurm: needs a running Slurm (skipped without one; `make test-slurm` "
        "starts a single-node Slurm and runs them)",
    )
