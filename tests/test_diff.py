"""Posture diff: one fixture per widening/narrowing class, sources, effective documents."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mdmtool.diff import diff_sides, load_file, side_from_text
from mdmtool.errors import MdmError
from mdmtool.posture import MISSING, NARROWING, NEUTRAL, WIDENING, classify, domain_covers

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "diff"
CASES = sorted(p.name for p in FIXTURES.iterdir() if (p / "expected.json").exists())


def _diff(a: Path, b: Path, kind=None):
    return diff_sides(load_file(str(a), kind), load_file(str(b), kind))


def test_every_class_has_fixtures():
    prefixes = {c.split("-", 1)[0] for c in CASES}
    assert prefixes == {"widening", "narrowing", "neutral"}
    assert len([c for c in CASES if c.startswith("widening")]) >= 25


@pytest.mark.parametrize("case", CASES)
def test_fixture_classification(case):
    d = FIXTURES / case
    exp = json.loads((d / "expected.json").read_text())
    result = _diff(d / "a.toml", d / "b.toml", exp["kind"])
    by_key = {c.key: c for c in result.changes}
    assert exp["key"] in by_key, [c.key for c in result.changes]
    change = by_key[exp["key"]]
    assert change.classification == exp["classification"], change.effects
    assert any(exp["reason"] in e.reason for e in change.effects), change.effects
    # the change the fixture is about is the only non-neutral one
    others = [c for c in result.changes if c is not change and c.classification != NEUTRAL]
    assert not others, others
    if "reverse" in exp:
        back = {c.key: c for c in _diff(d / "b.toml", d / "a.toml", exp["kind"]).changes}
        assert back[exp["key"]].classification == exp["reverse"]


def test_kind_is_detected_from_names_and_shapes(tmp_path):
    for case in CASES:
        d = FIXTURES / case
        exp = json.loads((d / "expected.json").read_text())
        if case in {"widening-feature-pin-removed", "narrowing-feature-pin-added",
                    "widening-mcp-allowlist-removed"}:
            continue  # a bare [features] or empty [mcp_servers] is ambiguous without a name
        assert _diff(d / "a.toml", d / "b.toml").kind == exp["kind"], case
    named = tmp_path / "requirements.toml"
    named.write_text("[features]\nshell_tool = false\n")
    assert load_file(str(named)).kind == "requirements"


def test_identical_files_have_no_changes(tmp_path):
    a = tmp_path / "config.toml"
    a.write_text('approval_policy = "never"  # comment\n')
    b = tmp_path / "other-config.toml"
    b.write_text('# only comments differ\napproval_policy = "never"\n')
    result = _diff(a, b)
    assert result.changes == []
    assert result.summary_line() == "no changes; posture unchanged"
    assert result.posture == "unchanged"


def test_sources_point_at_both_sides(tmp_path):
    a = tmp_path / "a-config.toml"
    a.write_text('model = "x"\n\n[sandbox_workspace_write]\nnetwork_access = false\n')
    b = tmp_path / "b-config.toml"
    b.write_text('[sandbox_workspace_write]\n# now on\nnetwork_access = true\n')
    result = _diff(a, b)
    net = [c for c in result.changes if c.key == "sandbox_workspace_write.network_access"][0]
    assert (net.old_source.file, net.old_source.line) == (str(a), 4)
    assert (net.new_source.file, net.new_source.line) == (str(b), 3)
    model = [c for c in result.changes if c.key == "model"][0]
    assert model.new_source is None and model.old_source.line == 1
    assert result.summary_line() == "2 changes: 1 widening, 0 narrowing, 1 neutral; posture widened"


def test_mixed_posture_and_counts(tmp_path):
    a = tmp_path / "config.toml"
    a.write_text('approval_policy = "never"\nsandbox_mode = "read-only"\n')
    b = tmp_path / "new.config.toml"
    b.write_text('approval_policy = "on-request"\nsandbox_mode = "workspace-write"\n')
    result = _diff(a, b)
    assert result.counts() == {WIDENING: 1, NARROWING: 1, NEUTRAL: 0}
    assert result.posture == "mixed"


def test_whole_table_added_is_judged_leaf_by_leaf(tmp_path):
    a = tmp_path / "config.toml"
    a.write_text("")
    b = tmp_path / "b.config.toml"
    b.write_text('[permissions.dev]\nextends = ":workspace"\n[permissions.dev.network]\n'
                 'enabled = true\nmode = "full"\n[permissions.dev.network.domains]\n'
                 '"example.com" = "allow"\n')
    keys = {c.key: c.classification for c in _diff(a, b).changes}
    assert keys["permissions.dev.network.enabled"] == WIDENING
    assert keys["permissions.dev.network.domains"] == WIDENING
    assert keys["permissions.dev.extends"] == NEUTRAL  # set from unset: depends on the rest


def test_kind_mismatch_is_an_input_error(tmp_path):
    a = tmp_path / "config.toml"
    a.write_text('approval_policy = "never"\n')
    b = tmp_path / "requirements.toml"
    b.write_text('allowed_approval_policies = ["never"]\n')
    with pytest.raises(MdmError, match="cannot compare a config"):
        _diff(a, b)
    # forcing one kind is allowed
    assert diff_sides(load_file(str(a), "config"), load_file(str(b), "config")).changes


def test_bad_toml_names_file_line_col(tmp_path):
    a = tmp_path / "config.toml"
    a.write_text('ok = 1\napproval_policy = never\n')
    with pytest.raises(MdmError) as exc:
        load_file(str(a))
    assert exc.value.line == 2 and exc.value.file == str(a)


def test_absent_side_is_an_empty_document():
    new = side_from_text('allowed_sandbox_modes = ["read-only"]\n', "requirements.toml")
    gone = side_from_text(None, "requirements.toml")
    result = diff_sides(new, gone)
    assert [c.classification for c in result.changes] == [WIDENING]
    assert diff_sides(gone, new).changes[0].classification == NARROWING


def test_domain_cover_semantics():
    assert domain_covers("*.example.com", "api.example.com")
    assert domain_covers("*.example.com", "a.b.example.com")  # any depth (Codex)
    assert not domain_covers("*.example.com", "example.com")
    assert domain_covers("**.example.com", "example.com")
    assert domain_covers("**.example.com", "*.example.com")
    assert domain_covers("*", "anything.org")
    assert domain_covers("Example.COM.", "example.com:443")
    assert not domain_covers("api.example.com", "*.example.com")
    assert not domain_covers("*.example.com", "example.org")


def test_granular_approval_sits_with_on_request():
    granular = {"granular": {"sandbox_approval": True, "rules": True}}
    assert classify("config", ("approval_policy",), "on-request", granular)[0].classification == NEUTRAL
    assert classify("config", ("approval_policy",), granular, "never")[0].classification == WIDENING
    eff = classify("config", ("approval_policy", "granular", "rules"), False, True)
    assert eff[0].classification == WIDENING


def test_unset_defaults():
    # removing read-only lets Codex pick its trust default (workspace-write at most)
    assert classify("config", ("sandbox_mode",), "read-only", MISSING)[0].classification == WIDENING
    assert classify("config", ("sandbox_mode",), "danger-full-access", MISSING)[0].classification \
        == NARROWING
    assert classify("config", ("web_search",), MISSING, "cached")[0].classification == NEUTRAL


# ----------------------------------------------------------------------------- effective JSON

def _effective(**over) -> dict:
    doc = {
        "schema_version": 1, "codex_version": "0.169.0", "ok": True, "errors": [],
        "approval_policy": "on-request", "approvals_reviewer": "user",
        "sandbox_mode": "workspace-write", "network_access": False,
        "permission_profile": ":workspace", "web_search": None, "warnings": [],
        "origins": {"approval_policy": {"layer": "user", "file": "/h/config.toml", "line": 3},
                    "sandbox_mode": {"layer": "trust-default", "file": None, "line": None}},
        "layers": [{"name": "user", "file": "/h/config.toml"}],
        "requirements": {"allowed_approval_policies": ["on-request"]},
    }
    doc.update(over)
    return doc


def test_effective_documents_diff(tmp_path):
    a = tmp_path / "before.json"
    a.write_text(json.dumps(_effective()))
    b = tmp_path / "after.json"
    b.write_text(json.dumps(_effective(
        approval_policy="never", network_access=True, web_search="live",
        origins={"approval_policy": {"layer": "project", "file": "/p/.codex/config.toml", "line": 7}},
        layers=[], requirements={})))
    result = _diff(a, b)
    assert result.kind == "effective"
    keys = {c.key: c for c in result.changes}
    assert set(keys) == {"approval_policy", "network_access", "web_search",
                         "requirements.allowed_approval_policies"}
    assert all(c.classification == WIDENING for c in keys.values())
    ap = keys["approval_policy"]
    assert (ap.old_source.file, ap.old_source.line) == ("/h/config.toml", 3)
    assert (ap.new_source.file, ap.new_source.line) == ("/p/.codex/config.toml", 7)
    assert "any approval policy" in keys["requirements.allowed_approval_policies"].effects[0].reason


def test_effective_vs_toml_is_refused(tmp_path):
    a = tmp_path / "e.json"
    a.write_text(json.dumps(_effective()))
    b = tmp_path / "config.toml"
    b.write_text("")
    with pytest.raises(MdmError):
        _diff(a, b)


def test_json_that_is_not_an_effective_document(tmp_path):
    a = tmp_path / "x.json"
    a.write_text('{"hello": 1}')
    with pytest.raises(MdmError, match="effective"):
        load_file(str(a))
    a.write_text('{"hello": ')
    with pytest.raises(MdmError, match="invalid JSON"):
        load_file(str(a))
