"""Live Codex fixtures: skip cleanly (with the reason) when Codex 0.169.0 cannot run here."""

from __future__ import annotations

import shutil
import tempfile

import pytest

from mdmtool import CODEX_VERSION


@pytest.fixture(scope="session")
def codex_bin() -> str:
    """The Codex 0.169.0 binary, or skip (no binary / other version / no bubblewrap)."""
    from mdmtool import codex_driver

    path = codex_driver.find_codex(version=CODEX_VERSION)
    if not path:
        pytest.skip(f"no Codex {CODEX_VERSION} binary ($CODEX_BIN, `codex` on PATH or the npm "
                    "cache of the README install)")
    problem = codex_driver.bwrap_problem()
    if problem:
        pytest.skip(problem)
    return path


@pytest.fixture(scope="session")
def codex_scratch() -> str:
    """A per-session scratch dir outside /tmp (Codex treats CODEX_HOME under /tmp specially)."""
    from mdmtool import codex_driver

    path = tempfile.mkdtemp(prefix="run-", dir=codex_driver.scratch_root())
    yield path
    shutil.rmtree(path, ignore_errors=True)
