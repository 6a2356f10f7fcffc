"""requirements.toml self-checks (codex-policy.md §6.3, §6.5, §7.2)."""

from __future__ import annotations

from mdmtool.lint.context import REQUIREMENTS, SYSTEM, hit
from mdmtool.lint.rules import file_rule, unit_rule
from mdmtool.requirements import network_table

APPROVALS = ("untrusted", "on-failure", "on-request", "never")
REVIEWERS = ("user", "auto_review", "guardian_subagent")
SANDBOXES = ("read-only", "workspace-write", "danger-full-access", "external-sandbox")
WEB = ("disabled", "cached", "indexed", "live")
WIN_IMPLS = ("elevated", "unelevated")


def _enum_list(f, key: str, allowed: tuple, *, empty_fatal: bool):
    val = f.get(key)
    if val is None:
        return
    if not isinstance(val, list):
        yield hit("MDM706", f, (key,), f"`{key}` must be an array: Codex refuses to start")
        return
    if not val and empty_fatal:
        yield hit("MDM701", f, (key,), f"`{key} = []` is empty: Codex refuses to start "
                  "(an allow-list needs at least one value)")
    for i, v in enumerate(val):
        if isinstance(v, dict) and key == "allowed_approval_policies" and "granular" in v:
            continue
        if not isinstance(v, str) or v not in allowed:
            yield hit("MDM706", f, (key, i), f"{v!r} is not a valid value of `{key}` (expected one "
                      f"of {', '.join(allowed)}): Codex refuses to start")


@file_rule(REQUIREMENTS)
def allow_lists(f):
    yield from _enum_list(f, "allowed_approval_policies", APPROVALS, empty_fatal=True)
    yield from _enum_list(f, "allowed_approvals_reviewers", REVIEWERS, empty_fatal=True)
    yield from _enum_list(f, "allowed_web_search_modes", WEB, empty_fatal=False)
    yield from _enum_list(f, "allowed_sandbox_modes", SANDBOXES, empty_fatal=False)
    wim = f.get("windows", "allowed_sandbox_implementations")
    if wim == []:
        yield hit("MDM701", f, ("windows", "allowed_sandbox_implementations"),
                  "`windows.allowed_sandbox_implementations = []` is empty: Codex refuses to start")
    if f.get("allowed_web_search_modes") == []:
        yield hit("MDM701", f, ("allowed_web_search_modes",),
                  "`allowed_web_search_modes = []` allows only \"disabled\": web search is off for "
                  "everyone", severity="warning")
    asm = f.get("allowed_sandbox_modes")
    if isinstance(asm, list) and "read-only" not in asm:
        yield hit("MDM702", f, ("allowed_sandbox_modes",),
                  f"allowed_sandbox_modes = {asm!r} does not include \"read-only\": Codex refuses to "
                  "start (\"must include 'read-only' to allow any PermissionProfile\")",
                  fix={"op": "set", "path": ["allowed_sandbox_modes"],
                       "value": [v for v in asm if isinstance(v, str)] + ["read-only"]})
    res = f.get("enforce_residency")
    if res is not None and res != "us":
        yield hit("MDM706", f, ("enforce_residency",), f'enforce_residency = {res!r} is invalid '
                  '(only "us"): Codex refuses to start')


@file_rule(REQUIREMENTS)
def fatal_shapes(f):
    rules = f.get("rules", "prefix_rules")
    if isinstance(rules, list):
        for i, r in enumerate(rules):
            if isinstance(r, dict) and r.get("decision") not in ("prompt", "prompt-user", "forbidden"):
                yield hit("MDM706", f, ("rules", "prefix_rules", i, "decision") if "decision" in r
                          else ("rules", "prefix_rules", i),
                          f"prefix rule decision {r.get('decision')!r} is invalid (prompt, prompt-user "
                          "or forbidden; \"allow\" is not accepted): Codex refuses to start")
    name, en = network_table(f.data)
    if en is not None:
        if "domains" in en and ({"allowed_domains", "denied_domains"} & set(en)):
            yield hit("MDM706", f, (name, "domains"),
                      f"{name} mixes `domains` with legacy allowed_domains/denied_domains: "
                      "Codex refuses to start")
        if "unix_sockets" in en and "allow_unix_sockets" in en:
            yield hit("MDM706", f, (name, "unix_sockets"),
                      f"{name} mixes `unix_sockets` with legacy allow_unix_sockets: "
                      "Codex refuses to start")
    fs = f.get("permissions", "filesystem")
    if isinstance(fs, dict):
        for key in fs:
            if key != "deny_read":
                yield hit("MDM706", f, ("permissions", "filesystem", key),
                          f"`permissions.filesystem.{key}`: only deny_read is allowed here (profile "
                          "fields belong in [permissions.<name>]): Codex refuses to start")
    app = f.get("allowed_permission_profiles")
    if isinstance(app, dict) and f.get("default_permissions") is None:
        if not (app.get(":workspace") is True and app.get(":read-only") is True):
            yield hit("MDM706", f, ("allowed_permission_profiles",),
                      "allowed_permission_profiles is set without default_permissions and does not "
                      "allow both :workspace and :read-only: Codex refuses to start")
    dp = f.get("default_permissions")
    if isinstance(dp, str) and not dp.startswith(":"):
        perms = f.get("permissions")
        if not (isinstance(perms, dict) and isinstance(perms.get(dp), dict)):
            yield hit("MDM706", f, ("default_permissions",),
                      f'default_permissions = "{dp}" names a profile that requirements.toml does not '
                      f"define ([permissions.{dp}]): Codex refuses to start")
    if isinstance(dp, str) and isinstance(app, dict) and app.get(dp) is not True:
        yield hit("MDM706", f, ("default_permissions",),
                  f'default_permissions = "{dp}" is not allowed by allowed_permission_profiles')
    models = f.get("auto_review", "required_on_models")
    if isinstance(models, list):
        for i, m in enumerate(models):
            if isinstance(m, str) and ("/" in m or m != m.strip()):
                yield hit("MDM706", f, ("auto_review", "required_on_models", i),
                          f"model slug {m!r} must not contain '/' or surrounding whitespace: "
                          "Codex refuses to start")


@file_rule(REQUIREMENTS)
def enforces_nothing(f):
    """Lines that restrict nothing, with the real keys (mdmtool.reqintent, cases 651-654)."""
    from mdmtool.filecheck import requirements_content
    for i in requirements_content(f.data, f.path):
        if i.rule == "MDM705":
            yield hit("MDM705", f, i.path or None, i.message, severity=i.severity, fix=i.fix)


def _config_default(unit, key: str, default: str) -> tuple[str, str]:
    """The value a user without an explicit setting starts from (managed/system config)."""
    for f in (unit.managed, unit.one(SYSTEM)):
        if f is not None and isinstance(f.get(key), str):
            return f.get(key), f"{f.path}"
    return default, "Codex's default"


@unit_rule
def defaults_and_managed(unit):
    req = unit.requirements
    if req is None or not req.ok or req.role != REQUIREMENTS:
        return
    checks = (("allowed_approvals_reviewers", "approvals_reviewer", "user"),
              ("allowed_approval_policies", "approval_policy", "on-request"))
    for list_key, key, default in checks:
        allowed = req.get(list_key)
        if not isinstance(allowed, list) or not allowed:
            continue
        norm = ["on-request" if v == "on-failure" else "auto_review" if v == "guardian_subagent" else v
                for v in allowed]
        value, where = _config_default(unit, key, default)
        value = "auto_review" if value == "guardian_subagent" else value
        if value not in norm:
            yield hit("MDM703", req, (list_key,),
                      f"{list_key} = {allowed!r} leaves out the default {key} {value!r} ({where}): "
                      f"every user without an explicit setting runs {norm[0]!r} instead")
    web = req.get("allowed_web_search_modes")
    if isinstance(web, list) and web and "cached" not in web:
        yield hit("MDM703", req, ("allowed_web_search_modes",),
                  f"allowed_web_search_modes = {web!r} leaves out the default \"cached\": every "
                  "session starts with a fallback warning")
    managed = unit.managed
    if managed is None or not managed.ok:
        return
    pairs = (("approval_policy", "allowed_approval_policies"),
             ("approvals_reviewer", "allowed_approvals_reviewers"),
             ("sandbox_mode", "allowed_sandbox_modes"))
    for key, list_key in pairs:
        mv = managed.get(key)
        allowed = req.get(list_key)
        if isinstance(mv, str) and isinstance(allowed, list) and mv not in allowed:
            yield hit("MDM704", managed, (key,),
                      f'managed_config.toml sets {key} = "{mv}", which {req.path} does not allow '
                      f"({list_key} = {allowed!r}); as the higher requirement source "
                      f"managed_config.toml replaces that list, so \"{mv}\" is what Codex enforces")
