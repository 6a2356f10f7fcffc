"""Human labels for *how* a value was resolved (the provenance table of every view)."""

from __future__ import annotations

from mdmtool.model import Origin

LABELS = {
    "system": "system config",
    "user": "user config",
    "profile": "profile file (-p)",
    "project": "project config",
    "session-flags": "command-line override",
    "cli-flag": "command-line flag",
    "managed-config": "managed_config.toml",
    "mdm": "MDM profile",
    "codex-default": "Codex default",
    "trust-default": "default for the project's trust level",
    "requirement-fallback": "fallback required by",
    "requirement": "required by",
}


def describe(origin: Origin | None) -> str:
    """One line such as ``user config ~/.codex/config.toml:3`` or ``Codex default``."""
    if origin is None:
        return "-"
    label = LABELS.get(origin.layer, origin.layer)
    where = ""
    if origin.file:
        where = f" {origin.file}" + (f":{origin.line}" if origin.line else "")
    detail = f" ({origin.detail})" if origin.detail and origin.layer not in ("requirement-fallback", "requirement") else ""
    if origin.layer in ("requirement-fallback", "requirement") and origin.detail:
        key = origin.detail.removeprefix("required by ")
        return f"{label}{where} ({key})"
    return f"{label}{where}{detail}"
