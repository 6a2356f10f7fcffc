import json
import pathlib
import xml.etree.ElementTree as ET

import jsonschema
import pytest

from mdmtool.reporters import render
from mdmtool.reporters.github import escape_data, escape_property

SCHEMA = json.loads((pathlib.Path(__file__).parents[1] / "data" / "sarif-schema-2.1.0.json").read_text())


def _validate_sarif(text: str) -> dict:
    doc = json.loads(text)
    jsonschema.Draft4Validator.check_schema(SCHEMA)
    errors = sorted(jsonschema.Draft4Validator(SCHEMA).iter_errors(doc), key=str)
    assert not errors, [e.message for e in errors]
    return doc


def test_sarif_validates_against_official_schema(findings, files):
    doc = _validate_sarif(render("sarif", findings, files, "mdmtool lint --format sarif ."))
    run = doc["runs"][0]
    assert doc["version"] == "2.1.0"
    assert [a["location"]["uri"] for a in run["artifacts"]][-2] == "dir%20with%20space/requirements.toml"
    results = {r["ruleId"]: r for r in run["results"]}
    assert results["MDM201"]["level"] == "error"
    assert results["MDM501"]["level"] == "note"
    region = results["MDM201"]["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 3, "startColumn": 1}
    assert "region" not in results["MDM900"]["locations"][0]["physicalLocation"]
    assert results["MDM201"]["properties"]["fix"]["op"] == "set"
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert sorted(rule_ids) == ["MDM201", "MDM301", "MDM501", "MDM900"]
    for r in run["results"]:
        assert rule_ids[r["ruleIndex"]] == r["ruleId"]


def test_sarif_clean_run_validates(files):
    doc = _validate_sarif(render("sarif", [], files, "mdmtool lint"))
    assert doc["runs"][0]["results"] == []


def test_schema_catches_broken_sarif(findings, files):
    """The validation above can fail: a level SARIF does not know is rejected."""
    doc = json.loads(render("sarif", findings, files, "x"))
    doc["runs"][0]["results"][0]["level"] = "info"
    assert list(jsonschema.Draft4Validator(SCHEMA).iter_errors(doc))


def test_junit_one_testcase_per_file(findings, files):
    root = ET.fromstring(render("junit", findings, files, "mdmtool lint"))
    cases = root.findall("./testsuite/testcase")
    assert [c.get("name") for c in cases] == files
    by_name = {c.get("name"): c for c in cases}
    assert by_name["hosts/a/config.toml"].find("failure") is not None
    assert "MDM201" in by_name["hosts/a/config.toml"].find("failure").get("type")
    assert by_name["clean/config.toml"].find("failure") is None
    assert by_name["clean/config.toml"].find("system-out") is None
    # warnings only: passes, but the finding is shown
    assert by_name["hosts/b/config.toml"].find("failure") is None
    assert "MDM900" in by_name["hosts/b/config.toml"].find("system-out").text
    assert root.get("tests") == "4" and root.get("failures") == "1"


def test_junit_survives_control_characters(files):
    from mdmtool.model import Finding, Source
    bad = [Finding("MDM1", "error", "nul \x00 and bell \x07 <&>", Source("x.toml", 1, 1))]
    root = ET.fromstring(render("junit", bad, ["x.toml"], "t"))
    assert "<&>" in root.find("./testsuite/testcase/failure").get("message")


def test_github_annotations(findings, files):
    out = render("github", findings, files, "mdmtool lint").splitlines()
    assert out[0].startswith("::notice file=dir with space/requirements.toml,line=7,col=5,title=MDM501::")
    assert "100%25 , : %0A second line" in out[0]
    assert out[2] == ("::error file=hosts/a/config.toml,line=3,col=1,title=MDM201::sandbox_mode = "
                      "\"danger-full-access\" disables the sandbox%0AFix: use workspace-write")
    assert out[3] == "::warning file=hosts/b/config.toml,title=MDM900::no position"
    assert all("\n" not in line for line in out)


@pytest.mark.parametrize("raw,data,prop", [
    ("a%b", "a%25b", "a%25b"),
    ("x\r\ny", "x%0D%0Ay", "x%0D%0Ay"),
    ("p:q,r", "p:q,r", "p%3Aq%2Cr"),
])
def test_github_escaping(raw, data, prop):
    assert escape_data(raw) == data
    assert escape_property(raw) == prop
