"""The policies the issue requires prove to pass, as resolved SandboxSpecs.

Paths name a user's machine (/home/alice/...): prove mirrors them into its throw-away
workspace, so none of them needs to exist and nothing real is touched.
"""

from __future__ import annotations

from mdmtool.model import FsEntry, NetworkPolicy, SandboxSpec

REPO = "/home/alice/repo"

READ_ONLY = SandboxSpec(mode="read-only", cwd=REPO)
WORKSPACE = SandboxSpec(mode="workspace-write", cwd=REPO, writable_roots=["/srv/cache", "/opt/added"])
WORKSPACE_NET = SandboxSpec(mode="workspace-write", cwd=REPO, network_access=True,
                            exclude_slash_tmp=True)
WORKSPACE_NO_TMPDIR = SandboxSpec(mode="workspace-write", cwd=REPO, exclude_tmpdir_env_var=True)
#: `locked` as the resolver returns it (extends :workspace: only the profile's own entries)
LOCKED = SandboxSpec(mode="workspace-write", cwd=REPO, writable_roots=["/srv/extra"], fs_entries=[
    FsEntry("deny", path="~/.ssh"), FsEntry("write", special=":workspace_roots"),
    FsEntry("deny", path=":workspace_roots/private"),
    FsEntry("deny", glob=":workspace_roots/**/*.env"),
    FsEntry("deny", path="/srv/secret")], deny_read=["/etc/secrets/**"])
DANGER = SandboxSpec(mode="danger-full-access", cwd=REPO, network_access=True)
PROXY = SandboxSpec(mode="workspace-write", cwd=REPO, network_access=True, network=NetworkPolicy(
    enabled=True, proxy_active=True, domains={
        "artifacts.example.org": "allow", "*.corp.example": "allow",
        "**.github.example": "allow", "uploads.corp.example": "deny"}))

REQUIRED = {"read-only": READ_ONLY, "workspace-write": WORKSPACE,
            "workspace-write+network": WORKSPACE_NET, "profile-deny-read": LOCKED,
            "danger-full-access": DANGER}
