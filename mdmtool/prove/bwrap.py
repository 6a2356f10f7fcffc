"""Linux backend: the bubblewrap + seccomp sandbox exactly as Codex 0.169 builds it.

Shape observed with strace on 0.169 (enforcement.md §3.2, oracle
``enforcement_results.json``)::

    bwrap --as-pid-1 --new-session --die-with-parent --ro-bind / / --dev /dev
      [--perms 000 --tmpfs /tmp/codex-daemon-UID --remount-ro …]     # Codex's daemon dir
      --bind R R                                                      # each writable root
        --ro-bind R/.git R/.git                                       # existing metadata
        --perms 555 --tmpfs R/.codex --remount-ro R/.codex            # missing/empty: placeholder
      --perms 000 --tmpfs D --remount-ro D                            # denied directory
      --perms 000 --ro-bind-data FD F                                 # denied file / glob match
      --unshare-user --unshare-pid --unshare-ipc [--unshare-net] --proc /proc --cap-drop ALL
      -- (seccomp, then exec) COMMAND

Codex installs seccomp in its ``codex-linux-sandbox`` stage; we hand the same filter
(:mod:`.seccomp`) to ``bwrap --seccomp FD``, which installs it right before exec.
danger-full-access runs the command with no sandbox, as Codex does.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field

from mdmtool.errors import MdmError
from mdmtool.prove import seccomp
from mdmtool.prove.layout import (NET_OFF, NET_ON, NET_PROXY, PROTECTED_NAMES, Layout,
                                  glob_regex, static_prefix, under)

DATA = "@DATA@"  # placeholder for an empty --ro-bind-data descriptor
SECCOMP = "@SECCOMP@"
GLOB_SCAN_MAX_DEPTH = 8


def find_bwrap(cwd: str | None = None) -> str | None:
    """The first ``bwrap`` on PATH outside ``cwd`` (Codex rejects one inside the workspace)."""
    cwd = os.path.realpath(cwd or os.getcwd())
    for d in os.environ.get("PATH", "").split(os.pathsep):
        cand = os.path.join(d or ".", "bwrap")
        if os.path.isfile(cand) and os.access(cand, os.X_OK):
            real = os.path.realpath(cand)
            if not under(real, cwd):
                return cand
    return None


@functools.lru_cache(maxsize=8)
def bwrap_version(path: str) -> str | None:
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r"(\d+\.\d+(?:\.\d+)?)", out.stdout + out.stderr)
    return m.group(1) if m else None


def seccomp_mode(layout: Layout) -> str | None:
    """Which Codex filter applies (None: no filter, i.e. no sandbox)."""
    if layout.full_access:
        return None
    return {NET_OFF: seccomp.RESTRICTED, NET_PROXY: seccomp.PROXY,
            NET_ON: seccomp.VSOCK}.get(layout.network, seccomp.RESTRICTED)


def _protect(path: str) -> list[str]:
    """Keep one metadata path read-only: re-bind what exists, placeholder otherwise."""
    if os.path.isfile(path) or (os.path.isdir(path) and os.listdir(path)):
        return ["--ro-bind", path, path]
    return ["--perms", "555", "--tmpfs", path, "--remount-ro", path]


def _deny(path: str) -> list[str]:
    if os.path.isdir(path):
        return ["--perms", "000", "--tmpfs", path, "--remount-ro", path]
    return ["--perms", "000", "--ro-bind-data", DATA, path]


def expand_glob(pattern: str, max_depth: int = GLOB_SCAN_MAX_DEPTH) -> list[str]:
    """Existing paths matching a deny glob (Codex pre-expands them at sandbox build)."""
    rx = glob_regex(pattern)
    start = static_prefix(pattern).rstrip("/") or "/"
    found: list[str] = []
    if not os.path.isdir(start):
        return found
    base_depth = start.count("/")
    for dirpath, dirnames, filenames in os.walk(start):
        if dirpath.count("/") - base_depth >= max_depth:
            dirnames[:] = []
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            if rx.match(p):
                found.append(p)
    return sorted(found)


@dataclass
class BwrapPlan:
    """Argv up to ``--`` with descriptor placeholders, and host paths bwrap will create."""

    args: list[str]
    creates: list[str] = field(default_factory=list)
    seccomp_mode: str | None = None


def build(layout: Layout, bwrap: str = "bwrap", daemon_dir: str | None = None,
          use_seccomp: bool = True, unshare_net: bool | None = None) -> BwrapPlan:
    """The bwrap command line for ``layout`` (pure apart from stat calls).

    ``use_seccomp`` / ``unshare_net`` exist to build deliberately *wrong* sandboxes in
    tests (prove must then report a mismatch).
    """
    if daemon_dir is None:
        cand = f"/tmp/codex-daemon-{os.getuid()}"
        daemon_dir = cand if os.path.isdir(cand) else None
    mask = ["--perms", "000", "--tmpfs", daemon_dir, "--remount-ro", daemon_dir] if daemon_dir else []
    args = [bwrap, "--as-pid-1", "--new-session", "--die-with-parent",
            "--ro-bind", "/", "/", "--dev", "/dev", *mask]
    creates: list[str] = []
    for root in layout.writable_roots:
        if not os.path.isdir(root):
            raise MdmError(f"writable root {root} does not exist (Codex refuses this too)")
        args += ["--bind", root, root]
        if daemon_dir and under(daemon_dir, root):
            args += mask
        for name in PROTECTED_NAMES:
            p = os.path.join(root, name)
            if not os.path.lexists(p):
                if root == "/":  # never create mount points in the real root directory
                    continue
                creates.append(p)
            args += _protect(p)
    for target in layout.protected_paths():
        if target not in {os.path.join(r, n) for r in layout.writable_roots for n in PROTECTED_NAMES} \
                and os.path.exists(target) and any(under(target, r) for r in layout.writable_roots):
            args += ["--ro-bind", target, target]
    denied = [d for d in layout.deny_paths if os.path.lexists(d)]
    for g in layout.deny_globs:
        denied += expand_glob(g)
    for d in dict.fromkeys(denied):
        args += _deny(d)
    if unshare_net is None:
        unshare_net = layout.network in (NET_OFF, NET_PROXY)
    args += ["--unshare-user", "--unshare-pid", "--unshare-ipc"]
    if unshare_net:
        args.append("--unshare-net")
    args += ["--proc", "/proc", "--cap-drop", "ALL"]
    mode = seccomp_mode(layout) if use_seccomp else None
    if mode:
        args += ["--seccomp", SECCOMP]
    args.append("--")
    return BwrapPlan(args, creates, mode)


def run(layout: Layout, command: list[str], env: dict[str, str], cwd: str,
        bwrap: str | None = None, timeout: float = 60, **build_kw) -> subprocess.CompletedProcess:
    """Run ``command`` under Codex's Linux sandbox for ``layout`` (or bare for full access)."""
    if layout.full_access:
        return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=timeout)
    bwrap = bwrap or find_bwrap(cwd)
    if not bwrap:
        raise MdmError("bubblewrap (bwrap) not found on PATH; run `mdmtool doctor`")
    plan = build(layout, bwrap, **build_kw)
    preexisting = {p for p in plan.creates if os.path.lexists(p)}
    fds: list[int] = []
    args: list[str] = []
    try:
        for a in plan.args:
            if a == DATA:
                r, w = os.pipe()
                os.close(w)  # empty file contents
                fds.append(r)
                args.append(str(r))
            elif a == SECCOMP:
                prog = seccomp.build_program(plan.seccomp_mode, allow_all_unix_sockets=bool(
                    layout.proxy and layout.proxy.dangerously_allow_all_unix_sockets))
                r, w = os.pipe()
                os.write(w, prog)
                os.close(w)
                fds.append(r)
                args.append(str(r))
            else:
                args.append(a)
        return subprocess.run(args + command, cwd=cwd, env=env, capture_output=True,
                              text=True, timeout=timeout, pass_fds=fds)
    finally:
        for fd in fds:
            os.close(fd)
        _remove_mount_points(plan.creates, preexisting)


def _remove_mount_points(paths: list[str], preexisting: set[str]) -> None:
    """bwrap leaves empty mount-point directories/files on the host: remove ours."""
    for p in reversed(paths):
        if p in preexisting:
            continue
        try:
            if os.path.isdir(p) and not os.path.islink(p):
                os.rmdir(p)
            elif os.path.isfile(p) and os.path.getsize(p) == 0:
                os.unlink(p)
        except OSError:
            pass


def python_command(runner_source: str) -> list[str]:
    """How the probe runner is started inside the sandbox (doc JSON appended later)."""
    return [sys.executable, "-I", "-S", "-c", runner_source]
