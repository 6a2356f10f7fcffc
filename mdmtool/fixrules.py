"""Built-in autofixes that need no linter: deprecated values and requirement fallbacks.

``builtin_fixes`` covers what Codex 0.169 rewrites or rejects on its own (on-failure,
guardian_subagent, a top-level ``profile``, a top-level ``network_access`` that belongs in
``[sandbox_workspace_write]``). ``requirement_fixes`` replaces values the requirements
disallow with the value Codex would fall back to (§6.4), or with a ``--prefer``red value
the requirements allow.
"""

from __future__ import annotations

from typing import Any

from mdmtool.errors import UsageError

#: rule label used for built-in fixes in reports
BUILTIN = "builtin"
REQUIREMENT = "requirements"


def builtin_fixes(data: dict, kind: str) -> list[tuple[dict, str, str]]:
    """(fix, rule, message) for deprecated settings in a config-like file."""
    if kind != "config":
        return []
    out: list[tuple[dict, str, str]] = []
    if data.get("approval_policy") == "on-failure":
        out.append(({"op": "set", "path": ["approval_policy"], "value": "on-request"}, BUILTIN,
                    'approval_policy "on-failure" is deprecated; Codex runs "on-request"'))
    if data.get("approvals_reviewer") == "guardian_subagent":
        out.append(({"op": "set", "path": ["approvals_reviewer"], "value": "auto_review"}, BUILTIN,
                    '"guardian_subagent" is the old name of "auto_review"'))
    prof = data.get("profile")
    if isinstance(prof, str):
        out.append(({"op": "delete", "path": ["profile"], "comment": profile_comment(prof)},
                    BUILTIN, f'legacy profile = "{prof}" makes Codex 0.169 refuse to start'))
    if "network_access" in data and isinstance(data["network_access"], bool):
        out.append(({"op": "move", "path": ["network_access"],
                     "to": ["sandbox_workspace_write", "network_access"]}, BUILTIN,
                    "top-level network_access is ignored; it belongs in [sandbox_workspace_write]"))
    return out


def profile_comment(name: str) -> str:
    return (f'mdmtool fix: removed legacy `profile = "{name}"` (Codex 0.169 refuses it); '
            f"put those settings in {name}.config.toml and run `codex --profile {name}`")


# ----------------------------------------------------------------------------- requirements

_ALIAS = {"on-failure": "on-request", "guardian_subagent": "auto_review"}


def _norm_list(value: Any) -> list | None:
    if not isinstance(value, list):
        return None
    out = []
    for v in value:
        v = _ALIAS.get(v, v) if isinstance(v, str) else v
        if v not in out:
            out.append(v)
    return out


def parse_prefer(values: list[str] | None) -> list[tuple[str | None, str]]:
    """``--prefer KEY=VALUE`` or ``--prefer VALUE`` -> [(key or None, value)]."""
    out = []
    for v in values or []:
        key, sep, val = v.partition("=")
        if sep and not key.strip():
            raise UsageError(f"--prefer {v!r}: empty key")
        out.append((key.strip(), val.strip()) if sep else (None, v.strip()))
    return out


def _preferred(key: str, allowed: list, prefer: list[tuple[str | None, str]],
               forbidden: tuple = ()) -> Any:
    for k, v in prefer:
        if (k is None or k == key) and v in allowed and v not in forbidden:
            return v
    return None


def requirement_fixes(data: dict, req: dict, prefer: list[tuple[str | None, str]]
                      ) -> list[tuple[dict, str, str]]:
    """Fixes for top-level config values the requirements ``req`` disallow."""
    out: list[tuple[dict, str, str]] = []

    def fix(key: str, allowed: list, fallback: Any, why: str, forbidden: tuple = ()):
        value = data.get(key)
        if not isinstance(value, str) or _ALIAS.get(value, value) in allowed:
            return
        choice = _preferred(key, allowed, prefer, forbidden)
        target = choice if choice is not None else fallback
        msg = (f"{key} = {value!r} is disallowed by requirements ({why}); "
               + (f"using preferred {target!r}" if choice is not None else
                  f"Codex falls back to {target!r}"))
        if target == "untrusted" and key == "approval_policy":
            out.append(({"op": "delete", "path": [key], "comment":
                         f"mdmtool fix: removed approval_policy = {value!r}: requirements allow "
                         f"{', '.join(map(str, allowed))}; Codex falls back to untrusted"},
                        REQUIREMENT, msg))
        elif target is not None:
            out.append(({"op": "set", "path": [key], "value": target, "choices": allowed},
                        REQUIREMENT, msg))

    aap = _norm_list(req.get("allowed_approval_policies"))
    if aap:
        fix("approval_policy", aap, aap[0], "allowed_approval_policies",
            forbidden=("untrusted",))  # cannot be written into a config file in 0.169
    rev = _norm_list(req.get("allowed_approvals_reviewers"))
    if rev:
        fix("approvals_reviewer", rev, rev[0], "allowed_approvals_reviewers")
    modes = _norm_list(req.get("allowed_sandbox_modes"))
    deny_read = ((req.get("permissions") or {}).get("filesystem") or {}).get("deny_read") \
        if isinstance(req.get("permissions"), dict) else None
    if deny_read:
        modes = [m for m in (modes or ["read-only", "workspace-write"])
                 if m in ("read-only", "workspace-write")]
    if modes:
        fix("sandbox_mode", modes, "read-only", "allowed_sandbox_modes" +
            (" and deny_read" if deny_read else ""))
    web = _norm_list(req.get("allowed_web_search_modes"))
    if web is not None:
        web = web + (["disabled"] if "disabled" not in web else [])
        fallback = next(m for m in ("cached", "indexed", "live", "disabled") if m in web)
        fix("web_search", web, fallback, "allowed_web_search_modes")
    profiles = req.get("allowed_permission_profiles")
    if isinstance(profiles, dict) and isinstance(req.get("default_permissions"), str):
        allowed = [k for k, v in profiles.items() if v is True]
        fix("default_permissions", allowed, req["default_permissions"], "allowed_permission_profiles")
    return out
