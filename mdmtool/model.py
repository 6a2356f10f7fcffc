"""Typed data shared by every room of mdmtool.

Everything that can be shown to a user carries a :class:`Source` so that any view
(text table, SARIF, GitHub annotation) can point at file:line:col.
"""

from __future__ import annotations

from typing import Any

from mdmtool.record import Record, field

ERROR = "error"
WARNING = "warning"
INFO = "info"
SEVERITIES = (ERROR, WARNING, INFO)


class Source(Record, frozen=True):
    """Where something came from: a file position, or a named non-file origin."""

    file: str | None = None
    line: int | None = None
    col: int | None = None

    def __str__(self) -> str:
        if not self.file:
            return "-"
        out = self.file
        if self.line:
            out += f":{self.line}"
            if self.col:
                out += f":{self.col}"
        return out


class Finding(Record):
    """One validation or lint result."""

    rule: str
    severity: str
    message: str
    source: Source
    remediation: str | None = None
    key: str | None = None
    #: machine-applicable fix for ``mdmtool fix``: {"op": "set"|"delete"|"move", ...}
    fix: dict[str, Any] | None = None

    def line_text(self) -> str:
        """``path:line:col: severity: message [RULE]`` (the text reporter's line)."""
        return f"{self.source}: {self.severity}: {self.message} [{self.rule}]"


class ResolveInputs(Record):
    """Everything that decides Codex's policy on one machine, as Codex would be started.

    Defaults are the real locations; ``None`` means "the real default" (resolved by
    :mod:`mdmtool.layers`).
    """

    system_dir: str = "/etc/codex"
    codex_home: str | None = None
    cwd: str | None = None
    profile: str | None = None
    overrides: list[str] = field(default_factory=list)
    sandbox: str | None = None
    approval: str | None = None
    yolo: bool = False
    full_auto: bool = False
    add_dirs: list[str] = field(default_factory=list)
    search: bool = False
    enable: list[str] = field(default_factory=list)
    disable: list[str] = field(default_factory=list)
    mdm_plist: str | None = None
    cloud_requirements: str | None = None
    #: model `codex exec` (forces approval "never") instead of an interactive session
    exec_mode: bool = False
    #: host name matched against requirements `remote_sandbox_config` (default: this host's FQDN)
    hostname: str | None = None
    #: model a session start (interactive codex / app-server thread), which trusts an unlisted
    #: project with a writable sandbox; False = only load the config (`codex exec` never does)
    auto_trust: bool = True
    #: check what depends on this machine (referenced files exist, MCP commands on PATH);
    #: off when the files are a scratch copy of another machine's (lint)
    machine_checks: bool = True


class Origin(Record):
    """How an effective value was decided (the provenance of one key)."""

    layer: str  # system, user, profile, project, session-flags, cli-flag, managed-config,
    # mdm, codex-default, trust-default, requirement-fallback, requirement
    file: str | None = None
    line: int | None = None
    detail: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"layer": self.layer, "file": self.file, "line": self.line}
        if self.detail:
            out["detail"] = self.detail
        return out


class PolicyWarning(Record):
    """A warning Codex prints at start-up (fallbacks, ignored keys, disabled projects)."""

    key: str
    message: str
    configured: Any = None
    effective: Any = None
    source: Source | None = None

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "configured": self.configured, "effective": self.effective,
                "message": self.message}


class FsEntry(Record):
    """One filesystem rule of a permission profile: exactly one of path/special/glob."""

    access: str  # read | write | deny
    path: str | None = None
    special: str | None = None
    glob: str | None = None


class NetworkPolicy(Record):
    """The managed network proxy policy (permission profile network table + requirements)."""

    enabled: bool = False
    mode: str | None = None  # limited | full
    domains: dict[str, str] = field(default_factory=dict)  # pattern -> allow|deny
    unix_sockets: dict[str, str] = field(default_factory=dict)  # path -> allow|deny
    allow_local_binding: bool = False
    dangerously_allow_non_loopback_proxy: bool = False
    dangerously_allow_all_unix_sockets: bool = False
    proxy_active: bool = False


class SandboxSpec(Record):
    """What the enforcement backend must build: input of ``mdmtool prove``."""

    mode: str  # read-only | workspace-write | danger-full-access
    cwd: str
    writable_roots: list[str] = field(default_factory=list)  # extra roots incl. --add-dir
    network_access: bool = False
    exclude_slash_tmp: bool = False
    exclude_tmpdir_env_var: bool = False
    fs_entries: list[FsEntry] = field(default_factory=list)
    deny_read: list[str] = field(default_factory=list)  # requirements deny_read
    network: NetworkPolicy | None = None
