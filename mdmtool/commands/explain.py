"""``mdmtool explain KEY``: every layer that set a key, the winner, the requirement, the fix."""

from __future__ import annotations

import json
import sys
from typing import Any

from mdmtool.errors import EXIT_FINDINGS, EXIT_OK, UsageError
from mdmtool.merge import get_path
from mdmtool.model import ResolveInputs
from mdmtool.provenance import LABELS, describe
from mdmtool.record import Record, field

#: effective key -> (config paths that feed it, requirement keys that constrain it, flags)
SOURCES: dict[str, tuple[list[str], list[str], list[str]]] = {
    "approval_policy": (["approval_policy"], ["allowed_approval_policies"],
                        ["-a/--ask-for-approval", "--dangerously-bypass-approvals-and-sandbox"]),
    "approvals_reviewer": (["approvals_reviewer"], ["allowed_approvals_reviewers"], []),
    "sandbox_mode": (["sandbox_mode", "default_permissions"],
                     ["allowed_sandbox_modes", "allowed_permission_profiles", "default_permissions",
                      "permissions"], ["-s/--sandbox", "--dangerously-bypass-approvals-and-sandbox"]),
    "permission_profile": (["default_permissions", "sandbox_mode"],
                           ["allowed_permission_profiles", "default_permissions", "allowed_sandbox_modes"],
                           ["-s/--sandbox"]),
    "network_access": (["sandbox_workspace_write.network_access", "sandbox_mode", "default_permissions"],
                       ["allowed_sandbox_modes", "experimental_network"], []),
    "web_search": (["web_search", "features.web_search_request", "features.web_search_cached"],
                   ["allowed_web_search_modes"], ["--search"]),
    "writable_roots": (["sandbox_workspace_write.writable_roots"], ["allowed_sandbox_modes"], ["--add-dir"]),
}
ALIASES = {"sandbox": "sandbox_mode", "approval": "approval_policy", "reviewer": "approvals_reviewer",
           "network": "network_access", "web_search_mode": "web_search", "profile": "permission_profile"}

REMEDIES = {
    "approval_policy": "To change it, set approval_policy in the highest layer you control; values "
                       "outside allowed_approval_policies fall back to the first allowed value.",
    "approvals_reviewer": "Set approvals_reviewer to a value in allowed_approvals_reviewers.",
    "sandbox_mode": "Set sandbox_mode (or default_permissions) in the highest layer you control; a "
                    "disallowed mode falls back to read-only.",
    "permission_profile": "Choose a profile allowed by allowed_permission_profiles with default_permissions.",
    "network_access": "workspace-write: set [sandbox_workspace_write] network_access; permission "
                      "profiles: [permissions.<name>.network] enabled.",
    "web_search": "Set web_search to a mode in allowed_web_search_modes (disabled is always allowed).",
    "writable_roots": "Add roots with [sandbox_workspace_write] writable_roots or --add-dir.",
}


class Setting(Record):
    layer: str
    file: str | None
    line: int | None
    path: str
    value: Any
    enabled: bool
    note: str | None = None


class Story(Record):
    key: str
    effective: Any
    origin: str
    settings: list[Setting] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    requirements: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    remedy: str | None = None


def build_story(key: str, inputs: ResolveInputs) -> Story:
    from mdmtool.layers import discover
    from mdmtool.resolve import resolve
    from mdmtool.requirements import compose

    key = ALIASES.get(key, key)
    policy = resolve(inputs)
    disc = discover(inputs)
    req = compose(disc)
    paths, req_keys, flags = SOURCES.get(key, ([key], [], []))
    if key in SOURCES:
        effective = getattr(policy, key)
        if key == "approval_policy" and policy.approval_granular:
            effective = {"granular": policy.approval_granular}
    else:
        merged: dict = {}
        from mdmtool.merge import merge_values
        for layer in disc.layers:
            if layer.enabled:
                merged = merge_values(merged, layer.data)
        effective = get_path(merged, key.split("."))
    story = Story(key=key, effective=_safe(key.split("."), effective), origin=describe(policy.origins.get(key)),
                  errors=list(policy.errors), remedy=REMEDIES.get(key))
    for layer in disc.layers:
        for path in paths:
            parts = tuple(path.split("."))
            if layer.has(parts):
                file, line, _ = layer.locate(parts)
                note = None
                if not layer.enabled:
                    note = f"ignored: project is {layer.disabled_reason}"
                elif layer.kind == "session-flags":
                    from mdmtool.redact import redact_override
                    text = layer.override_text.get(parts)
                    note = redact_override(text) if text else text
                story.settings.append(Setting(layer.kind, file, line, path,
                                              _safe(parts, get_path(layer.data, parts)),
                                              layer.enabled, note))
    story.flags = _flags_used(inputs, flags)
    for rk in req_keys:
        if rk in req.fields:
            file, line = req.locate(rk)
            story.requirements.append({"key": rk, "value": req.fields[rk], "file": file, "line": line})
    wkey = {"sandbox_mode": "permission_profile", "web_search": "web_search_mode",
            "network_access": "permission_profile"}.get(key, key)
    story.warnings = [w.message for w in policy.warnings if w.key == wkey]
    return story


def _safe(path, value: Any) -> Any:
    """Never show a secret: redact the value with the context of its whole key path."""
    from mdmtool.redact import redact_at
    return redact_at(tuple(path), value)


def _flags_used(inputs: ResolveInputs, relevant: list[str]) -> list[str]:
    used = []
    if inputs.approval and any(f.startswith("-a") for f in relevant):
        used.append(f"-a {inputs.approval}")
    if inputs.sandbox and any(f.startswith("-s") for f in relevant):
        used.append(f"--sandbox {inputs.sandbox}")
    if inputs.yolo and "--dangerously-bypass-approvals-and-sandbox" in relevant:
        used.append("--dangerously-bypass-approvals-and-sandbox")
    if inputs.search and "--search" in relevant:
        used.append("--search")
    if inputs.add_dirs and "--add-dir" in relevant:
        used.extend(f"--add-dir {d}" for d in inputs.add_dirs)
    return used


def render_text(story: Story) -> str:
    out = [f"{story.key}", ""]
    if story.errors:
        out.append("Codex would refuse to start:")
        out.extend(f"  - {e}" for e in story.errors)
        out.append("")
    out.append("Set by (lowest precedence first):")
    if not story.settings and not story.flags:
        out.append("  (no layer sets it)")
    for s in story.settings:
        where = f"{s.file}:{s.line}" if s.file and s.line else (s.file or "")
        label = LABELS.get(s.layer, s.layer)
        note = f"  [{s.note}]" if s.note else ""
        out.append(f"  {label:<24} {s.path} = {json.dumps(s.value)}  {where}{note}".rstrip())
    for f in story.flags:
        out.append(f"  {'command-line flag':<24} {f}")
    out.append("")
    if story.requirements:
        out.append("Constrained by requirements:")
        for r in story.requirements:
            where = f"{r['file']}:{r['line']}" if r["line"] else (r["file"] or "")
            out.append(f"  {r['key']} = {json.dumps(r['value'])}  {where}")
        out.append("")
    eff = "-" if story.effective is None else json.dumps(story.effective)
    out.append(f"Effective: {eff}  ({story.origin})")
    for w in story.warnings:
        out.append(f"Codex warns: {w}")
    if story.remedy:
        out.append("")
        out.append(f"What to do: {story.remedy}")
    return "\n".join(out) + "\n"


def run_explain(key: str, inputs: ResolveInputs, *, fmt: str = "text") -> int:
    if fmt not in ("text", "json"):
        raise UsageError(f"unknown --format {fmt!r} (choose from text, json)")
    if not key or any(not part for part in key.split(".")):
        raise UsageError(f"not a key: {key!r}")
    story = build_story(key, inputs)
    if fmt == "json":
        from mdmtool.record import asdict
        from mdmtool.redact import scrub
        sys.stdout.write(json.dumps(scrub(asdict(story)), indent=2, default=str) + "\n")
    else:
        from mdmtool.redact import redact_text
        sys.stdout.write(redact_text(render_text(story)))
    return EXIT_OK if not story.errors else EXIT_FINDINGS
