"""Issue 9 lint rules on real files: session-time failures (MDM111/MDM112), MCP allowlists
(MDM107), keys in the wrong table (MDM802, fixed by `mdmtool fix` keeping comments),
requirements that enforce nothing (MDM705) and silent rewrites (MDM206/MDM208)."""

from __future__ import annotations

import datetime as _dt
import os
import shutil

from mdmtool.lint.discover import file_unit, tree_unit
from mdmtool.lint.engine import lint_unit

TODAY = _dt.date(2026, 6, 1)
CASES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                     "fixtures", "cases")


def _lint_files(*paths):
    return lint_unit(file_unit([str(p) for p in paths]), today=TODAY)


def _by_rule(findings, rule):
    return [f for f in findings if f.rule == rule]


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


MISSING = '[mcp_servers.docs]\ncommand = "no-such-mcp-binary-xyz"\nrequired = true\n'


def test_required_mcp_is_an_error_on_this_machine_and_a_warning_elsewhere(tmp_path):
    # a project layer on this machine: Codex reads it where it is
    cfg = _write(tmp_path / "proj" / ".codex" / "config.toml", MISSING)
    hits = _by_rule(_lint_files(cfg), "MDM111")
    assert [(h.severity, h.source.line) for h in hits] == [("error", 2)]
    assert "required MCP servers failed to initialize" in hits[0].message
    # the same file inside a fleet tree describes another host
    _write(tmp_path / "fleet" / "home" / "u" / ".codex" / "config.toml", MISSING)
    hits = _by_rule(lint_unit(tree_unit(str(tmp_path / "fleet")), today=TODAY), "MDM111")
    assert [h.severity for h in hits] == ["warning"]


def test_requirements_allowlist_disables_the_server(tmp_path):
    # recorded: 615 (not listed) and 689 (identity mismatch) start fine; Codex disables the server
    _write(tmp_path / "etc" / "codex" / "requirements.toml", '[mcp_servers.docs]\nidentity = { command = "docs-mcp" }\n')
    _write(tmp_path / "home" / "u" / ".codex" / "config.toml", MISSING + '\n[mcp_servers.other]\ncommand = "x"\n')
    findings = lint_unit(tree_unit(str(tmp_path)), today=TODAY)
    assert not _by_rule(findings, "MDM111")
    msgs = {f.message.split("`")[1]: f.message for f in _by_rule(findings, "MDM107")}
    assert set(msgs) == {"docs", "other"}
    assert "identity does not match" in msgs["docs"] and "required = true` is then ignored" in msgs["docs"]
    assert 'disabled_reason "requirements (/etc/codex/requirements.toml)"' in msgs["other"]


def test_referenced_files_resolve_from_the_files_folder(tmp_path):
    cfg = _write(tmp_path / "proj" / ".codex" / "config.toml",
                 'model_instructions_file = "instr.md"\n\n[agents.reviewer]\nconfig_file = "agents/r.toml"\n')
    findings = _lint_files(cfg)
    assert [f.source.line for f in _by_rule(findings, "MDM111")] == [1]
    assert str(tmp_path / "proj" / ".codex" / "instr.md") in _by_rule(findings, "MDM111")[0].message
    assert [f.source.line for f in _by_rule(findings, "MDM112")] == [4]
    _write(tmp_path / "proj" / ".codex" / "instr.md", "be brief\n")
    _write(tmp_path / "proj" / ".codex" / "agents" / "r.toml", 'model = "m"\n')
    findings = _lint_files(cfg)
    assert not _by_rule(findings, "MDM111") and not _by_rule(findings, "MDM112")


def test_root_deny_globs(tmp_path):
    req = _write(tmp_path / "etc" / "codex" / "requirements.toml",
                 '[permissions.filesystem]\ndeny_read = ["/home/**/*.key", "/[eh]*/secret", "/s*/x"]\n')
    findings = _lint_files(req)
    fatal = _by_rule(findings, "MDM111")
    assert [(f.severity, f.source.line, f.source.col) for f in fatal] == [("error", 2, 32)]
    assert any("walks the whole filesystem" in f.message for f in _by_rule(findings, "MDM603"))
    # an inactive profile only warns; the active one is fatal (recorded 601, 606)
    cfg = _write(tmp_path / "h" / ".codex" / "config.toml",
                 'default_permissions = ":workspace"\n\n[permissions.p]\nextends = ":workspace"\n\n'
                 '[permissions.p.filesystem]\n"/**/*.key" = "deny"\n')
    assert not _by_rule(_lint_files(cfg), "MDM111")
    cfg.write_text(cfg.read_text().replace('":workspace"\n\n[permissions.p]', '"p"\n\n[permissions.p]'))
    assert _by_rule(_lint_files(cfg), "MDM111")


def test_mdm110_does_not_repeat_what_mdm111_and_mdm802_explain(tmp_path):
    shutil.copytree(os.path.join(CASES, "602_session_deny_glob_req_root", "etc"), tmp_path / "etc")
    _write(tmp_path / "home" / "u" / ".codex" / "config.toml", '[features]\nshell_snapshot = true\n'
                                                               'approval_policy = "never"\n')
    findings = lint_unit(tree_unit(str(tmp_path)), today=TODAY)
    assert not _by_rule(findings, "MDM110"), [f.line_text() for f in findings]
    assert _by_rule(findings, "MDM111") and _by_rule(findings, "MDM802")[0].severity == "error"


def test_wrong_table_fix_moves_keys_and_keeps_comments(tmp_path, capsys):
    from mdmtool.commands.fix import run_fix
    from mdmtool.tomlio import read_toml
    cfg = _write(tmp_path / "proj" / ".codex" / "config.toml",
                 '# team defaults\nsandbox_mode = "workspace-write"\nnetwork_access = true  # CI needs it\n\n'
                 '[features]\n# keep snapshots\nshell_snapshot = true\napproval_policy = "on-request" # ask\n')
    assert _by_rule(_lint_files(cfg), "MDM802")
    assert run_fix(str(cfg)) == 0
    text = cfg.read_text()
    for comment in ("# team defaults", "# CI needs it", "# keep snapshots", "# ask"):
        assert comment in text, text
    data = read_toml(str(cfg)).data
    assert data["sandbox_workspace_write"] == {"network_access": True}
    assert data["approval_policy"] == "on-request" and data["features"] == {"shell_snapshot": True}
    assert not _by_rule(_lint_files(cfg), "MDM802")


def test_requirements_written_with_config_keys_are_fixed(tmp_path):
    from mdmtool.commands.fix import run_fix
    from mdmtool.reqintent import analyse
    from mdmtool.tomlio import read_toml
    req = _write(tmp_path / "etc" / "codex" / "requirements.toml",
                 '# IT policy\napproval_policy = "on-request"\nsandbox_mode = "workspace-write"\n')
    hits = _by_rule(_lint_files(req), "MDM705")
    assert {h.severity for h in hits} == {"error"} and len(hits) == 3
    run_fix(str(req))
    data = read_toml(str(req)).data
    assert data == {"allowed_approval_policies": ["on-request"],
                    "allowed_sandbox_modes": ["read-only", "workspace-write"]}
    assert not analyse(data).enforces_nothing and "# IT policy" in req.read_text()


def test_silent_rewrites_have_autofixes(tmp_path):
    cfg = _write(tmp_path / "proj" / ".codex" / "config.toml",
                 'approval_policy = "on-failure"\ndefault_permissions = "p"\n\n[permissions.p]\n'
                 'extends = ":read-only"\n\n[permissions.p.filesystem]\n"/srv/secret" = "none"\n\n'
                 '[permissions.p.filesystem.":project_roots"]\n"." = "write"\n')
    findings = _lint_files(cfg)
    rules = {(f.rule, f.source.line) for f in findings if f.fix}
    assert {("MDM202", 1), ("MDM208", 8), ("MDM206", 10)} <= rules, rules


def test_app_written_tables_are_quiet():
    for case in ("521_app_written_tables", "695_app_tables_nested"):
        findings = _lint_files(os.path.join(CASES, case, "home", "config.toml"))
        assert not [f for f in findings if f.rule in ("MDM801", "MDM802", "MDM111") or f.severity == "error"], \
            [f.line_text() for f in findings]
