"""The session-time checks of :mod:`mdmtool.sessioncheck`, for one file at a time.

``validate`` and ``lint`` see files, not a resolved machine: a file's relative paths
resolve against its own folder (where Codex would read it), and checks that depend on
this machine (is the MCP command on PATH, does the referenced file exist) are errors only
when the file *is* on this machine in the place Codex reads it; otherwise (a fleet tree,
a config from a repository) they are warnings.  Each issue carries a lint rule id:
MDM111 Codex will not run, MDM112 an agent role is dropped, MDM603 a deny glob that
scans the whole filesystem, MDM705 requirements that enforce nothing, MDM706 fatal
requirement shapes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable

from mdmtool import sessioncheck as sc

ERROR, WARNING = "error", "warning"


@dataclass
class Issue:
    rule: str
    severity: str
    message: str
    path: tuple
    remediation: str | None = None
    fix: dict | None = None


@dataclass
class Place:
    """Where a file lives for Codex: its folder on the host, and how to look at that host.

    ``exists(host_path)`` answers for the host: on this machine the real file system; for a
    fleet tree the tree's copy (``None`` = cannot know).  ``local`` = this machine is the
    host (errors instead of warnings for machine-dependent checks).
    """

    host_dir: str
    local: bool
    exists: Callable[[str], bool | None]
    cwd: str | None = None


def this_machine(path: str) -> Place:
    d = os.path.dirname(os.path.abspath(path))
    return Place(d, is_codex_location(path), lambda p: os.path.exists(p))


def is_codex_location(path: str) -> bool:
    """Is ``path`` where Codex on this machine reads a file (system, CODEX_HOME, a project)?"""
    p = os.path.realpath(path)
    parent = os.path.dirname(p)
    home = os.path.realpath(os.environ.get("CODEX_HOME") or os.path.expanduser("~/.codex"))
    return (parent in (os.path.realpath("/etc/codex"), home) or os.path.basename(parent) == ".codex")


def _abs(value: str, base: str) -> str:
    value = os.path.expanduser(value)
    return os.path.normpath(value if os.path.isabs(value) else os.path.join(base, value))


# ----------------------------------------------------------------------------- content-only

def active_profile(data: dict) -> tuple[str | None, dict]:
    """(default_permissions, its flattened filesystem table) when this file defines it."""
    dp = data.get("default_permissions")
    perms = data.get("permissions")
    if not isinstance(dp, str) or not isinstance(perms, dict) or not isinstance(perms.get(dp), dict):
        return None, {}
    chain, cur = [], dp
    while isinstance(cur, str) and isinstance(perms.get(cur), dict) and cur not in chain:
        chain.append(cur)
        cur = perms[cur].get("extends")
    fs: dict = {}
    for name in reversed(chain):
        own = perms[name].get("filesystem")
        if isinstance(own, dict):
            fs.update(own)
    return dp, fs


def _fs_globs(fs: dict) -> list[tuple[tuple, str, Any]]:
    """(key path inside filesystem, resolved pattern, access) for every glob entry."""
    out = []
    for key, value in fs.items():
        if key == "glob_scan_max_depth":
            continue
        if isinstance(value, dict):
            for sub, access in value.items():
                if sc.is_glob(sub):
                    target = "/" + sub.lstrip("/") if key == ":root" else f"{key}/{sub}"
                    out.append(((key, sub), target, access))
        elif sc.is_glob(key):
            out.append(((key,), key, value))
    return out


def config_content(data: dict) -> list[Issue]:
    """Config checks that depend on the text alone."""
    out: list[Issue] = []
    dp, fs = active_profile(data)
    perms = data.get("permissions") if isinstance(data.get("permissions"), dict) else {}
    for name, body in perms.items():
        own = body.get("filesystem") if isinstance(body, dict) else None
        if not isinstance(own, dict):
            continue
        active = dp is not None and (name == dp or name in _chain(perms, dp))
        for sub, pattern, access in _fs_globs(own):
            path = ("permissions", name, "filesystem") + sub
            if access in ("deny", "none"):
                if sc.root_glob(pattern):
                    where = f"profile `{name}`"
                    if active:
                        out.append(Issue("MDM111", ERROR, "Codex refuses to start every session on Linux: "
                                         + sc.deny_glob_explanation(pattern, where), path))
                    else:
                        out.append(Issue("MDM603", WARNING, f"deny glob `{pattern}` of {where} starts with a "
                                         "wildcard after `/`: if this profile becomes active, every "
                                         "session fails to start on Linux", path))
                elif sc.scans_from_root(pattern):
                    out.append(Issue("MDM603", WARNING, _scan_message(pattern), path))
            elif access in ("read", "write") and active and not sc.subtree_glob(pattern) \
                    and not pattern.startswith(":"):
                out.append(Issue("MDM111", ERROR, f"Codex refuses to load this config: "
                                 f"{sc.glob_access_error(pattern, access)} (globs may only deny; use an "
                                 "exact path or a `dir/**` subtree)", path))
    return out


def _chain(perms: dict, name: str) -> list[str]:
    out, cur = [], name
    while isinstance(cur, str) and isinstance(perms.get(cur), dict) and cur not in out:
        out.append(cur)
        cur = perms[cur].get("extends")
    return out


def _scan_message(pattern: str) -> str:
    return (f"deny glob `{pattern}` has no directory before its first wildcard except `/`: Codex walks "
            "the whole filesystem from / before every session (slow, and it failed in our tests when "
            "an entry vanished during the scan, e.g. under /proc). Give it a deeper directory prefix.")


def requirements_content(data: dict, file: str) -> list[Issue]:
    """Requirements checks that depend on the text alone."""
    from mdmtool.mcpcheck import requirement_errors
    from mdmtool.plain import explain
    from mdmtool.reqintent import analyse
    out: list[Issue] = []
    deny = ((data.get("permissions") or {}).get("filesystem") or {}).get("deny_read") \
        if isinstance(data.get("permissions"), dict) else None
    if isinstance(deny, list):
        for i, e in enumerate(deny):
            if isinstance(e, str) and sc.root_glob(e):
                out.append(Issue("MDM111", ERROR, "Codex refuses to start every session on Linux: "
                                 + sc.deny_glob_explanation(e, "requirements deny_read"),
                                 ("permissions", "filesystem", "deny_read", i)))
            elif isinstance(e, str) and sc.scans_from_root(e):
                out.append(Issue("MDM603", WARNING, _scan_message(e),
                                 ("permissions", "filesystem", "deny_read", i)))
    report = analyse(data, file)
    for item in report.items:
        sev = ERROR if report.enforces_nothing else WARNING
        text = item.message + (f". The real key: {item.suggestion}" if item.suggestion else
                               f". Codex reads: {_real_keys()}")
        fix = None
        if item.fix:
            fix = {"op": "move", "path": list(item.path), "to": [item.fix["key"]], "value": item.fix["value"]}
        out.append(Issue("MDM705", sev, text, item.path, fix=fix))
    if report.enforces_nothing and not report.items:
        out.append(Issue("MDM705", ERROR, f"requirements file enforces nothing: {report.summary}. "
                         f"Codex reads: {_real_keys()}", ()))
    elif report.enforces_nothing:
        out.append(Issue("MDM705", ERROR, f"requirements file enforces nothing: {report.summary}",
                         report.items[0].path))
    # fatal shapes Codex rejects with a raw parser message (explained in plain words)
    from mdmtool.reqcheck import _pattern_error

    class _Src:
        pass
    src = _Src()
    src.file, src.data = file, data
    rules = data.get("rules")
    prefix = rules.get("prefix_rules") if isinstance(rules, dict) else None
    if isinstance(prefix, list):
        for i, rule in enumerate(prefix):
            err = _pattern_error(src, rule)
            if err is None and isinstance(rule, dict) and rule.get("pattern") == []:
                err = f"rules prefix_rule at index {i} has an empty pattern"
            if err:
                x = explain(err if err.startswith("failed") else f"invalid rules in requirements (set by "
                            f"{file}): {err}")
                out.append(Issue("MDM706", ERROR, f"Codex refuses to start: {x['explanation']} "
                                 f"(Codex says: {err.splitlines()[0].split(': ', 1)[-1]})",
                                 ("rules", "prefix_rules", i)))
                break
    for msg, path in requirement_errors(file, data):
        x = explain(msg)
        out.append(Issue("MDM706", ERROR, f"Codex refuses to start: {x['explanation']} (Codex says: "
                         f"{msg.splitlines()[0].split(': ', 1)[-1]})", path))
    app = data.get("allowed_permission_profiles")
    if isinstance(app, dict):
        perms = data.get("permissions") if isinstance(data.get("permissions"), dict) else {}
        for name in app:
            if not name.startswith(":") and not isinstance(perms.get(name), dict):
                out.append(Issue("MDM706", ERROR, f"Codex refuses to start: [allowed_permission_profiles] "
                                 f"names `{name}`, which this file does not define; add [permissions.{name}] "
                                 "(extends = \":read-only\" or \":workspace\") or remove the entry (Codex "
                                 f"says: requirements.toml allowed_permission_profiles refers to undefined "
                                 f"profile `{name}`)", ("allowed_permission_profiles", name)))
    return out


def _real_keys() -> str:
    from mdmtool.reqintent import REAL_KEYS_HELP
    return REAL_KEYS_HELP


# ----------------------------------------------------------------------------- machine-dependent

def config_machine(data: dict, place: Place) -> list[Issue]:
    """Referenced files, required MCP servers and agent roles, seen from ``place``."""
    from mdmtool.mcpcheck import spawn_problem
    out: list[Issue] = []
    sev = ERROR if place.local else WARNING
    elsewhere = "" if place.local else " (checked in the linted tree / on this machine, not on the " \
                                       "host: there Codex refuses to start if it is missing too)"
    for key, _t, _k in sc._FILE_KEYS + (("model_catalog_json", "", ""),):
        value = data.get(key)
        if not isinstance(value, str) or not value:
            continue
        host = _abs(value, place.host_dir)
        there = place.exists(host)
        if there is False:
            out.append(Issue("MDM111", sev, f"`{key}` points at {host}, which does not exist: Codex "
                             "refuses to load the configuration (relative paths are read from this "
                             f"file's folder, {place.host_dir}){elsewhere}", (key,)))
        elif there and place.local and os.path.isdir(host):
            out.append(Issue("MDM111", sev, f"`{key}` points at the directory {host}: Codex refuses to "
                             "load the configuration (it needs a file)", (key,)))
    servers = data.get("mcp_servers")
    if isinstance(servers, dict):
        for sid in sorted(servers):
            srv = servers[sid]
            if not isinstance(srv, dict) or srv.get("required") is not True or srv.get("enabled") is False:
                continue
            if isinstance(srv.get("url"), str) and "command" not in srv:
                continue  # a remote server: cannot be checked offline
            why = spawn_problem(srv, place.cwd or place.host_dir)
            if why:
                out.append(Issue(
                    "MDM111", sev,
                    f"MCP server `{sid}` is required but its command `{srv.get('command')}` cannot be "
                    f"started on this machine ({why}): Codex refuses to start every session "
                    "(\"required MCP servers failed to initialize\") unless the requirements' MCP "
                    f"allowlist disables the server{elsewhere}", ("mcp_servers", sid, "command"),
                    remediation="Install the server, fix command/cwd/env.PATH, or set required = false."))
    agents = data.get("agents")
    if isinstance(agents, dict):
        for name in sorted(agents):
            role = agents[name]
            if not isinstance(role, dict) or not isinstance(role.get("config_file"), str):
                continue
            host = _abs(role["config_file"], place.host_dir)
            there = place.exists(host)
            if there is False:
                out.append(Issue("MDM112", WARNING, f"agent role `{name}`: config_file {host} does not "
                                 "exist; Codex drops the role (\"Ignoring malformed agent role "
                                 "definition\")" + ("" if place.local else " (looked up in the linted "
                                                     "tree; the host may differ)"),
                                 ("agents", name, "config_file")))
            elif there and place.local and not os.path.isfile(host):
                out.append(Issue("MDM112", WARNING, f"agent role `{name}`: config_file {host} is not a "
                                 "file; Codex drops the role", ("agents", name, "config_file")))
    return out


def requirements_machine(data: dict, place: Place) -> list[Issue]:
    value = data.get("model_catalog_json")
    if not isinstance(value, str) or not value:
        return []
    host = _abs(value, place.host_dir)
    if place.exists(host) is False:
        sev = ERROR if place.local else WARNING
        return [Issue("MDM111", sev, f"model_catalog_json (an exact requirement) points at {host}, which "
                      "does not exist: Codex refuses to start on every machine with these requirements "
                      "(it only says \"No such file or directory (os error 2)\")", ("model_catalog_json",))]
    return []


def file_issues(data: dict, kind: str, file: str, place: Place | None) -> list[Issue]:
    """Everything for one file: content checks, and machine checks when ``place`` is given."""
    if kind == "requirements":
        out = requirements_content(data, file)
        if place is not None:
            out += requirements_machine(data, place)
        return out
    out = config_content(data)
    if place is not None:
        out += config_machine(data, place)
    return out
