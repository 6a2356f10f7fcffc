"""Versioned JSON: a stable document for scripts and dashboards.

Schema version 1::

    {"version": 1, "tool": {"name", "version", "codex_version"}, "command": str,
     "files": [str], "summary": {"error", "warning", "info", "files"},
     "findings": [{"rule", "severity", "message", "file", "line", "col",
                   "key", "remediation", "fix"}], ...extra}
"""

from __future__ import annotations

import json

from mdmtool import CODEX_VERSION, __version__
from mdmtool.model import Finding
from mdmtool.reporters.base import Report

JSON_VERSION = 1


def finding_to_json(f: Finding) -> dict:
    return {"rule": f.rule, "severity": f.severity, "message": f.message,
            "file": f.source.file, "line": f.source.line, "col": f.source.col,
            "key": f.key, "remediation": f.remediation, "fix": f.fix}


def _head(tool_command: str) -> dict:
    return {"version": JSON_VERSION,
            "tool": {"name": "mdmtool", "version": __version__, "codex_version": CODEX_VERSION},
            "command": tool_command}


def render(report: Report) -> str:
    doc = {
        **_head(report.tool_command),
        "files": report.files,
        "summary": {**report.counts(), "files": len(report.files)},
        "findings": [finding_to_json(f) for f in report.findings],
    }
    for k, v in report.extra.items():
        if k not in doc and k != "summary_lines":
            doc[k] = v
    return json.dumps(doc, indent=2, default=str) + "\n"


def open_stream(fh, tool_command: str):
    """Write this format unit by unit (see :mod:`mdmtool.reporters.streaming`)."""
    from mdmtool.reporters.streaming import JsonStream
    return JsonStream(fh, tool_command)
