"""``mdmtool validate``: schema and Codex-refusal checks of config and requirements files."""

from __future__ import annotations

import sys

from mdmtool.errors import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, MdmError, UsageError
from mdmtool.model import ERROR, WARNING, Finding, Source
from mdmtool.schemas import KINDS, RULE_SYNTAX, detect_kind, validate_text
from mdmtool.tomlio import TomlSyntaxError, read_text

RULE_INPUT = "MDM000"


def validate_files(files: list[str], kind: str | None = None) -> tuple[list[Finding], bool]:
    """Findings for every file, and whether any file could not be read or parsed."""
    if kind is not None and kind not in KINDS:
        raise UsageError(f"unknown --kind {kind!r} (choose from {', '.join(KINDS)})")
    findings: list[Finding] = []
    input_error = False
    for path in files:
        try:
            text = read_text(path)
        except TomlSyntaxError as exc:  # not UTF-8
            findings.append(Finding(RULE_SYNTAX, ERROR, exc.message, Source(path, exc.line, exc.col)))
            input_error = True
            continue
        except MdmError as exc:
            findings.append(Finding(RULE_INPUT, ERROR, exc.message, Source(path)))
            input_error = True
            continue
        try:
            found = validate_text(text, kind or detect_kind(path), path)
        except MdmError as exc:  # past mdmtool's limits (nesting): this file only
            findings.append(Finding(RULE_INPUT, ERROR, exc.message, Source(path, exc.line, exc.col)))
            input_error = True
            continue
        input_error = input_error or any(f.rule == RULE_SYNTAX for f in found)
        findings.extend(found)
    return findings, input_error


def run_validate(files: list[str], *, kind: str | None, fmt: str, strict: bool) -> int:
    from mdmtool.reporters import render

    findings, input_error = validate_files(files, kind)
    sys.stdout.write(render(fmt, findings, files=list(files), tool_command="mdmtool validate"))
    if input_error:
        return EXIT_USAGE
    failing = {ERROR, WARNING} if strict else {ERROR}
    return EXIT_FINDINGS if any(f.severity in failing for f in findings) else EXIT_OK
