"""MCP servers: requirement allowlists (identities) and whether a stdio server can start.

Observed with Codex 0.169.0 (fixtures/cases 612-619, 685-690, FINDINGS.md §8):

* requirements ``[mcp_servers.<id>] identity = ...`` is an allowlist. A server is allowed
  only when its name is listed AND its identity matches; otherwise Codex disables it
  (``codex mcp list``: ``disabled_reason: "requirements (<source file>)"``). A present but
  empty ``[mcp_servers]`` table disables every server.
* identity forms: ``{ command = "x" }`` (exact command string, args/cwd/env ignored);
  ``{ command = { executable = "x", args = [matcher, ...] } }`` (``args`` required, one
  matcher per argument, same count); ``{ url = "u" }``; ``{ url = { matcher } }``. A
  matcher is ``{ match = "exact" | "prefix", value = ".." }`` or ``{ match = "regex",
  expression = ".." }``; anything else fails to parse (fatal).
* a ``required = true`` server that cannot be spawned stops every session at thread start:
  the command is looked up on the server's own ``env.PATH`` when it sets one, a ``cwd``
  that does not exist fails too; servers are reported sorted by name.
"""

from __future__ import annotations

import os
import re
from typing import Any

ENOENT = "No such file or directory (os error 2)"
EACCES = "Permission denied (os error 13)"
_MATCHES = ("exact", "prefix", "regex")


# ----------------------------------------------------------------------------- requirements

def _matcher_ok(m: Any) -> bool:
    if not isinstance(m, dict) or m.get("match") not in _MATCHES:
        return False
    if m["match"] == "regex":
        return isinstance(m.get("expression"), str)
    return isinstance(m.get("value"), str)


def identity_shape_ok(identity: Any) -> bool:
    """Does ``identity`` parse as one of Codex's RawMcpServerIdentity variants?"""
    if not isinstance(identity, dict):
        return False
    if "command" in identity:
        cmd = identity["command"]
        if isinstance(cmd, str):
            return True
        if isinstance(cmd, dict) and isinstance(cmd.get("executable"), str) \
                and isinstance(cmd.get("args"), list):
            return all(_matcher_ok(m) for m in cmd["args"])
        return False
    if "url" in identity:
        url = identity["url"]
        return isinstance(url, str) or _matcher_ok(url)
    return False


def _regex_problem(expr: str) -> str | None:
    try:
        re.compile(expr)
    except re.error as exc:
        msg = str(exc)
        if "missing )" in msg or "unterminated subpattern" in msg:
            return "found open group without closing ')'"
        if "unbalanced parenthesis" in msg:
            return "found closing ')' without matching '('"
        if "unterminated character set" in msg:
            return "unclosed character class"
        return msg.split(" at position")[0]
    return None


def requirement_errors(file: str, data: dict) -> list[tuple[str, tuple]]:
    """Codex's fatal errors for a requirements file's ``[mcp_servers]`` (text, key path)."""
    servers = data.get("mcp_servers")
    out: list[tuple[str, tuple]] = []
    if not isinstance(servers, dict):
        return out
    for sid, body in servers.items():
        if not isinstance(body, dict) or "identity" not in body:
            out.append((f"failed to parse requirements layer {file}: missing field `identity`\n"
                        f"in `mcp_servers.{sid}`", ("mcp_servers", sid)))
            continue
        ident = body["identity"]
        if not identity_shape_ok(ident):
            out.append((f"failed to parse requirements layer {file}: data did not match any variant "
                        f"of untagged enum RawMcpServerIdentity\nin `mcp_servers.{sid}.identity`",
                        ("mcp_servers", sid, "identity")))
            continue
        matchers = []
        cmd = ident.get("command")
        if isinstance(cmd, dict):
            matchers = [("argument matcher at index %d" % i, m, ("mcp_servers", sid, "identity",
                                                                "command", "args", i))
                        for i, m in enumerate(cmd["args"])]
        elif "command" not in ident and isinstance(ident.get("url"), dict):
            matchers = [("url matcher", ident["url"], ("mcp_servers", sid, "identity", "url"))]
        for label, m, path in matchers:
            if m["match"] == "regex":
                why = _regex_problem(m["expression"])
                if why:
                    out.append((f"invalid requirement for MCP server `{sid}` (set by {file}): invalid "
                                f"{label}: invalid regex `{m['expression']}`: {why}", path))
                    break
    return out


def _match(m: dict, text: str) -> bool:
    if m["match"] == "exact":
        return text == m["value"]
    if m["match"] == "prefix":
        return text.startswith(m["value"])
    try:
        return re.search(m["expression"], text) is not None
    except re.error:
        return False


def allowed(sid: str, server: dict, req_servers: Any) -> bool:
    """Is config server ``sid`` allowed by the requirements ``[mcp_servers]`` table?"""
    if not isinstance(req_servers, dict):
        return True  # no allowlist
    body = req_servers.get(sid)
    if not isinstance(body, dict) or not identity_shape_ok(body.get("identity")):
        return False
    ident = body["identity"]
    if "command" in ident:
        command = server.get("command")
        if not isinstance(command, str):
            return False
        want = ident["command"]
        if isinstance(want, str):
            return command == want
        args = server.get("args") if isinstance(server.get("args"), list) else []
        if command != want["executable"] or len(args) != len(want["args"]):
            return False
        return all(isinstance(a, str) and _match(m, a) for m, a in zip(want["args"], args))
    url = server.get("url")
    if not isinstance(url, str):
        return False
    want = ident["url"]
    return url == want if isinstance(want, str) else _match(want, url)


# ----------------------------------------------------------------------------- spawning

def spawn_problem(server: dict, cwd: str, path_env: str | None = None) -> str | None:
    """Why Codex could not spawn this stdio server here (Codex's wording), or None."""
    command = server.get("command")
    if not isinstance(command, str) or not command:
        return None
    work = server.get("cwd") if isinstance(server.get("cwd"), str) else None
    if work is not None:
        work = os.path.expanduser(work)
        if not os.path.isabs(work):
            work = os.path.join(cwd, work)
        if not os.path.isdir(work):
            return ENOENT
    base = work or cwd
    env = server.get("env") if isinstance(server.get("env"), dict) else {}
    search = env.get("PATH") if isinstance(env.get("PATH"), str) else (
        path_env if path_env is not None else os.environ.get("PATH", os.defpath))
    if "/" in command:
        target = command if os.path.isabs(command) else os.path.join(base, command)
        return _exec_problem(target)
    found_noexec = False
    for d in search.split(os.pathsep):
        cand = os.path.join(d or ".", command)
        if os.path.isfile(cand):
            if os.access(cand, os.X_OK):
                return None
            found_noexec = True
    return EACCES if found_noexec else ENOENT


def _exec_problem(path: str) -> str | None:
    if not os.path.exists(path):
        return ENOENT
    if os.path.isdir(path) or not os.access(path, os.X_OK):
        return EACCES
    return None


def required_failure(servers: Any, req_servers: Any, cwd: str) -> tuple[str, list[str]] | None:
    """Codex's thread-start error for required servers that cannot start, and their ids."""
    if not isinstance(servers, dict):
        return None
    failed = []
    for sid in sorted(servers):
        srv = servers[sid]
        if not isinstance(srv, dict) or srv.get("required") is not True or srv.get("enabled") is False:
            continue
        if not allowed(sid, srv, req_servers):
            continue  # disabled by requirements: never started
        why = spawn_problem(srv, cwd)
        if why:
            failed.append((sid, why))
    if not failed:
        return None
    text = "; ".join(f"{sid}: {why}" for sid, why in failed)
    return ("Fatal error: Failed to initialize session: required MCP servers failed to initialize: "
            + text, [sid for sid, _ in failed])
