"""GitHub Actions workflow-command annotations (``::error file=…,line=…::message``).

Escaping follows GitHub's runner: in the message ``%``, CR and LF are %-encoded; in
property values ``:`` and ``,`` are too. ``info`` findings become ``notice``.
"""

from __future__ import annotations

from mdmtool.model import Finding
from mdmtool.reporters.base import Report

_LEVEL = {"error": "error", "warning": "warning", "info": "notice"}
STREAMING = True


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(f: Finding) -> str:
    props = []
    if f.source.file:
        props.append(f"file={escape_property(f.source.file)}")
        if f.source.line:
            props.append(f"line={f.source.line}")
            if f.source.col:
                props.append(f"col={f.source.col}")
    props.append(f"title={escape_property(f.rule)}")
    message = f.message
    if f.remediation:
        message += f"\nFix: {f.remediation}"
    return f"::{_LEVEL.get(f.severity, 'warning')} {','.join(props)}::{escape_data(message)}"


format_finding = annotation


def footer(counts: dict[str, int], nfiles: int, extra_lines: list[str] | None = None) -> str:
    lines = [f"mdmtool: {counts['error']} error(s), {counts['warning']} warning(s), "
             f"{counts['info']} info in {nfiles} file(s)"] + list(extra_lines or [])
    return "\n".join(lines) + "\n"


def open_stream(fh, tool_command: str):
    from mdmtool.reporters.streaming import LineStream
    return LineStream(fh, tool_command, annotation, footer)


def render(report: Report) -> str:
    body = "".join(annotation(f) + "\n" for f in report.findings)
    return body + footer(report.counts(), len(report.files), report.extra.get("summary_lines"))
