"""Session-time failures, requirements that enforce nothing, MCP allowlists (issue 9).

Content checks (root deny globs, read/write globs, fatal requirement shapes, MDM705) are
file rules: cached by content like every file rule.  Checks that depend on where a file
lives and on this machine (referenced files, required MCP commands, agent role files)
are a unit rule: errors for files in their real place on this machine, warnings for a
fleet tree or a config from elsewhere (see :mod:`mdmtool.filecheck`).
"""

from __future__ import annotations

import os

from mdmtool.lint.context import (MANAGED, PROFILE, PROJECT, REQUIREMENTS, STANDALONE, SYSTEM,
                                  USER, hit)
from mdmtool.lint.rules import file_rule, unit_rule

CONFIGS = (SYSTEM, USER, PROFILE, PROJECT, STANDALONE)


#: the rules this family emits (MDM705 comes from requirements.enforces_nothing)
EMITS = ("MDM111", "MDM112", "MDM603", "MDM706")


def _emit(f, issues):
    for i in issues:
        if i.rule not in EMITS:
            continue
        yield hit(i.rule, f, i.path or None, i.message, severity=i.severity, fix=i.fix,
                  remediation=i.remediation)


@file_rule(*CONFIGS)
def session_config_content(f):
    from mdmtool.filecheck import config_content
    yield from _emit(f, config_content(f.data))


@file_rule(REQUIREMENTS)
def session_requirements_content(f):
    from mdmtool.filecheck import requirements_content
    yield from _emit(f, requirements_content(f.data, f.path))


def place_of(f, unit):
    """Where ``f`` lives for Codex, and how to check paths on its host."""
    from mdmtool.filecheck import Place
    host = (f.host_path or os.path.abspath(f.path)).replace("\\", "/")
    host_dir = os.path.dirname(host)
    real = os.path.abspath(f.path)
    if real == os.path.abspath(host):
        local = f.role != STANDALONE
        return Place(host_dir, local, os.path.exists, cwd=f.project_dir or host_dir)
    # a tree: <root>/<host path without the leading />
    rel = host.lstrip("/")
    root = real[: len(real) - len(rel)] if real.replace("\\", "/").endswith(rel) else None

    def exists(p: str) -> bool | None:
        if root is None or not p.startswith("/"):
            return None
        return True if os.path.exists(os.path.join(root, p.lstrip("/"))) else False
    return Place(host_dir, False, exists, cwd=f.project_dir or host_dir)


@unit_rule
def session_machine(unit):
    from mdmtool.filecheck import config_machine, requirements_machine
    req = unit.requirements
    req_servers = req.get("mcp_servers") if req is not None and req.ok else None
    for f in unit.all_files():
        if not f.ok or f.role in ("shell",):
            continue
        place = place_of(f, unit)
        if f.role == REQUIREMENTS:
            yield from _emit(f, requirements_machine(f.data, place))
        elif f.role in CONFIGS or f.role == MANAGED:
            issues = config_machine(f.data, place)
            if req_servers is not None:
                from mdmtool.mcpcheck import allowed
                servers = f.get("mcp_servers") or {}
                issues = [i for i in issues if not (i.path[:1] == ("mcp_servers",)
                                                    and not allowed(i.path[1], servers.get(i.path[1], {}),
                                                                    req_servers))]
            yield from _emit(f, issues)


@unit_rule
def mcp_allowlist(unit):
    """Config MCP servers the requirements do not allow: Codex disables them."""
    from mdmtool.mcpcheck import allowed
    req = unit.requirements
    if req is None or not req.ok or not isinstance(req.get("mcp_servers"), dict):
        return
    table = req.get("mcp_servers")
    source = req.host_path or req.path
    for f in unit.by_role(*CONFIGS, MANAGED):
        servers = f.get("mcp_servers")
        if not f.ok or not isinstance(servers, dict):
            continue
        for sid, srv in servers.items():
            if not isinstance(srv, dict) or srv.get("enabled") is False or allowed(sid, srv, table):
                continue
            if sid in table:
                ident = table[sid].get("identity") if isinstance(table[sid], dict) else None
                why = f"its identity does not match the allowed one ({_ident_text(ident)})"
            elif not table:
                why = "the requirements' [mcp_servers] table is empty, which disables every server"
            else:
                why = f"it is not listed (allowed: {', '.join(sorted(table))})"
            req_note = " — `required = true` is then ignored" if srv.get("required") is True else ""
            yield hit("MDM107", f, ("mcp_servers", sid),
                      f"MCP server `{sid}` is not allowed by {req.path}: {why}. Codex disables it "
                      f"(codex mcp list: enabled false, disabled_reason \"requirements ({source})\")"
                      f"{req_note}")


def _ident_text(ident) -> str:
    if isinstance(ident, dict):
        if isinstance(ident.get("command"), str):
            return f"command = \"{ident['command']}\""
        if isinstance(ident.get("command"), dict):
            return f"executable \"{ident['command'].get('executable')}\" with argument matchers"
        if "url" in ident:
            return f"url {ident['url']!r}"
    return "no valid identity"
