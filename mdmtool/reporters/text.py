"""Human text: one ``path:line:col: severity: message [RULE]`` line per finding."""

from __future__ import annotations

from mdmtool.reporters.base import Report


def render(report: Report) -> str:
    lines: list[str] = []
    for f in report.findings:
        lines.append(f.line_text())
        if f.remediation:
            lines.append(f"    fix: {f.remediation}")
    c = report.counts()
    n = len(report.files)
    summary = (f"{c['error']} error(s), {c['warning']} warning(s), {c['info']} info "
               f"in {n} file{'s' if n != 1 else ''}")
    if not report.findings:
        summary = f"no findings in {n} file{'s' if n != 1 else ''}"
    lines.append(summary)
    for line in report.extra.get("summary_lines", []):
        lines.append(line)
    return "\n".join(lines) + "\n"
