"""Requirements' [network_proxy] is another name of [experimental_network] (Codex 0.169.0,
fixtures/cases 725-726): the network rules read it under either name and name the table as
the file spells it; both names in one file is Codex's "duplicate field" refusal."""

from __future__ import annotations

import pathlib

from tests.lint.helpers import lint_dir

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "lint"


def _tree(tmp_path: pathlib.Path, requirements: str, user: str) -> pathlib.Path:
    (tmp_path / "etc" / "codex").mkdir(parents=True)
    (tmp_path / "etc" / "codex" / "requirements.toml").write_text(requirements)
    (tmp_path / "home" / "u" / ".codex").mkdir(parents=True)
    (tmp_path / "home" / "u" / ".codex" / "config.toml").write_text(user)
    return tmp_path


def test_mdm405_reads_the_alias_and_names_it(tmp_path):
    bad = (FIXTURES / "MDM405" / "bad" / "etc" / "codex" / "requirements.toml").read_text()
    user = (FIXTURES / "MDM405" / "bad" / "home" / "u" / ".codex" / "config.toml").read_text()
    aliased = bad.replace("experimental_network", "network_proxy")
    assert aliased != bad
    hits = [f for f in lint_dir(_tree(tmp_path, aliased, user)) if f.rule == "MDM405"]
    assert hits and all("[network_proxy]" in f.message for f in hits), hits
    assert all(f.source.line == 1 for f in hits)  # the [network_proxy] header


def test_legacy_and_map_forms_mixed_under_the_alias(tmp_path):
    req = '[network_proxy]\nenabled = true\nallowed_domains = ["a.com"]\n\n[network_proxy.domains]\n"b.com" = "allow"\n'
    hits = [f for f in lint_dir(_tree(tmp_path, req, 'model = "o3"\n')) if f.rule == "MDM706"]
    assert any("network_proxy mixes `domains`" in f.message for f in hits), hits


def test_both_names_in_one_file_is_refused(tmp_path):
    req = "[network_proxy]\nenabled = true\n\n[experimental_network]\nenabled = true\n"
    errors = [f for f in lint_dir(_tree(tmp_path, req, 'model = "o3"\n')) if f.severity == "error"]
    [refusal] = [f for f in errors if "duplicate field `network_proxy`" in f.message]
    assert "[experimental_network]" in refusal.message
    assert refusal.source.line == 4  # the second name's table
