"""Formats for ``mdmtool diff`` and ``mdmtool history``: text, json, github.

They only format a :class:`mdmtool.diff.DiffResult`; the command decides the exit code.
``github`` emits workflow-command annotations on the new side's lines (``error`` for the
classes named by ``--fail-on``, ``warning`` for other widenings, ``notice`` otherwise).
"""

from __future__ import annotations

import json

from mdmtool.errors import UsageError
from mdmtool.posture import MISSING, NEUTRAL, WIDENING, show

FORMATS = ("text", "json", "github")
_MAX_VALUE = 160


def _value(v) -> str:
    text = show(v)
    return text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 3] + "..."


def _where(change) -> str:
    o, n = change.old_source, change.new_source
    if o and n:
        return f"{o} -> {n}"
    if n:
        return f"{n}"
    if o:
        return f"{o} (removed)"
    return ""


def change_lines(change, indent: str = "") -> list[str]:
    where = _where(change)
    old, new, effects = change.shown()  # secrets hidden
    head = (f"{indent}{change.classification.upper():<9}  {change.key}: {_value(old)} -> "
            f"{_value(new)}")
    lines = [head + (f"  [{where}]" if where else "")]
    for e in effects:
        tag = "" if len(effects) == 1 else f"{e.classification}: "
        lines.append(f"{indent}           {tag}{e.reason}")
    return lines


def render_text(result, *, show_neutral: bool = True) -> str:
    lines = [f"--- {result.a.label}{'' if result.a.present else ' (absent)'} ({result.a.kind})",
             f"+++ {result.b.label}{'' if result.b.present else ' (absent)'} ({result.b.kind})"]
    for ch in result.changes:
        if show_neutral or ch.classification != NEUTRAL:
            lines.extend(change_lines(ch))
    lines.append(f"summary: {result.summary_line()}")
    return "\n".join(lines) + "\n"


def render_json(result) -> str:
    from mdmtool.redact import scrub
    return json.dumps(scrub({"schema_version": 1, **result.to_json()}), indent=2, sort_keys=False) + "\n"


def _esc(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _esc_prop(text: str) -> str:
    return _esc(text).replace(":", "%3A").replace(",", "%2C")


def render_github(result, *, fail_on: tuple = ()) -> str:
    lines = []
    for ch in result.changes:
        cls = ch.classification
        level = "error" if cls in fail_on else ("warning" if cls == WIDENING else "notice")
        src = ch.new_source or ch.old_source
        props = []
        if src and src.file:
            props.append(f"file={_esc_prop(src.file)}")
            if src.line:
                props.append(f"line={src.line}")
        props.append(f"title={_esc_prop(f'posture {cls}: {ch.key}')}")
        shown_old, shown_new, effects = ch.shown()  # secrets hidden
        old = "(unset)" if shown_old is MISSING else _value(shown_old)
        msg = f"{ch.key}: {old} -> {_value(shown_new)}\n" + "\n".join(e.reason for e in effects)
        lines.append(f"::{level} {','.join(props)}::{_esc(msg)}")
    lines.append(f"mdmtool diff: {result.summary_line()}")
    return "\n".join(lines) + "\n"


def render(fmt: str, result, *, fail_on: tuple = ()) -> str:
    """``result`` as ``fmt``; values are hidden per change, labels and reasons scrubbed here."""
    from mdmtool.redact import redact_text
    if fmt == "text":
        return redact_text(render_text(result))
    if fmt == "json":
        return render_json(result)
    if fmt == "github":
        return redact_text(render_github(result, fail_on=fail_on))
    raise UsageError(f"unknown output format {fmt!r} (choose from {', '.join(FORMATS)})")
