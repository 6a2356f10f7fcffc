"""Lint a fixture directory the way the CLI would."""

from __future__ import annotations

import datetime as _dt
import os
import pathlib

from mdmtool.lint.discover import file_unit, tree_unit
from mdmtool.lint.engine import lint_unit

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "lint"
TODAY = _dt.date(2026, 6, 1)


def lint_dir(d: pathlib.Path):
    files = sorted(str(p) for p in d.rglob("*") if p.is_file())
    if any(not f.endswith(".toml") for f in files):
        unit = file_unit(files)
    else:
        unit = tree_unit(str(d))
    return lint_unit(unit, today=TODAY)
