"""Rule registry. A *file rule* sees one parsed file (cacheable by content); a *unit
rule* sees every file of a machine (cross-file checks, the resolver).

Rules yield :class:`mdmtool.model.Finding` built with :func:`mdmtool.lint.context.hit`,
which fills severity and remediation from the catalog and line:col from the file.
"""

from __future__ import annotations

from typing import Callable, Iterable

from mdmtool.model import Finding

FileRule = Callable[..., Iterable[Finding]]
FILE_RULES: list[tuple[tuple[str, ...], FileRule]] = []
UNIT_RULES: list[Callable[..., Iterable[Finding]]] = []


def file_rule(*roles: str):
    def deco(fn):
        FILE_RULES.append((roles, fn))
        return fn
    return deco


def unit_rule(fn):
    UNIT_RULES.append(fn)
    return fn


def profile_filesystems(f):
    """(profile name, filesystem table) of every `[permissions.<name>.filesystem]` in a file."""
    perms = f.get("permissions")
    if not isinstance(perms, dict):
        return
    for name, prof in perms.items():
        fs = prof.get("filesystem") if isinstance(prof, dict) else None
        if isinstance(fs, dict):
            yield name, fs


def load_all() -> None:
    """Import every rule family (registration happens at import)."""
    from mdmtool.lint.rules import (danger, drift, keys, netrules, permissions,  # noqa: F401
                                    projects, requirements, resolved, session)
