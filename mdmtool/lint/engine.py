"""Run the rules over a unit, apply waivers, return findings.

File rules are pure functions of (role, content): their findings are memoised by
content hash and re-pointed at each path, so a fleet whose hosts share files lints each
distinct file once. Positions (line:col) are computed only for files with findings.
"""

from __future__ import annotations

import datetime as _dt

from mdmtool.lint.context import PROJECT, Unit, hit
from mdmtool.lint.memo import Memo
from mdmtool.lint.waivers import apply_waivers, parse_waivers, rebase
from mdmtool.model import Finding

_FILE_MEMO: Memo = Memo(2048)
_WAIVER_MEMO: Memo = Memo(2048)


def _file_findings(f) -> list[Finding]:
    from mdmtool.lint.rules import FILE_RULES
    key = (f.role, f.sha, f.error is not None)
    cached = _FILE_MEMO.hit(key)
    if cached is not None:
        return rebase(cached, f.path)
    out: list[Finding] = []
    if not f.ok:
        err = f.error
        sev = "warning" if f.role == PROJECT else None
        extra = (" (Codex ignores a broken file in an untrusted project; in a trusted one it "
                 "refuses to start)") if f.role == PROJECT else ""
        from mdmtool.model import Source
        out.append(hit("MDM100", f, None, f"{getattr(err, 'message', err)}{extra}", severity=sev,
                       source=Source(f.path, getattr(err, "line", None) or 1,
                                     getattr(err, "col", None) or 1)))
    else:
        for roles, rule in FILE_RULES:
            if f.role in roles:
                out.extend(rule(f))
    _FILE_MEMO.put(key, out)
    return list(out)


def _waivers(f) -> list:
    w = _WAIVER_MEMO.hit(f.sha)
    if w is None:
        w = parse_waivers(f.text)
        _WAIVER_MEMO.put(f.sha, w)
    # waivers carry a 'used' flag: hand out fresh copies
    from mdmtool.record import replace
    return [replace(x, used=False) for x in w]


def lint_unit(unit: Unit, *, today: _dt.date | None = None) -> list[Finding]:
    """Every finding for one unit, waivers applied, sorted by file and position."""
    from mdmtool.lint.rules import UNIT_RULES, load_all
    load_all()
    today = today or _dt.date.today()
    by_file: dict[str, list[Finding]] = {}
    files = unit.all_files()
    seen: set[str] = set()
    for f in files:
        fs = _file_findings(f)
        seen.update(x.rule for x in fs if x.severity == "error")
        by_file.setdefault(f.path, []).extend(fs)
    unit.cache["fatal_rules_seen"] = seen
    for rule in UNIT_RULES:
        for x in rule(unit):
            if x.severity == "error":  # a fatal rule that reports an error explains a refusal
                seen.add(x.rule)
            by_file.setdefault(x.source.file or "", []).append(x)
    out: list[Finding] = []
    texts = {f.path: f for f in files}
    for path, fs in by_file.items():
        f = texts.get(path)
        if f is not None and f.text:
            fs = apply_waivers(_dedupe(fs), _waivers(f), path, today)
        out.extend(_dedupe(fs))
    return out


def _dedupe(fs: list[Finding]) -> list[Finding]:
    seen: set = set()
    out = []
    for x in fs:
        k = (x.rule, x.source.file, x.source.line, x.source.col, x.message)
        if k not in seen:
            seen.add(k)
            out.append(x)
    return out


def sort_findings(fs: list[Finding]) -> list[Finding]:
    from mdmtool.reporters.base import sort_key
    return sorted(fs, key=sort_key)
