"""macOS backend: the Seatbelt (``sandbox-exec``) profile Codex would build.

Rules follow codex-rs/sandboxing seatbelt.rs as described in enforcement.md §4: deny by
default; reads everywhere (or everywhere except deny-read roots); writes only under
writable roots, each with ``require-not`` for its read-only subpaths (exact path and
subtree) and an anchored regex per protected metadata name, so even the first
``mkdir .codex`` fails; deny-read globs become regex denies for ``file-read*`` and
``file-write-unlink``; network: none when off, everything when on without a proxy,
only ``localhost:<proxy port>`` (+ DNS and loopback with ``allow_local_binding``) when a
proxy runs, and nothing (fail closed) when a proxy is required but has no port.
The base section is mdmtool's own minimal rendering, not Codex's text. Structure is
testable on any OS; ``sandbox-exec`` (only ``/usr/bin/sandbox-exec``) runs on macOS.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time

from mdmtool.model import SandboxSpec
from mdmtool.prove.layout import NET_OFF, NET_ON, NET_PROXY, Layout, gitdir_target, is_glob, under

SANDBOX_EXEC = "/usr/bin/sandbox-exec"
#: Names Seatbelt keeps read-only under every writable root.
PROTECTED_NAMES = (".git", ".agents", ".codex")

BASE_POLICY = """(version 1)
; mdmtool: deny-by-default base (what a command needs to start), as Codex's base policy
(deny default)
(allow process-exec)
(allow process-fork)
(allow signal (target same-sandbox))
(allow process-info* (target same-sandbox))
(allow sysctl-read)
(allow pseudo-tty)
(allow file-read* file-write* file-ioctl (literal "/dev/ptmx"))
(allow file-write-data (require-all (path "/dev/null") (vnode-type CHARACTER-DEVICE)))
(allow ipc-posix-sem)
(allow mach-lookup (global-name "com.apple.system.opendirectoryd.libinfo"))"""

NETWORK_SUPPORT = """; network support: name resolution and TLS trust services
(allow mach-lookup (global-name "com.apple.dnssd.service") (global-name "com.apple.trustd.agent")
  (global-name "com.apple.SystemConfiguration.configd"))"""


def canonical(path: str) -> str:
    """Seatbelt matches real paths (/tmp is /private/tmp on macOS)."""
    return os.path.realpath(path) if os.path.isabs(path) else path


def glob_to_regex(pattern: str) -> str:
    """A deny glob as a Seatbelt regex: ``*``/``?`` within a component, ``**/`` any depth;
    a plain path means the path and its subtree."""
    out, i, saw = ["^"], 0, False
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(.*/)?")
            i, saw = i + 3, True
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i, saw = i + 2, True
            continue
        if c == "*":
            out.append("[^/]*")
            saw = True
        elif c == "?":
            out.append("[^/]")
            saw = True
        elif c == "[" and pattern.find("]", i + 1) > 0:
            end = pattern.find("]", i + 1)
            body = pattern[i + 1:end]
            body = "^" + body[1:] if body.startswith("!") else body
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i, saw = end, True
        else:
            out.append(re.sub(r"([.^$|()\[\]{}+*?\\])", r"\\\1", c))
        i += 1
    if not saw:
        out.append("(/.*)?")
    out.append("$")
    return "".join(out)


def _access(action: str, prefix: str, roots: list[tuple[str, list[str], list[str]]]):
    parts, params = [], {}
    for i, (root, excluded, names) in enumerate(roots):
        key = f"{prefix}_{i}"
        params[key] = canonical(root)
        if not excluded and not names:
            parts.append(f'(subpath (param "{key}"))')
            continue
        req = [f'(subpath (param "{key}"))']
        for j, ex in enumerate(excluded):
            ek = f"{key}_EXCLUDED_{j}"
            params[ek] = canonical(ex)
            req += [f'(require-not (literal (param "{ek}")))', f'(require-not (subpath (param "{ek}")))']
        base = canonical(root).rstrip("/") or ""
        for name in names:
            rx = f"^{re.escape(base)}/{re.escape(name)}(/.*)?$".replace('"', '\\"')
            req.append(f'(require-not (regex #"{rx}"))')
        parts.append("(require-all " + " ".join(req) + " )")
    return (f"(allow {action}\n" + " ".join(parts) + "\n)") if parts else "", params


def build_profile(layout: Layout, proxy_ports: list[int] = ()) -> tuple[str, dict[str, str]]:
    """(policy text, -D parameters) for ``sandbox-exec -p``. Full access: no profile."""
    if layout.full_access:
        return "", {}
    params: dict[str, str] = {}
    deny_roots = list(layout.deny_paths)
    if deny_roots:
        read, p = _access("file-read*", "READABLE_ROOT", [("/", deny_roots, [])])
        read = "; allow read-only file operations\n" + read
        params.update(p)
    else:
        read = "; allow read-only file operations\n(allow file-read*)"
    roots = []
    for r in layout.writable_roots:
        excluded = [os.path.join(r, n) for n in PROTECTED_NAMES if os.path.lexists(os.path.join(r, n))]
        target = gitdir_target(os.path.join(r, ".git"))
        if target:
            excluded.append(target)
        excluded += [d for d in deny_roots if under(d, r) and d != r]
        roots.append((r, excluded, list(PROTECTED_NAMES)))
    write, p = _access("file-write*", "WRITABLE_ROOT", roots)
    params.update(p)
    deny_globs = []
    for g in layout.deny_globs:
        rx = glob_to_regex(g).replace('"', '\\"')
        deny_globs += [f'(deny file-read* (regex #"{rx}"))', f'(deny file-write-unlink (regex #"{rx}"))']
    sections = [BASE_POLICY, read, write, "\n".join(deny_globs), _network(layout, proxy_ports, params)]
    return "\n".join(s for s in sections), params


def _network(layout: Layout, ports: list[int], params: dict[str, str]) -> str:
    net = layout.network
    proxy = layout.proxy
    if net == NET_OFF:
        return ""
    unix = _unix_rules(proxy, params)
    if net == NET_ON:
        return "(allow network-outbound)\n(allow network-inbound)\n" + unix + NETWORK_SUPPORT
    if net == NET_PROXY:
        if not ports:
            return "; managed network without a usable proxy endpoint: fail closed\n"
        lines = []
        if proxy is not None and proxy.allow_local_binding:
            lines += ["; allow local binding and loopback traffic",
                      '(allow network-bind (local ip "*:*"))',
                      '(allow network-inbound (local ip "localhost:*"))',
                      '(allow network-outbound (remote ip "localhost:*"))',
                      "; allow DNS lookups while application traffic remains proxy-routed",
                      '(allow network-outbound (remote ip "*:53"))']
        lines += [f'(allow network-outbound (remote ip "localhost:{p}"))' for p in ports]
        return "\n".join(lines) + "\n" + unix + NETWORK_SUPPORT
    return ""


def _unix_rules(proxy, params: dict[str, str]) -> str:
    if proxy is None:
        return ""
    if proxy.dangerously_allow_all_unix_sockets:
        return ("; allow unix domain sockets for local IPC\n(allow system-socket (socket-domain AF_UNIX))\n"
                "(allow network-bind (local unix-socket))\n(allow network-outbound (remote unix-socket))\n")
    allowed = sorted(p for p, v in proxy.unix_sockets.items() if v == "allow" and os.path.isabs(p))
    if not allowed:
        return ""
    lines = ["; allow unix domain sockets for local IPC", "(allow system-socket (socket-domain AF_UNIX))"]
    for i, path in enumerate(allowed):
        key = f"UNIX_SOCKET_PATH_{i}"
        params[key] = canonical(path)
        lines += [f'(allow network-bind (local unix-socket (subpath (param "{key}"))))',
                  f'(allow network-outbound (remote unix-socket (subpath (param "{key}"))))']
    return "\n".join(lines) + "\n"


def sandbox_exec_argv(layout: Layout, command: list[str], proxy_ports: list[int] = ()) -> list[str]:
    policy, params = build_profile(layout, proxy_ports)
    if layout.full_access:
        return list(command)
    return [SANDBOX_EXEC, "-p", policy, *[f"-D{k}={v}" for k, v in params.items()], "--", *command]


def prove_macos(spec: SandboxSpec, keep: bool = False, home: str | None = None):
    """Run the probe plan under ``sandbox-exec`` (macOS only)."""
    from mdmtool.prove import bwrap as bw
    from mdmtool.prove import engine, hostside
    from mdmtool.prove.layout import from_spec
    from mdmtool.prove.probes import plan
    from mdmtool.prove.workspace import stage

    ws = stage(spec, home=home)
    result = engine.ProveResult("darwin", "pass", workspace=ws.root, kept=keep)
    try:
        layout = from_spec(ws.spec, tmpdir=ws.tmpdir, home=ws.home)
        result.layout = layout
        probes = plan(layout, ws)
        for p in probes:  # error kinds are Linux observations; Seatbelt answers EPERM
            p.expect_detail = None
        result.probes = probes
        br = engine.BackendRun(engine.SEATBELT)
        t0 = time.monotonic()
        lis = hostside.Listeners(os.path.join(ws.run, "probe.sock"))
        try:
            ops = [p.op_json() for p in probes if p.op not in ("proxy", "proxy_env", "status")]
            doc = json.dumps({"ctx": lis.ctx(), "ops": ops})
            argv = sandbox_exec_argv(layout, bw.python_command(engine._runner_source()) + [doc])
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": ws.home,
                   "TMPDIR": ws.tmpdir, "LANG": "C.UTF-8"}
            r = subprocess.run(argv, cwd=layout.cwd, env=env, capture_output=True, text=True,
                               timeout=60)
            br.argv, br.rc, br.stderr = argv[:2] + ["<profile>"] + argv[3:-1], r.returncode, r.stderr
            observed = engine.parse_runner_output(r.stdout)
            if observed is None:
                br.error = "sandbox-exec did not run the probes: " + (
                    r.stderr.strip().splitlines() or ["no output"])[-1]
        finally:
            lis.close()
        br.outcomes = engine._judge_all(probes, observed, br.error or "not run on macOS",
                                        "offline decision by mdmtool.network")
        br.elapsed_s = time.monotonic() - t0
        result.runs.append(br)
    finally:
        if not keep:
            ws.cleanup()
    if any(o.status == "fail" for o in br.outcomes) or br.error:
        result.result = "fail"
    return result
