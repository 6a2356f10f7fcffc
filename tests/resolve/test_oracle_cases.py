"""Every recorded Codex 0.169.0 answer under fixtures/ must be reproduced by the resolver."""

from __future__ import annotations

import os

import pytest

from tests.oracle_compare import all_cases, compare

CASES = all_cases()


@pytest.mark.parametrize("case_dir", CASES, ids=[os.path.basename(c) for c in CASES])
def test_resolver_matches_recorded_codex(case_dir, case_root):
    diffs = compare(case_dir, case_root)
    assert not diffs, "\n".join(diffs)


def test_there_are_enough_cases():
    assert len(CASES) >= 80
