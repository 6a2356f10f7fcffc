"""The seccomp programs: Codex's three network filters, checked by evaluating the BPF
exactly as the kernel would, and on the real kernel through bwrap --seccomp."""

from __future__ import annotations

import errno
import subprocess
import sys

import pytest

from mdmtool.prove import seccomp as sc

EPERM, ALLOW = sc.RET_EPERM, sc.RET_ALLOW


@pytest.mark.parametrize("arch", sorted(sc.ARCHES))
def test_restricted_mode(arch):
    prog, nr = sc.build_program(sc.RESTRICTED, arch), sc.ARCHES[arch]["nr"]
    assert sc.evaluate(prog, arch, nr["socket"], sc.AF_INET) == EPERM
    assert sc.evaluate(prog, arch, nr["socket"], sc.AF_INET6) == EPERM
    assert sc.evaluate(prog, arch, nr["socket"], sc.AF_UNIX) == ALLOW
    assert sc.evaluate(prog, arch, nr["socketpair"], sc.AF_UNIX) == ALLOW
    for call in ("connect", "bind", "listen", "accept4", "sendto", "setsockopt", "ptrace",
                 "io_uring_setup", "process_vm_readv"):
        assert sc.evaluate(prog, arch, nr[call]) == EPERM, call
    assert sc.evaluate(prog, arch, 0) == ALLOW   # read(2) / io_setup: untouched


@pytest.mark.parametrize("arch", sorted(sc.ARCHES))
def test_proxy_mode(arch):
    prog, nr = sc.build_program(sc.PROXY, arch), sc.ARCHES[arch]["nr"]
    assert [sc.evaluate(prog, arch, nr["socket"], f) for f in (sc.AF_INET, sc.AF_INET6)] == [ALLOW] * 2
    assert sc.evaluate(prog, arch, nr["socket"], sc.AF_UNIX) == EPERM
    assert sc.evaluate(prog, arch, nr["socket"], sc.AF_VSOCK) == EPERM
    assert sc.evaluate(prog, arch, nr["connect"]) == ALLOW
    assert sc.evaluate(prog, arch, nr["ptrace"]) == EPERM
    wide = sc.build_program(sc.PROXY, arch, allow_all_unix_sockets=True)
    assert sc.evaluate(wide, arch, nr["socket"], sc.AF_UNIX) == ALLOW


@pytest.mark.parametrize("arch", sorted(sc.ARCHES))
def test_vsock_mode(arch):
    prog, nr = sc.build_program(sc.VSOCK, arch), sc.ARCHES[arch]["nr"]
    assert sc.evaluate(prog, arch, nr["socket"], sc.AF_VSOCK) == EPERM
    assert sc.evaluate(prog, arch, nr["socket"], sc.AF_INET) == ALLOW
    assert sc.evaluate(prog, arch, nr["ptrace"]) == ALLOW        # vsock mode keeps ptrace
    assert sc.evaluate(prog, arch, nr["io_uring_setup"]) == EPERM


def test_foreign_arch_is_killed_and_x32_refused():
    prog = sc.build_program(sc.RESTRICTED, "x86_64")
    data_arch = sc.decode(prog)[1][3]
    assert data_arch == sc.ARCHES["x86_64"]["audit"] and sc.decode(prog)[2][3] == sc.RET_KILL_PROCESS
    assert sc.evaluate(prog, "x86_64", 0x40000000 | 41, sc.AF_INET) == EPERM
    assert sc.RET_EPERM & 0xFFFF == errno.EPERM


def test_unknown_mode_and_arch():
    with pytest.raises(ValueError):
        sc.build_program("open")
    with pytest.raises(ValueError):
        sc.build_program(sc.RESTRICTED, "mips")


def _under_filter(mode: str, code: str) -> str:
    import os
    prog = sc.build_program(mode)
    r, w = os.pipe()
    os.write(w, prog)
    os.close(w)
    try:
        out = subprocess.run(["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--unshare-user",
                              "--seccomp", str(r), "--", sys.executable, "-I", "-S", "-c", code],
                             pass_fds=[r], capture_output=True, text=True, timeout=30)
    finally:
        os.close(r)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


PROBE = """import socket, errno
def t(f, kind=socket.SOCK_STREAM):
    try:
        socket.socket(f, kind).close(); return 'ok'
    except OSError as e:
        return errno.errorcode[e.errno]
try:
    socket.socket(socket.AF_UNIX).connect('/nonexistent-mdmtool'); c = 'ok'
except OSError as e:
    c = errno.errorcode[e.errno]
print(t(socket.AF_INET), t(socket.AF_INET6), t(socket.AF_UNIX), c)"""


def test_filters_on_the_real_kernel(bwrap_ok):
    if sc.host_arch() is None:
        pytest.skip("no seccomp table for this architecture")
    assert _under_filter(sc.RESTRICTED, PROBE) == "EPERM EPERM ok EPERM"
    assert _under_filter(sc.PROXY, PROBE) == "ok ok EPERM EPERM"   # socket(AF_UNIX) refused
    # vsock mode: IP and Unix sockets work; the Unix connect reaches the filesystem
    assert _under_filter(sc.VSOCK, PROBE) == "ok ok ok ENOENT"
