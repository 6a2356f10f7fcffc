"""What the system config.toml decides is linted too: a machine with no user config runs
Codex on the system layers alone, and a value only the system file sets is reported there
(fallbacks with Codex's warning, refusals as MDM110)."""

from __future__ import annotations

import pathlib

from tests.lint.helpers import lint_dir


def _machine(tmp_path: pathlib.Path, system: str, requirements: str | None = None,
             user: str | None = None) -> pathlib.Path:
    etc = tmp_path / "etc" / "codex"
    etc.mkdir(parents=True)
    (etc / "config.toml").write_text(system)
    if requirements is not None:
        (etc / "requirements.toml").write_text(requirements)
    if user is not None:
        (tmp_path / "home" / "u" / ".codex").mkdir(parents=True)
        (tmp_path / "home" / "u" / ".codex" / "config.toml").write_text(user)
    return tmp_path


def _rules(findings, rule):
    return [f for f in findings if f.rule == rule]


def test_a_disallowed_system_value_is_reported_on_the_system_file(tmp_path):
    m = _machine(tmp_path, 'sandbox_mode = "workspace-write"\n', 'allowed_sandbox_modes = ["read-only"]\n')
    [hit] = _rules(lint_dir(m), "MDM103")
    assert hit.source.file.endswith("etc/codex/config.toml") and hit.source.line == 1
    assert "runs with sandbox 'read-only' instead" in hit.message


def test_with_a_user_config_that_sets_nothing_the_system_value_is_still_reported(tmp_path):
    m = _machine(tmp_path, 'sandbox_mode = "workspace-write"\n', 'allowed_sandbox_modes = ["read-only"]\n',
                 user='model = "o3"\n')
    [hit] = _rules(lint_dir(m), "MDM103")
    assert hit.source.file.endswith("etc/codex/config.toml")


def test_a_user_value_is_reported_on_the_user_file_only(tmp_path):
    m = _machine(tmp_path, 'sandbox_mode = "read-only"\n', 'allowed_sandbox_modes = ["read-only"]\n',
                 user='sandbox_mode = "danger-full-access"\n')
    hits = _rules(lint_dir(m), "MDM103")
    assert hits and all(h.source.file.endswith("home/u/.codex/config.toml") for h in hits)


def test_system_untrusted_approval_without_an_override_is_a_refusal(tmp_path):
    for user in (None, 'model = "o3"\n'):
        m = _machine(tmp_path / str(bool(user)), 'approval_policy = "untrusted"\n', user=user)
        findings = lint_dir(m)
        [refusal] = _rules(findings, "MDM110")
        assert refusal.severity == "error" and refusal.source.file.endswith("etc/codex/config.toml")
        assert 'approval_policy = "untrusted" is no longer supported' in refusal.message


def test_system_untrusted_approval_overridden_by_the_user_is_tolerated(tmp_path):
    m = _machine(tmp_path, 'approval_policy = "untrusted"\n', user='approval_policy = "on-request"\n')
    findings = lint_dir(m)
    assert not _rules(findings, "MDM110")
    assert [f.severity for f in _rules(findings, "MDM201")] == ["warning"]  # Q14: Codex starts
