"""What Codex 0.169.0 only reveals when it loads referenced files or starts a session.

A schema check passes these files, yet Codex will not run (observed, fixtures/cases 6xx):

* config load (``failed to load configuration``): a missing / unreadable
  ``model_instructions_file``, ``experimental_compact_prompt_file`` or
  ``model_catalog_json`` (requirements' exact value wins), a glob with ``read``/``write``
  access in the active permission profile, a non-boolean value in ``[features]`` (policy
  keys written below the ``[features]`` header);
* thread start (``error creating thread``): on Linux a deny-read glob whose first path
  component is a wildcard (``/**/*.key``, ``/*.pem``, ``/[ab]*/x``) in requirements'
  ``deny_read`` or the active profile; a ``required = true`` MCP server that cannot be
  spawned here (unless the requirements' allowlist disables it);
* warnings: an agent role whose ``config_file`` is missing, a directory or not TOML.

Each problem keeps Codex's exact text (``message``) and says in plain words what to do
(``explanation``) at the file and line that cause it.
"""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any

from mdmtool.merge import get_path
from mdmtool.record import Record

if TYPE_CHECKING:
    from mdmtool.layers import ConfigLayer
    from mdmtool.permissions import SandboxChoice
    from mdmtool.resolve import Resolution

GLOB_CHARS = "*?["


class SessionProblem(Record):
    """One late failure or warning: Codex's words, ours, and where it comes from."""

    kind: str           # referenced-file | glob-access | features-type | deny-glob | mcp-required | agent-role
    message: str        # Codex's exact text
    explanation: str    # plain words: what is wrong, how to fix it
    fatal: bool = True
    file: str | None = None
    line: int | None = None
    col: int | None = None
    key: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "error": self.message.split("\n")[0], "explanation": self.explanation,
                "file": self.file, "line": self.line, "col": self.col, "key": self.key}


# ----------------------------------------------------------------------------- globs

def root_glob(pattern: str) -> bool:
    """A glob whose first component is a wildcard: Codex cannot expand it safely on Linux."""
    return pattern.startswith("/") and len(pattern) > 1 and pattern[1] in GLOB_CHARS


def scans_from_root(pattern: str) -> bool:
    """A glob whose literal prefix ends in the root (``/z*/a``): Codex walks all of ``/``."""
    first = min((pattern.find(c) for c in GLOB_CHARS if c in pattern), default=-1)
    return pattern.startswith("/") and first > 1 and "/" not in pattern[1:first]


def is_glob(pattern: str) -> bool:
    return any(c in pattern for c in GLOB_CHARS)


def subtree_glob(pattern: str) -> bool:
    """``/srv/data/**``: the one glob form that may carry read/write access."""
    return pattern.endswith("/**") and not is_glob(pattern[:-3])


def deny_glob_error(pattern: str) -> str:
    return ("failed to load AGENTS.md instructions for environment `local`: fs sandbox helper failed "
            "with status exit status: 1: error building bubblewrap command: Fatal error: unreadable "
            f"glob `{pattern}` cannot be safely expanded; use a pattern with a non-root directory prefix")


def deny_glob_explanation(pattern: str, where: str) -> str:
    return (f"the deny-read glob `{pattern}` ({where}) starts with a wildcard right after `/`. On "
            "Linux Codex expands deny globs itself before each session and refuses one that would "
            "have to scan the whole filesystem, so every session fails to start (glob_scan_max_depth "
            "does not help). Give it a directory prefix, e.g. `/home/**/*.key`, `~/**/*.key` or "
            "`/srv/secrets/**`, or list exact paths.")


def glob_access_error(pattern: str, access: str) -> str:
    return (f"filesystem glob path `{pattern}` only supports `deny` access; use an exact path or "
            f"trailing `/**` for `{access}` subtree access")


# ----------------------------------------------------------------------------- helpers

def layer_base(r: "Resolution", layer: "ConfigLayer") -> str:
    """The directory relative paths of ``layer`` resolve against (Codex: the file's folder)."""
    if layer.kind in ("user", "profile"):
        return r.disc.codex_home
    if layer.kind == "project" and layer.dot_codex:
        return layer.dot_codex
    if layer.kind == "session-flags":
        return r.disc.cwd
    return r.disc.system_dir


def _abs(path: str, base: str) -> str:
    path = os.path.expanduser(path)
    return os.path.normpath(path if os.path.isabs(path) else os.path.join(base, path))


def _where(layer: "ConfigLayer | None", path: tuple) -> tuple[str | None, int | None, int | None]:
    if layer is None:
        return None, None, None
    if layer.kind == "session-flags":
        return None, None, None
    return layer.locate(path)


def _place(file: str | None, line: int | None) -> str:
    if not file:
        return "-c on the command line"
    return f"{file}:{line}" if line else file


def read_problem(path: str, *, kind: str = "file") -> str | None:
    """The OS error Codex would report reading ``path`` (its wording), or None."""
    if not os.path.exists(path):
        return "No such file or directory (os error 2)"
    if os.path.isdir(path):
        return f"path `{path}` is not a file" if kind == "instructions" else "Is a directory (os error 21)"
    if not os.access(path, os.R_OK):
        return "Permission denied (os error 13)"
    return None


# ----------------------------------------------------------------------------- config load

_FILE_KEYS = (
    ("model_instructions_file", "failed to read model instructions file {p}: {why}", "instructions"),
    ("experimental_compact_prompt_file", "failed to read experimental compact prompt file {p}: {why}",
     "instructions"),
)


def referenced_files(r: "Resolution", machine: bool = True) -> list[SessionProblem]:
    """Files the config names that Codex reads while loading it."""
    out: list[SessionProblem] = []
    if not machine:
        return out
    for key, template, kind in _FILE_KEYS:
        layer = r.layer_setting((key,))
        value = r.merged.get(key)
        if layer is None or not isinstance(value, str) or not value:
            continue
        path = _abs(value, layer_base(r, layer))
        why = read_problem(path, kind=kind)
        if why:
            file, line, col = _where(layer, (key,))
            out.append(SessionProblem(
                "referenced-file", template.format(p=path, why=why),
                f"`{key}` ({_place(file, line)}) points at {path}, which "
                + ("does not exist" if "os error 2" in why else "is a directory" if "not a file" in why
                   else "cannot be read")
                + f"; Codex refuses to load the configuration. Relative paths are read from the folder "
                f"of the file that sets them ({layer_base(r, layer)}). Fix the path or create the file.",
                file=file, line=line, col=col, key=key))
    out.extend(_catalog(r))
    return out


def _catalog(r: "Resolution") -> list[SessionProblem]:
    req_value = r.req.get("model_catalog_json")
    if isinstance(req_value, str) and req_value:
        src = r.req.field_source.get("model_catalog_json")
        path = _abs(req_value, os.path.dirname(src.file) if src else r.disc.system_dir)
        file, line = r.req.locate("model_catalog_json")
        col, setter = None, "the requirements (exact value, it overrides any config)"
    else:
        layer = r.layer_setting(("model_catalog_json",))
        value = r.merged.get("model_catalog_json")
        if layer is None or not isinstance(value, str) or not value:
            return []
        path = _abs(value, layer_base(r, layer))
        file, line, col = _where(layer, ("model_catalog_json",))
        setter = "the config"
    why = read_problem(path)
    if why is None:
        why = _json_problem(path)
        if why is None:
            return []
        msg = f"failed to parse model_catalog_json path `{path}` as JSON: {why}"
        plain = f"is not valid JSON ({why})"
    else:
        msg = why
        plain = "does not exist" if "os error 2" in why else "cannot be read"
    return [SessionProblem(
        "referenced-file", msg,
        f"`model_catalog_json` ({_place(file, line)}, set by {setter}) points at {path}, which {plain}; "
        "Codex refuses to start and only says "
        f"\"{msg}\". Fix the path, or remove the key to use the built-in model catalog.",
        file=file, line=line, col=col, key="model_catalog_json")]


_SERDE_MESSAGES = (
    ("Expecting property name enclosed in double quotes", "key must be a string"),
    ("Expecting value", "expected value"),
    ("Extra data", "trailing characters"),
    ("Unterminated string", "EOF while parsing a string"),
    ("Expecting ',' delimiter", "expected `,` or `}`"),
)


def _json_problem(path: str) -> str | None:
    from mdmtool.errors import MdmError
    from mdmtool.tomlio import Unsupported, read_bytes
    try:  # bounded, and a FIFO does not block (/dev/zero, a pipe: mdmtool's limit, exit 2)
        raw = read_bytes(path, 64 * 1024 * 1024, what=" (model_catalog_json)")
    except Unsupported:
        raise
    except MdmError:
        return None
    try:
        json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return "invalid unicode code point"
    except json.JSONDecodeError as exc:
        text = next((serde for py, serde in _SERDE_MESSAGES if exc.msg.startswith(py)), exc.msg)
        return f"{text} at line {exc.lineno} column {exc.colno}"
    except RecursionError:  # serde_json stops at depth 128 too
        return "recursion limit exceeded"
    return None


def glob_access(choice: "SandboxChoice") -> list[SessionProblem]:
    """A read/write glob in the active profile makes the config fail to load."""
    for e in choice.fs_entries:
        if e.glob and e.access in ("read", "write") and not subtree_glob(e.glob) \
                and not e.glob.startswith(":"):
            return [SessionProblem(
                "glob-access", glob_access_error(e.glob, e.access),
                f"the permission profile `{choice.profile_id}` gives `{e.access}` access to the glob "
                f"`{e.glob}`; globs may only deny reading. Use an exact path, a subtree `dir/**`, or "
                "change the value to \"deny\".", key=f"permissions.{choice.profile_id}.filesystem")]
    return []


def features_types(r: "Resolution") -> list[SessionProblem]:
    """``[features]`` takes booleans (or tables): a policy key written below it is fatal."""
    out: list[SessionProblem] = []
    for layer in r.enabled:
        feats = layer.data.get("features")
        if not isinstance(feats, dict):
            continue
        for name, value in feats.items():
            if isinstance(value, (bool, dict)):
                continue
            from mdmtool.reqcheck import _serde
            shown = _serde(value)
            file, line, col = _value_where(layer, ("features", name))
            where = f"{file}:{line}:{col}: " if file and line else ""
            msg = f"{where}invalid type: {shown}, expected a boolean"
            out.append(SessionProblem(
                "features-type", msg,
                f"`{name} = {json.dumps(value, default=str)}` ({_place(file, line)}) sits below the [features] header "
                "(a TOML table runs until the next header), where every value must be true or false, so "
                f"Codex refuses to start. Move `{name}` above [features] (top level) or under the table "
                "it belongs to; `mdmtool fix` does it.",
                file=file, line=line, col=col, key=f"features.{name}"))
    return out


def _value_where(layer: "ConfigLayer", path: tuple) -> tuple[str | None, int | None, int | None]:
    """Position of the VALUE of ``path`` (Codex points there for type errors)."""
    file, line, col = _where(layer, path)
    if layer.toml is None or not line:
        return file, line, col
    lines = layer.toml.text.split("\n")
    if line - 1 < len(lines):
        text = lines[line - 1]
        eq = text.find("=", (col or 1) - 1)
        if eq >= 0:
            j = eq + 1
            while j < len(text) and text[j] in " \t":
                j += 1
            return file, line, j + 1
    return file, line, col


def _replace_positioned(r: "Resolution", problems: list[SessionProblem]) -> None:
    """Put Codex's text for these positioned errors where the schema check reported the same
    positions (or at the end), sorted by line as Codex reads the file."""
    if not problems:
        return
    prefixes = [f"{p.file}:{p.line}:" for p in problems if p.file and p.line]
    hits = [i for i, e in enumerate(r.errors) if any(e.startswith(x) for x in prefixes)]
    at = hits[0] if hits else len(r.errors)
    for i in reversed(hits):
        del r.errors[i]
    ordered = sorted(problems, key=lambda p: (p.file or "", p.line or 0, p.col or 0))
    r.errors[at:at] = [p.message for p in ordered]


# ----------------------------------------------------------------------------- thread start

def deny_globs(r: "Resolution", choice: "SandboxChoice") -> list[SessionProblem]:
    """Root globs in requirements deny_read / the active profile (Linux, sandboxed modes)."""
    if choice.mode == "danger-full-access" or not sys.platform.startswith("linux"):
        return []
    found: dict[str, str] = {}
    for entry in r.req.deny_read:
        if isinstance(entry, str) and root_glob(entry):
            found.setdefault(entry, "requirements")
    for e in choice.fs_entries:
        target = e.glob
        if target and e.access == "deny":
            if target.startswith(":root/"):
                target = "/" + target[len(":root/"):]
            if root_glob(target):
                found.setdefault(target, "profile")
    if not found:
        return []
    pattern = min(found)  # Codex reports the first in sorted order (cases 608/609)
    file = line = col = None
    if found[pattern] == "requirements":
        for src in r.req.sources:
            fs = get_path(src.data, ("permissions", "filesystem", "deny_read"))
            if isinstance(fs, list) and pattern in fs and src.toml is not None:
                s = src.toml.locate(("permissions", "filesystem", "deny_read", fs.index(pattern)))
                file, line, col = s.file, s.line, s.col
        where = f"requirements deny_read, {_place(file, line)}"
    else:
        for layer in reversed(r.enabled):
            perms = layer.data.get("permissions")
            if isinstance(perms, dict):
                for name, body in perms.items():
                    fs = body.get("filesystem") if isinstance(body, dict) else None
                    if isinstance(fs, dict) and pattern in fs:
                        file, line, col = _where(layer, ("permissions", name, "filesystem", pattern))
                        break
            if file:
                break
        where = f"permission profile `{choice.profile_id}`, {_place(file, line)}"
    return [SessionProblem("deny-glob", deny_glob_error(pattern), deny_glob_explanation(pattern, where),
                           file=file, line=line, col=col, key="deny_read")]


def required_mcp(r: "Resolution", machine: bool = True) -> list[SessionProblem]:
    from mdmtool.mcpcheck import required_failure
    if not machine:
        return []
    servers = r.merged.get("mcp_servers")
    res = required_failure(servers, r.req.get("mcp_servers"), r.disc.cwd)
    if res is None:
        return []
    msg, ids = res
    layer = r.layer_setting(("mcp_servers", ids[0], "command"))
    file, line, col = _where(layer, ("mcp_servers", ids[0], "command"))
    names = ", ".join(f"`{i}` (command `{servers[i].get('command')}`)" for i in ids)
    return [SessionProblem(
        "mcp-required", msg,
        f"the MCP server{'s' if len(ids) > 1 else ''} {names} {'are' if len(ids) > 1 else 'is'} marked "
        f"required = true ({_place(file, line)}) but cannot be started on this machine: the command "
        "is not on PATH (or the server's env.PATH), not executable, or its cwd does not exist. Codex "
        "then refuses to start every session. Install the server, fix `command`/`cwd`, or set "
        "required = false (the session then starts without it).",
        file=file, line=line, col=col, key=f"mcp_servers.{ids[0]}")]


# ----------------------------------------------------------------------------- warnings

def agent_roles(r: "Resolution", machine: bool = True) -> list[SessionProblem]:
    """Agent roles whose ``config_file`` Codex cannot use (it ignores the role, with a warning)."""
    agents = r.merged.get("agents")
    out: list[SessionProblem] = []
    if not machine or not isinstance(agents, dict):
        return out
    for name in sorted(agents):
        role = agents[name]
        if not isinstance(role, dict) or not isinstance(role.get("config_file"), str):
            continue
        layer = r.layer_setting(("agents", name, "config_file"))
        if layer is None:
            continue
        path = _abs(role["config_file"], layer_base(r, layer))
        if not os.path.exists(path):
            detail = (f"agents.{name}.config_file must point to an existing file at {path}: "
                      "No such file or directory (os error 2)")
            plain = f"{path} does not exist"
        elif not os.path.isfile(path):
            detail = f"agents.{name}.config_file must point to a file: {path}"
            plain = f"{path} is not a file"
        else:
            why = _toml_problem(path)
            if why is None:
                continue
            detail = f"failed to parse agent role file at {path}: {why}"
            plain = f"{path} is not valid TOML ({why})"
        file, line, col = _where(layer, ("agents", name, "config_file"))
        out.append(SessionProblem(
            "agent-role", f"Ignoring malformed agent role definition: {detail}",
            f"agent role `{name}` ({_place(file, line)}): {plain}, so Codex drops the role (it only "
            "warns). Relative paths are read from the folder of the file that sets them.",
            fatal=False, file=file, line=line, col=col, key=f"agents.{name}.config_file"))
    return out


def _toml_problem(path: str) -> str | None:
    from mdmtool.errors import MdmError
    from mdmtool.tomlio import read_toml
    try:
        read_toml(path)
    except MdmError as exc:
        return (f"TOML parse error at line {exc.line}, column {exc.col}" if exc.line else exc.message)
    return None


# ----------------------------------------------------------------------------- the resolver's hook

class SessionReport(Record):
    problems: list[SessionProblem]
    notices: list[str]
    explanations: list[dict]


def run(r: "Resolution", choice: "SandboxChoice") -> SessionReport:
    """Add what Codex finds at config load and thread start to ``r`` (errors, warnings).

    Order follows Codex: config-load failures after the loader's own errors; thread-start
    failures only when the configuration loads; deny globs before MCP servers.
    """
    machine = getattr(r.inputs, "machine_checks", True)
    problems: list[SessionProblem] = []
    feats = features_types(r)
    _replace_positioned(r, feats)  # Codex's wording, in file order (case 642)
    config = referenced_files(r, machine)
    if choice.profile_id is not None:
        config += glob_access(choice)
    problems += feats + config
    r.errors.extend(p.message for p in config)
    if not r.errors:
        late = deny_globs(r, choice) or required_mcp(r, machine)
        problems += late
        r.errors.extend(p.message for p in late)
    for p in agent_roles(r, machine):
        problems.append(p)
        r.warn("agents", p.message)
    from mdmtool.notices import notices
    explanations = []
    if r.errors:  # mdmtool.plain compiles two dozen patterns: only load it when needed
        from mdmtool.plain import explain_all
        explanations = explain_all(r, problems)
    return SessionReport(problems, notices(r), explanations)
