"""Run the installed Codex on this machine's own files and compare it with mdmtool.

The user's files are never touched: ``/etc/codex`` (or ``--system-dir``), the Codex config
files of ``CODEX_HOME`` and the project's ``.codex`` folders are copied into a throw-away
tree under :func:`mdmtool.codex_driver.scratch_root`, absolute paths that name the copied
places are rewritten to the copies (so trust entries still match), and Codex runs there
through :func:`mdmtool.codex_driver.run_codex` -- in bubblewrap, with no network, a
scratch ``HOME`` and the copy bound read-only at ``/etc/codex``.  mdmtool resolves the very
same copy, and both answers are compared with the copy's paths mapped back.

MCP servers that could really start (their command is found, or they are remote) get
``enabled = false`` in the copy, which both sides read: crosscheck never runs user
programs.  Servers whose command is missing are left alone, so both sides judge a
``required = true`` server that cannot start.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from typing import Any

from mdmtool.errors import MdmError
from mdmtool.model import ResolveInputs
from mdmtool.record import replace

MODELED = "0.169.0"
_MAX_COPY = 4 * 1024 * 1024
#: config keys whose relative paths name files to bring along into the copy
_REFERENCED = (("model_instructions_file",), ("experimental_compact_prompt_file",), ("model_catalog_json",))


@dataclass
class FieldResult:
    field: str
    mdmtool: Any
    codex: Any
    agree: bool
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        out = {"field": self.field, "mdmtool": self.mdmtool, "codex": self.codex, "agree": self.agree}
        if self.note:
            out["note"] = self.note
        return out


@dataclass
class CrossReport:
    codex_path: str
    codex_version: str
    fields: list[FieldResult] = field(default_factory=list)
    mcp_not_started: list[str] = field(default_factory=list)
    copied: list[str] = field(default_factory=list)
    source: str = ""
    elapsed_s: float = 0.0
    #: mdmtool's plain explanation of each fatal error (mdmtool.plain)
    explanations: list[dict] = field(default_factory=list)

    @property
    def version_matches(self) -> bool:
        return self.codex_version == MODELED

    @property
    def differences(self) -> list[FieldResult]:
        return [f for f in self.fields if not f.agree]

    @property
    def agree(self) -> bool:
        return not self.differences

    def to_json(self) -> dict[str, Any]:
        return {
            "codex": {"path": self.codex_path, "version": self.codex_version, "modeled_version": MODELED,
                      "version_matches": self.version_matches, "view": self.source},
            "agree": self.agree,
            "differences": [f.to_json() for f in self.differences],
            "fields": [f.to_json() for f in self.fields],
            "mcp_servers_not_started": list(self.mcp_not_started),
            "copied_files": list(self.copied),
            "explanations": list(self.explanations),
            "elapsed_s": self.elapsed_s,
        }


# ----------------------------------------------------------------------------- the copy

@dataclass
class Mirror:
    root: str
    system_dir: str | None
    codex_home: str
    home: str
    cwd: str
    #: (original, copy) path pairs, longest original first
    pairs: list[tuple[str, str]] = field(default_factory=list)
    copied: list[str] = field(default_factory=list)

    def to_copy(self, text: str) -> str:
        for orig, copy in self.pairs:
            text = text.replace(orig, copy)
        return text

    def to_original(self, value: Any) -> Any:
        if isinstance(value, str):
            for orig, copy in sorted(self.pairs, key=lambda p: -len(p[1])):
                value = value.replace(copy, orig)
            if self.system_dir:
                value = value.replace(self.system_dir, "/etc/codex")
            return value
        if isinstance(value, list):
            return [self.to_original(v) for v in value]
        if isinstance(value, dict):
            return {self.to_original(k): self.to_original(v) for k, v in value.items()}
        return value


def _copy_text(src: str, dst: str, mirror: Mirror) -> None:
    if not os.path.isfile(src) or os.path.getsize(src) > _MAX_COPY:
        return
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    try:
        with open(src, encoding="utf-8") as fh:
            text = fh.read()
        with open(dst, "w", encoding="utf-8") as fh:
            fh.write(mirror.to_copy(text) if src.endswith(".toml") else text)
    except UnicodeDecodeError:
        shutil.copyfile(src, dst)
    except OSError:
        return
    mirror.copied.append(src)


def _referenced(config_path: str) -> list[str]:
    """Relative files a config names (read from the file's own folder by Codex)."""
    from mdmtool.errors import MdmError as _E
    from mdmtool.tomlio import read_toml
    try:
        data = read_toml(config_path).data
    except _E:
        return []
    out = []
    values = [data.get(k[0]) for k in _REFERENCED]
    agents = data.get("agents")
    if isinstance(agents, dict):
        values += [r.get("config_file") for r in agents.values() if isinstance(r, dict)]
    for v in values:
        if isinstance(v, str) and v and not os.path.isabs(v) and not v.startswith("~"):
            out.append(os.path.normpath(v))
    return out


def build_mirror(inputs: ResolveInputs, base: str) -> Mirror:
    """Copy what Codex reads on this machine into ``base`` (paths rewritten to the copy)."""
    from mdmtool.layers import default_codex_home, discover
    disc = discover(inputs)
    system_dir = os.path.abspath(inputs.system_dir)
    codex_home = os.path.abspath(inputs.codex_home or default_codex_home())
    cwd = disc.cwd
    cands = [c for c in (getattr(disc, "git_root", None), disc.project_root, cwd)
             if c and (cwd == c or cwd.startswith(c.rstrip("/") + "/"))]
    root = min(cands, key=len)  # the highest of git root, marker root and cwd
    m = Mirror(root=base, system_dir=os.path.join(base, "etc_codex") if os.path.isdir(system_dir) else None,
               codex_home=os.path.join(base, "codex_home"), home=os.path.join(base, "home"),
               cwd=os.path.join(base, "project", os.path.relpath(cwd, root)))
    project_copy = os.path.join(base, "project")
    m.pairs = sorted([(codex_home, m.codex_home), (root, project_copy)], key=lambda p: -len(p[0]))
    for d in (m.codex_home, m.home, m.cwd):
        os.makedirs(d, exist_ok=True)
    if m.system_dir:
        os.makedirs(m.system_dir, exist_ok=True)
        for name in sorted(os.listdir(system_dir)):
            src = os.path.join(system_dir, name)
            if name.endswith(".toml") and os.path.isfile(src):
                _copy_text(src, os.path.join(m.system_dir, name), m)
                for rel in _referenced(src):
                    _copy_text(os.path.join(system_dir, rel), os.path.join(m.system_dir, rel), m)
    names = ["config.toml"] + ([f"{inputs.profile}.config.toml"] if inputs.profile else [])
    for name in names:
        src = os.path.join(codex_home, name)
        _copy_text(src, os.path.join(m.codex_home, name), m)
        for rel in _referenced(src) if os.path.isfile(src) else []:
            _copy_text(os.path.join(codex_home, rel), os.path.join(m.codex_home, rel), m)
    # the project: .codex folders from the root down to cwd, markers and the git root
    cur = cwd
    while True:
        dot = os.path.join(cur, ".codex")
        if os.path.isdir(dot) and os.path.abspath(dot) != codex_home:
            dst = os.path.join(project_copy, os.path.relpath(dot, root))
            src = os.path.join(dot, "config.toml")
            _copy_text(src, os.path.join(dst, "config.toml"), m)
            for rel in _referenced(src) if os.path.isfile(src) else []:
                _copy_text(os.path.join(dot, rel), os.path.join(dst, rel), m)
        if cur == root or os.path.dirname(cur) == cur:
            break
        cur = os.path.dirname(cur)
    if os.path.exists(os.path.join(root, ".git")):
        if shutil.which("git"):
            subprocess.run(["git", "init", "-q", project_copy], check=False, capture_output=True)
        else:
            os.makedirs(os.path.join(project_copy, ".git"), exist_ok=True)
    return m


# ----------------------------------------------------------------------------- comparing

def _flags(inputs: ResolveInputs) -> list[str]:
    out: list[str] = []
    if inputs.sandbox:
        out += ["--sandbox", inputs.sandbox]
    if inputs.approval:
        out += ["--ask-for-approval", inputs.approval]
    if inputs.yolo:
        out.append("--dangerously-bypass-approvals-and-sandbox")
    if inputs.full_auto:
        out.append("--full-auto")
    if inputs.search:
        out.append("--search")
    for d in inputs.add_dirs:
        out += ["--add-dir", d]
    for f in inputs.enable:
        out += ["--enable", f]
    for f in inputs.disable:
        out += ["--disable", f]
    return out


def _mcp_to_disable(policy) -> list[str]:
    """Enabled MCP servers that would really start (command found, or remote)."""
    from mdmtool.mcpcheck import spawn_problem
    from mdmtool.merge import merge_values
    merged: dict = {}
    for layer in policy.layers:
        if layer.enabled:
            merged = merge_values(merged, layer.config)
    servers = merged.get("mcp_servers")
    out = []
    if isinstance(servers, dict):
        for sid, srv in sorted(servers.items()):
            if not isinstance(srv, dict) or srv.get("enabled") is False:
                continue
            if isinstance(srv.get("command"), str) and spawn_problem(srv, policy.cwd or "/"):
                continue  # cannot start anyway: keep it, both sides judge it
            out.append(sid)
    return out


def _disable_in_copy(policy, sids: list[str]) -> None:
    """Set ``enabled = false`` for these servers in every copied file that defines them."""
    import tomlkit
    for layer in policy.layers:
        if not layer.file or not os.path.isfile(layer.file):
            continue
        servers = layer.config.get("mcp_servers") if isinstance(layer.config, dict) else None
        hit = [s for s in sids if isinstance(servers, dict) and isinstance(servers.get(s), dict)]
        if not hit:
            continue
        with open(layer.file, encoding="utf-8") as fh:
            doc = tomlkit.parse(fh.read())
        for sid in hit:
            doc["mcp_servers"][sid]["enabled"] = False
        with open(layer.file, "w", encoding="utf-8") as fh:
            fh.write(tomlkit.dumps(doc))


_PREFIXES = ("failed to load configuration: ", "error creating thread: ", "Error: ", "error: ")


def _strip(line: str) -> str:
    changed = True
    while changed:
        changed = False
        for p in _PREFIXES:
            if line.startswith(p):
                line, changed = line[len(p):], True
    return line.strip()


def compare(policy, ans, mirror: Mirror, profile: bool) -> list[FieldResult]:
    """Field-by-field agreement (Codex's unobservable fields are left out)."""
    out: list[FieldResult] = []
    ours_ok, theirs_ok = bool(policy.ok), bool(ans.startup_ok)
    out.append(FieldResult("starts", ours_ok, theirs_ok, ours_ok == theirs_ok))
    if not ours_ok or not theirs_ok:
        ours = [mirror.to_original(e.split("\n")[0]) for e in policy.errors]
        theirs = []
        for e in ans.errors:
            e = mirror.to_original(_strip(e))
            if e and e not in theirs:
                theirs.append(e)
        agree = (not ours and not theirs) or any(o and any(o in t or t in o for t in theirs) for o in ours[:1])
        if ours_ok != theirs_ok:
            agree = False
        out.append(FieldResult("error", ours[:1], theirs[:3], agree))
        return out
    ap_ours = {"granular": policy.approval_granular} if policy.approval_policy == "granular" else policy.approval_policy
    ap_theirs = {"granular": ans.approval_granular} if ans.approval_policy == "granular" else ans.approval_policy

    def add(name, ours, theirs, note=None):
        if theirs is None:
            return  # not observable in this view
        out.append(FieldResult(name, ours, theirs, ours == theirs, note))
    add("approval_policy", ap_ours, ap_theirs if not str(ap_theirs).startswith("unknown") else None)
    add("approvals_reviewer", policy.approvals_reviewer, ans.approvals_reviewer)
    add("sandbox_mode", policy.sandbox_mode, ans.sandbox_mode)
    add("network_access", policy.network_access, ans.network_access)
    if not profile and ans.source == "app-server":
        out.append(FieldResult("permission_profile", policy.permission_profile, ans.permission_profile,
                               policy.permission_profile == ans.permission_profile))
    add("web_search", policy.web_search, ans.web_search,
        None if ans.web_search_source == "observed" else f"Codex value from {ans.web_search_source}")
    ours_w = [mirror.to_original(w.message).strip() for w in policy.warnings]
    theirs_w = []
    for w in ans.warnings:
        w = mirror.to_original(w).strip()
        if w and w != "Invalid configuration; using defaults." and w not in theirs_w:
            theirs_w.append(w)
    if profile:  # `codex exec` prints the first line of each warning
        ours_w = [w.split("\n")[0] for w in ours_w]
    out.append(FieldResult("warnings", ours_w, theirs_w, ours_w == theirs_w))
    return out


def crosscheck(inputs: ResolveInputs, *, codex_bin: str | None = None, timeout: float = 30.0,
               observe_web_search: bool = True, keep: str | None = None) -> CrossReport:
    """Resolve with mdmtool and run the installed Codex on a copy of this machine's files."""
    import time

    from mdmtool.codex_driver import (CodexSetup, CodexUnavailable, bwrap_problem, codex_version,
                                      find_codex, run_codex, scratch_root)
    from mdmtool.resolve import resolve
    if inputs.mdm_plist or inputs.cloud_requirements:
        raise MdmError("crosscheck cannot give Codex MDM or cloud requirement sources (macOS / sign-in "
                       "only); leave out --mdm / --cloud-requirements")
    t0 = time.monotonic()
    codex = find_codex(codex_bin)
    if not codex:
        raise CodexUnavailable("Codex CLI not found: install it, put `codex` on PATH or pass --codex BIN")
    problem = bwrap_problem()
    if problem:
        raise CodexUnavailable(f"cannot run Codex offline in a sandbox here: {problem}")
    report = CrossReport(codex_path=codex, codex_version=codex_version(codex) or "unknown")
    base = tempfile.mkdtemp(prefix="crosscheck-", dir=scratch_root())
    try:
        mirror = build_mirror(inputs, base)
        report.copied = list(mirror.copied)
        copy_inputs = replace(inputs, system_dir=mirror.system_dir or os.path.join(base, "no-etc-codex"),
                              codex_home=mirror.codex_home, cwd=mirror.cwd,
                              add_dirs=list(inputs.add_dirs), overrides=[mirror.to_copy(o) for o in inputs.overrides])
        first = resolve(copy_inputs)
        report.mcp_not_started = _mcp_to_disable(first)
        if report.mcp_not_started:  # never run user programs: switch them off in the copy
            _disable_in_copy(first, report.mcp_not_started)
        policy = resolve(copy_inputs) if report.mcp_not_started else first
        setup = CodexSetup(codex_home=mirror.codex_home, home=mirror.home, cwd=mirror.cwd,
                           system_dir=mirror.system_dir, profile=inputs.profile,
                           overrides=list(copy_inputs.overrides), flags=_flags(inputs), codex_bin=codex,
                           timeout=timeout, observe_web_search=observe_web_search)
        ans = run_codex(setup)
        report.source = ans.source
        report.fields = compare(policy, ans, mirror, bool(inputs.profile))
        report.explanations = mirror.to_original(list(policy.explanations))
    finally:
        if keep:
            os.makedirs(os.path.dirname(os.path.abspath(keep)) or ".", exist_ok=True)
            shutil.move(base, keep)
        else:
            shutil.rmtree(base, ignore_errors=True)
    report.elapsed_s = round(time.monotonic() - t0, 2)
    return report
