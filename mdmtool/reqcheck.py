"""Fatal requirement shapes Codex 0.169.0 rejects, beyond the allow-list checks.

Recorded in fixtures/cases 671-678, 685-687 (texts verbatim): prefix-rule patterns
(missing, empty, a nested list, bare strings), MCP identities (missing, unknown shape,
a regex that does not compile) and ``[allowed_permission_profiles]`` entries naming a
profile requirements.toml never defines.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mdmtool.requirements import RequirementSource, Requirements

BUILTINS = (":read-only", ":workspace", ":danger-full-access")


def _parse(src: "RequirementSource", message: str, key: str) -> str:
    return f"failed to parse requirements layer {src.file}: {message}\nin `{key}`"


def _pattern_error(src: "RequirementSource", rule: Any) -> str | None:
    if not isinstance(rule, dict):
        return None
    if "pattern" not in rule:
        return _parse(src, "missing field `pattern`", "rules.prefix_rules")
    pattern = rule["pattern"]
    if not isinstance(pattern, list):
        return _parse(src, f"invalid type: {_serde(pattern)}, expected a sequence", "rules.prefix_rules.pattern")
    for token in pattern:
        if isinstance(token, str):
            return _parse(src, f'invalid type: string "{token}", expected struct '
                          "RequirementsExecPolicyPatternTokenToml", "rules.prefix_rules.pattern")
        if isinstance(token, list):
            # serde reads a nested list as the token struct's fields: token, then any_of
            if len(token) >= 2 and isinstance(token[1], str):
                return _parse(src, f'invalid type: string "{token[1]}", expected a sequence',
                              "rules.prefix_rules.pattern")
            return _parse(src, f"invalid length {len(token)}, expected struct "
                          "RequirementsExecPolicyPatternTokenToml with 2 elements", "rules.prefix_rules.pattern")
    return None


def _serde(v: Any) -> str:
    """How serde names a TOML value in "invalid type: ..." messages."""
    if isinstance(v, bool):
        return f"boolean `{str(v).lower()}`"
    if isinstance(v, str):
        return f'string "{v}"'
    if isinstance(v, int):
        return f"integer `{v}`"
    if isinstance(v, float):
        return f"floating point `{v}`"
    if isinstance(v, dict):
        return "map"
    if isinstance(v, list):
        return "sequence"
    return type(v).__name__


def source_errors(src: "RequirementSource") -> list[str]:
    """Errors for one requirements source (each is fatal; Codex names the first)."""
    from mdmtool.mcpcheck import requirement_errors
    out: list[str] = []
    rules = src.data.get("rules")
    prefix = rules.get("prefix_rules") if isinstance(rules, dict) else None
    if isinstance(prefix, list):
        for rule in prefix:
            err = _pattern_error(src, rule)
            if err:
                out.append(err)
                break
        else:
            for i, rule in enumerate(prefix):
                if isinstance(rule, dict) and rule.get("pattern") == []:
                    out.append(f"invalid rules in requirements (set by {src.file}): rules prefix_rule at "
                               f"index {i} has an empty pattern")
                    break
    out.extend(msg for msg, _ in requirement_errors(src.file, src.data)[:1])
    return out


def composed_errors(req: "Requirements") -> list[str]:
    app = req.fields.get("allowed_permission_profiles")
    if not isinstance(app, dict):
        return []
    perms = req.fields.get("permissions")
    defined = {k for k, v in perms.items() if isinstance(v, dict)} if isinstance(perms, dict) else set()
    for name in app:
        if name not in BUILTINS and name not in defined:
            return [f"requirements.toml allowed_permission_profiles refers to undefined profile `{name}`"]
    return []
