"""``mdmtool doctor``: can this host run Codex's sandbox? Each problem with its fix."""

from __future__ import annotations

import sys

from mdmtool.errors import EXIT_FINDINGS, EXIT_OK, UsageError

FORMATS = ("text", "json")


def run_doctor(*, fmt: str = "text", smoke: bool = True) -> int:
    if fmt not in FORMATS:
        raise UsageError(f"unknown --format {fmt!r} (choose from {', '.join(FORMATS)})")
    from mdmtool.prove import doctor
    facts = doctor.gather(run_smoke=smoke)
    checks = doctor.evaluate(facts)
    sys.stdout.write(doctor.render(checks, fmt, facts))
    return EXIT_FINDINGS if any(c.status == doctor.FAIL for c in checks) else EXIT_OK
