"""Version drift (codex-policy.md §9): retired values, keys and flags, with autofixes."""

from __future__ import annotations

import re

from mdmtool.lint.context import (MANAGED, PROFILE, PROJECT, REQUIREMENTS, SHELL, STANDALONE,
                                  SYSTEM, USER, hit)
from mdmtool.lint.rules import file_rule, profile_filesystems

CONFIGS = (SYSTEM, USER, PROFILE, PROJECT, STANDALONE)

#: old key path -> (new key path, value mapping or None)
RENAMED: dict[tuple, tuple[tuple, object]] = {
    ("experimental_instructions_file",): (("model_instructions_file",), None),
    ("experimental_use_unified_exec_tool",): (("features", "unified_exec"), None),
    ("features", "codex_hooks"): (("features", "hooks"), None),
    ("background_terminal_timeout",): (("background_terminal_max_timeout",), None),
    ("agents", "max_threads"): (("agents", "max_concurrent_threads_per_session"), None),
    ("memories", "no_memories_if_mcp_or_web_search"): (("memories", "disable_on_external_context"), None),
    ("experimental_windows_sandbox",): (("windows", "sandbox"), {True: "elevated", False: "unelevated"}),
    ("features", "web_search_request"): (("web_search",), {True: "live", False: "disabled"}),
    ("features", "web_search_cached"): (("web_search",), {True: "cached", False: "disabled"}),
    ("features", "web_search"): (("web_search",), {True: "live", False: "disabled"}),
    ("network_proxy",): (("features", "network_proxy"), None),
}
REMOVED: dict[tuple, str] = {
    ("sandbox_permissions",): "ignored with a warning",
    ("experimental_use_exec_command_tool",): "ignored",
    ("features", "use_linux_sandbox_bwrap"): "bubblewrap is the default on Linux",
    ("experimental_path_to_linux_sandbox_bwrap",): "bubblewrap is found on PATH",
    ("sandbox_workspace_write", "allow_limited_git_writes"): "never shipped; ignored",
}
REQ_REMOVED: dict[tuple, str] = {
    ("windows", "sandbox_private_desktop"): "ignored with a warning",
}


def _get(data: dict, path: tuple):
    cur = data
    for k in path:
        if not isinstance(cur, dict) or k not in cur:
            return _MISSING
        cur = cur[k]
    return cur


_MISSING = object()


def _dotted(path) -> str:
    return ".".join(str(p) for p in path)


@file_rule(*CONFIGS)
def approval_values(f):
    ap = f.get("approval_policy")
    if ap == "untrusted":
        sev = "warning" if f.role == SYSTEM else None
        msg = ('approval_policy = "untrusted" is no longer supported: Codex 0.169 refuses to start '
               '("remove this setting")')
        if f.role == SYSTEM:
            msg += " — tolerated in the system layer when a higher layer sets approval_policy (Q14)"
        yield hit("MDM201", f, ("approval_policy",), msg, severity=sev,
                  fix={"op": "delete", "path": ["approval_policy"]})
    elif ap == "on-failure":
        yield hit("MDM202", f, ("approval_policy",),
                  'approval_policy = "on-failure" is deprecated; Codex silently runs "on-request"',
                  fix={"op": "set", "path": ["approval_policy"], "value": "on-request"})
    if f.get("approvals_reviewer") == "guardian_subagent":
        yield hit("MDM208", f, ("approvals_reviewer",),
                  'approvals_reviewer = "guardian_subagent" is the old name of "auto_review"',
                  fix={"op": "set", "path": ["approvals_reviewer"], "value": "auto_review"})


@file_rule(USER, SYSTEM, STANDALONE, PROFILE)
def legacy_profiles(f):
    prof = f.get("profile")
    if prof is not None:
        yield hit("MDM203", f, ("profile",),
                  f'legacy `profile = "{prof}"` makes Codex 0.169 refuse to start; use '
                  f"`--profile {prof}` with {prof}.config.toml instead",
                  fix={"op": "delete", "path": ["profile"]})
    profiles = f.get("profiles")
    if isinstance(profiles, dict):
        for name in profiles:
            yield hit("MDM204", f, ("profiles", name),
                      f"[profiles.{name}] is ignored by Codex 0.169 (and `-p {name}` refuses to start "
                      f"while it exists); move it to $CODEX_HOME/{name}.config.toml",
                      fix={"op": "move", "path": ["profiles", name], "to": [],
                           "file": f"{name}.config.toml"})


@file_rule(*CONFIGS, MANAGED)
def renamed_and_removed_keys(f):
    data = f.data
    for old, (new, mapping) in RENAMED.items():
        val = _get(data, old)
        if val is _MISSING:
            continue
        if old == ("network_proxy",) and not isinstance(val, dict):
            continue
        fix = {"op": "move", "path": list(old), "to": list(new)}
        if mapping is not None and isinstance(val, bool) and val in mapping:
            fix["value"] = mapping[val]
        yield hit("MDM206", f, old, f"`{_dotted(old)}` is a retired name; Codex 0.169 reads "
                  f"`{_dotted(new)}`", fix=fix)
    for old, why in REMOVED.items():
        if _get(data, old) is not _MISSING:
            yield hit("MDM207", f, old, f"`{_dotted(old)}` has no effect in Codex 0.169 ({why})",
                      fix={"op": "delete", "path": list(old)})
    sep = data.get("shell_environment_policy")
    if isinstance(sep, dict):
        for legacy in ("exclude", "include_only"):
            if legacy in sep:
                both = "filters" in sep
                yield hit("MDM206", f, ("shell_environment_policy", legacy),
                          f"`shell_environment_policy.{legacy}` is the legacy form of `filters`"
                          + ("; both forms in one file make Codex refuse to start" if both else ""),
                          severity="error" if both else None)
    yield from _special_paths(f)
    yield from _unix_none(f, data)


def _special_paths(f):
    for name, fs in profile_filesystems(f):
        for key in fs:
            if key in (":cwd", ":project_roots"):
                path = ("permissions", name, "filesystem", key)
                msg = ("`:project_roots` is an old name of `:workspace_roots` (Codex 0.169 reads it as "
                       "that without a word, case 662)" if key == ":project_roots" else
                       "`:cwd` is not recognised by Codex 0.169: it warns (\"Configured filesystem path "
                       "`:cwd` is not recognized ... will be ignored\") and IGNORES these rules; the "
                       "current name is `:workspace_roots`")
                yield hit("MDM206", f, path, msg,
                          fix={"op": "move", "path": list(path),
                               "to": ["permissions", name, "filesystem", ":workspace_roots"]})
        for key, value in fs.items():
            scoped = value.items() if isinstance(value, dict) else [(None, value)]
            for sub, access in scoped:
                if access == "none":
                    path = ("permissions", name, "filesystem", key) + ((sub,) if sub is not None else ())
                    yield hit("MDM208", f, path, f'filesystem access "none" is an alias Codex 0.169 reads '
                              'as "deny" without a word (case 661): write "deny"',
                              fix={"op": "set", "path": list(path), "value": "deny"})


def _unix_none(f, data):
    from mdmtool.lint.rules.util import network_tables
    for prefix, table in network_tables(data, f.kind):
        socks = table.get("unix_sockets")
        if isinstance(socks, dict):
            for sock, val in socks.items():
                if val == "none":
                    path = prefix + ("unix_sockets", sock)
                    yield hit("MDM208", f, path, f'unix_sockets value "none" for {sock} makes Codex '
                              '0.169 refuse to start; write "deny"', severity="error",
                              fix={"op": "set", "path": list(path), "value": "deny"})


@file_rule(REQUIREMENTS)
def requirements_drift(f):
    data = f.data
    yield from _special_paths(f)
    if "allowed_permissions" in data:
        val = data["allowed_permissions"]
        fix = {"op": "move", "path": ["allowed_permissions"], "to": ["allowed_permission_profiles"]}
        if isinstance(val, list) and all(isinstance(v, str) for v in val):
            fix["value"] = {v: True for v in val}
        yield hit("MDM206", f, ("allowed_permissions",),
                  "`allowed_permissions` (list form) is ignored since Codex 0.138; use the "
                  "[allowed_permission_profiles] table (name = true) and default_permissions", fix=fix)
    for old, why in REQ_REMOVED.items():
        if _get(data, old) is not _MISSING:
            yield hit("MDM207", f, old, f"`{_dotted(old)}` has no effect in Codex 0.169 ({why})",
                      fix={"op": "delete", "path": list(old)})
    aap = data.get("allowed_approval_policies")
    if isinstance(aap, list):
        for i, v in enumerate(aap):
            if v == "on-failure":
                yield hit("MDM208", f, ("allowed_approval_policies", i),
                          '"on-failure" in allowed_approval_policies is read as "on-request"',
                          fix={"op": "set", "path": ["allowed_approval_policies", i], "value": "on-request"})
    rev = data.get("allowed_approvals_reviewers")
    if isinstance(rev, list):
        for i, v in enumerate(rev):
            if v == "guardian_subagent":
                yield hit("MDM208", f, ("allowed_approvals_reviewers", i),
                          '"guardian_subagent" is the old name of "auto_review"',
                          fix={"op": "set", "path": ["allowed_approvals_reviewers", i],
                               "value": "auto_review"})


# ----------------------------------------------------------------------------- shell scripts

_CODEX_WORD = re.compile(r"(?<![\w./-])codex(?![\w-])")
_FLAG = re.compile(r"(?<![\w-])(--full-auto|--yolo|--dangerously-bypass-approvals-and-sandbox"
                   r"|(?:-a|--ask-for-approval)(?:\s+|=)(?:untrusted|on-failure))(?![\w-])")


@file_rule(SHELL)
def shell_flags(f):
    """Codex flags in shell scripts and aliases (only on lines that run codex)."""
    lines = f.text.split("\n")
    in_codex = False
    for i, line in enumerate(lines):
        code = line.split(" #", 1)[0] if not line.lstrip().startswith("#") else ""
        starts = bool(_CODEX_WORD.search(code))
        if not (starts or in_codex):
            in_codex = False
            continue
        in_codex = code.rstrip().endswith("\\")
        for m in _FLAG.finditer(code):
            flag = m.group(1)
            src_line, col = i + 1, m.start(1) + 1
            from mdmtool.model import Source
            src = Source(f.path, src_line, col)
            if flag == "--full-auto":
                yield hit("MDM205", f, None, "`codex --full-auto` was removed: Codex 0.169 stops "
                          'with "unexpected argument"', source=src,
                          fix={"op": "replace", "line": src_line, "col": col, "old": flag,
                               "new": "--sandbox workspace-write"})
            elif flag in ("--yolo", "--dangerously-bypass-approvals-and-sandbox"):
                yield hit("MDM302", f, None, f"`{flag}` runs Codex without sandbox and without "
                          "approvals (fatal under requirements that disallow danger-full-access)",
                          source=src,
                          fix={"op": "replace", "line": src_line, "col": col, "old": flag,
                               "new": "--sandbox workspace-write --ask-for-approval on-request"})
            else:
                yield hit("MDM208", f, None, f"`{flag}` is rejected by Codex 0.169 "
                          "(-a takes on-request or never)", severity="error", source=src,
                          fix={"op": "replace", "line": src_line, "col": col, "old": flag,
                               "new": flag.split()[0].split("=")[0] + " on-request"})
