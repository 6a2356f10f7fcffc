"""Session-time failures, plain explanations, silent rewrites and requirements that enforce
nothing (issue 9), checked against the answers recorded from Codex 0.169.0 (fixtures/cases 6xx).

The oracle comparison (tests/resolve/test_oracle_cases.py) already proves that the resolver
fails and warns exactly when Codex does; these tests check what mdmtool adds on top: the
plain explanation at the right line, the notes about silent rewrites, and the single-file
checks used by ``validate`` and ``lint``.
"""

from __future__ import annotations

import json
import os
import re

import pytest

from mdmtool import filecheck, mcpcheck, reqintent, sessioncheck
from mdmtool.plain import explain
from tests.casekit import materialise, normaliser
from tests.oracle_compare import all_cases, codex_cli_error, inputs_for

CASES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "cases")


def _case(name: str) -> str:
    hits = [d for d in os.listdir(CASES) if d.startswith(name)]
    assert len(hits) == 1, name
    return os.path.join(CASES, hits[0])


def _resolve(name: str, root: str):
    from mdmtool.resolve import resolve
    m = materialise(_case(name), root)
    return resolve(inputs_for(m)), m


# ----------------------------------------------------------------------------- globs


@pytest.mark.parametrize("pattern,root,scan", [
    ("/**/*.key", True, False), ("/*.pem", True, False), ("/[eh]*/secret", True, False),
    ("/?x", True, False), ("/home/**/*.key", False, False), ("~/**/*.key", False, False),
    ("/z*/a", False, True), ("/srv/data/**", False, False), ("**/*.env", False, False),
    ("/etc/secret", False, False),
])
def test_root_glob_classification(pattern, root, scan):
    # observed: 601/602/605/608 fail, 603 starts; /z*/a walks / (FINDINGS §8)
    assert sessioncheck.root_glob(pattern) is root
    assert sessioncheck.scans_from_root(pattern) is scan


def test_subtree_glob_is_the_only_glob_that_may_grant_access():
    assert sessioncheck.subtree_glob("/srv/data/**")
    assert not sessioncheck.subtree_glob("/srv/*/data/**")
    assert not sessioncheck.subtree_glob("/**/*.key")


# ----------------------------------------------------------------------------- MCP


def test_mcp_identity_matching_follows_codex(tmp_path):
    # each row was checked with `codex mcp list --json` (FINDINGS §8)
    srv = {"command": "a-mcp", "args": ["--x", "1"]}
    assert mcpcheck.allowed("a", srv, {"a": {"identity": {"command": "a-mcp"}}})
    assert not mcpcheck.allowed("a", {"command": "/usr/bin/a-mcp"}, {"a": {"identity": {"command": "a-mcp"}}})
    one = {"a": {"identity": {"command": {"executable": "a-mcp", "args": [{"match": "exact", "value": "--x"}]}}}}
    assert not mcpcheck.allowed("a", srv, one)  # one matcher for two args
    two = {"a": {"identity": {"command": {"executable": "a-mcp", "args": [
        {"match": "exact", "value": "--x"}, {"match": "regex", "expression": "^[0-9]+$"}]}}}}
    assert mcpcheck.allowed("a", srv, two)
    assert not mcpcheck.allowed("b", srv, one)  # not listed
    assert not mcpcheck.allowed("a", srv, {})  # empty table disables everything
    assert mcpcheck.allowed("a", srv, None)  # no allowlist
    url = {"url": "https://mcp.example.com/x"}
    assert mcpcheck.allowed("w", url, {"w": {"identity": {"url": {"match": "prefix",
                                                                    "value": "https://mcp.example.com/"}}}})
    assert not mcpcheck.allowed("w", url, {"w": {"identity": {"command": "a-mcp"}}})


def test_mcp_requirement_errors_are_codex_texts():
    f = "/etc/codex/requirements.toml"
    assert mcpcheck.requirement_errors(f, {"mcp_servers": {"docs": {"command": "x"}}})[0][0] == \
        f"failed to parse requirements layer {f}: missing field `identity`\nin `mcp_servers.docs`"
    bad = {"mcp_servers": {"docs": {"identity": {"command": {"executable": "x", "args": [
        {"match": "glob", "value": "x"}]}}}}}
    assert "untagged enum RawMcpServerIdentity" in mcpcheck.requirement_errors(f, bad)[0][0]
    regex = {"mcp_servers": {"docs": {"identity": {"command": {"executable": "x", "args": [
        {"match": "regex", "expression": "("}]}}}}}
    assert mcpcheck.requirement_errors(f, regex)[0][0] == (
        f"invalid requirement for MCP server `docs` (set by {f}): invalid argument matcher at index 0: "
        "invalid regex `(`: found open group without closing ')'")


def test_spawn_problem_uses_server_path_cwd_and_exec_bit(tmp_path):
    exe = tmp_path / "bin" / "docs-mcp"
    exe.parent.mkdir()
    exe.write_text("#!/bin/sh\n")
    assert mcpcheck.spawn_problem({"command": "docs-mcp"}, str(tmp_path), path_env=str(exe.parent)) == \
        mcpcheck.EACCES
    exe.chmod(0o755)
    assert mcpcheck.spawn_problem({"command": "docs-mcp"}, str(tmp_path), path_env=str(exe.parent)) is None
    assert mcpcheck.spawn_problem({"command": "docs-mcp", "env": {"PATH": "/nonexistent"}}, str(tmp_path),
                                  path_env=str(exe.parent)) == mcpcheck.ENOENT
    assert mcpcheck.spawn_problem({"command": "./bin/docs-mcp"}, str(tmp_path)) is None
    assert mcpcheck.spawn_problem({"command": "sh", "cwd": str(tmp_path / "gone")}, str(tmp_path)) == \
        mcpcheck.ENOENT


# ----------------------------------------------------------------------------- resolver: explanations


def _fatal_cases():
    out = []
    for d in all_cases():
        with open(os.path.join(d, "expected.json"), encoding="utf-8") as fh:
            exp = json.load(fh)
        if exp["effective"].get("startup_failed") and codex_cli_error(exp):
            out.append(d)
    return out


FATAL = _fatal_cases()


@pytest.mark.parametrize("case_dir", FATAL, ids=[os.path.basename(c) for c in FATAL])
def test_every_recorded_fatal_error_gets_plain_words(case_dir, case_root):
    """Codex's text stays in errors; explanations[i] says what it means (never a fallback)."""
    from mdmtool.resolve import resolve
    m = materialise(case_dir, case_root)
    policy = resolve(inputs_for(m))
    if policy.ok:
        pytest.skip("mdmtool models the CLI usage check separately")
    assert len(policy.explanations) == len(policy.errors)
    first = policy.explanations[0]
    assert first["error"] == policy.errors[0].split("\n")[0]
    assert first["explanation"] and "see the text above" not in first["explanation"], first


@pytest.mark.parametrize("name,where", [
    ("601_", "config.toml:7"), ("602_", "requirements.toml:2"), ("612_", "config.toml:2"),
    ("622_", "config.toml:1"), ("624_", ".codex/config.toml:1"), ("642_", None),
    ("673_", "requirements.toml:3"), ("675_", "requirements.toml:2"), ("679_", "requirements.toml:1"),
])
def test_explanations_point_at_the_line(name, where, case_root):
    policy, m = _resolve(name, case_root)
    assert not policy.ok
    x = policy.explanations[0]
    loc = f"{x['file']}:{x['line']}"
    if where is None:  # a positioned Codex message: the explanation points where it does
        where = re.match(r"(.+?:\d+):\d+: ", policy.errors[0]).group(1)
    assert loc.endswith(where), (loc, x)


def test_relative_paths_resolve_like_codex(case_root):
    # 622: CODEX_HOME/instr.md, 624: <project>/.codex/instr.md (recorded texts)
    policy, m = _resolve("622_", case_root)
    assert normaliser(m)(policy.errors[0]) == ("failed to read model instructions file <CODEX_HOME>/instr.md: "
                                               "No such file or directory (os error 2)")
    policy, m = _resolve("623_", case_root)
    assert policy.ok


def test_cryptic_catalog_error_is_explained(case_root):
    policy, m = _resolve("627_", case_root)
    assert policy.errors == ["No such file or directory (os error 2)"]
    assert "model_catalog_json" in policy.explanations[0]["explanation"]
    assert policy.explanations[0]["line"] == 1


def test_machine_checks_can_be_switched_off(case_root):
    from mdmtool.resolve import resolve
    m = materialise(_case("612_"), case_root)
    inp = inputs_for(m)
    inp.machine_checks = False
    assert resolve(inp).ok  # a scratch copy of another machine: PATH says nothing


def test_explain_texts_for_parser_messages():
    f = "/etc/codex/requirements.toml"
    cases = {
        f"failed to parse requirements layer {f}: wanted exactly 1 element, more than 1 element\n"
        "in `allowed_approval_policies`": "granular",
        f"failed to parse requirements layer {f}: unknown variant `sandbox_approval`, expected one of "
        "`untrusted`, `on-failure`, `on-request`, `granular`, `never`\nin `allowed_approval_policies`": "field of a granular",
        f'failed to parse requirements layer {f}: invalid type: string "rm", expected struct '
        "RequirementsExecPolicyPatternTokenToml\nin `rules.prefix_rules.pattern`": "{ token = \"rm\" }",
        "/home/u/.codex/config.toml:1:19: unknown variant `on_request`, expected one of `untrusted`, "
        "`on-failure`, `on-request`, `granular`, `never`": 'Did you mean "on-request"',
        "requirements.toml allowed_permission_profiles refers to undefined profile `ghost`": "[permissions.ghost]",
    }
    for err, needle in cases.items():
        text = explain(err)["explanation"]
        assert needle in text, (err, text)


# ----------------------------------------------------------------------------- silent rewrites


@pytest.mark.parametrize("name,needle", [
    ("126_", 'approval_policy = "on-failure" runs as "on-request"'),
    ("125_", 'approvals_reviewer = "guardian_subagent" runs as "auto_review"'),
    ("127_", '"on-failure" in allowed_approval_policies is read as "on-request"'),
    ("661_", 'filesystem access "none"'),
    ("662_", "`:project_roots` is read as `:workspace_roots`"),
    ("663_", "`agents.max_threads` is read as `agents.max_concurrent_threads_per_session`"),
    ("651_", "enforces NOTHING"),
    ("652_", "enforces NOTHING"),
])
def test_notices_show_silent_rewrites(name, needle, case_root):
    policy, m = _resolve(name, case_root)
    assert policy.ok
    assert any(needle in n for n in policy.notices), policy.notices
    assert not policy.warnings or all(needle not in w.message for w in policy.warnings)  # Codex is silent
    doc = policy.to_json()
    assert doc["notices"] == policy.notices and doc["explanations"] == []


def test_effective_still_shows_what_the_rewrite_becomes(case_root):
    policy, _ = _resolve("126_", case_root)
    assert policy.approval_policy == "on-request"


# ----------------------------------------------------------------------------- requirements intent


def test_requirements_in_a_made_up_format_enforce_nothing():
    data = {"policy": {"approval": "on-request"}, "forbid": {"commands": ["rm -rf /"]},
            "sandbox": {"mode": "read-only"}}
    r = reqintent.analyse(data)
    assert r.enforces_nothing
    by_key = {i.path[0]: i.suggestion for i in r.items}
    assert by_key["policy"] == 'allowed_approval_policies = ["on-request"]'
    assert by_key["sandbox"] == 'allowed_sandbox_modes = ["read-only"]'
    assert 'decision = "forbidden"' in by_key["forbid"] and '{ token = "rm" }' in by_key["forbid"]


@pytest.mark.parametrize("data,nothing", [
    ({}, True),
    ({"approval_policy": "on-request", "sandbox_mode": "read-only"}, True),
    ({"allowed_sandbox_modes": ["read-only", "workspace-write", "danger-full-access"],
      "allowed_approval_policies": ["untrusted", "on-request", "never"]}, True),
    ({"allowed_sandbox_modes": ["read-only"]}, False),
    ({"permissions": {"filesystem": {"deny_read": ["~/.ssh"]}}}, False),
    ({"mcp_servers": {}}, False),
])
def test_enforces_nothing(data, nothing):
    assert reqintent.analyse(data).enforces_nothing is nothing


# ----------------------------------------------------------------------------- single-file checks


def _codes(findings):
    return sorted({(f.rule, f.severity) for f in findings})


def test_filecheck_local_vs_elsewhere(tmp_path):
    cfg = {"model_instructions_file": "instr.md",
           "mcp_servers": {"docs": {"command": "no-such-mcp-binary-xyz", "required": True}}}
    here = filecheck.Place(str(tmp_path), True, os.path.exists)
    issues = filecheck.config_machine(cfg, here)
    assert {(i.rule, i.severity) for i in issues} == {("MDM111", "error")}
    assert len(issues) == 2
    far = filecheck.Place(str(tmp_path), False, os.path.exists)
    assert {i.severity for i in filecheck.config_machine(cfg, far)} == {"warning"}
    (tmp_path / "instr.md").write_text("x")
    assert len(filecheck.config_machine(cfg, here)) == 1


def test_validate_reports_session_failures_and_empty_requirements(tmp_path, capsys):
    from mdmtool.commands.validate import run_validate
    home = tmp_path / ".codex"
    home.mkdir()
    cfg = home / "config.toml"
    cfg.write_text('default_permissions = "p"\n\n[permissions.p]\nextends = ":workspace"\n\n'
                   '[permissions.p.filesystem]\n"/**/*.key" = "deny"\n')
    req = tmp_path / "requirements.toml"
    req.write_text("# nothing here\n[policy]\napproval = \"never\"\n")
    rc = run_validate([str(cfg), str(req)], kind=None, fmt="text", strict=False)
    out = capsys.readouterr().out
    assert rc == 1
    assert re.search(r"config\.toml:7:1: error: Codex refuses to start every session on Linux: the deny-read "
                     r"glob `/\*\*/\*\.key`", out), out
    assert re.search(r"requirements\.toml:2:1: error: \[policy\] is not a requirements key.*"
                     r'allowed_approval_policies = \["never"\]', out), out


def test_reader_accepts_what_codex_accepts_and_rejects_duplicates(case_root):
    policy, _ = _resolve("504_", case_root)  # TOML 1.1 multi-line inline table
    assert policy.ok and policy.network_access is True
    policy, m = _resolve("505_", case_root)  # duplicate key: fatal, with the position
    assert not policy.ok
    assert re.match(r"<CODEX_HOME>/config.toml:2:\d+: ", normaliser(m)(policy.errors[0]))
