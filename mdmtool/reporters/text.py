"""Human text: one ``path:line:col: severity: message [RULE]`` line per finding."""

from __future__ import annotations

from mdmtool.model import Finding
from mdmtool.reporters.base import Report

#: this format can be written finding by finding (fleet runs stream it)
STREAMING = True


def format_finding(f: Finding) -> str:
    out = f.line_text()
    if f.remediation:
        out += f"\n    fix: {f.remediation}"
    return out


def footer(counts: dict[str, int], nfiles: int, extra_lines: list[str] | None = None) -> str:
    files = f"{nfiles} file{'s' if nfiles != 1 else ''}"
    if not any(counts.values()):
        lines = [f"no findings in {files}"]
    else:
        lines = [f"{counts['error']} error(s), {counts['warning']} warning(s), {counts['info']} info "
                 f"in {files}"]
    lines += list(extra_lines or [])
    return "\n".join(lines) + "\n"


def open_stream(fh, tool_command: str):
    from mdmtool.reporters.streaming import LineStream
    return LineStream(fh, tool_command, format_finding, footer)


def render(report: Report) -> str:
    body = "".join(format_finding(f) + "\n" for f in report.findings)
    return body + footer(report.counts(), len(report.files), report.extra.get("summary_lines"))
