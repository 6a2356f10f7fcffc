"""The reporter registry and the :class:`Report` every reporter receives."""

from __future__ import annotations

import importlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterable

from mdmtool.errors import UsageError
from mdmtool.model import ERROR, INFO, WARNING, Finding

#: format name -> module that defines ``render(report: Report) -> str``
_BUILTIN: dict[str, str] = {
    "text": "mdmtool.reporters.text",
    "json": "mdmtool.reporters.json",
    "sarif": "mdmtool.reporters.sarif",
    "junit": "mdmtool.reporters.junit",
    "github": "mdmtool.reporters.github",
}

Reporter = Callable[["Report"], str]
_CUSTOM: dict[str, Reporter] = {}

_SEV_ORDER = {ERROR: 0, WARNING: 1, INFO: 2}


@dataclass
class Report:
    """Everything a reporter may show: findings sorted by file, line, col, rule."""

    findings: list[Finding]
    files: list[str]
    tool_command: str
    #: extra, format-specific data (e.g. the fleet summary); reporters may ignore it
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        from mdmtool.redact import redact_text, safe_finding, scrub
        # every format shows what the Report holds: hide secrets once, here
        self.findings = sorted((safe_finding(f) for f in self.findings), key=sort_key)
        self.tool_command = redact_text(self.tool_command)
        self.files = [redact_text(f) for f in self.files]
        self.extra = scrub(self.extra)
        seen: dict[str, None] = {}
        for f in self.files:
            seen.setdefault(f, None)
        for fd in self.findings:  # a finding's file is always a checked file
            if fd.source.file:
                seen.setdefault(fd.source.file, None)
        self.files = list(seen)

    def counts(self) -> dict[str, int]:
        c = Counter(f.severity for f in self.findings)
        return {ERROR: c.get(ERROR, 0), WARNING: c.get(WARNING, 0), INFO: c.get(INFO, 0)}

    def by_file(self) -> dict[str, list[Finding]]:
        """Findings grouped per checked file (every file present, clean ones empty)."""
        out: dict[str, list[Finding]] = {f: [] for f in self.files}
        for fd in self.findings:
            out.setdefault(fd.source.file or "", []).append(fd)
        return out


def sort_key(f: Finding):
    s = f.source
    return (s.file or "", s.line or 0, s.col or 0, _SEV_ORDER.get(f.severity, 3), f.rule, f.message)


def rule_info(rule_id: str) -> dict | None:
    """Catalog metadata of a rule (title, severity, remediation, help_uri), if known."""
    try:
        from mdmtool.lint.catalog import describe
    except ImportError:
        return None
    return describe(rule_id)


def formats() -> list[str]:
    """Every format name ``--format`` accepts."""
    return sorted(set(_BUILTIN) | set(_CUSTOM))


def register(name: str, reporter: Reporter) -> None:
    """Add (or replace) a format at run time, e.g. from a plugin or a test."""
    _CUSTOM[name] = reporter


def get_reporter(fmt: str) -> Reporter:
    if fmt in _CUSTOM:
        return _CUSTOM[fmt]
    module = _BUILTIN.get(fmt)
    if module is None:
        raise UsageError(f"unknown output format {fmt!r} (choose from {', '.join(formats())})")
    return importlib.import_module(module).render


def render(fmt: str, findings: Iterable[Finding], files: list[str], tool_command: str,
           extra: dict | None = None) -> str:
    """Format ``findings`` over the checked ``files`` as ``fmt`` (text, json, sarif, junit, github)."""
    reporter = get_reporter(fmt)
    return reporter(Report(list(findings), list(files), tool_command, dict(extra or {})))
