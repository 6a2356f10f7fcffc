"""The effective policy: what Codex will run with, with the origin of every value."""

from __future__ import annotations

from typing import Any

from mdmtool import CODEX_VERSION
from mdmtool.model import Origin, PolicyWarning, SandboxSpec
from mdmtool.record import Record, field
from mdmtool.redact import REDACTED, is_secret_key, redact, redact_text  # noqa: F401 (re-exported)

SCHEMA_VERSION = 1

#: Output keys of the effective policy, in display order.
POLICY_KEYS = ("approval_policy", "approvals_reviewer", "sandbox_mode", "network_access",
               "permission_profile", "web_search", "writable_roots")


def _host(inputs: dict[str, Any]) -> str:
    if inputs.get("hostname"):
        return str(inputs["hostname"])
    import os
    if hasattr(os, "uname"):  # what gethostname() returns on POSIX, without importing socket
        return os.uname().nodename
    import socket
    return socket.gethostname()


def sandbox_backend() -> dict[str, Any]:
    """Which enforcement backend Codex would use here, and whether it can run (cheap checks)."""
    import os
    import shutil
    import sys
    if sys.platform == "darwin":
        ok = os.path.exists("/usr/bin/sandbox-exec")
        return {"name": "seatbelt", "available": ok, "reason": None if ok else "sandbox-exec missing"}
    if sys.platform.startswith("linux"):
        bwrap = shutil.which("bwrap")
        reason = None if bwrap else "bubblewrap (bwrap) is not installed"
        try:
            with open("/proc/sys/user/max_user_namespaces", encoding="ascii") as fh:
                if fh.read().strip() == "0":
                    reason = reason or "user namespaces are disabled (user.max_user_namespaces = 0)"
        except OSError:
            pass
        return {"name": "bubblewrap", "available": reason is None, "reason": reason}
    return {"name": "windows-sandbox", "available": None, "reason": "not checked on this OS"}


class LayerSummary(Record):
    kind: str
    file: str | None
    enabled: bool
    disabled_reason: str | None
    config: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "file": self.file, "enabled": self.enabled,
                "disabled_reason": self.disabled_reason, "config": redact(self.config)}


class EffectivePolicy(Record):
    """The resolved policy. ``ok`` is False when Codex would refuse to start."""

    ok: bool
    errors: list[str] = field(default_factory=list)
    approval_policy: str | None = None
    approval_granular: dict[str, bool] | None = None
    approvals_reviewer: str | None = None
    sandbox_mode: str | None = None
    network_access: bool | None = None
    permission_profile: str | None = None
    permission_profile_extends: str | None = None
    web_search: str | None = None
    writable_roots: list[str] = field(default_factory=list)
    workspace_roots: list[str] = field(default_factory=list)
    exclude_slash_tmp: bool = False
    exclude_tmpdir_env_var: bool = False
    features: dict[str, bool] = field(default_factory=dict)
    features_non_default: dict[str, bool] = field(default_factory=dict)
    warnings: list[PolicyWarning] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    #: per fatal error (same order as ``errors``): plain words, file, line (mdmtool.plain)
    explanations: list[dict[str, Any]] = field(default_factory=list)
    origins: dict[str, Origin] = field(default_factory=dict)
    layers: list[LayerSummary] = field(default_factory=list)
    requirements: dict[str, Any] = field(default_factory=dict)
    requirement_sources: list[dict[str, Any]] = field(default_factory=list)
    trust: str | None = None
    #: True when Codex will trust the project itself at session start (see resolve.resolve)
    trust_assumed: bool = False
    project_root: str | None = None
    git_root: str | None = None
    cwd: str | None = None
    codex_home: str | None = None
    system_dir: str | None = None
    sandbox: SandboxSpec | None = None
    #: the command line resolved for (flags, profile, hostname, -c overrides)
    inputs: dict[str, Any] = field(default_factory=dict)
    #: every value the config layers asked for before requirements applied
    configured: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The versioned ``mdmtool effective --format json`` document (secrets hidden)."""
        from mdmtool.redact import scrub
        from mdmtool.tomlio import to_json_compatible  # TOML dates and times -> ISO strings
        return scrub(to_json_compatible({
            "schema_version": SCHEMA_VERSION,
            "codex_version": CODEX_VERSION,
            "ok": self.ok,
            "errors": list(self.errors),
            "approval_policy": self.approval_policy,
            "approval_granular": self.approval_granular,
            "approvals_reviewer": self.approvals_reviewer,
            "sandbox_mode": self.sandbox_mode,
            "network_access": self.network_access,
            "permission_profile": self.permission_profile,
            "web_search": self.web_search,
            "writable_roots": list(self.writable_roots),
            "workspace_roots": list(self.workspace_roots),
            "features_non_default": dict(self.features_non_default),
            "trust": self.trust,
            "trust_written_by_codex": self.trust_assumed,
            "project_root": self.project_root,
            "cwd": self.cwd,
            "codex_home": self.codex_home,
            "system_dir": self.system_dir,
            "warnings": [w.to_json() for w in self.warnings],
            "notices": list(self.notices),
            "explanations": list(self.explanations),
            "origins": {k: o.to_json() for k, o in self.origins.items()},
            "configured": redact(self.configured),
            "layers": [layer.to_json() for layer in self.layers],
            "requirements": redact(self.requirements),
            "requirement_sources": redact(self.requirement_sources),
            "inputs": redact(self.inputs),
            "host": _host(self.inputs),
            "sandbox_backend": sandbox_backend(),
        }))
