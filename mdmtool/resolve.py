"""Layers + requirements -> the effective policy, exactly as Codex 0.169.0 decides it.

The order of decisions follows Codex: candidates (flag, else merged config, else the
trust-derived default), then requirement constraints (fallback with Codex's warning, or a
fatal error), then derived values (network, web search, features).
"""

from __future__ import annotations

import os
from typing import Any

from mdmtool import sessioncheck
from mdmtool.errors import MdmError
from mdmtool.layers import ConfigLayer, Discovery, discover
from mdmtool.merge import get_path, merge_values
from mdmtool.model import Origin, PolicyWarning, ResolveInputs, SandboxSpec, Source
from mdmtool.permissions import PermissionProfiles, SandboxChoice, read_only_debug
from mdmtool.policy import EffectivePolicy, LayerSummary
from mdmtool.requirements import Requirements, compose, rust_name

_FALLBACK_MSG = ("Configured value for `{field}` is disallowed by requirements; falling back to "
                 "required value {initial}. Details: invalid value for `{detail_field}`: "
                 "`{value}` is not in the allowed set [{allowed}] (set by {source})")


class Resolution:
    """Working state of one resolution (kept small: one attribute per concern)."""

    def __init__(self, disc: Discovery, req: Requirements):
        self.disc = disc
        self.req = req
        self.inputs = disc.inputs
        self.enabled = [layer for layer in disc.layers if layer.enabled]
        merged: dict[str, Any] = {}
        for layer in self.enabled:
            merged = merge_values(merged, layer.data)
        self.merged = merged
        self.errors: list[str] = list(disc.errors) + list(req.errors)
        self.warnings: list[PolicyWarning] = []
        self.origins: dict[str, Origin] = {}

    # -- provenance
    def layer_setting(self, path: tuple) -> ConfigLayer | None:
        for layer in reversed(self.enabled):
            if layer.has(path):
                return layer
        return None

    def origin_of(self, layer: ConfigLayer, path: tuple) -> Origin:
        if layer.kind == "session-flags":
            text = layer.override_text.get(path, ".".join(path))
            return Origin("session-flags", None, None, detail=text if text.startswith("--") else f"-c {text}")
        file, line, _ = layer.locate(path)
        return Origin(layer.kind, file, line)

    def requirement_origin(self, key: str, layer: str = "requirement-fallback") -> Origin:
        file, line = self.req.locate(key)
        return Origin(layer, file, line, detail=f"required by {key}")

    def warn(self, key: str, message: str, configured: Any = None, effective: Any = None,
             origin: Origin | None = None) -> None:
        src = Source(origin.file, origin.line) if origin and origin.file else None
        self.warnings.append(PolicyWarning(key, message, configured, effective, src))


def resolve(inputs: ResolveInputs) -> EffectivePolicy:
    """Compute what Codex will run with on the machine described by ``inputs``.

    Codex 0.169.0 marks an unlisted project trusted (it writes the entry into
    config.toml) when a session starts there with a writable sandbox, and the session then
    runs with the project's `.codex` layers (fixtures/cases/6xx_autotrust_*). Its start-up
    warnings are those of the first load, before the project was trusted.
    """
    first = _resolve_once(inputs, None)
    if not (inputs.auto_trust and not inputs.exec_mode and first.ok and first.trust is None
            and _writable_session(inputs, first)):
        return first
    key = first.git_root or first.cwd
    second = _resolve_once(inputs, key)
    startup = [w.message for w in first.warnings]
    later = [w for w in second.warnings if w.message not in startup]
    second.warnings = first.warnings
    second.notices.insert(0, (
        f"Starting a session here makes Codex trust {key}: it writes "
        f'[projects."{key}"] trust_level = "trusted" into {os.path.join(first.codex_home or "", "config.toml")} '
        "because the session's sandbox is writable in a project without a trust entry; the "
        "project's .codex config then applies to the session."))
    second.notices.extend(f"After trusting the project, Codex also warns: {w.message}" for w in later)
    second.trust_assumed = True
    return second


_WRITABLE = ("workspace-write", "danger-full-access")


def _writable_session(inputs: ResolveInputs, policy: EffectivePolicy) -> bool:
    """Does the session start with a writable sandbox, by its flags or by the config alone?

    Codex (thread/start) decides on both: a writable config trusts the project even when
    `-s read-only` runs the session read-only (differential case diff_0028).
    """
    if policy.sandbox_mode in _WRITABLE:
        return True
    if not (inputs.sandbox or inputs.yolo):
        return False
    from mdmtool.record import replace
    flagless = _resolve_once(replace(inputs, sandbox=None, yolo=False, approval=None), None)
    return flagless.ok and flagless.sandbox_mode in _WRITABLE


def _resolve_once(inputs: ResolveInputs, assume_trusted: str | None) -> EffectivePolicy:
    disc = discover(inputs, assume_trusted=assume_trusted)
    req = compose(disc)
    r = Resolution(disc, req)
    for key, message in disc.warnings:
        r.warn(key, message)
    for key, message in req.warnings:
        r.warn(key, message)
    _unknown_key_warnings(r)
    _check_config_fatal(r)

    profiles = PermissionProfiles.build(r)
    approval, granular, approval_explicit = _approval_candidate(r)
    approval = _constrain_approval(r, approval, granular, approval_explicit)
    reviewer = _reviewer(r)  # after the approval: Codex warns in this order (seed 20261126)
    sandbox = _sandbox_candidate(r, profiles)
    sandbox = _constrain_sandbox(r, sandbox, profiles, approval)
    web = _web_search(r, sandbox)
    features, non_default = _features(r)
    _order_warnings(r)
    session = sessioncheck.run(r, sandbox)  # referenced files, deny globs, required MCP servers

    policy = EffectivePolicy(ok=not r.errors, errors=r.errors)
    policy.trust = disc.trust
    policy.project_root = disc.project_root
    policy.git_root = disc.git_root
    policy.cwd, policy.codex_home, policy.system_dir = disc.cwd, disc.codex_home, disc.system_dir
    policy.layers = [LayerSummary(l.kind, l.file, l.enabled, l.disabled_reason, l.data) for l in disc.layers]
    policy.requirements = req.fields
    policy.requirement_sources = [{"source": s.tag, "file": s.file, "data": s.data} for s in req.sources]
    policy.inputs = _inputs_summary(inputs)
    policy.warnings = r.warnings
    policy.configured = {k: r.merged.get(k) for k in ("approval_policy", "approvals_reviewer",
                                                      "sandbox_mode", "default_permissions", "web_search")
                         if k in r.merged}
    policy.notices, policy.explanations = session.notices, session.explanations
    if r.errors:
        return policy
    policy.approval_policy = "granular" if isinstance(approval, dict) else approval
    policy.approval_granular = approval.get("granular") if isinstance(approval, dict) else None
    policy.approvals_reviewer = reviewer
    policy.sandbox_mode = sandbox.mode
    policy.permission_profile = sandbox.profile_id
    policy.permission_profile_extends = sandbox.extends
    policy.network_access = sandbox.network_access
    policy.web_search = web
    policy.features, policy.features_non_default = features, non_default
    policy.writable_roots = sandbox.writable_roots
    policy.exclude_slash_tmp, policy.exclude_tmpdir_env_var = sandbox.exclude_slash_tmp, sandbox.exclude_tmpdir_env_var
    policy.workspace_roots = [disc.cwd] + [p for p in sandbox.writable_roots if p != disc.cwd] + \
        [os.path.abspath(d) for d in r.inputs.add_dirs]
    policy.origins = r.origins
    if sandbox.network is not None:
        sandbox.network.proxy_active = _proxy_active(r, features)
    policy.sandbox = SandboxSpec(
        mode=sandbox.mode, cwd=disc.cwd,
        writable_roots=list(sandbox.writable_roots) + [os.path.abspath(d) for d in r.inputs.add_dirs],
        network_access=bool(sandbox.network_access), exclude_slash_tmp=sandbox.exclude_slash_tmp,
        exclude_tmpdir_env_var=sandbox.exclude_tmpdir_env_var, fs_entries=sandbox.fs_entries,
        deny_read=list(req.deny_read), network=sandbox.network)
    return policy


# ----------------------------------------------------------------------------- fatal checks

def _check_config_fatal(r: Resolution) -> None:
    inputs = r.inputs
    user = next((l for l in r.disc.layers if l.kind == "user"), None)
    if user is not None and isinstance(user.data.get("profile"), str):
        name = user.data["profile"]
        if inputs.profile:
            r.errors.append(_profile_collision(r, inputs.profile))
        else:
            r.errors.append(f'legacy `profile = "{name}"` config is no longer supported; use '
                            f"`--profile {name}` with `{name}.config.toml` instead")
    elif inputs.profile and user is not None and isinstance(user.data.get("profiles"), dict) \
            and inputs.profile in user.data["profiles"]:
        r.errors.append(_profile_collision(r, inputs.profile))
    if inputs.full_auto:
        r.errors.append("unexpected argument '--full-auto' found\n(--full-auto was removed in Codex "
                        "0.169.0; use `--sandbox workspace-write` or `--approve-for-me`)")
    if inputs.yolo and inputs.approval is not None:
        r.errors.append("the argument '--ask-for-approval <APPROVAL_POLICY>' cannot be used with "
                        "'--dangerously-bypass-approvals-and-sandbox'")
    if inputs.approval is not None and inputs.approval not in ("on-request", "never"):
        r.errors.append(f"invalid value '{inputs.approval}' for '--ask-for-approval <APPROVAL_POLICY>'"
                        "\n[possible values: on-request, never]")
    if inputs.sandbox is not None and inputs.sandbox not in ("read-only", "workspace-write", "danger-full-access"):
        r.errors.append(f"invalid value '{inputs.sandbox}' for '--sandbox <SANDBOX_MODE>'"
                        "\n[possible values: read-only, workspace-write, danger-full-access]")
    for layer in r.enabled:
        _check_layer_values(r, layer)
        _check_layer_types(r, layer)
    _check_requirement_types(r)
    if r.merged.get("approval_policy") == "untrusted":
        r.errors.append('approval_policy = "untrusted" is no longer supported; remove this setting')


def _profile_collision(r: Resolution, name: str) -> str:
    home = r.disc.codex_home
    return (f"--profile `{name}` cannot be used while {home}/config.toml contains legacy "
            f'`profile = "{name}"` or `[profiles.{name}]` config; move those settings into '
            f"{home}/{name}.config.toml and remove the legacy profile selector/table. See "
            "https://developers.openai.com/codex/config-advanced#profiles for more information.")


_ENUMS = {
    ("approval_policy",): ("untrusted", "on-failure", "on-request", "granular", "never"),
    ("approvals_reviewer",): ("user", "auto_review", "guardian_subagent"),
    ("sandbox_mode",): ("read-only", "workspace-write", "danger-full-access"),
    ("web_search",): ("disabled", "cached", "indexed", "live"),
}


def _check_layer_values(r: Resolution, layer: ConfigLayer) -> None:
    """Type and enum errors in the policy keys: Codex fails to load such a config."""
    for path, allowed in _ENUMS.items():
        if not layer.has(path):
            continue
        value = get_path(layer.data, path)
        if path == ("approval_policy",) and isinstance(value, dict):
            _check_granular(r, layer, value)
            continue
        if not isinstance(value, str) or value not in allowed:
            exp = ", ".join(f"`{v}`" for v in allowed)
            shown = f"`{value}`" if isinstance(value, str) else repr(value)
            r.errors.append(f"{_where(layer, path)}unknown variant {shown}, expected one of {exp}")
    swp = get_path(layer.data, ("shell_environment_policy",))
    if isinstance(swp, dict) and "filters" in swp and ("exclude" in swp or "include_only" in swp):
        r.errors.append(f"{_where(layer, ('shell_environment_policy',))}shell_environment_policy "
                        "cannot combine `filters` with legacy `exclude`/`include_only` in one layer")


#: Keys whose errors are reported with Codex's own wording by the checks above.
_HAND_CHECKED_CONFIG = {"approval_policy", "approvals_reviewer", "sandbox_mode", "web_search",
                        "shell_environment_policy", "permissions", "default_permissions"}
_HAND_CHECKED_REQUIREMENTS = {"allowed_approval_policies", "allowed_approvals_reviewers",
                              "allowed_sandbox_modes", "allowed_web_search_modes", "enforce_residency",
                              "rules", "experimental_network", "allowed_permission_profiles",
                              "default_permissions", "remote_sandbox_config"}


def _check_layer_types(r: Resolution, layer: ConfigLayer) -> None:
    """Wrong types and values of known keys: Codex fails to load the layer (schema-driven)."""
    from mdmtool.schemas import type_errors
    from mdmtool.tomlio import TomlFile
    tf = layer.toml
    own: list[str] | None = None
    if tf is None:  # -c / --enable: their values merged over the layers below them
        import json
        below: dict = {}
        for lower in r.enabled:
            if lower is layer:
                break
            below = merge_values(below, lower.data)
        data = merge_values(below, layer.data)
        tf = TomlFile(path="-c", text=json.dumps(data, sort_keys=True, default=str), data=data)
        own = [".".join(p) for p in layer.override_text]  # report only what -c set
    for f in type_errors(tf, "config"):
        if (f.key or "").split(".")[0] in _HAND_CHECKED_CONFIG:
            continue
        if own is not None and not any((f.key or "") == k or (f.key or "").startswith(k + ".")
                                       or k.startswith((f.key or "") + ".") for k in own):
            continue
        where = f"{f.source}: " if layer.toml is not None else ""
        r.errors.append(f"{where}{f.message}")


def _check_requirement_types(r: Resolution) -> None:
    from mdmtool.schemas import type_errors
    for src in r.req.sources:
        if src.toml is None or src.tag == "managed-config":
            continue
        for f in type_errors(src.toml, "requirements"):
            if (f.key or "").split(".")[0] in _HAND_CHECKED_REQUIREMENTS:
                continue
            r.errors.append(f"failed to parse requirements layer {src.file}: {f.message}")


def _check_granular(r: Resolution, layer: ConfigLayer, value: dict) -> None:
    g = value.get("granular")
    if set(value) != {"granular"} or not isinstance(g, dict):
        r.errors.append(f"{_where(layer, ('approval_policy',))}unknown variant, expected one of "
                        "`untrusted`, `on-failure`, `on-request`, `granular`, `never`")
        return
    from mdmtool.requirements import GRANULAR_FIELDS
    for f in GRANULAR_FIELDS:
        if f not in g:
            r.errors.append(f"{_where(layer, ('approval_policy',))}missing field `{f}`")
            return


def _where(layer: ConfigLayer, path: tuple) -> str:
    if layer.kind == "session-flags":  # Codex names no position for -c values
        return ""
    file, line, col = layer.locate(path)
    return f"{file}:{line}:{col}: " if line else f"{file}: "


#: Hints Codex 0.169.0 appends to some ignored keys.
IGNORED_KEY_HINTS = {
    "allowed_permissions": "Use [allowed_permission_profiles] and default_permissions; the old "
                           "allowlist is ignored even when both forms are present.",
    "windows.sandbox_private_desktop": "Remove windows.sandbox_private_desktop; legacy Windows "
                                       "sandboxes always use a private desktop.",
    "network_proxy": "Use [features.network_proxy] or [permissions.<name>.network] for settings in "
                     "config.toml, or [network_proxy], [permissions.network], or [experimental_network] "
                     "for enforced policy in requirements.toml.",
}
#: Codex lists at most this many ignored keys, then "... and N more ignored settings."
IGNORED_KEYS_SHOWN = 3


def _unknown_key_warnings(r: Resolution) -> None:
    from mdmtool.schemas import unknown_keys
    lines: list[str] = []

    def line(label: str, key: str) -> str:
        hint = IGNORED_KEY_HINTS.get(key)
        return f"  {label}: `{key}` is ignored." + (f" {hint}" if hint else "")

    for src in r.req.sources:
        if src.tag == "managed-config":
            continue
        for key in unknown_keys(src.data, "requirements"):
            lines.append(line(f"requirements ({src.file})", key))
    for layer in r.disc.layers:
        if not layer.enabled:  # a disabled project's keys are not reported
            continue
        label = f"{layer.kind} ({layer.file})" if layer.file else layer.kind
        for key in unknown_keys(layer.data, "config"):
            lines.append(line(label, key))
    lines.sort()  # Codex sorts the lines as plain strings
    if lines:
        n = len(lines)
        noun = "setting" if n == 1 else "settings"
        shown = lines[:IGNORED_KEYS_SHOWN]
        if n > IGNORED_KEYS_SHOWN:
            shown.append(f"  ... and {n - IGNORED_KEYS_SHOWN} more ignored settings.")
        r.warn("unknown_keys", f"Codex is ignoring {n} unrecognized configuration {noun}. Check for "
               "typos or deprecated settings.\n" + "\n".join(shown))


# ----------------------------------------------------------------------------- approval

def _approval_candidate(r: Resolution) -> tuple[Any, dict | None, bool]:
    inputs = r.inputs
    if inputs.yolo:
        r.origins["approval_policy"] = Origin("cli-flag", detail="--dangerously-bypass-approvals-and-sandbox")
        return "never", None, True
    if inputs.approval:
        r.origins["approval_policy"] = Origin("cli-flag", detail=f"-a {inputs.approval}")
        return inputs.approval, None, True
    if inputs.exec_mode:
        r.origins["approval_policy"] = Origin("cli-flag", detail="codex exec forces never")
        return "never", None, True
    layer = r.layer_setting(("approval_policy",))
    if layer is not None:
        value = r.merged.get("approval_policy")
        r.origins["approval_policy"] = r.origin_of(layer, ("approval_policy",))
        if value == "on-failure":
            value = "on-request"
        if isinstance(value, dict):
            return value, value.get("granular"), True
        return value, None, True
    if r.disc.trust == "untrusted":
        r.origins["approval_policy"] = Origin("trust-default", r.disc.trust_file,
                                              detail=f"project {r.disc.trust_key} is untrusted")
        return "untrusted", None, False
    r.origins["approval_policy"] = Origin("codex-default")
    return "on-request", None, False


def _normal_approval(v: Any) -> Any:
    return "on-request" if v == "on-failure" else v


def _constrain_approval(r: Resolution, value: Any, granular: dict | None, explicit: bool) -> Any:
    allowed = r.req.get("allowed_approval_policies")
    if not isinstance(allowed, list) or not allowed:
        return value
    return _first_allowed(r, "approval_policy", "allowed_approval_policies", value,
                          [_normal_approval(a) for a in allowed], explicit)


def _first_allowed(r: Resolution, field: str, req_key: str, value: Any, allowed: list, explicit: bool) -> Any:
    """An allow-list miss falls back to the first allowed value; Codex warns when the value
    was configured or flagged, and stays silent for a derived default."""
    if value in allowed:
        return value
    initial = allowed[0]
    if explicit:
        msg = _FALLBACK_MSG.format(
            field=field, initial=rust_name(initial), detail_field=field, value=rust_name(value),
            allowed=", ".join(rust_name(a) for a in allowed), source=r.req.set_by(req_key))
        r.warn(field, msg, _display(value), _display(initial), r.origins.get(field))
    r.origins[field] = r.requirement_origin(req_key)
    return initial


def _display(v: Any) -> Any:
    return "granular" if isinstance(v, dict) else v


# ----------------------------------------------------------------------------- reviewer

def _reviewer(r: Resolution) -> str:
    layer = r.layer_setting(("approvals_reviewer",))
    if layer is not None:
        value = r.merged.get("approvals_reviewer")
        value = "auto_review" if value == "guardian_subagent" else value
        r.origins["approvals_reviewer"] = r.origin_of(layer, ("approvals_reviewer",))
        explicit = True
    else:
        value, explicit = "user", False
        r.origins["approvals_reviewer"] = Origin("codex-default")
    allowed = r.req.get("allowed_approvals_reviewers")
    if not isinstance(allowed, list) or not allowed:
        return value
    allowed = ["auto_review" if a == "guardian_subagent" else a for a in allowed]
    return _first_allowed(r, "approvals_reviewer", "allowed_approvals_reviewers", value, allowed, explicit)


# ----------------------------------------------------------------------------- sandbox

def _order_warnings(r: Resolution) -> None:
    """Codex's order among the start-up warnings that mdmtool computes in another order:
    unknown feature pins of the requirements come before every fallback (differential seeds
    20261126 and 9001), and a profile's allow-list fallback ("falling back from
    `<profile>`") before the approval and reviewer fallbacks (seed 9001, case 738)."""
    first = next((i for i, w in enumerate(r.warnings) if w.message.startswith("Configured value for `")), None)
    if first is None:
        return

    def rank(w: PolicyWarning) -> int:  # the fallbacks come approval, reviewer, sandbox, ...
        if w.message.startswith("Ignoring unknown `features` requirement"):
            return 0
        return 1 if w.key == "permission_profile" and "falling back from `" in w.message else 2
    r.warnings[first:] = sorted(r.warnings[first:], key=rank)  # stable: the rest keep their order


def _sandbox_candidate(r: Resolution, profiles: PermissionProfiles) -> SandboxChoice:
    inputs = r.inputs
    if inputs.yolo:
        origin = Origin("cli-flag", detail="--dangerously-bypass-approvals-and-sandbox")
        return profiles.legacy("danger-full-access", explicit=True, origin=origin)
    dp_layer = r.layer_setting(("default_permissions",))
    if isinstance(r.req.get("allowed_permission_profiles"), dict):
        # Under allowed_permission_profiles Codex ignores sandbox_mode (any layer, -c, -s,
        # managed): the profile is the configured default_permissions, else the required
        # one, else :workspace, then constrained as usual (cases 721, 733, 735-737, 739-741)
        if dp_layer is not None:
            return _configured_profile(r, profiles, dp_layer)
        return _required_profile(r, profiles) or profiles.named(
            ":workspace", explicit=False, origin=r.requirement_origin("allowed_permission_profiles", "requirement"))
    if inputs.sandbox:
        return profiles.legacy(inputs.sandbox, explicit=True,
                               origin=Origin("cli-flag", detail=f"--sandbox {inputs.sandbox}"))
    # The highest layer that sets sandbox_mode or default_permissions decides which of the
    # two applies -- except that a managed config (file or MDM) setting only sandbox_mode
    # beats a default_permissions set in any config file, and loses to one set with -c
    # (which the managed allow-list then constrains). Observed: cases 20, 206, 432,
    # 721-724, 729-734 (and the matrices behind them).
    managed_sandbox = any(l.kind in ("managed-config", "mdm") and l.has(("sandbox_mode",))
                          and not l.has(("default_permissions",)) for l in r.enabled)
    for layer in reversed(r.enabled):
        if layer.kind in ("managed-config", "mdm") and not layer.has(("default_permissions",)):
            continue
        if layer.has(("default_permissions",)):
            if managed_sandbox and layer.kind != "session-flags":
                break  # the managed sandbox_mode beats a default_permissions from a file
            return _configured_profile(r, profiles, layer)
        if layer.has(("sandbox_mode",)):
            break
    sm_layer = r.layer_setting(("sandbox_mode",))
    if sm_layer is not None:
        return profiles.legacy(r.merged["sandbox_mode"], explicit=True,
                               origin=r.origin_of(sm_layer, ("sandbox_mode",)))
    if dp_layer is not None:  # set only by a managed config
        return _configured_profile(r, profiles, dp_layer)
    required = _required_profile(r, profiles)
    if required is not None:
        return required
    if r.disc.trust in ("trusted", "untrusted"):
        origin = Origin("trust-default", r.disc.trust_file,
                        detail=f"project {r.disc.trust_key} is {r.disc.trust}")
        if isinstance(r.merged.get("sandbox_workspace_write"), dict):
            # any [sandbox_workspace_write] table selects the legacy workspace-write path
            return profiles.legacy("workspace-write", explicit=False, origin=origin)
        return profiles.named(":workspace", explicit=False, origin=origin)
    return profiles.named(":read-only", explicit=False,
                          origin=Origin("codex-default", detail="project is not trusted"))


def _configured_profile(r: Resolution, profiles: PermissionProfiles, layer) -> SandboxChoice:
    return profiles.named(layer.data["default_permissions"], explicit=True,
                          origin=r.origin_of(layer, ("default_permissions",)))


def _required_profile(r: Resolution, profiles: PermissionProfiles) -> SandboxChoice | None:
    """requirements' default_permissions, when they name one."""
    required = r.req.get("default_permissions")
    if not isinstance(required, str):
        return None
    return profiles.named(required, explicit=False,
                          origin=r.requirement_origin("default_permissions", "requirement"))


def _constrain_sandbox(r: Resolution, choice: SandboxChoice, profiles: PermissionProfiles,
                       approval: Any) -> SandboxChoice:
    req = r.req
    allowed_profiles = req.get("allowed_permission_profiles")
    allowed_names = [name for name, ok in allowed_profiles.items() if ok is True] \
        if isinstance(allowed_profiles, dict) else None
    configured_dp = r.merged.get("default_permissions")
    if allowed_names is not None and isinstance(configured_dp, str) and configured_dp not in allowed_names \
            and not (choice.profile_id == configured_dp and choice.explicit):
        # Codex judges a configured default_permissions even when a flag or a higher
        # sandbox_mode decides the sandbox (differential case diff_0154)
        target = req.get("default_permissions") or ":workspace"
        r.warn("permission_profile", f"Configured value for `permission_profile` is disallowed by "
               f"requirements; falling back from `{configured_dp}` to required value `{target}`.",
               configured_dp, target, r.origins.get("permission_profile"))
    if allowed_names is not None and choice.profile_id is None and choice.profile_key in allowed_names:
        # under a profile allow-list a legacy mode runs as its built-in profile (diff_0163)
        choice.profile_id = choice.profile_key
    if allowed_names is not None and choice.profile_key not in allowed_names:
        target = req.get("default_permissions") or ":workspace"
        if not (choice.profile_id is not None and choice.explicit) and isinstance(configured_dp, str) \
                and configured_dp in allowed_names:
            target = configured_dp  # a silent replacement keeps an allowed configured default (diff_0097)
        if choice.profile_id is not None and choice.explicit:  # legacy sandbox_mode: silent
            msg = (f"Configured value for `permission_profile` is disallowed by requirements; falling "
                   f"back from `{choice.profile_key}` to required value `{target}`.")
            r.warn("permission_profile", msg, choice.profile_key, target, choice.origin)
        choice = profiles.named(target, explicit=False,
                                origin=r.requirement_origin("allowed_permission_profiles"))

    modes = req.get("allowed_sandbox_modes")
    allowed = list(modes) if isinstance(modes, list) else None
    if req.deny_read:
        base = allowed if allowed is not None else ["read-only", "workspace-write", "danger-full-access"]
        allowed = [m for m in base if m in ("read-only", "workspace-write")]
    if allowed is not None and choice.mode not in allowed:
        if approval == "never" and choice.mode == "danger-full-access":
            r.errors.append(
                '`approval_policy = "never"` cannot be used because requirements do not allow '
                '`sandbox_mode = "danger-full-access"`; Codex would fall back to read-only permissions '
                "with approvals disabled. Choose an `approval_policy` based on what you need, such as "
                "`on-request`, or choose an allowed sandbox mode.")
        src = req.set_by("allowed_sandbox_modes") if modes is not None else req.set_by("permissions")
        # the deny-read narrowing is printed in config spelling, allow-lists by Rust name
        shown = ", ".join(allowed) if modes is None else ", ".join(rust_name(m) for m in allowed)
        msg = _FALLBACK_MSG.format(
            field="permission_profile", initial=read_only_debug(), detail_field="sandbox_mode",
            value=rust_name(choice.mode), allowed=shown, source=src)
        r.warn("permission_profile", msg, choice.mode, "read-only", choice.origin)
        choice = profiles.legacy("read-only", explicit=False,
                                 origin=r.requirement_origin("allowed_sandbox_modes" if modes is not None
                                                             else "permissions"))
    r.origins["sandbox_mode"] = choice.origin
    r.origins["permission_profile"] = choice.origin
    r.origins["network_access"] = choice.network_origin or choice.origin
    r.origins["writable_roots"] = choice.roots_origin or choice.origin
    return choice


# ----------------------------------------------------------------------------- web search

_WEB_ORDER = ("cached", "indexed", "live", "disabled")
_WEB_CANON = ("disabled", "cached", "indexed", "live")


def _feature_on(r: Resolution, name: str) -> Origin | None:
    """Where a feature flag the session sees as on comes from, None when it is off: a
    requirements pin beats the config (a pinned web_search_request = true means live
    search: differential seed 4242)."""
    pins = r.req.get("features")
    if isinstance(pins, dict) and isinstance(pins.get(name), bool):
        return r.requirement_origin("features", "requirement") if pins[name] else None
    if get_path(r.merged, ("features", name)) is True:
        return r.origin_of(r.layer_setting(("features", name)), ("features", name))
    return None


def _web_search(r: Resolution, sandbox: SandboxChoice) -> str:
    if r.layer_setting(("web_search",)) is not None:  # --search is a session-flags value
        value = r.merged["web_search"]
        r.origins["web_search"] = r.origin_of(r.layer_setting(("web_search",)), ("web_search",))
    elif (origin := _feature_on(r, "web_search_request")) is not None:
        value = "live"
        r.origins["web_search"] = origin
        r.notices_deprecated = "web_search_request"
    elif (origin := _feature_on(r, "web_search_cached")) is not None:
        value = "cached"
        r.origins["web_search"] = origin
    else:
        value = "cached"
        r.origins["web_search"] = Origin("codex-default")
    modes = r.req.get("allowed_web_search_modes")
    allowed = None
    if isinstance(modes, list):
        allowed = [m for m in _WEB_CANON if m in modes or m == "disabled"]
        if value not in allowed:
            initial = next(m for m in _WEB_ORDER if m in allowed)
            msg = _FALLBACK_MSG.format(
                field="web_search_mode", initial=rust_name(initial), detail_field="web_search_mode",
                value=rust_name(value), allowed=", ".join(rust_name(m) for m in allowed),
                source=r.req.set_by("allowed_web_search_modes"))
            r.warn("web_search_mode", msg, value, initial, r.origins["web_search"])
            r.origins["web_search"] = r.requirement_origin("allowed_web_search_modes")
            value = initial
    if sandbox.mode == "danger-full-access" and value == "cached" and (allowed is None or "live" in allowed):
        value = "live"
        r.origins["web_search"] = Origin(r.origins["web_search"].layer, r.origins["web_search"].file,
                                         r.origins["web_search"].line,
                                         detail="cached becomes live under danger-full-access")
    return value


# ----------------------------------------------------------------------------- features

def _features(r: Resolution) -> tuple[dict[str, bool], dict[str, bool]]:
    from mdmtool.features import feature_defaults
    defaults = feature_defaults()
    effective = dict(defaults)
    configured = r.merged.get("features")
    if isinstance(configured, dict):
        for name, value in configured.items():
            if name in effective and isinstance(value, bool):
                effective[name] = value
            elif name == "network_proxy" and isinstance(value, dict):
                effective[name] = bool(value.get("enabled", True))
    pins = r.req.get("features")  # [feature_requirements] is composed under this name
    if isinstance(pins, dict):
        for name, value in pins.items():
            if name not in defaults:
                src = r.req.set_by("features")
                r.warn("features", f"Ignoring unknown `features` requirement `{name}` from {src}")
                continue
            if isinstance(value, bool):
                effective[name] = value
                r.origins[f"features.{name}"] = r.requirement_origin("features", "requirement")
    non_default = {k: v for k, v in effective.items() if defaults.get(k) != v}
    return effective, non_default


def _inputs_summary(inputs: ResolveInputs) -> dict[str, Any]:
    """The command line the policy was resolved for (fleet impact re-resolves with it)."""
    from mdmtool.record import asdict
    out = {k: v for k, v in asdict(inputs).items() if v not in (None, False, [], "")}
    out.pop("mdm_plist", None)
    out.pop("cloud_requirements", None)
    return out


def _proxy_active(r: Resolution, features: dict[str, bool]) -> bool:
    """The managed network proxy runs when the feature is on or requirements enable it."""
    net = r.req.get("experimental_network")
    return bool(features.get("network_proxy")) or (isinstance(net, dict) and net.get("enabled") is True)


def resolve_or_raise(inputs: ResolveInputs) -> EffectivePolicy:
    """:func:`resolve`, for callers that treat an unusable input as an error."""
    try:
        return resolve(inputs)
    except RecursionError:
        raise MdmError("configuration is nested too deeply") from None
