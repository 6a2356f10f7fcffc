import json

import pytest

from mdmtool.errors import UsageError
from mdmtool.reporters import formats, register, render


def test_text_lists_every_finding_with_position_and_summary(findings, files):
    out = render("text", findings, files, "mdmtool lint")
    lines = out.splitlines()
    assert lines[0] == "dir with space/requirements.toml:7:5: info: " + findings[2].message.split("\n")[0]
    assert "hosts/a/config.toml:1:1: warning: unknown key `sandbox_mod`" in out
    assert "hosts/a/config.toml:3:1: error:" in out and "    fix: use workspace-write" in out
    assert lines[-1] == "1 error(s), 2 warning(s), 1 info in 4 files"


def test_text_clean(files):
    assert render("text", [], files, "mdmtool lint") == "no findings in 4 files\n"


def test_json_is_versioned_and_complete(findings, files):
    doc = json.loads(render("json", findings, files, "mdmtool lint x"))
    assert doc["version"] == 1
    assert doc["command"] == "mdmtool lint x"
    assert doc["files"] == files
    assert doc["summary"] == {"error": 1, "warning": 2, "info": 1, "files": 4}
    by_rule = {f["rule"]: f for f in doc["findings"]}
    assert by_rule["MDM201"]["fix"] == {"op": "set", "path": ["sandbox_mode"], "value": "workspace-write"}
    assert by_rule["MDM201"]["line"] == 3 and by_rule["MDM201"]["col"] == 1
    assert by_rule["MDM900"]["line"] is None


def test_unknown_format_is_usage_error(findings, files):
    with pytest.raises(UsageError, match="unknown output format"):
        render("xml", findings, files, "mdmtool lint")


def test_registry_accepts_custom_formats(findings, files):
    register("count", lambda report: f"{len(report.findings)}\n")
    assert "count" in formats()
    assert render("count", findings, files, "x") == "4\n"
