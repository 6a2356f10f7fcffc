"""Classic-BPF seccomp programs equal to the ones codex-linux-sandbox installs.

Codex 0.169 applies, after ``PR_SET_NO_NEW_PRIVS`` and right before exec'ing the
command, one of three network filters (codex-rs/linux-sandbox seccomp.rs):

* ``restricted`` (command network off): ``socket``/``socketpair`` for anything but
  ``AF_UNIX`` and every connect/bind/listen/accept/send*/sockopt call fail with EPERM,
  so even loopback fails with EPERM (not ECONNREFUSED) and so does a Unix-socket connect;
* ``proxy`` (managed proxy routing): only IP sockets (plus ``AF_UNIX`` when
  ``dangerously_allow_all_unix_sockets``); ``socketpair`` only ``AF_UNIX``;
* ``vsock`` (network on, filesystem restricted): only ``AF_VSOCK`` is refused.

Every mode also refuses io_uring; restricted and proxy refuse ptrace and
process_vm_readv/writev. A foreign architecture kills the process; x32 system calls
(x86_64 numbers with bit 30 set) are refused. We hand the program to ``bwrap --seccomp
FD``, which installs it after its own ``PR_SET_NO_NEW_PRIVS`` just before exec.
"""

from __future__ import annotations

import errno
import platform
import struct

RESTRICTED, PROXY, VSOCK = "restricted", "proxy", "vsock"
MODES = (RESTRICTED, PROXY, VSOCK)

AF_UNIX, AF_INET, AF_INET6, AF_VSOCK = 1, 2, 10, 40

# BPF opcodes and seccomp return values (linux/filter.h, linux/seccomp.h).
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_RET_K = 0x06
RET_ALLOW = 0x7FFF0000
RET_KILL_PROCESS = 0x80000000
RET_EPERM = 0x00050000 | errno.EPERM
_X32_BIT = 0x40000000

# seccomp_data offsets: nr (0), arch (4), args[0] low 32 bits (16, little endian).
_OFF_NR, _OFF_ARCH, _OFF_ARG0 = 0, 4, 16

ARCHES = {
    "x86_64": {
        "audit": 0xC000003E,
        "nr": {"socket": 41, "connect": 42, "accept": 43, "sendto": 44, "shutdown": 48,
               "bind": 49, "listen": 50, "getsockname": 51, "getpeername": 52,
               "socketpair": 53, "setsockopt": 54, "getsockopt": 55, "ptrace": 101,
               "accept4": 288, "recvmmsg": 299, "sendmmsg": 307, "process_vm_readv": 310,
               "process_vm_writev": 311, "io_uring_setup": 425, "io_uring_enter": 426,
               "io_uring_register": 427},
    },
    "aarch64": {
        "audit": 0xC00000B7,
        "nr": {"socket": 198, "socketpair": 199, "bind": 200, "listen": 201, "accept": 202,
               "connect": 203, "getsockname": 204, "getpeername": 205, "sendto": 206,
               "setsockopt": 208, "getsockopt": 209, "shutdown": 210, "ptrace": 117,
               "accept4": 242, "recvmmsg": 243, "sendmmsg": 269, "process_vm_readv": 270,
               "process_vm_writev": 271, "io_uring_setup": 425, "io_uring_enter": 426,
               "io_uring_register": 427},
    },
}
_ALIASES = {"amd64": "x86_64", "arm64": "aarch64"}

_ALWAYS = ("io_uring_setup", "io_uring_enter", "io_uring_register")
_DEBUG = ("ptrace", "process_vm_readv", "process_vm_writev")
_RESTRICTED_CALLS = ("connect", "accept", "accept4", "bind", "listen", "getpeername",
                     "getsockname", "shutdown", "sendto", "sendmmsg", "recvmmsg",
                     "getsockopt", "setsockopt")


def host_arch() -> str | None:
    """The seccomp architecture of this machine, or None when unsupported."""
    m = platform.machine().lower()
    m = _ALIASES.get(m, m)
    return m if m in ARCHES else None


def _ins(code: int, k: int, jt: int = 0, jf: int = 0) -> tuple[int, int, int, int]:
    return (code, jt, jf, k)


def rules(mode: str, allow_all_unix_sockets: bool = False) -> list[tuple[str, tuple[int, ...] | None, bool]]:
    """The rule table: (syscall, families, deny_when_in) — None families = always deny.

    ``deny_when_in`` True: deny when arg0 is one of ``families``; False: deny unless it is.
    """
    if mode not in MODES:
        raise ValueError(f"unknown seccomp mode {mode!r}")
    out: list[tuple[str, tuple[int, ...] | None, bool]] = []
    if mode != VSOCK:
        out += [(n, None, True) for n in _DEBUG]
    out += [(n, None, True) for n in _ALWAYS]
    if mode == RESTRICTED:
        out += [(n, None, True) for n in _RESTRICTED_CALLS]
        out += [("socket", (AF_UNIX,), False), ("socketpair", (AF_UNIX,), False)]
    elif mode == PROXY:
        fams = (AF_INET, AF_INET6) + ((AF_UNIX,) if allow_all_unix_sockets else ())
        out += [("socket", fams, False), ("socketpair", (AF_UNIX,), False)]
    else:
        out += [("socket", (AF_VSOCK,), True), ("socketpair", (AF_VSOCK,), True)]
    return out


def build_program(mode: str, arch: str | None = None, allow_all_unix_sockets: bool = False) -> bytes:
    """The filter as raw ``struct sock_filter[]`` bytes (what ``bwrap --seccomp`` reads)."""
    arch = arch or host_arch()
    if arch not in ARCHES:
        raise ValueError(f"no seccomp syscall table for architecture {arch!r}")
    table = ARCHES[arch]
    prog = [_ins(_LD_W_ABS, _OFF_ARCH),
            _ins(_JEQ_K, table["audit"], jt=1, jf=0),
            _ins(_RET_K, RET_KILL_PROCESS),
            _ins(_LD_W_ABS, _OFF_NR)]
    if arch == "x86_64":
        prog += [_ins(_JGE_K, _X32_BIT, jt=0, jf=1), _ins(_RET_K, RET_EPERM)]
    for name, fams, deny_when_in in rules(mode, allow_all_unix_sockets):
        if fams is None:
            prog += [_ins(_JEQ_K, table["nr"][name], jt=0, jf=1), _ins(_RET_K, RET_EPERM)]
            continue
        # ld arg0; one jeq per family; the two returns; then reload nr for the next rule.
        n = len(fams)
        body = [_ins(_LD_W_ABS, _OFF_ARG0)]
        for i, fam in enumerate(fams):
            # a hit jumps to the "in set" return: deny (deny_when_in) or allow
            body.append(_ins(_JEQ_K, fam, jt=n - i, jf=0))
        in_set, not_in = (RET_EPERM, RET_ALLOW) if deny_when_in else (RET_ALLOW, RET_EPERM)
        body += [_ins(_RET_K, not_in), _ins(_RET_K, in_set)]
        prog.append(_ins(_JEQ_K, table["nr"][name], jt=0, jf=len(body)))
        prog += body
    prog.append(_ins(_RET_K, RET_ALLOW))
    return b"".join(struct.pack("<HBBI", *ins) for ins in prog)


def decode(program: bytes) -> list[tuple[int, int, int, int]]:
    """Raw bytes back to (code, jt, jf, k) tuples (for tests and --keep dumps)."""
    return [struct.unpack_from("<HBBI", program, i) for i in range(0, len(program), 8)]


def evaluate(program: bytes, arch: str, nr: int, arg0: int = 0) -> int:
    """Run the classic-BPF program on one syscall, like the kernel would (tests)."""
    ins = decode(program)
    data = {_OFF_NR: nr, _OFF_ARCH: ARCHES[arch]["audit"], _OFF_ARG0: arg0 & 0xFFFFFFFF}
    acc, pc = 0, 0
    while pc < len(ins):
        code, jt, jf, k = ins[pc]
        if code == _LD_W_ABS:
            acc = data[k]
        elif code == _RET_K:
            return k
        elif code in (_JEQ_K, _JGE_K):
            hit = acc == k if code == _JEQ_K else acc >= k
            pc += jt if hit else jf
        else:
            raise ValueError(f"unexpected BPF opcode {code:#x}")
        pc += 1
    raise ValueError("BPF program fell off its end")
