"""Every rule fires on its bad fixture and stays silent on its good fixture."""

import pytest

from mdmtool.lint.catalog import RULES
from tests.lint.helpers import FIXTURES, lint_dir

ALL = sorted(RULES)


def _needs_schema(rule):
    """MDM801 reads the key table from schemas/config.schema.json (the schema room)."""
    if rule == "MDM801":
        from mdmtool.schemas import load_schema
        if not load_schema("config"):
            pytest.skip("schemas/config.schema.json is not in the tree yet")


@pytest.mark.parametrize("rule", ALL)
def test_rule_has_fixtures(rule):
    assert (FIXTURES / rule / "bad").is_dir(), f"missing fixtures/lint/{rule}/bad"
    assert (FIXTURES / rule / "good").is_dir(), f"missing fixtures/lint/{rule}/good"


@pytest.mark.parametrize("rule", ALL)
def test_bad_fixture_triggers_rule(rule):
    _needs_schema(rule)
    findings = lint_dir(FIXTURES / rule / "bad")
    hits = [f for f in findings if f.rule == rule]
    assert hits, f"{rule} did not fire; got {[f.line_text() for f in findings]}"
    for f in hits:
        assert f.source.file and f.source.line and f.source.line >= 1 and f.source.col >= 1
        assert f.message and f.remediation
        assert f.severity in ("error", "warning", "info")


@pytest.mark.parametrize("rule", ALL)
def test_good_fixture_is_clean_for_rule(rule):
    findings = lint_dir(FIXTURES / rule / "good")
    assert not [f for f in findings if f.rule == rule], [f.line_text() for f in findings]


def test_docs_rules_md_is_in_sync():
    """docs/rules.md is generated from the catalog: every rule has an entry."""
    import pathlib

    from mdmtool.lint.catalog import markdown
    doc = (pathlib.Path(__file__).resolve().parents[2] / "docs" / "rules.md").read_text()
    assert doc == markdown(), "regenerate: python -m mdmtool.lint.catalog > docs/rules.md"
    for rule in ALL:
        assert f"### {rule}" in doc


def test_every_rule_is_emitted_somewhere_in_code():
    import pathlib
    src = "".join(p.read_text() for p in (pathlib.Path(__file__).resolve().parents[2]
                                          / "mdmtool" / "lint").rglob("*.py"))
    for rule in ALL:
        if rule == "MDM100":
            continue
        assert src.count(f'"{rule}"') >= 2, f"{rule} is in the catalog but no rule emits it"
