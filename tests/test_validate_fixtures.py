"""`mdmtool validate` on every fixture under fixtures/validate prints exactly the recorded lines.

Each ``X.toml`` has a golden ``X.toml.expected`` beside it: the text output of
``mdmtool validate --kind K fixtures/validate/.../X.toml`` (K from the folder). Regenerate
after a deliberate change with ``python tests/test_validate_fixtures.py --regen`` and review
the diff: every line names file:line:col, severity, message and rule.
"""

from __future__ import annotations

import glob
import io
import os
import sys
from contextlib import redirect_stdout

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from mdmtool.commands.validate import run_validate  # noqa: E402

FIXTURES = sorted(glob.glob(os.path.join("fixtures", "validate", "*", "*", "*.toml"), root_dir=ROOT))
KIND = {"config": "config", "requirements": "requirements", "managed-config": "managed-config"}


def _kind(rel: str) -> str:
    return KIND.get(rel.split(os.sep)[2], "config")


def validate_output(rel: str) -> tuple[int, str]:
    buf = io.StringIO()
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        with redirect_stdout(buf):
            code = run_validate([rel], kind=_kind(rel), fmt="text", strict=False)
    finally:
        os.chdir(cwd)
    return code, buf.getvalue()


@pytest.mark.parametrize("rel", FIXTURES)
def test_validate_prints_the_recorded_lines(rel):
    code, out = validate_output(rel)
    with open(os.path.join(ROOT, rel + ".expected"), encoding="utf-8") as fh:
        assert out == fh.read()
    valid = rel.split(os.sep)[3] == "valid"
    if valid:
        assert code == 0 and ": error: " not in out, out
    else:  # every invalid fixture is caught (an error, or a warning for what Codex ignores)
        assert (": error: " in out and code in (1, 2)) or (": warning: " in out and code == 0), out


def test_every_invalid_fixture_names_its_problem_at_a_line():
    for rel in FIXTURES:
        if rel.split(os.sep)[3] == "invalid":
            _, out = validate_output(rel)
            first = out.splitlines()[0]
            assert first.startswith(rel + ":") and first.split(":")[1].isdigit(), first


if __name__ == "__main__" and "--regen" in sys.argv:
    for rel in FIXTURES:
        _, out = validate_output(rel)
        with open(os.path.join(ROOT, rel + ".expected"), "w", encoding="utf-8") as fh:
            fh.write(out)
    print(f"wrote {len(FIXTURES)} golden files")
