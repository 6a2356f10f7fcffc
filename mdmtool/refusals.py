"""Single-file checks for what makes Codex 0.169.0 refuse to start, beyond types.

A schema says what a value may look like; these say which well-formed files Codex still
rejects (observed with the real program, see fixtures/cases/FINDINGS.md).
"""

from __future__ import annotations

from mdmtool.model import ERROR, Finding
from mdmtool.tomlio import TomlFile

RULE = "MDM005"
BUILTIN_PROFILES = (":read-only", ":workspace", ":danger-full-access")


def refusal_findings(tf: TomlFile, kind: str) -> list[Finding]:
    if kind == "requirements":
        out = _requirements(tf)
    elif kind == "project-config":
        out = _project(tf)
    else:
        out = _config(tf)
    return out + session_findings(tf, kind)


def session_findings(tf: TomlFile, kind: str) -> list[Finding]:
    """What Codex only finds at session start or ignores (mdmtool.filecheck): root deny globs,
    missing referenced files, required MCP servers that cannot start, requirements that
    enforce nothing. Machine checks run when ``tf`` is a real file (its folder is the base)."""
    import os

    from mdmtool.filecheck import file_issues, this_machine
    from mdmtool.lint.catalog import RULES
    from mdmtool.model import Source
    place = this_machine(tf.path) if os.path.isfile(tf.path) else None
    out = []
    for i in file_issues(tf.data, "requirements" if kind == "requirements" else "config", tf.path, place):
        meta = RULES.get(i.rule)
        src = tf.locate(i.path) if i.path else Source(tf.path, 1, 1)
        rule = RULE if i.rule == "MDM706" else i.rule  # validate's own id for "Codex refuses to start"
        out.append(Finding(rule, i.severity, i.message, src,
                           remediation=i.remediation or (meta.remediation if meta else None),
                           key=".".join(str(p) for p in i.path) or None, fix=i.fix))
    return out


def _project(tf: TomlFile) -> list[Finding]:
    """A project file: denylisted keys are dropped (with a warning), the rest checked as config."""
    from mdmtool.layers import PROJECT_DENYLIST
    from mdmtool.merge import get_path
    from mdmtool.model import WARNING
    out = []
    kept = dict(tf.data)
    for key in PROJECT_DENYLIST:
        path = tuple(key.split("."))
        if get_path(tf.data, path) is not None:
            out.append(Finding("MDM007", WARNING, f"`{key}` cannot be set in a project's .codex/config.toml: "
                               "Codex ignores it here", tf.locate(path),
                               remediation="set it in the user's config.toml instead", key=key))
            if len(path) == 1:
                kept.pop(key, None)
    return out + _config(TomlFile(tf.path, tf.text, kept, tf._positions))


def _f(tf: TomlFile, path: tuple, message: str, remediation: str) -> Finding:
    return Finding(RULE, ERROR, message, tf.locate(path), remediation=remediation,
                   key=".".join(str(p) for p in path))


def _config(tf: TomlFile) -> list[Finding]:
    d = tf.data
    out: list[Finding] = []
    if d.get("approval_policy") == "untrusted":
        out.append(_f(tf, ("approval_policy",),
                      'approval_policy = "untrusted" is no longer supported: Codex refuses to start',
                      'remove the setting; mark the project untrusted with [projects."<path>"] '
                      'trust_level = "untrusted" instead'))
    if isinstance(d.get("profile"), str):
        name = d["profile"]
        out.append(_f(tf, ("profile",),
                      f'legacy `profile = "{name}"` is no longer supported: Codex refuses to start',
                      f"move the profile's settings into {name}.config.toml and start Codex with "
                      f"--profile {name}"))
    perms = d.get("permissions")
    if isinstance(perms, dict) and perms:
        default = d.get("default_permissions")
        if default is None:
            out.append(_f(tf, ("permissions",),
                          "config defines `[permissions]` profiles but does not set "
                          "`default_permissions`: Codex refuses to start",
                          "set default_permissions to one of the profiles (or a built-in)"))
        elif isinstance(default, str) and default not in BUILTIN_PROFILES and default not in perms:
            out.append(_f(tf, ("default_permissions",),
                          f"default_permissions names undefined profile `{default}`: Codex refuses to start",
                          "define [permissions." + default + "] or name an existing profile"))
        for name, body in perms.items():
            if not isinstance(body, dict):
                continue
            ext = body.get("extends")
            if ext == ":danger-full-access":
                out.append(_f(tf, ("permissions", name, "extends"),
                              f"profile `{name}` extends `:danger-full-access`, which Codex refuses",
                              "extend :workspace or :read-only"))
            elif isinstance(ext, str) and ext not in BUILTIN_PROFILES and ext not in perms:
                out.append(_f(tf, ("permissions", name, "extends"),
                              f"profile `{name}` extends undefined profile `{ext}`: Codex refuses to start",
                              "define the parent profile or extend a built-in"))
        out.extend(_cycles(tf, perms))
    elif isinstance(d.get("default_permissions"), str) and d["default_permissions"] not in BUILTIN_PROFILES:
        out.append(_f(tf, ("default_permissions",),
                      f"default_permissions names `{d['default_permissions']}`, which this file does not "
                      "define (Codex refuses to start unless another layer defines it)",
                      "define the profile under [permissions] or use :read-only / :workspace"))
    sep = d.get("shell_environment_policy")
    if isinstance(sep, dict) and "filters" in sep and ("exclude" in sep or "include_only" in sep):
        out.append(_f(tf, ("shell_environment_policy",),
                      "shell_environment_policy mixes `filters` with legacy `exclude`/`include_only`: "
                      "Codex refuses to start", "convert the legacy arrays into the filters map"))
    return out


def _cycles(tf: TomlFile, perms: dict) -> list[Finding]:
    out = []
    for start in perms:
        seen, cur = [], start
        while isinstance(cur, str) and cur in perms and isinstance(perms[cur], dict):
            if cur in seen:
                if cur == start:
                    out.append(_f(tf, ("permissions", start, "extends"),
                                  f"profile `{start}` has an extends cycle: {' -> '.join(seen + [cur])}",
                                  "break the cycle"))
                break
            seen.append(cur)
            cur = perms[cur].get("extends")
    return out


def _requirements(tf: TomlFile) -> list[Finding]:
    d = tf.data
    out: list[Finding] = []
    app = d.get("allowed_permission_profiles")
    if isinstance(app, dict) and "default_permissions" not in d:
        if not (app.get(":workspace") is True and app.get(":read-only") is True):
            out.append(_f(tf, ("allowed_permission_profiles",),
                          "allowed_permission_profiles without default_permissions: Codex refuses to "
                          "start unless both `:workspace` and `:read-only` are allowed",
                          "set default_permissions to an allowed profile"))
    return out
