"""Fix engine (constructed fixes), built-in and requirement autofixes, `mdmtool fix` writes."""

from __future__ import annotations

import json
import os
import stat
import tomllib

import pytest
import tomlkit
from hypothesis import given
from hypothesis import strategies as st

from mdmtool.commands.fix import run_fix
from mdmtool.errors import MdmError
from mdmtool.fix import apply_fixes, expected_values
from mdmtool.fixrules import builtin_fixes, parse_prefer, requirement_fixes
from mdmtool.tomlio import parse_toml
from mdmtool.tomlmerge import check_same_values

from tests.test_tomlmerge import (FIXTURE_TOMLS, PROPERTY, ROOT, _render, _scalars, _styles,
                                  _tables, _tomlkit_reads, changed_lines)


def _apply(text: str, fixes: list[dict]):
    doc = tomlkit.parse(text)
    plan = apply_fixes(doc, fixes)
    out = tomlkit.dumps(doc)
    check_same_values(out, expected_values(parse_toml(text, "t"), plan.outcomes), "test")
    return out, plan


BASE = """# user config
model = "gpt-5"  # default
approval_policy = "on-failure"  # old value

[sandbox_workspace_write]
writable_roots = [
  "/srv/a",  # data
  "/srv/b",
]

[profiles.work]
model = "gpt-4.1"
"""


def test_set_keeps_comment_and_touches_one_line():
    out, plan = _apply(BASE, [{"op": "set", "path": ["approval_policy"], "value": "on-request"}])
    assert plan.applied[0].description == "set approval_policy: 'on-failure' -> 'on-request'"
    assert changed_lines(BASE, out) == (['approval_policy = "on-failure"  # old value\n'],
                                        ['approval_policy = "on-request"  # old value\n'])


def test_set_array_element_and_new_table():
    out, _ = _apply(BASE, [
        {"op": "set", "path": ["sandbox_workspace_write", "writable_roots", 1], "value": "/srv/c"},
        {"op": "set", "path": ["features", "shell_tool"], "value": False}])
    removed, added = changed_lines(BASE, out)
    assert removed == ['  "/srv/b",\n']
    assert '  "/srv/c",\n' in added and "[features]\n" in added and "shell_tool = false\n" in added
    assert tomllib.loads(out)["sandbox_workspace_write"]["writable_roots"] == ["/srv/a", "/srv/c"]


def test_delete_with_comment_and_pruning():
    out, plan = _apply(BASE, [
        {"op": "delete", "path": ["model"], "comment": "model removed"},
        {"op": "delete", "path": ["profiles", "work"]}])
    assert "# model removed\n" in out and "profiles" not in tomllib.loads(out)
    assert plan.outcomes[1].pruned == [["profiles"]]
    removed, added = changed_lines(BASE, out)
    assert removed == ['model = "gpt-5"  # default\n', "[profiles.work]\n", 'model = "gpt-4.1"\n']
    assert added == ["# model removed\n"]


def test_move_within_and_to_another_file():
    text = 'network_access = true\nmodel = "x"\n\n[features]\nshell_tool = true\n'
    out, plan = _apply(text, [
        {"op": "move", "path": ["network_access"], "to": ["sandbox_workspace_write", "network_access"]}])
    assert tomllib.loads(out) == {"model": "x", "features": {"shell_tool": True},
                                  "sandbox_workspace_write": {"network_access": True}}
    out, plan = _apply(BASE, [{"op": "move", "path": ["profiles", "work"], "to": [],
                               "file": "work.config.toml"}])
    assert plan.applied[0].external == ("work.config.toml", [], {"model": "gpt-4.1"})
    # a move may carry a new value (retired name with a mapped value)
    out, _ = _apply('[features]\nweb_search_request = true\n', [
        {"op": "move", "path": ["features", "web_search_request"], "to": ["web_search"], "value": "live"}])
    assert tomllib.loads(out) == {"features": {}, "web_search": "live"}


def test_fixes_that_no_longer_apply_are_skipped_not_forced():
    text = 'approval_policy = "on-request"\nnetwork_access = true\nsandbox_mode = "x"\n' \
           '[sandbox_workspace_write]\nnetwork_access = false\n'
    out, plan = _apply(text, [
        {"op": "set", "path": ["approval_policy"], "value": "on-request"},       # already
        {"op": "delete", "path": ["gone"]},                                      # missing
        {"op": "move", "path": ["network_access"],
         "to": ["sandbox_workspace_write", "network_access"]},                   # conflict
        {"op": "set", "path": ["sandbox_mode", "inner"], "value": 1},            # not a table
        {"op": "replace", "line": 1, "col": 1, "old": "a", "new": "b"},          # not TOML
    ])
    assert out == text
    reasons = [o.description for o in plan.skipped]
    assert len(reasons) == 5
    assert "already" in reasons[0] and "not set any more" in reasons[1]
    assert "different value" in reasons[2] and "not a table" in reasons[3]
    assert "unsupported" in reasons[4]


@pytest.mark.parametrize("path", FIXTURE_TOMLS, ids=lambda p: str(p.relative_to(ROOT)))
def test_fixture_edits_change_only_their_lines(path):
    text = path.read_text(encoding="utf-8")
    data = parse_toml(text, str(path))
    scalars = [k for k, v in data.items() if isinstance(v, (str, bool, int)) and not isinstance(v, dict)]
    fixes = []
    if scalars:
        fixes.append({"op": "set", "path": [scalars[0]], "value": "mdmtool-test"})
    if len(scalars) > 1:
        fixes.append({"op": "delete", "path": [scalars[1]]})
    if not fixes:
        return
    out, plan = _apply(text, fixes)
    assert len(plan.applied) == len(fixes)
    removed, added = changed_lines(text, out)
    assert all(line.lstrip().startswith(tuple(scalars[:2])) or line.lstrip().startswith('"')
               for line in removed if line.strip()), removed
    assert len([a for a in added if a.strip()]) <= 1


# ----------------------------------------------------------------------------- property test

def _fix_paths(data: dict, prefix: tuple = ()) -> list[list]:
    """Key paths of ``data`` (array elements too) and new keys below its tables."""
    out = []
    for k, v in data.items():
        out.append(list(prefix + (k,)))
        if isinstance(v, list) and v:
            out.append(list(prefix + (k, 0)))
            if isinstance(v[-1], dict):
                out += _fix_paths(v[-1], prefix + (k, -1)) + [list(prefix + (k, -1, "new"))]
        if isinstance(v, dict):
            out += _fix_paths(v, prefix + (k,)) + [list(prefix + (k, "new"))]
    return out


@PROPERTY
@given(base=_tables, style=_styles, final_newline=st.booleans(), data=st.data())
def test_fixes_agree_with_their_plain_replay(base, style, final_newline, data):
    """Any sequence of set/delete/move fixes on any layout edits the text to exactly what
    :func:`expected_values` says, or skips the fix and leaves the document untouched."""
    text = _render(base, style)
    text = text if final_newline else text.rstrip("\n")
    if not _tomlkit_reads(text):  # valid TOML tomlkit rejects: run_fix refuses it cleanly
        return
    paths = _fix_paths(base) + [["new"], ["new", "deep"]]
    fixes = []
    for _ in range(data.draw(st.integers(1, 3))):
        fix = {"op": data.draw(st.sampled_from(["set", "delete", "move"])),
               "path": data.draw(st.sampled_from(paths))}
        if fix["op"] == "set":
            fix["value"] = data.draw(_scalars)
        elif fix["op"] == "delete" and data.draw(st.booleans()):
            fix["comment"] = "removed by a fix"
        elif fix["op"] == "move":
            fix["to"] = data.draw(st.sampled_from(paths))
            if data.draw(st.booleans()):
                fix["value"] = data.draw(_scalars)
        fixes.append(fix)
    out, plan = _apply(text, fixes)  # raises EditRefused when the text would mean otherwise
    if not plan.applied:  # skipped fixes leave the document as tomlkit read it
        assert out == tomlkit.dumps(tomlkit.parse(text))


def test_failed_moves_and_sets_leave_the_document_untouched():
    text = 'new = 0\na = { x = 1 }\n[t]\nk = [1]\n'
    out, plan = _apply(text, [
        {"op": "move", "path": ["a"], "to": ["new", "deep"]},  # destination under a scalar
        {"op": "set", "path": ["gone", 0], "value": 1},        # would create [gone] first
        {"op": "set", "path": ["t", "k", 5], "value": 1}])
    assert out == text and not plan.applied
    assert [o.description for o in plan.outcomes] == [
        "cannot set new.deep: a parent key is not a table",
        "cannot set gone[0]: not an array", "cannot set t.k[5]: no such array element"]


@pytest.mark.parametrize("text, path, want", [
    ('"b"."a"."a" = 0', ["new"], '"b"."a"."a" = 0\nnew = 0\n'),
    ("[x]\nb.a.c = 0", ["x", "new"], "[x]\nb.a.c = 0\nnew = 0\n"),
    ("b.a.c = 0", ["b", "a", "new"], "b.a.c = 0\nb.a.new = 0\n"),
    ("[x]\nb = 0", ["new"], "new = 0\n\n[x]\nb = 0"),  # the last line is left alone
])
def test_keys_added_after_a_last_line_without_newline(text, path, want):
    out, plan = _apply(text, [{"op": "set", "path": path, "value": 0}])
    assert plan.applied and out == want


def test_a_table_spread_over_dotted_lines_is_replaced_whole():
    text = 'c.a.a = 0\nc.a.c.a = 0\nc.a.c.b = 1  # b\nz = 2\n'
    out, _ = _apply(text, [{"op": "set", "path": ["c", "a", "c"], "value": 0}])
    assert tomllib.loads(out) == {"c": {"a": {"a": 0, "c": 0}}, "z": 2}


def test_delete_with_comment_prunes_tables_left_without_lines():
    text = 'c.a = 0\nc.b.x = 0  # x\nz = 1\n[profiles.work]\nmodel = "m"\n[t]\nk = 1\n'
    out, plan = _apply(text, [{"op": "delete", "path": ["c", "b", "x"], "comment": "x removed"},
                              {"op": "delete", "path": ["profiles", "work"], "comment": "work"}])
    assert [o.pruned for o in plan.outcomes] == [[["c", "b"]], [["profiles"]]]
    assert out == 'c.a = 0\n# x removed\nz = 1\n# work\n[t]\nk = 1\n'


def test_an_array_of_tables_element_moved_to_a_key_becomes_a_table():
    out, _ = _apply('[[b]]\na = 0  # kept\n', [{"op": "move", "path": ["b", 0], "to": ["t"]}])
    assert tomllib.loads(out) == {"b": [], "t": {"a": 0}} and "[t]\na = 0  # kept\n" in out


def test_deleting_the_last_element_of_an_array_of_tables():
    text = 'x = 1\n\n[[c.b]]\na = 0\n[c]\na = 0\n'
    out, _ = _apply(text, [{"op": "delete", "path": ["c", "b", 0]}])
    assert tomllib.loads(out) == {"x": 1, "c": {"a": 0, "b": []}}


def test_values_set_or_moved_into_inline_and_dotted_tables_stay_inline():
    text = 'b = { a = 0 }\nd.a = 0\n\n[[arr]]\nx = 1  # why\n'
    out, _ = _apply(text, [{"op": "move", "path": ["arr"], "to": ["b", "arr"]},
                           {"op": "set", "path": ["d", "t", "deep"], "value": {"k": [{"z": 1}]}}])
    assert out == 'b = { a = 0, arr = [{x = 1}]}\nd.a = 0\nd.t = {deep = {k = [{z = 1}]}}\n\n'


# ----------------------------------------------------------------------------- built-in rules

def test_builtin_fixes_cover_the_four_deprecations():
    data = tomllib.loads('profile = "work"\napproval_policy = "on-failure"\n'
                        'approvals_reviewer = "guardian_subagent"\nnetwork_access = true\n')
    fixes = {tuple(f["path"]): f for f, _r, _m in builtin_fixes(data, "config")}
    assert fixes[("approval_policy",)]["value"] == "on-request"
    assert fixes[("approvals_reviewer",)]["value"] == "auto_review"
    assert "work.config.toml" in fixes[("profile",)]["comment"]
    assert fixes[("network_access",)]["to"] == ["sandbox_workspace_write", "network_access"]
    assert builtin_fixes(data, "requirements") == []


def test_requirement_fallbacks_and_prefer():
    cfg = {"approval_policy": "never", "approvals_reviewer": "user", "sandbox_mode": "danger-full-access",
           "web_search": "live", "default_permissions": ":workspace"}
    req = {"allowed_approval_policies": ["on-request", "untrusted"],
           "allowed_approvals_reviewers": ["guardian_subagent"],
           "allowed_sandbox_modes": ["workspace-write", "read-only"],
           "allowed_web_search_modes": ["indexed"],
           "allowed_permission_profiles": {":read-only": True, "ro": True}, "default_permissions": "ro"}
    got = {f["path"][0]: f.get("value") for f, _r, _m in requirement_fixes(cfg, req, [])}
    assert got == {"approval_policy": "on-request", "approvals_reviewer": "auto_review",
                   "sandbox_mode": "read-only",  # Codex always falls back to read-only
                   "web_search": "indexed", "default_permissions": "ro"}
    prefer = parse_prefer(["sandbox_mode=workspace-write", "disabled", "untrusted"])
    got = {f["path"][0]: f.get("value") for f, _r, _m in requirement_fixes(cfg, req, prefer)}
    assert got["sandbox_mode"] == "workspace-write" and got["web_search"] == "disabled"
    assert got["approval_policy"] == "on-request"  # untrusted cannot be written in 0.169
    # a fallback to untrusted removes the key instead (Codex then derives untrusted)
    fixes = requirement_fixes({"approval_policy": "never"},
                              {"allowed_approval_policies": ["untrusted"]}, [])
    assert fixes[0][0]["op"] == "delete" and "untrusted" in fixes[0][0]["comment"]
    # deny_read narrows the sandbox allow-set
    fixes = requirement_fixes({"sandbox_mode": "danger-full-access"},
                              {"permissions": {"filesystem": {"deny_read": ["~/.ssh"]}}}, [])
    assert fixes[0][0]["value"] == "read-only"
    assert requirement_fixes({"approval_policy": "on-failure"},
                             {"allowed_approval_policies": ["on-request"]}, []) == []


# ----------------------------------------------------------------------------- run_fix

LEGACY = """# legacy user config
profile = "work"   # old selector
approval_policy = "on-failure"  # ask when it fails
approvals_reviewer = "guardian_subagent"
network_access = true
web_search = "live"

[features]
shell_tool = true
"""


def test_run_fix_writes_atomically_with_backup(tmp_path, capsys):
    cfg = tmp_path / "config.toml"
    cfg.write_text(LEGACY)
    os.chmod(cfg, 0o600)
    req = tmp_path / "requirements.toml"
    req.write_text('allowed_web_search_modes = ["cached"]\n')
    assert run_fix(str(cfg), requirements=str(req), backup=True, use_lint=False) == 0
    out = cfg.read_text()
    assert (tmp_path / "config.toml.bak").read_text() == LEGACY
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o600
    assert tomllib.loads(out) == {"approval_policy": "on-request", "approvals_reviewer": "auto_review",
                                  "web_search": "cached", "features": {"shell_tool": True},
                                  "sandbox_workspace_write": {"network_access": True}}
    assert '# mdmtool fix: removed legacy `profile = "work"`' in out
    assert 'approval_policy = "on-request"  # ask when it fails\n' in out
    assert out.startswith("# legacy user config\n")
    assert "4 fixes applied" not in capsys.readouterr().out  # the report goes to stderr
    # a second run has nothing left to do and does not rewrite the file
    mtime = cfg.stat().st_mtime_ns
    assert run_fix(str(cfg), requirements=str(req), use_lint=False) == 0
    assert cfg.stat().st_mtime_ns == mtime


def test_dry_run_shows_diff_and_writes_nothing(tmp_path, capsys):
    cfg = tmp_path / "config.toml"
    cfg.write_text(LEGACY)
    assert run_fix(str(cfg), dry_run=True, use_lint=False) == 1
    out = capsys.readouterr().out
    assert '-approval_policy = "on-failure"  # ask when it fails' in out
    assert '+approval_policy = "on-request"  # ask when it fails' in out
    assert cfg.read_text() == LEGACY
    cfg.write_text('model = "x"\n')
    assert run_fix(str(cfg), dry_run=True, use_lint=False) == 0


def test_json_report(tmp_path, capsys):
    cfg = tmp_path / "config.toml"
    cfg.write_text('approval_policy = "on-failure"\n')
    assert run_fix(str(cfg), fmt="json", use_lint=False, dry_run=True) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["changed"] and doc["fixes"][0]["applied"]
    assert doc["fixes"][0]["fix"] == {"op": "set", "path": ["approval_policy"], "value": "on-request"}


def test_legacy_profile_table_moves_to_its_own_file(tmp_path):
    cfg = tmp_path / "config.toml"
    cfg.write_text('model = "x"\n\n[profiles.work]\nmodel = "y"\nsandbox_mode = "read-only"\n')
    doc = tomlkit.parse(cfg.read_text())
    plan = apply_fixes(doc, [{"op": "move", "path": ["profiles", "work"], "to": [],
                              "file": "work.config.toml"}])
    assert plan.applied
    # through run_fix (lint provides this fix when installed; here we inject it)
    from mdmtool.commands import fix as fixcmd
    orig = fixcmd.lint_fixes
    fixcmd.lint_fixes = lambda path, req: [({"op": "move", "path": ["profiles", "work"], "to": [],
                                             "file": "work.config.toml"}, "MDM204", "legacy table")]
    try:
        assert run_fix(str(cfg)) == 0
        assert tomllib.loads((tmp_path / "work.config.toml").read_text()) == {
            "model": "y", "sandbox_mode": "read-only"}
        assert tomllib.loads(cfg.read_text()) == {"model": "x"}
        # destination exists with a conflicting value: nothing moves, exit 1
        cfg.write_text('[profiles.work]\nmodel = "z"\n')
        assert run_fix(str(cfg)) == 1
        assert tomllib.loads(cfg.read_text()) == {"profiles": {"work": {"model": "z"}}}
    finally:
        fixcmd.lint_fixes = orig


def test_bad_input(tmp_path):
    cfg = tmp_path / "config.toml"
    cfg.write_text('approval_policy = never\n')
    with pytest.raises(MdmError) as exc:
        run_fix(str(cfg), use_lint=False)
    assert exc.value.line == 1
    with pytest.raises(MdmError, match="no such file"):
        run_fix(str(tmp_path / "missing.toml"), use_lint=False)
    cfg.write_text("")
    with pytest.raises(MdmError, match="requirements"):
        run_fix(str(cfg), requirements=str(tmp_path / "nope.toml"))


def test_lint_findings_flow_into_fix(tmp_path, capsys):
    pytest.importorskip("mdmtool.lint.engine")
    cfg = tmp_path / "config.toml"
    cfg.write_text('approval_policy = "on-failure"\n')
    assert run_fix(str(cfg), fmt="json", dry_run=True) == 1
    doc = json.loads(capsys.readouterr().out)
    rules = {f["rule"] for f in doc["fixes"]}
    assert rules and rules != {"builtin"}, rules  # the linter's rule id, not only ours
