"""SARIF 2.1.0 for code-scanning dashboards (GitHub, Azure DevOps, VS Code viewers).

The output validates against the official OASIS schema (tests/data). Levels map
error -> error, warning -> warning, info -> note; rule metadata (description,
remediation, docs anchor) comes from the lint rule catalog when the rule is known.
"""

from __future__ import annotations

import json
import os
from urllib.parse import quote

from mdmtool import CODEX_VERSION, __version__
from mdmtool.model import Finding
from mdmtool.reporters.base import Report, rule_info

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
INFO_URI = "https://github.com/mdmtool/mdmtool"
_LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def artifact_uri(path: str) -> str:
    """A file path as a SARIF URI: absolute paths as file://, relative ones %-encoded."""
    if os.path.isabs(path):
        return "file://" + quote(path.replace(os.sep, "/"))
    return quote(path.replace(os.sep, "/"))


def _rule(rule_id: str, example: Finding) -> dict:
    info = rule_info(rule_id) or {}
    level = _LEVEL.get(info.get("severity") or example.severity, "warning")
    short = info.get("title") or example.message.split("\n")[0]
    out: dict = {
        "id": rule_id,
        "shortDescription": {"text": short},
        "defaultConfiguration": {"level": level},
    }
    if info.get("name"):
        out["name"] = info["name"]
    if info.get("description"):
        out["fullDescription"] = {"text": info["description"]}
    help_text = info.get("remediation") or example.remediation
    if help_text:
        out["help"] = {"text": help_text}
    if info.get("help_uri"):
        out["helpUri"] = info["help_uri"]
    return out


def _result(f: Finding, rule_index: int, artifact_index: dict[str, int]) -> dict:
    out: dict = {
        "ruleId": f.rule,
        "ruleIndex": rule_index,
        "level": _LEVEL.get(f.severity, "warning"),
        "message": {"text": f.message},
    }
    if f.source.file:
        loc: dict = {"artifactLocation": {"uri": artifact_uri(f.source.file),
                                          "index": artifact_index[f.source.file]}}
        if f.source.line:
            region: dict = {"startLine": f.source.line}
            if f.source.col:
                region["startColumn"] = f.source.col
            loc["region"] = region
        out["locations"] = [{"physicalLocation": loc}]
    props: dict = {}
    if f.remediation:
        props["remediation"] = f.remediation
    if f.key:
        props["key"] = f.key
    if f.fix:
        props["fix"] = f.fix
    if props:
        out["properties"] = props
    return out


def render(report: Report) -> str:
    artifact_index = {path: i for i, path in enumerate(report.files)}
    rules: list[dict] = []
    rule_index: dict[str, int] = {}
    for f in report.findings:
        if f.rule not in rule_index:
            rule_index[f.rule] = len(rules)
            rules.append(_rule(f.rule, f))
    run = {
        "tool": {"driver": {
            "name": "mdmtool",
            "version": __version__,
            "semanticVersion": __version__,
            "informationUri": INFO_URI,
            "rules": rules,
            "properties": {"codexVersion": CODEX_VERSION},
        }},
        "invocations": [{"commandLine": report.tool_command, "executionSuccessful": True}],
        "artifacts": [{"location": {"uri": artifact_uri(p)}} for p in report.files],
        "results": [_result(f, rule_index[f.rule], artifact_index) for f in report.findings],
        "columnKind": "unicodeCodePoints",
    }
    doc = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(doc, indent=2, default=str) + "\n"


def open_stream(fh, tool_command: str):
    """Write this format unit by unit (see :mod:`mdmtool.reporters.streaming`)."""
    from mdmtool.reporters.streaming import SarifStream
    return SarifStream(fh, tool_command)
