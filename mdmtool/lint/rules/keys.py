"""Unknown keys (with did-you-mean) and keys written into the wrong table.

Codex only warns about unknown keys ("ignoring N unrecognized settings"), so the user's
intent is silently lost; the most common cause is a key written below the wrong TOML
header. Unknown keys come from the config/requirements JSON Schemas via
:func:`mdmtool.schemas.unknown_keys` (a dictionary walk, not full validation).
"""

from __future__ import annotations

import difflib

from mdmtool.lint.context import (MANAGED, PROFILE, PROJECT, REQUIREMENTS, STANDALONE, SYSTEM,
                                  USER, hit)
from mdmtool.lint.rules import file_rule
from mdmtool.lint.rules.drift import REMOVED, RENAMED

CONFIGS = (SYSTEM, USER, PROFILE, PROJECT, STANDALONE, MANAGED)

SWW_KEYS = ("network_access", "writable_roots", "exclude_slash_tmp", "exclude_tmpdir_env_var")
TOP_LEVEL_KEYS = ("approval_policy", "sandbox_mode", "approvals_reviewer", "default_permissions",
                  "web_search", "model", "model_reasoning_effort", "model_provider")
#: tables where people's top-level keys land by accident (TOML tables run to the next header)
CATCH_TABLES = ("features", "history", "tui", "notice", "sandbox_workspace_write", "shell_environment_policy")


def _misplaced(data: dict):
    """(where it is, where it belongs, message, fatal?) for keys written under the wrong header."""
    for k in SWW_KEYS:
        if k in data:
            yield ((k,), ("sandbox_workspace_write", k),
                   f"`{k}` at the top level is ignored; did you mean [sandbox_workspace_write]?")
    for t in CATCH_TABLES:
        tab = data.get(t)
        if isinstance(tab, dict):
            for k in TOP_LEVEL_KEYS:
                if k in tab and not (t == "features" and k == "web_search"):
                    if t == "features" and not isinstance(tab[k], (bool, dict)):
                        yield (t, k), (k,), (f"`{k}` is inside [features] (TOML tables run until the next "
                                             "header), where values must be true/false: Codex refuses to "
                                             f"start (\"invalid type ... expected a boolean\") — move `{k}` "
                                             "to the top level")
                        continue
                    yield (t, k), (k,), (f"`{k}` is inside [{t}] (TOML tables run until the next "
                                         f"header); Codex ignores it there — did you mean the top level?")
            if t != "sandbox_workspace_write":
                for k in SWW_KEYS:
                    if k in tab:
                        yield (t, k), ("sandbox_workspace_write", k), (
                            f"`{k}` is inside [{t}]; Codex ignores it there — did you mean "
                            "[sandbox_workspace_write]?")
    perms = data.get("permissions")
    if isinstance(perms, dict):
        for name, body in perms.items():
            if isinstance(body, dict) and "default_permissions" in body:
                yield (("permissions", name, "default_permissions"), ("default_permissions",),
                       f"`default_permissions` is inside [permissions.{name}]; Codex reads it only at the "
                       "top level")
    servers = data.get("mcp_servers")
    if isinstance(servers, dict):
        for sid, srv in servers.items():
            if isinstance(srv, dict):
                for k in TOP_LEVEL_KEYS[:5]:
                    if k in srv:
                        yield (("mcp_servers", sid, k), (k,),
                               f"`{k}` is inside [mcp_servers.{sid}]; Codex ignores it there — did "
                               "you mean the top level?")
    projects = data.get("projects")
    if isinstance(projects, dict):
        for p, entry in projects.items():
            if isinstance(entry, dict):
                for k in TOP_LEVEL_KEYS[:5]:
                    if k in entry:
                        yield (("projects", p, k), (k,),
                               f"`{k}` is inside [projects.\"{p}\"] (only trust_level is read there); "
                               "put it in the project's .codex/config.toml or at the top level")


@file_rule(*CONFIGS)
def misplaced_keys(f):
    for path, to, msg in _misplaced(f.data):
        sev = "error" if "Codex refuses to start" in msg else None
        yield hit("MDM802", f, path, msg, severity=sev,
                  fix={"op": "move", "path": list(path), "to": list(to)})


_HANDLED = {".".join(p) for p in list(RENAMED) + list(REMOVED)} | {
    "profile", "profiles", "allowed_permissions", "windows.sandbox_private_desktop"}


@file_rule(*CONFIGS, REQUIREMENTS)
def unknown_keys(f):
    try:
        from mdmtool.schemas import unknown_keys as schema_unknown
    except ImportError:  # pragma: no cover - schemas room not present
        return
    kind = "requirements" if f.role == REQUIREMENTS else "config"
    misplaced = {".".join(p) for p, _, _ in _misplaced(f.data)} if kind == "config" else set()
    for dotted in schema_unknown(f.data, kind):
        if dotted in _HANDLED or dotted in misplaced:
            continue
        if kind == "requirements" and "." not in dotted:
            continue  # MDM705 reports it, with the real key (mdmtool.reqintent)
        path = tuple(dotted.split("."))
        parent = _table(f.data, path[:-1])
        siblings = _known_siblings(kind, path[:-1], parent)
        close = difflib.get_close_matches(path[-1], siblings, n=1, cutoff=0.75)
        fix = None
        hint = ""
        if close:
            hint = f"; did you mean `{close[0]}`?"
            fix = {"op": "move", "path": list(path), "to": list(path[:-1]) + [close[0]]}
        else:
            try:
                from mdmtool.schemas import suggest
                hint = suggest(kind, path[-1], path[:-1], siblings)
            except Exception:  # noqa: BLE001 - a hint is optional
                hint = ""
        yield hit("MDM801", f, path, f"unknown key `{dotted}`: Codex ignores it{hint}", fix=fix)


def _table(data: dict, path: tuple):
    cur = data
    for k in path:
        cur = cur.get(k) if isinstance(cur, dict) else None
    return cur if isinstance(cur, dict) else {}


def _known_siblings(kind: str, table: tuple, parent: dict) -> list[str]:
    """Names the schema knows in ``table`` (for the did-you-mean)."""
    try:
        from mdmtool.schemas import _key_index
        index = _key_index("requirements" if kind == "requirements" else "config")
    except Exception:  # noqa: BLE001
        return []
    t = ".".join(table)
    return [name for name, tables in index.items() if t in tables]
