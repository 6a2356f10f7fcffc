"""``mdmtool init --posture P -o DIR``: start from a documented posture template."""

from __future__ import annotations

import os

from mdmtool.errors import EXIT_OK


def run_init(posture: str, output: str, *, force: bool = False) -> int:
    from mdmtool.postures import write_posture

    written = write_posture(posture, output, force=force)
    for path in written:
        print(f"wrote {path}")
    req = os.path.join(output, "requirements.toml")
    man = os.path.join(output, "managed_config.toml")
    print(f"\nnext: review the comments, then\n"
          f"  mdmtool lint {req} {man}\n"
          f"  mdmtool mdm build --requirements {req} --managed-config {man} -o codex.mobileconfig\n"
          f"or copy both files to /etc/codex/ (Linux, macOS without MDM).")
    return EXIT_OK
