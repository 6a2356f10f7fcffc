"""Project layers (codex-policy.md §3): denylisted keys, ignored untrusted configs, and
trusted projects that loosen the user's settings."""

from __future__ import annotations

from mdmtool.lint.context import PROJECT, SYSTEM, USER, hit
from mdmtool.lint.rules import file_rule, unit_rule
from mdmtool.lint.rules.util import APPROVAL_RANK, SANDBOX_RANK

DENYLIST = ("openai_base_url", "chatgpt_base_url", "apps_mcp_product_sku", "model_provider",
            "model_providers", "notify", "profile", "profiles",
            "experimental_realtime_webrtc_call_base_url", "experimental_realtime_ws_base_url", "otel")


@file_rule(PROJECT)
def denylisted(f):
    for key in DENYLIST:
        if key in f.data:
            yield hit("MDM501", f, (key,), f"a project config cannot set `{key}`: Codex strips it "
                      "(trusted projects get \"Ignored unsupported project-local config keys\")",
                      fix={"op": "delete", "path": [key]})
    feats = f.get("features")
    if isinstance(feats, dict) and "respect_system_proxy" in feats:
        yield hit("MDM501", f, ("features", "respect_system_proxy"),
                  "a project config cannot set `features.respect_system_proxy`: Codex strips it",
                  fix={"op": "delete", "path": ["features", "respect_system_proxy"]})


def trust_table(unit) -> dict | None:
    """Merged [projects] of the system and user configs, or None when no user config is known."""
    user = unit.one(USER) or unit.user_config
    if user is None:
        return None
    merged: dict = {}
    for f in (unit.one(SYSTEM), user):
        if f is not None and isinstance(f.get("projects"), dict):
            for path, entry in f.get("projects").items():
                if isinstance(entry, dict) and "trust_level" in entry:
                    merged[path.rstrip("/") or "/"] = entry["trust_level"]
    return merged


def project_trust(unit, f) -> str | None:
    """'trusted', 'untrusted', None (unlisted), or 'unknown' when no user config is known."""
    table = trust_table(unit)
    if table is None:
        return "unknown"
    d = (f.project_dir or "").rstrip("/") or "/"
    return table.get(d)


def _baseline(unit) -> dict:
    """What the user (over the system config) sets for the keys a project may loosen."""
    out: dict = {}
    for f in (unit.one(SYSTEM), unit.one(USER) or unit.user_config):
        if f is None:
            continue
        for k in ("approval_policy", "sandbox_mode", "web_search"):
            if k in f.data:
                out[k] = (f.data[k], f)
        nw = f.get("sandbox_workspace_write", "network_access")
        if nw is not None:
            out["network_access"] = (nw, f)
    return out


@unit_rule
def project_layers(unit):
    for f in unit.by_role(PROJECT):
        if not f.ok:
            continue
        trust = project_trust(unit, f)
        if trust in ("untrusted", None):
            why = ('it is marked trust_level = "untrusted"' if trust == "untrusted"
                   else "it is not listed in [projects] of the user's config.toml")
            yield hit("MDM502", f, None, f"Codex ignores this project config because {why} "
                      f"(project {f.project_dir})")
            continue
        base = _baseline(unit)
        yield from _loosening(f, base, trust)


def _loosening(f, base: dict, trust: str):
    cond = "" if trust == "trusted" else " (when the project is trusted)"
    ap = f.get("approval_policy")
    if isinstance(ap, str) and ap in APPROVAL_RANK:
        b, bf = base.get("approval_policy", ("on-request", None))
        if isinstance(b, str) and APPROVAL_RANK.get(ap, 0) > APPROVAL_RANK.get(b, 1):
            yield hit("MDM503", f, ("approval_policy",),
                      f'project sets approval_policy = "{ap}", looser than the user\'s "{b}"{cond}',
                      fix={"op": "delete", "path": ["approval_policy"]})
    sm = f.get("sandbox_mode")
    if isinstance(sm, str) and sm in SANDBOX_RANK:
        b, _ = base.get("sandbox_mode", ("workspace-write", None))
        if isinstance(b, str) and SANDBOX_RANK[sm] > SANDBOX_RANK.get(b, 1):
            yield hit("MDM503", f, ("sandbox_mode",),
                      f'project sets sandbox_mode = "{sm}", looser than the user\'s "{b}"{cond}',
                      fix={"op": "delete", "path": ["sandbox_mode"]})
    nw = f.get("sandbox_workspace_write", "network_access")
    if nw is True and base.get("network_access", (False, None))[0] is not True:
        yield hit("MDM503", f, ("sandbox_workspace_write", "network_access"),
                  f"project turns command network access on; the user's config keeps it off{cond}",
                  fix={"op": "delete", "path": ["sandbox_workspace_write", "network_access"]})
    dp = f.get("default_permissions")
    if dp == ":danger-full-access":
        yield hit("MDM503", f, ("default_permissions",),
                  f'project selects default_permissions = ":danger-full-access"{cond}',
                  fix={"op": "delete", "path": ["default_permissions"]})
