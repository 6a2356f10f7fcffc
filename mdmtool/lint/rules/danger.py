"""Dangerous settings: no sandbox, exposed proxy, global allows, broad writes and trust."""

from __future__ import annotations

from mdmtool.lint.context import (MANAGED, PROFILE, PROJECT, REQUIREMENTS, STANDALONE, SYSTEM,
                                  USER, hit)
from mdmtool.lint.rules import file_rule
from mdmtool.lint.rules.util import home_like, network_tables, root_like, system_dir

CONFIGS = (SYSTEM, USER, PROFILE, PROJECT, STANDALONE, MANAGED)


@file_rule(*CONFIGS)
def full_access(f):
    if f.get("sandbox_mode") == "danger-full-access":
        yield hit("MDM301", f, ("sandbox_mode",),
                  'sandbox_mode = "danger-full-access" runs every command without a sandbox '
                  "(full disk and network access)",
                  fix={"op": "set", "path": ["sandbox_mode"], "value": "workspace-write"})
    if f.get("default_permissions") == ":danger-full-access":
        yield hit("MDM301", f, ("default_permissions",),
                  'default_permissions = ":danger-full-access" runs every command without a sandbox',
                  fix={"op": "set", "path": ["default_permissions"], "value": ":workspace"})


_FLAGS = {
    "dangerously_allow_non_loopback_proxy": ("MDM303", "the proxy listens on non-loopback "
                                             "addresses: other machines can use it"),
    "dangerously_allow_all_unix_sockets": ("MDM304", "commands may connect to every Unix socket "
                                           "(docker.sock, ssh-agent, ...)"),
    "allow_local_binding": ("MDM306", "commands may reach loopback, private-network and "
                            "link-local (cloud metadata) addresses"),
}


@file_rule(*CONFIGS, REQUIREMENTS)
def proxy_flags(f):
    for prefix, table in network_tables(f.data, f.kind):
        for key, (rule, why) in _FLAGS.items():
            if table.get(key) is True:
                path = prefix + (key,)
                yield hit(rule, f, path, f"`{'.'.join(path)} = true`: {why}",
                          fix={"op": "delete", "path": list(path)})
        domains = table.get("domains")
        if isinstance(domains, dict):
            for pat, action in domains.items():
                if pat.strip() == "*" and action == "allow":
                    path = prefix + ("domains", pat)
                    yield hit("MDM305", f, path, f'`"*" = "allow"` in [{".".join(prefix)}.domains] '
                              "lets commands reach any host: the domain policy filters nothing",
                              fix={"op": "delete", "path": list(path)})
        legacy = table.get("allowed_domains")
        if isinstance(legacy, list):
            for i, pat in enumerate(legacy):
                if isinstance(pat, str) and pat.strip() == "*":
                    path = prefix + ("allowed_domains", i)
                    yield hit("MDM305", f, path, '"*" in allowed_domains lets commands reach any host',
                              fix={"op": "delete", "path": list(path)})


def _broad(p: str) -> str | None:
    if not isinstance(p, str):
        return None
    if root_like(p):
        return "the whole file system"
    if home_like(p):
        return "a home directory"
    if p.rstrip("/") in ("/home", "/Users"):
        return "every home directory"
    return None


@file_rule(*CONFIGS)
def broad_writes(f):
    roots = f.get("sandbox_workspace_write", "writable_roots")
    if isinstance(roots, list):
        for i, p in enumerate(roots):
            what = _broad(p)
            if what:
                yield hit("MDM307", f, ("sandbox_workspace_write", "writable_roots", i),
                          f"writable root {p!r} makes {what} writable in workspace-write mode")
    perms = f.get("permissions")
    if not isinstance(perms, dict):
        return
    for name, prof in perms.items():
        if not isinstance(prof, dict):
            continue
        wr = prof.get("workspace_roots")
        if isinstance(wr, dict):
            for p, on in wr.items():
                what = _broad(p)
                if on is True and what:
                    yield hit("MDM307", f, ("permissions", name, "workspace_roots", p),
                              f"workspace root {p!r} of profile {name!r} makes {what} writable")
        fs = prof.get("filesystem")
        if isinstance(fs, dict):
            for p, access in fs.items():
                what = _broad(p)
                if access == "write" and what:
                    yield hit("MDM307", f, ("permissions", name, "filesystem", p),
                              f"profile {name!r} grants write to {p!r} ({what})")


def broad_project(path: str) -> str | None:
    """What a project path trusted in [projects] would open up, if too much (MDM310)."""
    if root_like(path):
        return "the root directory"
    if home_like(path) or path.rstrip("/") in ("/home", "/Users"):
        return "a home directory"
    if system_dir(path):
        return "a system folder"
    return None


@file_rule(SYSTEM, USER, STANDALONE, PROFILE)
def broad_trust(f):
    projects = f.get("projects")
    if not isinstance(projects, dict):
        return
    for path, entry in projects.items():
        if not isinstance(entry, dict) or entry.get("trust_level") != "trusted":
            continue
        what = broad_project(path)
        if what:
            yield hit("MDM310", f, ("projects", path),
                      f"project {path!r} ({what}) is trusted: when Codex starts there, or it is the "
                      "project/git root (e.g. a dotfiles repository), the whole folder becomes a "
                      "writable workspace and its .codex/config.toml loads without a prompt",
                      fix={"op": "delete", "path": ["projects", path]})
