"""Inline waivers: ``# mdmtool: ignore[MDM301] reason, until 2027-01-31``.

A waiver sits at the end of the line it waives, or alone on the line above it;
``# mdmtool: ignore-file[MDM301] reason`` waives the rule for the whole file. The
reason is required and the expiry optional. A waiver without a reason, an expired or
malformed one is not applied and becomes a finding itself (MDM901/902/904); a valid
waiver that matches nothing is reported as stale (MDM903).
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, field

from mdmtool.model import Finding, Source
from mdmtool.record import replace

_WAIVER = re.compile(r"#\s*mdmtool\s*:\s*(?P<kind>ignore-file|ignore)\b(?P<rest>.*)$")
_IDS = re.compile(r"^\s*\[(?P<ids>[^\]]*)\]\s*(?P<text>.*)$")
_UNTIL = re.compile(r"(?:^|[,;]?\s+|,\s*)until\s+(?P<date>\S+)\s*$")
_RULE_ID = re.compile(r"^MDM\d{3}$")


@dataclass
class Waiver:
    line: int                 # where the comment is
    col: int
    target: int | None        # line it waives; None = the whole file
    rules: frozenset[str]
    reason: str
    until: _dt.date | None
    problem: str | None = None  # malformed -> message
    used: bool = field(default=False, compare=False)


def _in_string(prefix: str) -> bool:
    """Crude check that a '#' is inside a TOML/shell string (odd number of quotes before it)."""
    return prefix.count('"') % 2 == 1 or prefix.count("'") % 2 == 1


def parse_waivers(text: str) -> list[Waiver]:
    if "mdmtool" not in text:  # fast path: almost every file
        return []
    out: list[Waiver] = []
    lines = text.split("\n")
    for idx, raw in enumerate(lines):
        m = _WAIVER.search(raw)
        if not m or _in_string(raw[: m.start()]):
            continue
        lineno = idx + 1
        col = m.start() + 1
        own_line = raw[: m.start()].strip() == ""
        if m.group("kind") == "ignore-file":
            target = None
        elif own_line:
            target = None if idx + 1 >= len(lines) else _next_code_line(lines, idx + 1)
            if target is None:
                target = -1  # waives nothing
        else:
            target = lineno
        w = Waiver(lineno, col, target, frozenset(), "", None)
        ids = _IDS.match(m.group("rest"))
        if not ids:
            w.problem = "expected ignore[MDMnnn] after 'mdmtool:'"
            out.append(w)
            continue
        rules = [r.strip().upper() for r in ids.group("ids").split(",") if r.strip()]
        bad = [r for r in rules if not _RULE_ID.match(r)]
        text_part = ids.group("text").strip()
        until = None
        um = _UNTIL.search(text_part)
        if um:
            text_part = text_part[: um.start()].strip().rstrip(",;").strip()
            try:
                until = _dt.date.fromisoformat(um.group("date").rstrip(".,;"))
            except ValueError:
                w.problem = f"cannot read the expiry date {um.group('date')!r} (use YYYY-MM-DD)"
        if not rules:
            w.problem = "no rule ID between the brackets"
        elif bad:
            w.problem = f"not a rule ID: {', '.join(bad)}"
        w.rules = frozenset(rules)
        w.reason = text_part
        w.until = until
        out.append(w)
    return out


def _next_code_line(lines: list[str], start: int) -> int | None:
    for j in range(start, len(lines)):
        s = lines[j].strip()
        if s and not s.startswith("#"):
            return j + 1
    return None


def apply_waivers(findings: list[Finding], waivers: list[Waiver], file: str,
                  today: _dt.date) -> list[Finding]:
    """Drop waived findings of one file; add findings about the waivers themselves."""
    if not waivers:
        return findings
    meta: list[Finding] = []
    active: list[Waiver] = []
    for w in waivers:
        where = Source(file, w.line, w.col)
        if w.problem:
            meta.append(Finding("MDM904", "warning", f"malformed waiver: {w.problem}", where,
                                remediation="Write: # mdmtool: ignore[MDMnnn] <reason>[, until YYYY-MM-DD]"))
        elif not w.reason:
            meta.append(Finding("MDM902", "warning",
                                f"waiver for {', '.join(sorted(w.rules))} gives no reason, so it is not applied",
                                where, remediation="Add a reason after the brackets."))
        elif w.until is not None and w.until < today:
            meta.append(Finding("MDM901", "warning",
                                f"waiver for {', '.join(sorted(w.rules))} expired on {w.until.isoformat()} "
                                f"(reason: {w.reason})", where,
                                remediation="Fix the finding or renew the waiver with a later date."))
        else:
            active.append(w)
    kept: list[Finding] = []
    for f in findings:
        waived = False
        for w in active:
            if f.rule in w.rules and (w.target is None or w.target == f.source.line):
                w.used = True
                waived = True
        if not waived:
            kept.append(f)
    for w in active:
        if not w.used:
            meta.append(Finding("MDM903", "info",
                                f"waiver for {', '.join(sorted(w.rules))} matches no finding",
                                Source(file, w.line, w.col), remediation="Delete the stale waiver."))
    return kept + meta


def rebase(findings: list[Finding], file: str) -> list[Finding]:
    """Findings computed for a content hash, re-pointed at one concrete path."""
    return [replace(f, source=replace(f.source, file=file)) for f in findings]
