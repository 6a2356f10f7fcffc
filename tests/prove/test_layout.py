"""Layout: how a SandboxSpec is enforced (enforcement.md §1.1, §1.2, §3.2) and predicted."""

from __future__ import annotations

import pytest

from mdmtool.errors import MdmError
from mdmtool.model import FsEntry, NetworkPolicy, SandboxSpec
from mdmtool.prove.layout import (NET_FULL, NET_OFF, NET_ON, NET_PROXY, from_spec, glob_regex,
                                  static_prefix)

WS = "/w/repo"


def lay(**kw):
    return from_spec(SandboxSpec(cwd=WS, **kw), tmpdir="/w/tmpdir", home="/w/home")


def test_read_only_writes_nothing_network_off():
    lo = lay(mode="read-only")
    assert lo.writable_roots == [] and lo.network == NET_OFF and not lo.full_access
    assert lo.can_write(WS + "/x") == (False, "outside every writable root")
    assert lo.can_read("/etc/hostname")[0]


def test_workspace_write_roots_tmp_and_protected_names():
    lo = lay(mode="workspace-write", writable_roots=["/srv/data"])
    assert lo.writable_roots == [WS, "/srv/data", "/tmp", "/w/tmpdir"]
    assert lo.can_write(WS + "/a/b")[0] and lo.can_write("/srv/data/x")[0]
    for name in (".git", ".codex", ".agents", ".aws"):
        ok, why = lo.can_write(f"{WS}/{name}/x")
        assert not ok and "protected" in why
        assert not lo.can_write(f"/srv/data/{name}")[0]
        assert not lo.can_write(f"/tmp/{name}/x")[0]
    assert lo.can_write(WS + "/sub/.git/x")[0]          # nested metadata is not protected
    assert not lo.can_write("/w/elsewhere")[0]


def test_exclusions_drop_tmp_roots():
    lo = lay(mode="workspace-write", exclude_slash_tmp=True, exclude_tmpdir_env_var=True)
    assert lo.writable_roots == [WS]


def test_network_modes():
    assert lay(mode="workspace-write", network_access=True).network == NET_ON
    proxy = NetworkPolicy(enabled=True, proxy_active=True)
    assert lay(mode="workspace-write", network_access=True, network=proxy).network == NET_PROXY
    assert lay(mode="workspace-write", network=proxy).network == NET_OFF
    lo = lay(mode="danger-full-access")
    assert lo.full_access and lo.network == NET_FULL and lo.can_write("/etc/x")[0]


def test_profile_entries_scoped_relative_and_home():
    """The resolver's form of `locked` (extends :workspace): only the child's entries."""
    lo = lay(mode="workspace-write", writable_roots=["/srv/extra"], fs_entries=[
        FsEntry("deny", path="~/.ssh"), FsEntry("write", special=":workspace_roots"),
        FsEntry("deny", path=":workspace_roots/private"),
        FsEntry("deny", glob=":workspace_roots/**/*.env")])
    assert set(lo.deny_paths) == {"/w/home/.ssh", WS + "/private", "/srv/extra/private"}
    assert lo.deny_globs == [WS + "/**/*.env", "/srv/extra/**/*.env"]
    assert "/tmp" in lo.writable_roots and WS in lo.writable_roots     # :workspace base grants
    assert not lo.can_read(WS + "/a/b/c.env")[0] and not lo.can_read(WS + "/c.env")[0]
    assert lo.can_read(WS + "/c.txt")[0]
    assert not lo.can_read("/w/home/.ssh/id_rsa")[0]
    assert not lo.can_write(WS + "/private/x")[0]


def test_complete_profile_without_tmp():
    lo = lay(mode="workspace-write", fs_entries=[
        FsEntry("read", special=":root"), FsEntry("write", special=":project_roots")])
    assert lo.writable_roots == [WS]


def test_requirements_deny_read():
    lo = lay(mode="read-only", deny_read=["~/.ssh", "/etc/secrets/**"])
    assert lo.deny_paths == ["/w/home/.ssh"] and lo.deny_globs == ["/etc/secrets/**"]
    assert not lo.can_read("/etc/secrets/a/b")[0] and lo.can_read("/etc/hostname")[0]


def test_restricted_read_profile_is_refused():
    """A complete profile that does not read `:root`: Codex's bwrap path needs full read."""
    with pytest.raises(MdmError, match="full-read"):
        lay(mode="workspace-write", fs_entries=[FsEntry("deny", special=":root"),
                                                FsEntry("write", path=WS)])


def test_root_write_is_full_disk_write():
    lo = lay(mode="workspace-write", fs_entries=[FsEntry("write", special=":root")])
    assert lo.writable_roots == ["/"] and lo.can_write("/etc/x")[0]


def test_external_sandbox_is_refused():
    with pytest.raises(MdmError, match="external"):
        lay(mode="external-sandbox")


@pytest.mark.parametrize("glob,path,hit", [
    ("/w/**/*.env", "/w/a.env", True), ("/w/**/*.env", "/w/x/y/a.env", True),
    ("/w/*.env", "/w/x/a.env", False), ("/w/[ab].txt", "/w/b.txt", True),
    ("/w/[!ab].txt", "/w/a.txt", False), ("/w/a?c", "/w/abc", True), ("/w/**", "/w/x/y", True),
])
def test_glob_semantics(glob, path, hit):
    assert bool(glob_regex(glob).match(path)) is hit


def test_static_prefix():
    assert static_prefix("/w/**/*.env") == "/w/"
    assert static_prefix("/w/x/a*.pem") == "/w/x"
