"""Plain words for Codex's fatal messages, at the line that causes them.

Codex 0.169.0 reports many refusals with a raw parser message (``invalid type: string
"-rf", expected a sequence``, ``wanted exactly 1 element, more than 1 element``, ``No such
file or directory (os error 2)``).  :func:`explain` keeps Codex's text untouched and adds
what is wrong, how to fix it, and where (file, line, column).  The patterns are the
messages recorded in fixtures/cases (FINDINGS.md §6, §7, §9).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from mdmtool.resolve import Resolution

GRANULAR = ("{ granular = { sandbox_approval = true, rules = true, skill_approval = true, "
            "request_permissions = true, mcp_elicitations = true } }")
_REQ = re.compile(r"^failed to parse requirements layer (?P<file>.+?): (?P<msg>.*?)(?:\nin `(?P<key>[^`]+)`)?\s*$",
                  re.S)
_POS = re.compile(r"^(?P<file>/[^\n]*?|[^\s:][^\n]*?):(?P<line>\d+):(?P<col>\d+): (?P<msg>.*)$", re.S)


class _Ctx:
    """Locates keys in the files of one resolution."""

    def __init__(self, r: "Resolution | None"):
        self.r = r

    def req_source(self, file: str):
        if self.r is None:
            return None
        return next((s for s in self.r.req.sources if s.file == file and s.toml is not None), None)

    def req_where(self, file: str, path: tuple) -> tuple[str, int | None, int | None]:
        src = self.req_source(file)
        if src is None:
            return file, None, None
        s = src.toml.locate(path)
        return s.file, s.line, s.col

    def line_text(self, file: str, line: int) -> str:
        if self.r is not None:
            for layer in self.r.disc.layers:
                if layer.toml is not None and layer.file == file:
                    lines = layer.toml.text.split("\n")
                    return lines[line - 1] if 0 < line <= len(lines) else ""
            for src in self.r.req.sources:
                if src.toml is not None and src.file == file:
                    lines = src.toml.text.split("\n")
                    return lines[line - 1] if 0 < line <= len(lines) else ""
        try:
            with open(file, encoding="utf-8", errors="replace") as fh:  # may not be UTF-8
                lines = fh.read().split("\n")
            return lines[line - 1] if 0 < line <= len(lines) else ""
        except (OSError, ValueError):
            return ""


def _expected_list(msg: str) -> str:
    m = re.search(r"expected (?:one of )?(.*)$", msg)
    return m.group(1) if m else ""


def _first_bad_rule(src, pred) -> tuple | None:
    rules = ((src.data.get("rules") or {}).get("prefix_rules") if src is not None
             and isinstance(src.data.get("rules"), dict) else None)
    if isinstance(rules, list):
        for i, rule in enumerate(rules):
            if pred(rule):
                return ("rules", "prefix_rules", i)
    return None


def _requirements(ctx: _Ctx, file: str, msg: str, key: str | None) -> tuple[str, tuple]:
    key = key or ""
    path: tuple = tuple(key.split(".")) if key else ()
    src = ctx.req_source(file)
    m = re.match(r"unknown variant `([^`]*)`, expected (.*)$", msg)
    if m:
        value, expected = m.group(1), _expected_list(msg)
        text = f"`{key}` contains \"{value}\", which Codex does not know; allowed: {expected}."
        if key == "allowed_approval_policies" and value in ("sandbox_approval", "rules", "skill_approval",
                                                            "request_permissions", "mcp_elicitations"):
            text = (f"\"{value}\" is a field of a granular approval policy, not a policy. Write the "
                    f"whole table as one list entry: {GRANULAR} (all five fields are required).")
        elif key == "rules.prefix_rules.decision":
            text = (f"prefix rule decision \"{value}\" does not exist; requirements accept \"prompt\", "
                    "\"prompt-user\" or \"forbidden\" (\"allow\" is refused too).")
            path = _first_bad_rule(src, lambda r: isinstance(r, dict) and r.get("decision") == value) or path
        elif "_" in value and value.replace("_", "-") in expected:
            text += f" Did you mean \"{value.replace('_', '-')}\"?"
        return text + " Codex refuses to start until it is fixed.", path
    if msg.startswith("invalid type: unit variant, expected newtype variant"):
        return ("\"granular\" alone is not an approval policy: granular needs its five fields, "
                f"written as {GRANULAR}."), path
    if msg.startswith("wanted exactly 1 element, more than 1 element"):
        return ("an approval-policy table must have exactly one key, `granular`: wrap the fields as "
                f"{GRANULAR}."), path
    m = re.match(r'invalid type: string "([^"]*)", expected a sequence', msg)
    if m:
        if key == "rules.prefix_rules.pattern":
            path = _first_bad_rule(src, lambda r: isinstance(r, dict) and any(
                isinstance(t, list) for t in r.get("pattern") or [])) or path
            return ("a prefix-rule pattern is a list of token tables, not a nested list of strings: "
                    "write pattern = [{ token = \"rm\" }, { token = \"-rf\" }] (use { any_of = [\"a\", "
                    "\"b\"] } for alternatives)."), path + ("pattern",) if len(path) == 3 else path
        return (f"`{key}` must be a list: write {key} = [\"{m.group(1)}\"]."), path
    m = re.match(r'invalid type: string "([^"]*)", expected struct RequirementsExecPolicyPatternTokenToml', msg)
    if m:
        path = _first_bad_rule(src, lambda r: isinstance(r, dict) and any(
            isinstance(t, str) for t in r.get("pattern") or [])) or path
        return (f"prefix-rule pattern elements are tables: write {{ token = \"{m.group(1)}\" }} instead "
                f"of \"{m.group(1)}\"."), path + ("pattern",) if len(path) == 3 else path
    m = re.match(r"duplicate field `([^`]*)`", msg)
    if m:
        from mdmtool.requirements import ALIASES
        field_ = m.group(1)
        alias = next((a for f, a, _ in ALIASES if f == field_), None)
        if alias:
            return (f"the file sets [{field_}] twice: under its own name and as [{alias}], another name "
                    "of the same table. Merge them into one table."), (alias,)
        return f"the file sets `{field_}` twice. Keep one.", (field_,)
    m = re.match(r"missing field `([^`]*)`", msg)
    if m:
        field = m.group(1)
        hints = {
            "identity": "each [mcp_servers.<id>] in requirements must say which server is allowed: "
                        "identity = { command = \"<command>\" } or identity = { url = \"<url>\" }.",
            "prefix_rules": "[rules] needs prefix_rules = [{ pattern = [{ token = \"...\" }], decision = "
                            "\"forbidden\" }] (remove [rules] if you have none).",
            "pattern": "every prefix rule needs pattern = [{ token = \"...\" }, ...].",
        }
        if field == "pattern":
            path = _first_bad_rule(src, lambda r: isinstance(r, dict) and "pattern" not in r) or path
        return hints.get(field, f"`{key}` needs the field `{field}`."), path
    if "untagged enum RawMcpServerIdentity" in msg:
        return ("the MCP identity has an unknown shape. Allowed: { command = \"x\" }, { command = { "
                "executable = \"x\", args = [ { match = \"exact\"|\"prefix\", value = \"..\" } or { match = "
                "\"regex\", expression = \"..\" } ] } } (args is required), { url = \"u\" } or { url = "
                "{ match = .., value/expression = .. } }."), path
    if msg.startswith("TOML parse error"):
        m = re.search(r"line (\d+), column (\d+)", msg)
        reason = msg.strip().split("\n")[-1]
        line = int(m.group(1)) if m else None
        where = f"line {line}" if line else "the reported line"
        text = (f"the file is not valid TOML at {where}: {reason}. Codex refuses to start on a broken "
                "requirements file.")
        if "duplicate key" in reason:
            text = (f"a key or table is defined twice ({where}); TOML forbids it. Keep one definition. "
                    "Codex refuses to start.")
        return text, ("@line", line, int(m.group(2)) if m else None)
    if "cannot be combined" in msg:
        return (f"{msg.split(' in managed')[0]}: use only the new form (domains / unix_sockets tables).",
                path)
    return f"`{key or 'the file'}` has a value Codex cannot read ({msg}).", path


def _config_position(ctx: _Ctx, file: str, line: int, msg: str) -> str:
    text = ctx.line_text(file, line)
    key = text.split("=", 1)[0].strip().strip('"') if "=" in text else text.strip()
    m = re.match(r"unknown variant `([^`]*)`, expected (.*)$", msg)
    if m:
        value, expected = m.group(1), _expected_list(msg)
        extra = ""
        if value.replace("_", "-") in expected and value != value.replace("_", "-"):
            extra = f" Did you mean \"{value.replace('_', '-')}\"?"
        elif value == "guardian":
            extra = " Did you mean \"auto_review\"?"
        return f"`{key}` = \"{value}\" is not a value Codex knows; allowed: {expected}.{extra}"
    if msg.startswith("wanted string or table"):
        return (f"`{key}` must be a string (e.g. \"on-request\") or a {{ granular = {{ ... }} }} table.")
    m = re.match(r"missing field `([^`]*)`", msg)
    if m:
        return (f"`{key}` is missing the field `{m.group(1)}`; a granular approval policy needs all five "
                f"fields: {GRANULAR}.")
    if "expected struct HookStateToml" in msg:
        return ("[hooks.state] is written by the Codex app: one table per hook id ([hooks.state.\"<id>\"]). "
                f"A plain value there (`{key}`) makes Codex refuse to start: remove it.")
    if msg.endswith("expected a boolean"):
        return (f"`{key}` is under a table whose values must be true/false (most often [features]: the "
                "key was written below the header by mistake). Move it to the top level.")
    if "duplicate key" in msg:
        return f"`{key}` is defined twice in this file; TOML forbids it. Keep one definition."
    if "cannot mix `filters`" in msg:
        return ("shell_environment_policy uses both the new `filters` table and the legacy "
                "`exclude`/`include_only` arrays in one file: convert the arrays into filters.")
    if "unknown variant `none`, expected `allow` or `deny`" in msg:
        return "unix_sockets values are \"allow\" or \"deny\" (\"none\" is only valid for filesystem paths)."
    return f"the file is not valid for Codex here: {msg}"


_FIXED: list[tuple[re.Pattern, Callable[[re.Match], str]]] = [
    (re.compile(r'approval_policy = "untrusted" is no longer supported'),
     lambda m: 'approval_policy = "untrusted" was removed in Codex 0.169: remove it (to ask before '
               'commands in a project, mark the project untrusted: [projects."<path>"] trust_level = '
               '"untrusted").'),
    (re.compile(r"legacy `profile = \"([^\"]+)\"` config is no longer supported"),
     lambda m: f'top-level profile = "{m.group(1)}" was removed: move its settings to '
               f"$CODEX_HOME/{m.group(1)}.config.toml and start Codex with -p {m.group(1)}."),
    (re.compile(r"config defines `\[permissions\]` profiles but does not set `default_permissions`"),
     lambda m: "the config defines [permissions.<name>] profiles but no default_permissions: set "
               "default_permissions = \"<name>\" (or a built-in such as \":workspace\")."),
    (re.compile(r"default_permissions refers to (?:undefined|unknown built-in) profile `([^`]+)`"),
     lambda m: f"default_permissions names `{m.group(1)}`, which no loaded file defines: define "
               f"[permissions.{m.group(1).lstrip(':')}] or use :read-only / :workspace."),
    (re.compile(r"default_permissions requires a `\[permissions\]` table"),
     lambda m: "default_permissions names a custom profile, but no [permissions] table exists."),
    (re.compile(r"requirements\.toml allowed_permission_profiles refers to undefined profile `([^`]+)`"),
     lambda m: f"[allowed_permission_profiles] allows `{m.group(1)}`, which requirements.toml does not "
               f"define: add [permissions.{m.group(1)}] (with extends = \":read-only\" or "
               "\":workspace\") or remove the entry."),
    (re.compile(r"requirements\.toml default_permissions must be set"),
     lambda m: "[allowed_permission_profiles] without default_permissions must allow both :workspace "
               "and :read-only; otherwise set default_permissions to an allowed profile."),
    (re.compile(r"requirements\.toml default_permissions requires allowed_permission_profiles"),
     lambda m: "default_permissions in requirements needs an [allowed_permission_profiles] table "
               "that allows it."),
    (re.compile(r"field `([^`]+)` cannot be empty"),
     lambda m: f"`{m.group(1)} = []` allows nothing, which Codex refuses: list at least one value."),
    (re.compile(r"invalid value for `allowed_sandbox_modes`.*must include 'read-only'"),
     lambda m: "allowed_sandbox_modes must contain \"read-only\" (Codex's fallback): add it."),
    (re.compile(r'`approval_policy = "never"` cannot be used because requirements do not allow'),
     lambda m: "approval \"never\" with a sandbox the requirements forbid (danger-full-access) would "
               "leave no safe fallback, so Codex refuses: use approval_policy = \"on-request\" or an "
               "allowed sandbox mode."),
    (re.compile(r"has decision 'allow', which is not permitted"),
     lambda m: "requirements prefix rules may only restrict: use decision = \"prompt\", \"prompt-user\" "
               "or \"forbidden\"."),
    (re.compile(r"rules prefix_rule at index (\d+) has an empty pattern"),
     lambda m: f"prefix rule #{int(m.group(1)) + 1} has pattern = []: give at least one token, e.g. "
               "pattern = [{ token = \"rm\" }]."),
    (re.compile(r"invalid requirement for MCP server `([^`]+)`.*invalid regex `([^`]*)`: (.*)$", re.S),
     lambda m: f"the identity of MCP server `{m.group(1)}` uses the regex `{m.group(2)}`, which does not "
               f"compile ({m.group(3)}): fix the expression (or use match = \"exact\" / \"prefix\")."),
    (re.compile(r"permissions profile `([^`]+)` cannot extend unsupported built-in profile"),
     lambda m: f"profile `{m.group(1)}` extends :danger-full-access, which is not allowed: extend "
               ":workspace or :read-only."),
    (re.compile(r"permissions profile inheritance cycle detected: (.*)$"),
     lambda m: f"the profiles extend each other in a circle ({m.group(1)}): break the cycle."),
    (re.compile(r"permissions profile `([^`]+)` extends undefined profile `([^`]+)`"),
     lambda m: f"profile `{m.group(1)}` extends `{m.group(2)}`, which is not defined."),
    (re.compile(r"requirements\.toml permissions profile `([^`]+)` conflicts"),
     lambda m: f"requirements and a config file both define [permissions.{m.group(1)}]: rename the "
               "config's profile."),
    (re.compile(r"unix_sockets value `([^`]*)` for `([^`]*)` is invalid"),
     lambda m: f"unix_sockets values are \"allow\" or \"deny\"; `{m.group(2)}` = \"{m.group(1)}\" makes "
               "Codex refuse to start (\"none\" is only valid for filesystem paths)."),
    (re.compile(r"--profile `([^`]+)` cannot be used while"),
     lambda m: f"config.toml still has a legacy profile selector or [profiles.{m.group(1)}]: move those "
               f"settings to {m.group(1)}.config.toml."),
    (re.compile(r"unexpected argument '--full-auto'"),
     lambda m: "--full-auto was removed: use --sandbox workspace-write."),
    (re.compile(r"invalid value '([^']*)' for '--ask-for-approval"),
     lambda m: f"-a {m.group(1)} is refused by the command line: use -a on-request or -a never."),
    (re.compile(r"Error parsing project config file (\S+): TOML parse error at line (\d+), column (\d+)"),
     lambda m: f"the trusted project's {m.group(1)} is not valid TOML (line {m.group(2)}): fix it, "
               "or Codex refuses to start in this project."),
]


def explain(error: str, r: "Resolution | None" = None) -> dict[str, Any]:
    """``{"error", "explanation", "file", "line", "col"}`` for one of Codex's fatal messages
    (plus ``"path"``, the key path in ``file``, when a requirements error names one)."""
    ctx = _Ctx(r)
    out: dict[str, Any] = {"error": error.split("\n")[0], "explanation": None, "file": None,
                           "line": None, "col": None}
    m = _REQ.match(error)
    if m:
        file = m.group("file")
        text, path = _requirements(ctx, file, m.group("msg"), m.group("key"))
        out["file"] = file
        if path and path[0] == "@line":
            out["line"], out["col"] = path[1], path[2]
        elif path:
            out["file"], out["line"], out["col"] = ctx.req_where(file, path)
            out["path"] = list(path)
        out["explanation"] = text
        return out
    for rx, fn in _FIXED:
        fm = rx.search(error)
        if fm:
            out["explanation"] = fn(fm)
            return out
    pm = _POS.match(error.split("\nCaused by")[0])
    if pm:
        file, line, col = pm.group("file"), int(pm.group("line")), int(pm.group("col"))
        out.update(file=file, line=line, col=col)
        out["explanation"] = _config_position(ctx, file, line, pm.group("msg").split("\n")[0])
        return out
    m = re.match(r"(?P<msg>[^\n]*)\nin `(?P<key>[^`]+)`", error)
    if m:  # a -c value (Codex names no position)
        text = _config_position(ctx, "", 0, m.group("msg")).replace("``", f"`{m.group('key')}`")
        out["explanation"] = f"a -c {m.group('key')}=... value on the command line: " + text
        return out
    m = re.match(r"unknown variant `([^`]*)`, expected (.*)$", error.split("\n")[0])
    if m and r is not None:
        key = next((o.split("=", 1)[0].strip() for o in r.inputs.overrides
                    if "=" in o and m.group(1) in o.split("=", 1)[1]), None)
        if key:
            out["explanation"] = (f"-c {key}=\"{m.group(1)}\" on the command line is not a value Codex "
                                  f"knows; allowed: {_expected_list(error.split(chr(10))[0])}.")
            return out
    out["explanation"] = "Codex refuses to start with this message; see the text above."
    return out


def explain_all(r: "Resolution", problems: list) -> list[dict[str, Any]]:
    """One explanation per fatal error of ``r``, in the same order."""
    by_message = {p.message: p for p in problems}
    out = []
    for err in r.errors:
        p = by_message.get(err)
        if p is not None:
            out.append({"error": err.split("\n")[0], "explanation": p.explanation, "file": p.file,
                        "line": p.line, "col": p.col})
        else:
            out.append(explain(err, r))
    return out
