"""``mdmtool merge BASE OVERLAY``: Codex's merge, keeping BASE's comments and layout."""

from __future__ import annotations

import difflib
import sys

from mdmtool.errors import EXIT_OK, UsageError


def unified(before: str, after: str, name: str) -> str:
    """A unified diff of two TOML texts, as shown to a reviewer: secret values hidden."""
    from mdmtool.redact import redact_toml_text
    return "".join(difflib.unified_diff(redact_toml_text(before).splitlines(keepends=True),
                                        redact_toml_text(after).splitlines(keepends=True),
                                        fromfile=f"{name} (current)", tofile=f"{name} (new)"))


def posture_summary(before: str, after: str, name: str, kind: str | None = None) -> str:
    """The posture diff of an edit, as text (shown by --dry-run)."""
    from mdmtool.diff import diff_sides, side_from_text
    from mdmtool.reporters.diff_formats import render_text
    result = diff_sides(side_from_text(before, name, kind), side_from_text(after, name, kind), kind)
    return render_text(result)


def run_merge(base: str, overlay: str, *, output: str | None = None, dry_run: bool = False,
              backup: bool = False, kind: str | None = None) -> int:
    from mdmtool.tomlio import read_text
    from mdmtool.tomlmerge import merge_text
    if backup and not output:
        raise UsageError("--backup needs -o/--output (without it the result goes to stdout)")
    base_text, overlay_text = read_text(base), read_text(overlay)
    merged = merge_text(base_text, overlay_text, base_name=base, overlay_name=overlay)
    if dry_run:
        target = output or base
        before = read_text(output) if output and output != base and _exists(output) else base_text
        sys.stdout.write(unified(before, merged, target) or f"{target}: no change\n")
        sys.stdout.write(posture_summary(before, merged, target, kind))
        return EXIT_OK
    if output is None:
        sys.stdout.write(merged)
        return EXIT_OK
    from mdmtool.atomic import atomic_write_text
    atomic_write_text(output, merged, backup=backup)
    print(f"wrote {output}", file=sys.stderr)
    return EXIT_OK


def _exists(path: str) -> bool:
    import os
    return os.path.exists(path)
