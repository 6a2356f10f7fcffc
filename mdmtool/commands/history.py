"""``mdmtool history PATH``: the posture change every commit made to a config file."""

from __future__ import annotations

import json
import sys

from mdmtool.errors import EXIT_OK, UsageError

FORMATS = ("text", "json")


def run_history(path: str, *, kind: str | None = None, fmt: str = "text",
                max_count: int | None = None, rev: str = "HEAD", changes_only: bool = False) -> int:
    if fmt not in FORMATS:
        raise UsageError(f"unknown --format {fmt!r} (choose from {', '.join(FORMATS)})")
    if max_count is not None and max_count < 1:
        raise UsageError("--max-count must be at least 1")
    from mdmtool.history import posture_history
    rel, entries = posture_history(path, kind=kind, max_count=max_count, rev=rev)
    if fmt == "json":
        sys.stdout.write(json.dumps({"schema_version": 1, "path": rel,
                                     "commits": [e.to_json() for e in entries]}, indent=2) + "\n")
        return EXIT_OK
    from mdmtool.posture import NEUTRAL
    from mdmtool.reporters.diff_formats import change_lines
    out = [f"history of {rel}: {len(entries)} commit{'s' if len(entries) != 1 else ''}, newest first"]
    for e in entries:
        c = e.commit
        verdict = f"error: {e.error}" if e.error else f"posture {e.result.posture}"
        out.append("")
        out.append(f"{c.short}  {c.date[:10]}  {c.author}  {c.subject}")
        out.append(f"    {verdict}" + ("" if e.error else f" ({e.result.summary_line()})"))
        for ch in (e.result.changes if e.result else []):
            if changes_only and ch.classification == NEUTRAL:
                continue
            out.extend(change_lines(ch, indent="    "))
    sys.stdout.write("\n".join(out) + "\n")
    return EXIT_OK
