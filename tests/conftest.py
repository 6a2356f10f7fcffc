"""Shared fixtures.

Case trees are materialised under /var/tmp, not /tmp: Codex's own sandbox leaves empty
`.git`/`.codex` mount targets in /tmp, which would turn /tmp into a project root.
"""

from __future__ import annotations

import shutil
import tempfile

import pytest


@pytest.fixture
def case_root():
    root = tempfile.mkdtemp(prefix="mdmtool-test-", dir="/var/tmp")
    yield root
    shutil.rmtree(root, ignore_errors=True)
