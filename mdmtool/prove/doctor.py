"""Preflight for Codex's sandbox on this host (enforcement.md §3.1, §3.4, §4, §5).

Each check is a pure function of the values it judges (so the logic is testable with
any values), and :func:`gather` reads the real ones (/proc/sys, the bwrap binary, a
minimal bwrap run). Every failure carries the remediation the spec gives.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from dataclasses import asdict, dataclass, field

OK, WARN, FAIL, INFO, SKIP = "ok", "warn", "fail", "info", "skip"

R_INSTALL = ("install the distro bubblewrap package (apt install bubblewrap / dnf install "
             "bubblewrap); Codex otherwise falls back to its bundled copy with a warning")
R_APPARMOR = ("use the distro /usr/bin/bwrap; on Ubuntu 24.04 install the bwrap-userns-restrict "
              "profile from the AppArmor extra profiles into /etc/apparmor.d/ and load it with "
              "`apparmor_parser -r /etc/apparmor.d/bwrap-userns-restrict` (25.04 ships it in the "
              "apparmor package); last resort, weakening the host: "
              "`sysctl kernel.apparmor_restrict_unprivileged_userns=0`")
R_USERNS = ("enable unprivileged user namespaces (`sysctl user.max_user_namespaces=15000`, and "
            "`sysctl kernel.unprivileged_userns_clone=1` where that sysctl exists) or run as root")
R_CONTAINER = ("the container denies mounts (no CAP_SYS_ADMIN / mount propagation): run Codex "
               "with `--enable use_legacy_landlock` if the kernel has Landlock (Linux >= 5.13)")
R_ROOTFS = "the root filesystem is the initial rootfs (pivot_root fails): no bwrap backend here"
R_WSL1 = "WSL1 cannot create user namespaces: use WSL2, which takes the normal Linux path"
R_CODEX_HOME = "move CODEX_HOME out of the temporary directory ($TMPDIR or /tmp)"


@dataclass
class Check:
    name: str
    status: str
    detail: str
    remediation: str | None = None


@dataclass
class Facts:
    """Everything the checks judge; :func:`gather` fills it from the real host."""

    platform: str = sys.platform
    is_root: bool = False
    bwrap_path: str | None = None
    bwrap_version: str | None = None
    bwrap_mode: int | None = None
    max_user_namespaces: str | None = None
    unprivileged_userns_clone: str | None = None
    apparmor_restrict: str | None = None
    apparmor_profiles: list[str] = field(default_factory=list)  # files granting bwrap userns
    seccomp_field: str | None = None  # "Seccomp:" value of /proc/self/status
    seccomp_actions: str | None = None
    arch: str | None = None
    proc_version: str = ""
    kernel_release: str = ""
    smoke: tuple[int, str] | None = None  # rc, stderr of `bwrap --unshare-net --ro-bind / / true`
    seccomp_smoke: tuple[int, str] | None = None  # socket() under our filter
    codex_home: str | None = None
    tmp_dirs: list[str] = field(default_factory=list)
    sandbox_exec: bool = False


def read_sysctl(path: str) -> str | None:
    """A /proc/sys value as text, None when the sysctl does not exist or is unreadable."""
    try:
        with open(path, encoding="ascii", errors="replace") as fh:
            return fh.read().strip()
    except OSError:
        return None


def parse_version(text: str | None) -> tuple[int, ...] | None:
    m = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text or "")
    return tuple(int(x) for x in m.groups() if x is not None) if m else None


# ----------------------------------------------------------------------------- checks

def check_bwrap(path: str | None, version: str | None) -> Check:
    if not path:
        return Check("bwrap", FAIL, "no bwrap on PATH (outside the working directory)", R_INSTALL)
    v = parse_version(version)
    if v is None:
        return Check("bwrap", WARN, f"{path}: version unknown", None)
    if v < (0, 9, 0):
        return Check("bwrap", OK, f"{path} {version} (< 0.9.0: no --argv0; Codex uses its "
                     "compatibility path)")
    return Check("bwrap", OK, f"{path} {version}")


def check_setuid(path: str | None, mode: int | None) -> Check:
    if not path or mode is None:
        return Check("bwrap setuid", SKIP, "no bwrap")
    if mode & stat.S_ISUID:
        return Check("bwrap setuid", INFO, f"{path} is setuid root: namespaces come from the "
                     "setuid helper, not from unprivileged user namespaces")
    return Check("bwrap setuid", OK, f"{path} is not setuid (needs unprivileged user namespaces "
                 "unless run as root)")


def check_userns(max_ns: str | None, clone: str | None, is_root: bool,
                 setuid: bool = False) -> Check:
    detail = f"user.max_user_namespaces={max_ns if max_ns is not None else 'n/a'}"
    if clone is not None:
        detail += f", kernel.unprivileged_userns_clone={clone}"
    if is_root or setuid:
        return Check("user namespaces", OK, detail + (" (root)" if is_root else " (setuid bwrap)"))
    if max_ns is not None and max_ns.strip() == "0":
        return Check("user namespaces", FAIL, detail + ": user namespaces disabled", R_USERNS)
    if clone is not None and clone.strip() == "0":
        return Check("user namespaces", FAIL, detail + ": unprivileged clone disabled", R_USERNS)
    return Check("user namespaces", OK, detail)


def check_apparmor(restrict: str | None, bwrap: str | None, profiles: list[str],
                   is_root: bool) -> Check:
    if restrict is None:
        return Check("apparmor userns restriction", OK,
                     "kernel.apparmor_restrict_unprivileged_userns not present")
    if restrict.strip() != "1":
        return Check("apparmor userns restriction", OK,
                     f"kernel.apparmor_restrict_unprivileged_userns={restrict}")
    if is_root:
        return Check("apparmor userns restriction", OK, "restricted, but running as root")
    if profiles:
        return Check("apparmor userns restriction", OK, "restricted; userns granted to "
                     f"{bwrap} by {', '.join(profiles)}")
    return Check("apparmor userns restriction", FAIL,
                 f"kernel.apparmor_restrict_unprivileged_userns=1 and no AppArmor profile grants "
                 f"`userns` to {bwrap or 'bwrap'} (symptom: `bwrap: loopback: Failed RTM_NEWADDR` "
                 "or `setting up uid map: Permission denied`)", R_APPARMOR)


def check_seccomp(field_value: str | None, actions: str | None, arch: str | None) -> Check:
    if field_value is None:
        return Check("seccomp", FAIL, "kernel without seccomp (no Seccomp: in /proc/self/status)",
                     "use a kernel built with CONFIG_SECCOMP_FILTER; Codex's network filter needs it")
    if arch is None:
        return Check("seccomp", FAIL, "no seccomp syscall table for this architecture "
                     "(Codex supports x86_64 and aarch64)", None)
    if actions is not None and "errno" not in actions.split():
        return Check("seccomp", FAIL, f"seccomp actions_avail lacks errno: {actions}", None)
    return Check("seccomp", OK, f"seccomp filters available ({arch})")


_SMOKE_PATTERNS = [
    (re.compile(r"RTM_NEWADDR|setting up uid map: Permission denied"), R_APPARMOR),
    (re.compile(r"No permissions to create new namespace|Operation not permitted.*namespace|"
                r"creating new namespace failed"), R_USERNS),
    (re.compile(r"Failed to make / slave"), R_CONTAINER),
    (re.compile(r"pivot_root: Invalid argument"), R_ROOTFS),
]


def check_smoke(result: tuple[int, str] | None) -> Check:
    name = "bwrap --unshare-net smoke run"
    if result is None:
        return Check(name, SKIP, "not run (no bwrap)")
    rc, err = result
    if rc == 0:
        return Check(name, OK, "`bwrap --unshare-user --unshare-net --ro-bind / / true` works")
    line = (err.strip().splitlines() or ["no output"])[-1]
    for rx, remedy in _SMOKE_PATTERNS:
        if rx.search(err):
            return Check(name, FAIL, f"exit {rc}: {line}", remedy)
    return Check(name, FAIL, f"exit {rc}: {line}", "run `bwrap --unshare-net --ro-bind / / true` "
                 "by hand and see enforcement.md §3.4")


def check_seccomp_smoke(result: tuple[int, str] | None) -> Check:
    name = "seccomp network filter"
    if result is None:
        return Check(name, SKIP, "not run")
    rc, out = result
    if rc == 0 and "EPERM" in out:
        return Check(name, OK, "socket(AF_INET) refused with EPERM under Codex's filter")
    return Check(name, FAIL, f"filter not effective: {out.strip()[-200:]}", None)


def check_wsl(proc_version: str) -> Check:
    if "microsoft" not in proc_version.lower():
        return Check("wsl", OK, "not WSL")
    if "wsl2" in proc_version.lower() or "microsoft-standard" in proc_version.lower():
        return Check("wsl", OK, "WSL2: the normal Linux backend")
    return Check("wsl", FAIL, "WSL1: sandboxed commands are rejected (since 0.115)", R_WSL1)


def check_landlock(kernel_release: str) -> Check:
    v = parse_version(kernel_release)
    if v is None:
        return Check("landlock (legacy fallback)", INFO, f"kernel {kernel_release or '?'}")
    if v >= (5, 13):
        return Check("landlock (legacy fallback)", INFO, f"kernel {kernel_release}: Landlock "
                     "available for `--enable use_legacy_landlock`")
    return Check("landlock (legacy fallback)", INFO, f"kernel {kernel_release} < 5.13: no "
                 "Landlock fallback")


def check_codex_home(codex_home: str | None, tmp_dirs: list[str]) -> Check:
    if not codex_home:
        return Check("CODEX_HOME", SKIP, "unknown")
    real = os.path.realpath(codex_home)
    for t in tmp_dirs:
        rt = os.path.realpath(t)
        if real == rt or real.startswith(rt.rstrip("/") + "/"):
            return Check("CODEX_HOME", FAIL, f"{codex_home} lies under the temporary directory "
                         f"{t}: Codex refuses to create its helper binaries there", R_CODEX_HOME)
    return Check("CODEX_HOME", OK, codex_home)


def evaluate(f: Facts) -> list[Check]:
    """All checks for the facts' platform."""
    if f.platform.startswith("win") or f.platform == "cygwin":
        return [Check("platform", INFO, "Windows: native sandbox (elevated/unelevated/MXC) is "
                      "not probed by mdmtool; WSL2 uses the Linux backend")]
    if f.platform == "darwin":
        return [Check("sandbox-exec", OK if f.sandbox_exec else FAIL,
                      "/usr/bin/sandbox-exec" + ("" if f.sandbox_exec else " missing"),
                      None if f.sandbox_exec else "Codex runs only /usr/bin/sandbox-exec"),
                check_codex_home(f.codex_home, f.tmp_dirs)]
    setuid = bool(f.bwrap_mode and f.bwrap_mode & stat.S_ISUID)
    return [check_bwrap(f.bwrap_path, f.bwrap_version),
            check_setuid(f.bwrap_path, f.bwrap_mode),
            check_userns(f.max_user_namespaces, f.unprivileged_userns_clone, f.is_root, setuid),
            check_apparmor(f.apparmor_restrict, f.bwrap_path, f.apparmor_profiles, f.is_root),
            check_seccomp(f.seccomp_field, f.seccomp_actions, f.arch),
            check_smoke(f.smoke), check_seccomp_smoke(f.seccomp_smoke),
            check_wsl(f.proc_version), check_landlock(f.kernel_release),
            check_codex_home(f.codex_home, f.tmp_dirs)]


# ----------------------------------------------------------------------------- facts

def apparmor_profiles_for(bwrap: str | None, root: str = "/etc/apparmor.d") -> list[str]:
    """AppArmor profile files that name this bwrap and grant ``userns``."""
    if not bwrap or not os.path.isdir(root):
        return []
    real = os.path.realpath(bwrap)
    out = []
    for name in sorted(os.listdir(root)):
        p = os.path.join(root, name)
        if not os.path.isfile(p):
            continue
        try:
            with open(p, encoding="utf-8", errors="replace") as fh:
                text = fh.read(200_000)
        except OSError:
            continue
        if (real in text or bwrap in text) and re.search(r"^\s*userns\b", text, re.M):
            out.append(p)
    return out


def _status_field(name: str) -> str | None:
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                k, _, v = line.partition(":")
                if k == name:
                    return v.strip()
    except OSError:
        return None
    return None


def _run(argv: list[str], **kw) -> tuple[int, str]:
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=20, **kw)
        return r.returncode, r.stderr + r.stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 127, str(exc)


def seccomp_smoke(bwrap: str) -> tuple[int, str]:
    """socket(AF_INET) under our restricted filter via ``bwrap --seccomp`` must give EPERM."""
    from mdmtool.prove import seccomp
    prog = seccomp.build_program(seccomp.RESTRICTED)
    r, w = os.pipe()
    os.write(w, prog)
    os.close(w)
    code = ("import socket\ntry:\n socket.socket(socket.AF_INET)\n print('ALLOWED')\n"
            "except OSError as e:\n import errno\n print(errno.errorcode[e.errno])")
    try:
        rc, out = _run([bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--unshare-user",
                        "--unshare-net", "--seccomp", str(r), "--", sys.executable, "-I", "-S",
                        "-c", code], pass_fds=[r])
    finally:
        os.close(r)
    return rc, out


def gather(run_smoke: bool = True) -> Facts:
    """Read the real host."""
    from mdmtool.prove import seccomp
    from mdmtool.prove.bwrap import bwrap_version, find_bwrap
    f = Facts(platform=sys.platform, is_root=hasattr(os, "geteuid") and os.geteuid() == 0)
    f.codex_home = os.environ.get("CODEX_HOME") or os.path.join(os.path.expanduser("~"), ".codex")
    f.tmp_dirs = list(dict.fromkeys(d for d in (os.environ.get("TMPDIR"), "/tmp") if d))
    if f.platform == "darwin":
        f.sandbox_exec = os.path.isfile("/usr/bin/sandbox-exec")
        return f
    if not f.platform.startswith("linux"):
        return f
    f.bwrap_path = find_bwrap()
    if f.bwrap_path:
        f.bwrap_version = bwrap_version(f.bwrap_path)
        try:
            f.bwrap_mode = os.stat(f.bwrap_path).st_mode
        except OSError:
            f.bwrap_mode = None
    f.max_user_namespaces = read_sysctl("/proc/sys/user/max_user_namespaces")
    f.unprivileged_userns_clone = read_sysctl("/proc/sys/kernel/unprivileged_userns_clone")
    f.apparmor_restrict = read_sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns")
    if f.apparmor_restrict == "1":
        f.apparmor_profiles = apparmor_profiles_for(f.bwrap_path)
    f.seccomp_field = _status_field("Seccomp")
    f.seccomp_actions = read_sysctl("/proc/sys/kernel/seccomp/actions_avail")
    f.arch = seccomp.host_arch()
    f.proc_version = read_sysctl("/proc/version") or ""
    f.kernel_release = read_sysctl("/proc/sys/kernel/osrelease") or ""
    if run_smoke and f.bwrap_path:
        f.smoke = _run([f.bwrap_path, "--unshare-user", "--unshare-net", "--ro-bind", "/", "/",
                        "--", "true"])
        if f.smoke[0] == 0 and f.arch:
            f.seccomp_smoke = seccomp_smoke(f.bwrap_path)
    return f


def render(checks: list[Check], fmt: str, facts: Facts | None = None) -> str:
    if fmt == "json":
        return json.dumps({"checks": [asdict(c) for c in checks],
                           "ok": not any(c.status == FAIL for c in checks)}, indent=2) + "\n"
    width = max(len(c.name) for c in checks)
    lines = []
    for c in checks:
        lines.append(f"{c.status.upper():5} {c.name.ljust(width)}  {c.detail}")
        if c.remediation and c.status in (FAIL, WARN):
            lines.append(f"{'':5} {'':{width}}  fix: {c.remediation}")
    nfail = sum(c.status == FAIL for c in checks)
    lines.append(f"doctor: {'OK' if not nfail else f'{nfail} problem(s)'}")
    return "\n".join(lines) + "\n"
