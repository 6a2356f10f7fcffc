"""``mdmtool effective``: the effective Codex policy with the origin of every value."""

from __future__ import annotations

import json
import sys

from mdmtool.errors import EXIT_FINDINGS, EXIT_OK, UsageError
from mdmtool.model import ResolveInputs
from mdmtool.policy import POLICY_KEYS, EffectivePolicy
from mdmtool.provenance import describe

FORMATS = ("text", "json", "jsonl")


def run_effective(inputs: ResolveInputs, *, fmt: str = "text") -> int:
    if fmt not in FORMATS:
        raise UsageError(f"unknown --format {fmt!r} (choose from {', '.join(FORMATS)})")
    from mdmtool.resolve import resolve
    policy = resolve(inputs)
    if fmt == "json":
        sys.stdout.write(json.dumps(policy.to_json(), indent=2) + "\n")
    elif fmt == "jsonl":
        sys.stdout.write(json.dumps(policy.to_json(), separators=(",", ":")) + "\n")
    else:
        from mdmtool.redact import redact_text
        sys.stdout.write(redact_text(render_text(policy)))
    return EXIT_OK if policy.ok else EXIT_FINDINGS


def value_text(policy: EffectivePolicy, key: str) -> str:
    value = getattr(policy, key)
    if key == "approval_policy" and policy.approval_granular:
        inner = ", ".join(f"{k}={'true' if v else 'false'}" for k, v in policy.approval_granular.items())
        return f"granular ({inner})"
    if key == "permission_profile" and value is None:
        return "- (legacy sandbox_mode)"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return ", ".join(value) if value else "-"
    return "-" if value is None else str(value)


def render_text(policy: EffectivePolicy) -> str:
    lines = []
    if policy.ok:
        rows = [(key, value_text(policy, key), describe(policy.origins.get(key))) for key in POLICY_KEYS]
        if policy.features_non_default:
            feats = ", ".join(f"{k}={'on' if v else 'off'}" for k, v in sorted(policy.features_non_default.items()))
            rows.append(("features (non-default)", feats, ""))
        w1 = max(len(r[0]) for r in rows)
        w2 = max(len(r[1]) for r in rows)
        lines.append(f"{'KEY':<{w1}}  {'VALUE':<{w2}}  ORIGIN")
        for k, v, o in rows:
            lines.append(f"{k:<{w1}}  {v:<{w2}}  {o}".rstrip())
        trust = policy.trust or "no trust entry"
        lines.append("")
        lines.append(f"project: {policy.project_root} ({trust})")
    else:
        lines.append("Codex would refuse to start with this configuration.")
    if policy.warnings:
        lines.append("")
        lines.append("Warnings Codex prints:")
        for w in policy.warnings:
            text = w.message.rstrip("\n").replace("\n", "\n    ")
            lines.append(f"  - {text}")
    if policy.errors:
        lines.append("")
        lines.append("Fatal errors (Codex exits):")
        plain = {i: x for i, x in enumerate(policy.explanations)}
        for i, e in enumerate(policy.errors):
            lines.append(f"  - {e}".replace("\n", "\n    "))
            x = plain.get(i)
            if x and x.get("explanation"):
                where = ""
                if x.get("file"):
                    where = f" [{x['file']}" + (f":{x['line']}" if x.get("line") else "") + "]"
                lines.append(f"    what it means: {x['explanation']}{where}")
    if policy.notices:
        lines.append("")
        lines.append("Notes (Codex does not say these):")
        for n in policy.notices:
            lines.append(f"  - {n}")
    return "\n".join(lines) + "\n"
