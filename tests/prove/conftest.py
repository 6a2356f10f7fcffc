"""Fixtures for the prove tests: real bubblewrap, real Codex when installed."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from mdmtool import CODEX_VERSION


def _bwrap_problem() -> str | None:
    if not sys.platform.startswith("linux"):
        return "bubblewrap tests need Linux"
    exe = shutil.which("bwrap")
    if not exe:
        return "bubblewrap (`bwrap`) is not on PATH"
    r = subprocess.run([exe, "--unshare-user", "--unshare-net", "--ro-bind", "/", "/", "--", "true"],
                       capture_output=True, text=True, timeout=20)
    return None if r.returncode == 0 else "bwrap cannot create namespaces: " + r.stderr.strip()[:200]


@pytest.fixture(scope="session")
def bwrap_ok() -> None:
    problem = _bwrap_problem()
    if problem:
        pytest.skip(problem)


@pytest.fixture(scope="session")
def codex_bin(bwrap_ok) -> str:
    """Codex 0.169.0, or skip cleanly (CI installs it with the README command)."""
    from mdmtool.codex_driver import find_codex
    path = find_codex(version=CODEX_VERSION)
    if not path:
        pytest.skip(f"no Codex {CODEX_VERSION} binary ($CODEX_BIN, `codex` on PATH or the npm cache)")
    return path


@pytest.fixture
def fake_home(tmp_path_factory) -> str:
    """A home path for staging (never created or read: only its name is mirrored)."""
    return "/home/mdmtool-test-user"
