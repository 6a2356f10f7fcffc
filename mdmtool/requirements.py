"""Requirement sources, their composition and Codex's fatal checks on them.

Sources, lowest to highest (Codex 0.169.0): system ``requirements.toml``, cloud bundles,
legacy ``managed_config.toml`` (only ``approval_policy``, ``approvals_reviewer``,
``sandbox_mode``), MDM ``requirements_toml_base64``. They are merged with the config merge
(highest wins per key, tables recurse, lists replace), except prefix rules (concatenated,
highest first) and ``permissions.filesystem.deny_read`` (union, highest first).
"""

from __future__ import annotations

import os
from typing import Any

from mdmtool import reqcheck
from mdmtool.layers import Discovery
from mdmtool.merge import merge_values
from mdmtool.record import Record, field
from mdmtool.tomlio import TomlFile, TomlSyntaxError, Unsupported, read_toml_if_exists
from mdmtool.errors import MdmError

APPROVAL_VALUES = ("untrusted", "on-failure", "on-request", "granular", "never")
REVIEWER_VALUES = ("user", "auto_review", "guardian_subagent")
SANDBOX_VALUES = ("read-only", "workspace-write", "danger-full-access", "external-sandbox")
WEB_SEARCH_VALUES = ("disabled", "cached", "indexed", "live")
GRANULAR_FIELDS = ("sandbox_approval", "rules", "skill_approval", "request_permissions",
                   "mcp_elicitations")

#: Table names Codex accepts for one requirements field: (serde field, alias, the name mdmtool
#: composes it under). Both names in one file is fatal ("duplicate field `<serde field>`",
#: from the schema's `not: required` pairs); across files they are one field
#: (fixtures/cases 725-728).
ALIASES = (("features", "feature_requirements", "features"),
           ("network_proxy", "experimental_network", "experimental_network"))
_CANONICAL = {name: canon for field_, alias, canon in ALIASES for name in (field_, alias)}


def network_table(data: dict[str, Any]) -> tuple[str | None, dict[str, Any] | None]:
    """The managed network table of one requirements file, and the name it is spelled with."""
    for name in ("experimental_network", "network_proxy"):
        value = data.get(name)
        if isinstance(value, dict):
            return name, value
    return None, None


def canonical_data(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with aliased tables under the one name the resolver reads."""
    if not any(k in _CANONICAL for k in data):
        return data
    return {_CANONICAL.get(k, k): v for k, v in data.items()}


#: Fields whose value Codex copies over the config value ("exact" requirements).
EXACT_FIELDS = ("sqlite_home", "log_dir", "model_catalog_json", "check_for_update_on_startup",
                "allow_login_shell", "cli_auth_credentials_store", "chatgpt_base_url")


class RequirementSource(Record):
    tag: str  # system | cloud | managed-config | mdm
    file: str
    data: dict[str, Any]
    toml: TomlFile | None = None


class Requirements(Record):
    """Composed requirements, with the source that set each top-level field."""

    sources: list[RequirementSource] = field(default_factory=list)  # lowest first
    fields: dict[str, Any] = field(default_factory=dict)
    field_source: dict[str, RequirementSource] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)
    deny_read: list[str] = field(default_factory=list)
    prefix_rules: list[Any] = field(default_factory=list)

    def get(self, key: str, default: Any = None) -> Any:
        return self.fields.get(key, default)

    def set_by(self, key: str) -> str:
        src = self.field_source.get(key)
        return src.file if src else "requirements"

    def locate(self, key: str) -> tuple[str | None, int | None]:
        src = self.field_source.get(key)
        if src is None:
            return None, None
        if src.toml is not None:
            spelled = next((k for k in src.data if _CANONICAL.get(k) == key), key)
            s = src.toml.locate((spelled,))
            if src.tag == "managed-config":
                s = src.toml.locate((_MANAGED_FIELD_OF.get(key, key),))
            return s.file, s.line
        return src.file, None


_MANAGED_FIELD_OF = {"allowed_approval_policies": "approval_policy",
                     "allowed_approvals_reviewers": "approvals_reviewer",
                     "allowed_sandbox_modes": "sandbox_mode"}


def _managed_requirements(managed: TomlFile) -> dict[str, Any]:
    """What legacy managed_config.toml turns into (spec §7.2)."""
    out: dict[str, Any] = {}
    data = managed.data
    ap = data.get("approval_policy")
    if isinstance(ap, (str, dict)):
        out["allowed_approval_policies"] = [ap]
    rv = data.get("approvals_reviewer")
    if isinstance(rv, str):
        rv = "auto_review" if rv == "guardian_subagent" else rv
        out["allowed_approvals_reviewers"] = ["auto_review", "user"] if rv == "auto_review" else [rv]
    sm = data.get("sandbox_mode")
    if isinstance(sm, str):
        out["allowed_sandbox_modes"] = ["read-only"] + ([sm] if sm != "read-only" else [])
    return out


def load_sources(disc: Discovery) -> tuple[list[RequirementSource], list[str]]:
    """Read every requirement source; syntax errors are fatal (Codex fails closed)."""
    sources: list[RequirementSource] = []
    errors: list[str] = []

    def add_file(path: str, tag: str) -> None:
        try:
            tf = read_toml_if_exists(path)
        except TomlSyntaxError as exc:
            errors.append(f"failed to parse requirements layer {path}: {_tail(exc)}")
            return
        except Unsupported:  # past mdmtool's limits, not Codex's: an input error
            raise
        except MdmError as exc:
            errors.append(f"failed to read requirements layer {path}: {exc.message}")
            return
        if tf is not None:
            sources.append(RequirementSource(tag, tf.path, tf.data, tf))

    add_file(os.path.join(disc.system_dir, "requirements.toml"), "system")
    if disc.inputs.cloud_requirements:
        if not os.path.exists(disc.inputs.cloud_requirements):
            raise MdmError("no such file", file=disc.inputs.cloud_requirements)
        add_file(disc.inputs.cloud_requirements, "cloud")
    for managed in (disc.managed, disc.mdm_config):  # the legacy file, then its MDM copy
        if managed is not None:
            derived = _managed_requirements(managed)
            if derived:
                sources.append(RequirementSource("managed-config", managed.path, derived, managed))
    if disc.mdm_requirements is not None:
        tf = disc.mdm_requirements
        sources.append(RequirementSource("mdm", tf.path, tf.data, tf))
    return sources, errors


def _this_host(explicit: str | None) -> str:
    """Best-effort FQDN, else the host name; lower case, trailing dot removed."""
    if explicit:
        return explicit.lower().rstrip(".")
    import socket
    name = socket.getfqdn() or socket.gethostname()
    return name.lower().rstrip(".")


def _apply_remote_sandbox_config(src: RequirementSource, host: str) -> None:
    """The first `remote_sandbox_config` entry matching this host replaces the layer's modes."""
    import fnmatch
    entries = src.data.get("remote_sandbox_config")
    if not isinstance(entries, list):
        return
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        patterns = entry.get("hostname_patterns") or []
        if any(isinstance(p, str) and fnmatch.fnmatchcase(host, p.lower().rstrip(".")) for p in patterns):
            if isinstance(entry.get("allowed_sandbox_modes"), list):
                src.data = dict(src.data, allowed_sandbox_modes=entry["allowed_sandbox_modes"])
            return


def _tail(exc: TomlSyntaxError) -> str:
    where = f"TOML parse error at line {exc.line}, column {exc.col}: " if exc.line else ""
    return where + exc.message.removeprefix("invalid TOML: ")


def compose(disc: Discovery) -> Requirements:
    """Load, compose and check the requirements that apply on this machine."""
    sources, errors = load_sources(disc)
    req = Requirements(sources=sources, errors=errors)
    host = None  # looked up only when needed: getfqdn() may wait on DNS
    for src in sources:
        _check_source(src, req)
        if isinstance(src.data.get("remote_sandbox_config"), list):
            host = host or _this_host(disc.inputs.hostname)
            _apply_remote_sandbox_config(src, host)
    merged: dict[str, Any] = {}
    for src in sources:  # low -> high
        regular = {k: v for k, v in canonical_data(src.data).items()
                   if k not in ("rules", "remote_sandbox_config")}
        merged = merge_values(merged, regular)
        for key in regular:
            req.field_source[key] = src
    for src in reversed(sources):  # high -> low
        rules = src.data.get("rules")
        if isinstance(rules, dict) and isinstance(rules.get("prefix_rules"), list):
            req.prefix_rules.extend(rules["prefix_rules"])
        fs = ((src.data.get("permissions") or {}).get("filesystem") or {}) \
            if isinstance(src.data.get("permissions"), dict) else {}
        for entry in fs.get("deny_read", []) if isinstance(fs, dict) else []:
            if entry not in req.deny_read:
                req.deny_read.append(entry)
    if req.prefix_rules:
        merged["rules"] = {"prefix_rules": req.prefix_rules}
    req.fields = merged
    _check_composed(req)
    req.errors.extend(reqcheck.composed_errors(req))  # fixtures/cases 678
    return req


# ----------------------------------------------------------------------------- checks

def _parse_error(src: RequirementSource, message: str, key: str) -> str:
    """Codex's serde error for a requirements layer (second line names the key)."""
    return f"failed to parse requirements layer {src.file}: {message}\nin `{key}`"


def _enum_error(src: RequirementSource, key: str, value: Any, expected: tuple) -> str:
    exp = ", ".join(f"`{v}`" for v in expected)
    exp = f"one of {exp}" if len(expected) > 1 else exp
    return _parse_error(src, f"unknown variant `{value}`, expected {exp}", key)


def _check_list(src: RequirementSource, req: Requirements, key: str, allowed: tuple,
                *, allow_granular: bool = False) -> None:
    value = src.data.get(key)
    if value is None:
        return
    if not isinstance(value, list):
        req.errors.append(_parse_error(src, f"invalid type: {_toml_type(value)}, expected a sequence", key))
        return
    for item in value:
        if allow_granular and isinstance(item, dict) and len(item) > 1:
            req.errors.append(_parse_error(src, "wanted exactly 1 element, more than 1 element", key))
            return
        if allow_granular and isinstance(item, dict) and "granular" in item:
            continue
        if allow_granular and isinstance(item, dict) and item:
            item = next(iter(item))  # a one-key table names the variant
        if allow_granular and item == "granular":
            req.errors.append(_parse_error(src, "invalid type: unit variant, expected newtype variant", key))
            return
        if not isinstance(item, str) or item not in allowed:
            req.errors.append(_enum_error(src, key, item, allowed))
            return
    # emptiness is judged on the composed value (a higher source may replace an empty list)


def _check_source(src: RequirementSource, req: Requirements) -> None:
    d = src.data
    _check_list(src, req, "allowed_approval_policies", APPROVAL_VALUES, allow_granular=True)
    _check_list(src, req, "allowed_approvals_reviewers", REVIEWER_VALUES)
    _check_list(src, req, "allowed_sandbox_modes", SANDBOX_VALUES)
    _check_list(src, req, "allowed_web_search_modes", WEB_SEARCH_VALUES)
    res = d.get("enforce_residency")
    if res is not None and res != "us":
        req.errors.append(_enum_error(src, "enforce_residency", res, ("us",)))
    rules = d.get("rules")
    if isinstance(rules, dict):
        if "prefix_rules" not in rules:
            req.errors.append(_parse_error(src, "missing field `prefix_rules`", "rules"))
        for i, rule in enumerate(rules.get("prefix_rules") or []):
            decision = rule.get("decision") if isinstance(rule, dict) else None
            if decision == "allow":
                req.errors.append(
                    f"invalid rules in requirements (set by {src.file}): rules prefix_rule at index {i} "
                    "has decision 'allow', which is not permitted in requirements.toml: Codex merges "
                    "these rules with other config and uses the most restrictive result (use "
                    "'prompt', 'prompt-user', or 'forbidden')")
            elif decision not in (None, "prompt", "prompt-user", "forbidden"):
                req.errors.append(_enum_error(src, "rules.prefix_rules.decision", decision,
                                              ("allow", "prompt", "prompt-user", "forbidden")))
    name, net = network_table(d)
    if net is not None:
        if "domains" in net and ("allowed_domains" in net or "denied_domains" in net):
            req.errors.append(_parse_error(
                src, "`domains` cannot be combined with legacy `allowed_domains` or `denied_domains` "
                "in managed network requirements", name))
        if "unix_sockets" in net and "allow_unix_sockets" in net:
            req.errors.append(_parse_error(
                src, "`unix_sockets` cannot be combined with legacy `allow_unix_sockets` in managed "
                "network requirements", name))
    req.errors.extend(reqcheck.source_errors(src))  # prefix-rule patterns, MCP identities


def _check_composed(req: Requirements) -> None:
    for key in ("allowed_approval_policies", "allowed_approvals_reviewers"):
        if req.fields.get(key) == []:
            req.errors.append(f"field `{key}` cannot be empty")
    modes = req.fields.get("allowed_sandbox_modes")
    if isinstance(modes, list) and all(isinstance(m, str) for m in modes) and "read-only" not in modes:
        shown = ", ".join(rust_name(m) for m in modes)
        req.errors.append(f"invalid value for `allowed_sandbox_modes`: `[{shown}]` is not in the "
                          "allowed set must include 'read-only' to allow any PermissionProfile "
                          f"(set by {req.set_by('allowed_sandbox_modes')})")
    app = req.fields.get("allowed_permission_profiles")
    if isinstance(app, dict) and "default_permissions" not in req.fields:
        if not (app.get(":workspace") is True and app.get(":read-only") is True):
            req.errors.append("requirements.toml default_permissions must be set unless "
                              "allowed_permission_profiles allows both `:workspace` and `:read-only`")
    if "default_permissions" in req.fields and not isinstance(app, dict):
        req.errors.append("requirements.toml default_permissions requires allowed_permission_profiles")


def _toml_type(value: Any) -> str:
    """serde's wording for an unexpected value (``string "x"``, ``integer `1```)."""
    return reqcheck._serde(value)


_RUST = {
    "on-request": "OnRequest", "on-failure": "OnRequest", "untrusted": "UnlessTrusted",
    "never": "Never", "user": "User", "auto_review": "AutoReview",
    "guardian_subagent": "AutoReview", "read-only": "ReadOnly",
    "workspace-write": "WorkspaceWrite", "danger-full-access": "DangerFullAccess",
    "external-sandbox": "ExternalSandbox", "disabled": "Disabled", "cached": "Cached",
    "indexed": "Indexed", "live": "Live",
}


def rust_name(value: Any) -> str:
    """Codex prints enum values by their Rust names in requirement messages."""
    if isinstance(value, dict) and isinstance(value.get("granular"), dict):
        g = value["granular"]
        inner = ", ".join(f"{f}: {str(bool(g.get(f))).lower()}" for f in GRANULAR_FIELDS)
        return f"Granular(GranularApprovalConfig {{ {inner} }})"
    return _RUST.get(value, str(value))
