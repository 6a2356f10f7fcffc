"""``mdmtool crosscheck``: does the installed Codex agree with mdmtool on this machine?"""

from __future__ import annotations

import json
import sys

from mdmtool.errors import EXIT_FINDINGS, EXIT_OK, UsageError
from mdmtool.model import ResolveInputs

FORMATS = ("text", "json")


def _show(v) -> str:
    if isinstance(v, bool):
        return "on" if v else "off"
    if v is None:
        return "-"
    if isinstance(v, (list, dict)):
        return json.dumps(v)
    return str(v)


def version_note(version: str, modeled: str) -> str | None:
    if version == modeled:
        return None
    return (f"Codex {version} is installed, mdmtool models Codex {modeled}: a difference below may be "
            "a change in Codex (version drift), not a mistake in your files. Re-record the fixtures "
            "with the oracle for this version before trusting either side.")


def render_text(report) -> str:
    from mdmtool.crosscheck import MODELED
    lines = [f"Codex: {report.codex_path} (version {report.codex_version}"
             + (", the version mdmtool models)" if report.version_matches else ")")]
    note = version_note(report.codex_version, MODELED)
    if note:
        lines.append(f"note: {note}")
    lines.append(f"Ran Codex offline in bubblewrap on a throw-away copy of {len(report.copied)} file(s) "
                 f"(view: {report.source}); your files were not touched.")
    if report.mcp_not_started:
        lines.append("MCP servers not started (crosscheck never runs them; disabled on both sides): "
                     + ", ".join(report.mcp_not_started))
    lines.append("")
    rows = []
    for f in report.fields:
        if f.field == "warnings":
            rows.append((f.field, f"{len(f.mdmtool)} warning(s)", f"{len(f.codex)} warning(s)", f.agree))
        elif f.field == "error":
            rows.append((f.field, f"{len(f.mdmtool)} error(s)", f"{len(f.codex)} error(s)", f.agree))
        else:
            rows.append((f.field, _show(f.mdmtool), _show(f.codex), f.agree))
    w = [max(len(r[i]) for r in rows + [("FIELD", "MDMTOOL", "CODEX", True)]) for i in range(3)]
    lines.append(f"{'FIELD':<{w[0]}}  {'MDMTOOL':<{w[1]}}  {'CODEX':<{w[2]}}  RESULT")
    for name, ours, theirs, agree in rows:
        lines.append(f"{name:<{w[0]}}  {ours:<{w[1]}}  {theirs:<{w[2]}}  {'agree' if agree else 'DIFFERENT'}")
    for f in report.fields:
        if f.field == "error" or (f.field == "warnings" and not f.agree):
            lines.append("")
            lines.append(f"{f.field}: {'the same' if f.agree else 'DIFFERENT'}")
            for label, vals in (("mdmtool", f.mdmtool), ("codex", f.codex)):
                lines.append(f"  {label}:")
                for v in vals or ["(none)"]:
                    lines.append("    - " + str(v).replace("\n", "\n      "))
    plain = [x for x in report.explanations if x.get("explanation")]
    if plain:
        lines.append("")
        lines.append("What it means (mdmtool):")
        for x in plain:
            where = f" [{x['file']}" + (f":{x['line']}" if x.get("line") else "") + "]" if x.get("file") else ""
            lines.append(f"  - {x['explanation']}{where}")
    lines.append("")
    if report.agree:
        lines.append(f"Result: Codex and mdmtool agree on {len(report.fields)} field(s).")
    else:
        lines.append(f"Result: {len(report.differences)} difference(s) between Codex and mdmtool.")
    return "\n".join(lines) + "\n"


def run_crosscheck(inputs: ResolveInputs, *, fmt: str = "text", codex_bin: str | None = None,
                   timeout: float = 30.0, observe_web_search: bool = True, keep: str | None = None) -> int:
    if fmt not in FORMATS:
        raise UsageError(f"unknown --format {fmt!r} (choose from {', '.join(FORMATS)})")
    from mdmtool.crosscheck import MODELED, crosscheck
    report = crosscheck(inputs, codex_bin=codex_bin, timeout=timeout,
                        observe_web_search=observe_web_search, keep=keep)
    from mdmtool.redact import hide_known, scrub
    secrets = _secrets_of(inputs)  # Codex's own messages may quote them
    if fmt == "json":
        doc = report.to_json()
        doc["codex"]["note"] = version_note(report.codex_version, MODELED)
        sys.stdout.write(json.dumps(hide_known(scrub(doc), secrets), indent=2) + "\n")
    else:
        sys.stdout.write(hide_known(render_text(report), secrets))
    return EXIT_OK if report.agree else EXIT_FINDINGS


def _secrets_of(inputs: ResolveInputs) -> list:
    """The secret values of every config and requirements file of this machine."""
    from mdmtool.layers import discover
    from mdmtool.redact import known_secrets
    from mdmtool.requirements import load_sources
    try:
        disc = discover(inputs)
        sources, _errors = load_sources(disc)
    except Exception:  # noqa: BLE001 - the report itself already ran; hide what we can
        return []
    return known_secrets(*[layer.data for layer in disc.layers], *[s.data for s in sources])
