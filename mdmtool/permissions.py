"""Permission profiles (built-in and ``[permissions.<name>]``) and legacy sandbox modes.

Both ways of choosing a sandbox end in a :class:`SandboxChoice`: the mode Codex
classifies it as (for ``allowed_sandbox_modes``), the profile id (for
``allowed_permission_profiles``; ``None`` when the legacy ``sandbox_mode`` decided),
network access, writable roots and filesystem rules.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from mdmtool.merge import get_path, merge_values
from mdmtool.model import FsEntry, NetworkPolicy, Origin
from mdmtool.record import Record, field

if TYPE_CHECKING:
    from mdmtool.resolve import Resolution

BUILTINS = {":read-only": "read-only", ":workspace": "workspace-write",
            ":danger-full-access": "danger-full-access"}
#: The filesystem entries a custom profile inherits from the built-in it extends.
BASE_ENTRIES = {
    ":read-only": [FsEntry("read", special=":root")],
    ":workspace": [FsEntry("read", special=":root"), FsEntry("write", special=":workspace_roots"),
                   FsEntry("write", special=":slash_tmp"), FsEntry("write", special=":tmpdir")],
}
SPECIALS = (":root", ":minimal", ":workspace_roots", ":project_roots", ":cwd", ":tmpdir", ":slash_tmp")
LEGACY_TO_BUILTIN = {"read-only": ":read-only", "workspace-write": ":workspace",
                     "danger-full-access": ":danger-full-access"}


def read_only_debug() -> str:
    """Codex's debug form of the read-only profile, as printed in fallback warnings."""
    return ("Managed { file_system: Restricted { entries: [FileSystemSandboxEntry { path: Special "
            "{ value: Root }, access: Read, missing_path_behavior: None }], glob_scan_max_depth: "
            "None }, network: Restricted }")


class SandboxChoice(Record):
    mode: str
    profile_id: str | None
    explicit: bool
    origin: Origin
    extends: str | None = None
    network_access: bool = False
    network_origin: Origin | None = None
    writable_roots: list[str] = field(default_factory=list)
    roots_origin: Origin | None = None
    exclude_slash_tmp: bool = False
    exclude_tmpdir_env_var: bool = False
    fs_entries: list[FsEntry] = field(default_factory=list)
    network: NetworkPolicy | None = None

    @property
    def profile_key(self) -> str:
        """The name ``allowed_permission_profiles`` judges."""
        return self.profile_id or LEGACY_TO_BUILTIN.get(self.mode, self.mode)


class PermissionProfiles:
    """Every profile Codex knows on this machine, and how to turn a choice into a sandbox."""

    def __init__(self, r: "Resolution", defined: dict[str, dict]):
        self.r = r
        self.defined = defined

    @classmethod
    def build(cls, r: "Resolution") -> "PermissionProfiles":
        defined: dict[str, dict] = {}
        perms = r.merged.get("permissions")
        if isinstance(perms, dict) and perms:
            defined.update({k: v for k, v in perms.items() if isinstance(v, dict)})
            # only fatal when nothing else chooses the sandbox (cases 306 vs diff 0194/0198;
            # requirements' default_permissions chooses it too: case 744)
            if "default_permissions" not in r.merged and "sandbox_mode" not in r.merged \
                    and not r.inputs.sandbox and not r.inputs.yolo \
                    and not isinstance(r.req.get("default_permissions"), str):
                r.errors.append("config defines `[permissions]` profiles but does not set `default_permissions`")
        req_perms = r.req.get("permissions")
        if isinstance(req_perms, dict):
            for name, body in req_perms.items():
                if name == "filesystem" or not isinstance(body, dict):
                    continue
                if name in defined:
                    r.errors.append(f"requirements.toml permissions profile `{name}` conflicts with a "
                                    "config-defined profile of the same name")
                defined.setdefault(name, body)
        profiles = cls(r, defined)
        profiles._warn_filesystem_entries()
        return profiles

    def _warn_filesystem_entries(self) -> None:
        """Codex warns once per unknown `:special` and per unbounded `**` deny glob of the
        profile it compiles (default_permissions and its parents, not every defined profile),
        in key order (fixtures/cases 606, 607, 633, 634)."""
        name = self.r.merged.get("default_permissions")
        if not (isinstance(name, str) and name in self.defined):
            name = self.r.req.get("default_permissions")
        chain: list[dict] = []
        while isinstance(name, str) and name in self.defined and self.defined[name] not in chain:
            chain.append(self.defined[name])
            name = self.defined[name].get("extends")
        for body in chain[:1]:
            fs: dict = {}
            for link in reversed(chain):
                if isinstance(link.get("filesystem"), dict):
                    fs = merge_values(fs, link["filesystem"])
            bounded = "glob_scan_max_depth" in fs
            for key, value in sorted(fs.items()):
                scoped = dict(sorted(value.items())) if isinstance(value, dict) else {None: value}
                if key.startswith(":") and key not in SPECIALS:
                    self.r.warn("permissions", f"Configured filesystem path `{key}` is not recognized by "
                                "this version of Codex and will be ignored. Upgrade Codex if this path is "
                                "required.")
                for sub, access in scoped.items():
                    target = key if sub is None else f"{key}/{sub}"
                    if access in ("deny", "none") and "**" in target and not bounded:
                        self.r.warn("permissions", f"Filesystem deny-read glob `{target}` uses `**`. "
                                    "Non-macOS sandboxing does not support unbounded `**` natively; set "
                                    "`glob_scan_max_depth` in this filesystem profile to cap Linux glob "
                                    "expansion and silence this warning, or enumerate explicit depths such "
                                    "as `*.env`, `*/*.env`, and `*/*/*.env`.")

    # -- the two kinds of choice
    def legacy(self, mode: str, *, explicit: bool, origin: Origin) -> SandboxChoice:
        choice = SandboxChoice(mode=mode, profile_id=None, explicit=explicit, origin=origin)
        self._apply_workspace_write_table(choice)
        if mode == "danger-full-access":
            choice.network_access = True
        return choice

    def named(self, name: Any, *, explicit: bool, origin: Origin) -> SandboxChoice:
        if not isinstance(name, str):
            self.r.errors.append(f"default_permissions must be a string, got {name!r}")
            return SandboxChoice("read-only", ":read-only", explicit, origin)
        if name in BUILTINS:
            choice = SandboxChoice(BUILTINS[name], name, explicit, origin)
            if name == ":danger-full-access":
                choice.network_access = True
            return choice
        if name not in self.defined:
            if name.startswith(":"):
                msg = f"default_permissions refers to unknown built-in profile `{name}`"
            elif not self.defined:
                msg = "default_permissions requires a `[permissions]` table"
            else:
                msg = f"default_permissions refers to undefined profile `{name}`"
            self.r.errors.append(msg)
            return SandboxChoice("read-only", name, explicit, origin)
        body, chain = self._flatten(name)
        base = chain[-1] if chain and chain[-1] in BUILTINS else None
        choice = SandboxChoice(self._classify(body, base), name, explicit, origin,
                               extends=self.defined[name].get("extends"))
        net = body.get("network") if isinstance(body.get("network"), dict) else {}
        choice.network_access = bool(net.get("enabled", False))
        choice.fs_entries = BASE_ENTRIES.get(base, []) + _fs_entries(body.get("filesystem"))
        choice.network = _network_policy(net)
        writes = [e for e in choice.fs_entries if e.access == "write"]
        choice.exclude_slash_tmp = not any(e.special == ":slash_tmp" for e in writes)
        choice.exclude_tmpdir_env_var = not any(e.special == ":tmpdir" for e in writes)
        roots = body.get("workspace_roots") if isinstance(body.get("workspace_roots"), dict) else {}
        choice.writable_roots = [os.path.expanduser(p) for p, on in roots.items() if on is True]
        choice.writable_roots += [e.path for e in writes if e.path and os.path.isabs(e.path)
                                  and e.path not in choice.writable_roots]
        if choice.mode == "danger-full-access":
            choice.network_access = True
        return choice

    # -- helpers
    def _apply_workspace_write_table(self, choice: SandboxChoice, network: bool = True) -> None:
        if choice.mode != "workspace-write":
            return
        table = self.r.merged.get("sandbox_workspace_write")
        if not isinstance(table, dict):
            return
        if network:
            choice.network_access = table.get("network_access") is True
            layer = self.r.layer_setting(("sandbox_workspace_write", "network_access"))
            if layer is not None:
                choice.network_origin = self.r.origin_of(layer, ("sandbox_workspace_write", "network_access"))
        roots = table.get("writable_roots")
        if isinstance(roots, list):
            choice.writable_roots = [os.path.normpath(p) for p in roots if isinstance(p, str)]
            layer = self.r.layer_setting(("sandbox_workspace_write", "writable_roots"))
            if layer is not None:
                choice.roots_origin = self.r.origin_of(layer, ("sandbox_workspace_write", "writable_roots"))
        choice.exclude_slash_tmp = table.get("exclude_slash_tmp") is True
        choice.exclude_tmpdir_env_var = table.get("exclude_tmpdir_env_var") is True

    def _flatten(self, name: str) -> tuple[dict, list[str]]:
        """Merge a profile over its ``extends`` chain (parent first)."""
        chain: list[str] = []
        cur = name
        while cur is not None and cur not in BUILTINS:
            if cur in chain:
                self.r.errors.append("permissions profile inheritance cycle detected: "
                                     + " -> ".join(chain + [cur]))
                return {}, chain
            if cur not in self.defined:
                self.r.errors.append(f"permissions profile `{chain[-1]}` extends undefined profile `{cur}`")
                return {}, chain
            chain.append(cur)
            cur = self.defined[cur].get("extends")
        if cur == ":danger-full-access":
            self.r.errors.append(f"permissions profile `{chain[-1]}` cannot extend unsupported built-in "
                                 "profile `:danger-full-access`")
        if cur is not None:
            chain.append(cur)
        body: dict = {}
        for link in reversed([c for c in chain if c not in BUILTINS]):
            own = {k: v for k, v in self.defined[link].items() if k not in ("description", "extends")}
            body = merge_values(body, own)
        _check_unix_sockets(self.r, name, body)
        return body, chain

    @staticmethod
    def _classify(body: dict, base: str | None) -> str:
        fs = body.get("filesystem") if isinstance(body.get("filesystem"), dict) else {}
        if fs.get(":root") == "write":
            return "danger-full-access"
        if base == ":workspace" or _has_write(fs):
            return "workspace-write"
        return "read-only"


def _has_write(fs: Any) -> bool:
    if isinstance(fs, dict):
        return any(v == "write" or _has_write(v) for v in fs.values())
    return False


def _fs_entries(fs: Any, scope: str | None = None) -> list[FsEntry]:
    out: list[FsEntry] = []
    if not isinstance(fs, dict):
        return out
    for key, value in fs.items():
        if key == "glob_scan_max_depth":
            continue
        if isinstance(value, dict):
            out.extend(_fs_entries(value, scope=key))
            continue
        access = "deny" if value == "none" else value
        if not isinstance(access, str):
            continue
        if scope:
            target = f"{scope}/{key}" if key != "." else scope
        else:
            target = os.path.expanduser(key) if key.startswith("~") else key
        if any(ch in key for ch in "*?["):
            out.append(FsEntry(access, glob=target))
        elif target.startswith(":") and "/" not in target:
            out.append(FsEntry(access, special=target))
        else:
            out.append(FsEntry(access, path=target))
    return out


def _network_policy(net: dict) -> NetworkPolicy:
    domains = net.get("domains") if isinstance(net.get("domains"), dict) else {}
    sockets = net.get("unix_sockets") if isinstance(net.get("unix_sockets"), dict) else {}
    return NetworkPolicy(
        enabled=net.get("enabled") is True, mode=net.get("mode"),
        domains={str(k).lower().rstrip("."): v for k, v in domains.items()},
        unix_sockets=dict(sockets), allow_local_binding=net.get("allow_local_binding") is True,
        dangerously_allow_non_loopback_proxy=net.get("dangerously_allow_non_loopback_proxy") is True,
        dangerously_allow_all_unix_sockets=net.get("dangerously_allow_all_unix_sockets") is True)


def _check_unix_sockets(r: "Resolution", name: str, body: dict) -> None:
    sockets = get_path(body, ("network", "unix_sockets"))
    if isinstance(sockets, dict):
        for path, value in sockets.items():
            if value not in ("allow", "deny"):
                r.errors.append(f"permissions profile `{name}`: unix_sockets value `{value}` for "
                                f"`{path}` is invalid; expected `allow` or `deny`")
