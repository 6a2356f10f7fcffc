"""Does a requirements file restrict anything?  Which lines restrict nothing, and what the
real keys would be.

Codex 0.169.0 ignores unknown requirement keys with one "ignoring N unrecognized settings"
warning (cases 651, 653) and says nothing at all about an empty file (652) or allow-lists
that allow every value (654): the machine then runs whatever the user configures. This
module finds those lines and proposes the keys Codex actually reads.
"""

from __future__ import annotations

import json
import re
from typing import Any

from mdmtool.record import Record, field

ALL_VALUES = {
    "allowed_approval_policies": ({"untrusted", "on-request", "never"},
                                  {"on-failure": "on-request"}),
    "allowed_approvals_reviewers": ({"user", "auto_review"}, {"guardian_subagent": "auto_review"}),
    "allowed_sandbox_modes": ({"read-only", "workspace-write", "danger-full-access"}, {}),
    "allowed_web_search_modes": ({"cached", "indexed", "live"}, {}),
}
REAL_KEYS_HELP = ("allowed_approval_policies, allowed_sandbox_modes, allowed_web_search_modes, "
                  "allowed_approvals_reviewers, [allowed_permission_profiles] + default_permissions, "
                  "[permissions.filesystem] deny_read, [rules] prefix_rules, [features], "
                  "[mcp_servers.<id>] identity, [experimental_network]")


class Ineffective(Record):
    """One line that restricts nothing, and what would."""

    path: tuple
    message: str
    suggestion: str
    fix: dict | None = None


class IntentReport(Record):
    enforces_nothing: bool
    summary: str
    items: list[Ineffective] = field(default_factory=list)
    restricting: list[str] = field(default_factory=list)


def _toml(v: Any) -> str:
    if isinstance(v, list):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)
    return str(v)


def _words(v: Any) -> list[str]:
    if isinstance(v, str):
        return [v]
    if isinstance(v, list):
        return [x for x in v if isinstance(x, str)]
    return []


_APPROVALS = {"untrusted", "on-request", "on-failure", "never"}
_SANDBOXES = {"read-only", "workspace-write", "danger-full-access"}
_WEB = {"disabled", "cached", "indexed", "live"}


def _prefix_rule(cmd: str) -> str:
    tokens = [t for t in re.split(r"\s+", cmd.strip()) if t][:4] or ["rm"]
    pat = ", ".join(f"{{ token = {json.dumps(t)} }}" for t in tokens)
    return f'[rules] prefix_rules = [{{ pattern = [{pat}], decision = "forbidden" }}]'


def _suggest_value(name: str, value: Any) -> tuple[str, dict | None]:
    """The real requirement for ``name = value`` (a key found anywhere in an unknown table)."""
    low = name.lower()
    words = _words(value)
    if words and set(words) <= _APPROVALS and ("approv" in low or low in ("policy", "ask")):
        vals = ["on-request" if w == "on-failure" else w for w in words]
        return f"allowed_approval_policies = {_toml(vals)}", {"key": "allowed_approval_policies",
                                                              "value": vals}
    if words and set(words) <= _SANDBOXES:
        vals = ["read-only"] + [w for w in words if w != "read-only"]
        return f"allowed_sandbox_modes = {_toml(vals)}", {"key": "allowed_sandbox_modes", "value": vals}
    if words and set(words) <= _WEB and ("web" in low or "search" in low):
        return f"allowed_web_search_modes = {_toml(words)}", {"key": "allowed_web_search_modes",
                                                              "value": words}
    if words and low in ("approvals_reviewer", "reviewer", "reviewers") and \
            set(words) <= {"user", "auto_review", "guardian_subagent"}:
        return f"allowed_approvals_reviewers = {_toml(words)}", {"key": "allowed_approvals_reviewers",
                                                                 "value": words}
    if "danger" in low and value is True and any(w in low for w in ("forbid", "deny", "block", "no_")):
        vals = ["read-only", "workspace-write"]
        return f"allowed_sandbox_modes = {_toml(vals)}", {"key": "allowed_sandbox_modes", "value": vals}
    if any(w in low for w in ("forbid", "command", "block", "deny_cmd", "disallow", "exec")) and words:
        return _prefix_rule(words[0]), None
    if any(w in low for w in ("deny_read", "path", "file", "secret", "read")) and words \
            and all(w.startswith(("/", "~")) for w in words):
        return f"[permissions.filesystem] deny_read = {_toml(words)}", None
    if any(w in low for w in ("domain", "host", "network", "proxy", "url")):
        return ("[experimental_network] enabled = true with domains = { \"example.com\" = \"allow\" } "
                "(and a sandbox that grants network)"), None
    if "mcp" in low:
        return '[mcp_servers.<id>] identity = { command = "<server command>" }', None
    if "feature" in low:
        return "[features] <feature> = true/false", None
    return "", None


def _suggest(name: str, value: Any) -> tuple[str, dict | None]:
    text, fix = _suggest_value(name, value)
    if text:
        return text, fix
    if isinstance(value, dict):
        found = []
        fix = None
        for k, v in value.items():
            t, f = _suggest_value(k, v) if not isinstance(v, dict) else _suggest(k, v)
            if not t:
                t, f = _suggest_value(name + "_" + k, v)
            if t and t not in found:
                found.append(t)
                fix = fix or f
        if found:
            return "; ".join(found), (fix if len(found) == 1 else None)
    if any(w in name.lower() for w in ("forbid", "block", "command", "rule")):
        return _prefix_rule("rm -rf /"), None
    return "", None


def _restricts(key: str, value: Any) -> str | None:
    """Why ``key = value`` restricts something, or None."""
    if key in ALL_VALUES:
        every, aliases = ALL_VALUES[key]
        if not isinstance(value, list):
            return key
        norm = {aliases.get(v, v) for v in value if isinstance(v, str)}
        return None if every <= norm else key
    if key in ("features", "feature_requirements", "mcp_servers"):
        return key if isinstance(value, dict) and (value or key == "mcp_servers") else None
    if key == "permissions":
        deny = ((value or {}).get("filesystem") or {}).get("deny_read") if isinstance(value, dict) else None
        return "permissions.filesystem.deny_read" if deny else None
    if key == "rules":
        return key if isinstance(value, dict) and value.get("prefix_rules") else None
    if key == "windows":
        return key if isinstance(value, dict) and value.get("allowed_sandbox_implementations") else None
    return key


def analyse(data: dict, file: str = "requirements.toml", toml: Any = None) -> IntentReport:
    """Which top-level entries of a requirements file restrict nothing."""
    from mdmtool.schemas import requirement_keys
    known = requirement_keys()
    items: list[Ineffective] = []
    restricting: list[str] = []
    for key, value in data.items():
        if key in known:
            why = _restricts(key, value)
            if why:
                restricting.append(why)
            elif key in ALL_VALUES:
                items.append(Ineffective((key,), f"`{key} = {_toml(value)}` allows every value: it "
                                         "restricts nothing", "leave out the values users must not pick"))
            continue
        shown = f"[{key}]" if isinstance(value, dict) else f"`{key}`"
        suggestion, fix = _suggest(key, value)
        what = "Codex ignores it (one \"unrecognized setting\" warning)"
        if isinstance(value, dict) and value:
            what = f"Codex ignores it and the {len(value)} key(s) under it (one \"unrecognized setting\" warning)"
        items.append(Ineffective((key,), f"{shown} is not a requirements key: {what}, so it restricts "
                                 "nothing", suggestion, fix))
    if restricting:
        return IntentReport(False, "", items, restricting)
    if not data:
        summary = "the file is empty (comments only): it enforces NOTHING; users run with whatever they configure"
    elif items and all(i.path[0] not in known for i in items):
        summary = ("no key of this file is one Codex reads (" + ", ".join(sorted(data)) + "): Codex "
                   "ignores them with a warning and enforces NOTHING")
    else:
        summary = "every key allows every value: the file enforces NOTHING"
    return IntentReport(True, summary, items, restricting)
