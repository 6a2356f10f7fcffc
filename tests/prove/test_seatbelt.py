"""The Seatbelt profile Codex would use, checked rule by rule per policy (any OS); run
under /usr/bin/sandbox-exec only on macOS."""

from __future__ import annotations

import re
import sys

import pytest

from mdmtool.model import NetworkPolicy, SandboxSpec
from mdmtool.prove import seatbelt as sb
from mdmtool.prove.layout import from_spec
from tests.prove import policies


def profile(spec, ports=()):
    lay = from_spec(spec, tmpdir="/w/tmpdir", home="/home/alice")
    return sb.build_profile(lay, list(ports))


def test_read_only():
    text, params = profile(policies.READ_ONLY)
    assert text.startswith("(version 1)") and "(deny default)" in text
    assert "(allow file-read*)" in text
    assert "(allow file-write*" not in text and "network-outbound" not in text
    assert params == {}


def test_workspace_write_roots_and_protected_names():
    text, params = profile(policies.WORKSPACE)
    roots = {v for k, v in params.items() if re.fullmatch(r"WRITABLE_ROOT_\d+", k)}
    assert {sb.canonical(p) for p in ("/home/alice/repo", "/srv/cache", "/opt/added", "/tmp",
                                      "/w/tmpdir")} == roots
    write = text[text.index("(allow file-write*"):]
    for name in (".git", ".codex", ".agents"):
        rx = f'(require-not (regex #"^{re.escape("/home/alice/repo")}/{re.escape(name)}(/.*)?$"))'
        assert rx in write
    assert "network-outbound" not in text


def test_deny_read_profile():
    text, params = profile(policies.LOCKED)
    assert 'READABLE_ROOT_0' in params and params["READABLE_ROOT_0"] == "/"
    excluded = {v for k, v in params.items() if k.startswith("READABLE_ROOT_0_EXCLUDED")}
    assert "/home/alice/.ssh" in excluded and "/srv/secret" in excluded
    assert "(allow file-read*)" not in text                       # reads are scoped now
    assert '(deny file-read* (regex #"^/home/alice/repo/(.*/)?[^/]*\\.env$"))' in text
    assert '(deny file-write-unlink (regex #"^/home/alice/repo/(.*/)?[^/]*\\.env$"))' in text
    assert '(deny file-read* (regex #"^/etc/secrets/.*$"))' in text


def test_network_rules():
    on, _ = profile(policies.WORKSPACE_NET)
    assert "(allow network-outbound)\n(allow network-inbound)" in on
    proxy = SandboxSpec(mode="workspace-write", cwd="/r", network_access=True, network=NetworkPolicy(
        enabled=True, proxy_active=True, allow_local_binding=True,
        unix_sockets={"/var/run/docker.sock": "allow"}))
    text, params = profile(proxy, ports=[3128, 8081])
    assert '(allow network-outbound (remote ip "localhost:3128"))' in text
    assert '(allow network-outbound (remote ip "localhost:8081"))' in text
    assert '(allow network-outbound (remote ip "*:53"))' in text
    assert "(allow network-outbound)\n" not in text
    assert params["UNIX_SOCKET_PATH_0"] == sb.canonical("/var/run/docker.sock")
    closed, _ = profile(proxy, ports=[])                          # no endpoint: fail closed
    assert "fail closed" in closed and "network-outbound" not in closed


def test_danger_and_argv():
    lay = from_spec(policies.DANGER, tmpdir=None)
    assert sb.build_profile(lay) == ("", {})
    assert sb.sandbox_exec_argv(lay, ["true"]) == ["true"]
    ro = from_spec(policies.READ_ONLY, tmpdir=None)
    argv = sb.sandbox_exec_argv(ro, ["true"])
    assert argv[0] == "/usr/bin/sandbox-exec" and argv[1] == "-p" and argv[-2:] == ["--", "true"]


def test_glob_regex():
    assert sb.glob_to_regex("/a/**/*.pem") == "^/a/(.*/)?[^/]*\\.pem$"
    assert sb.glob_to_regex("/a/b") == "^/a/b(/.*)?$"
    assert sb.glob_to_regex("/a/[!x]?") == "^/a/[^x][^/]$"


@pytest.mark.skipif(sys.platform != "darwin", reason="sandbox-exec runs only on macOS")
@pytest.mark.parametrize("name", sorted(policies.REQUIRED))
def test_macos_probes(name):
    from mdmtool.prove.engine import prove
    result = prove(policies.REQUIRED[name])
    assert result.result == "pass", [(o.probe.id, o.observed, o.detail)
                                     for o in result.runs[0].outcomes if o.status == "fail"]
