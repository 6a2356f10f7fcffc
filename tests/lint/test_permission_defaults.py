"""[permissions] tables without default_permissions are fatal, unless requirements name the
default (Codex 0.169.0 then starts: fixtures/cases/744)."""

from __future__ import annotations

import pathlib

from tests.lint.helpers import lint_dir

ROOT = pathlib.Path(__file__).resolve().parents[2]
CASE = ROOT / "fixtures" / "cases" / "744_config_permissions_without_default_but_required_default"
USER = (CASE / "home" / "config.toml").read_text()


def _machine(tmp_path: pathlib.Path, requirements: str | None) -> pathlib.Path:
    (tmp_path / "home" / "u" / ".codex").mkdir(parents=True)
    (tmp_path / "home" / "u" / ".codex" / "config.toml").write_text(USER)
    if requirements is not None:
        (tmp_path / "etc" / "codex").mkdir(parents=True)
        (tmp_path / "etc" / "codex" / "requirements.toml").write_text(requirements)
    return tmp_path


def test_required_default_permissions_make_the_tables_usable(tmp_path):
    req = (CASE / "etc" / "codex" / "requirements.toml").read_text()
    findings = lint_dir(_machine(tmp_path, req))
    assert not [f for f in findings if f.severity == "error"], [f.line_text() for f in findings]


def test_without_any_default_codex_refuses(tmp_path):
    findings = lint_dir(_machine(tmp_path, None))
    assert any(f.rule == "MDM604" and f.severity == "error" for f in findings)
