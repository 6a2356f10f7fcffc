"""The same probes through Codex's own backend: ``codex sandbox -P <profile> -- CMD``.

The staged policy is written as a permission profile in a scratch ``CODEX_HOME``
(``-P`` ignores managed requirements, which the resolver has already applied, and the
real ``/etc/codex`` cannot interfere). Codex runs inside a loopback-only network
namespace (``bwrap --dev-bind / / --unshare-net``) next to the listeners, with a hosts
file mapping proxy test names to 127.0.0.1: whatever Codex or its proxy does, no packet
can leave the machine.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys

from mdmtool.errors import MdmError
from mdmtool.model import NetworkPolicy
from mdmtool.prove.layout import NET_PROXY, Layout
from mdmtool.record import asdict

PROFILE = "mdmtool_prove"


def find_codex(explicit: str | None = None) -> str | None:
    """--codex, else $CODEX_BIN / ``codex`` on PATH / the npm cache (preferring the Codex
    version mdmtool models)."""
    from mdmtool import CODEX_VERSION
    from mdmtool.codex_driver import find_codex as locate
    if explicit:
        return locate(explicit)
    return locate(version=CODEX_VERSION) or locate()


@functools.lru_cache(maxsize=8)
def codex_version(codex: str) -> str | None:
    try:
        r = subprocess.run([codex, "--version"], capture_output=True, text=True, timeout=30,
                           env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                                "HOME": "/nonexistent"})
    except (OSError, subprocess.TimeoutExpired):
        return None
    return r.stdout.strip().split()[-1] if r.returncode == 0 and r.stdout.strip() else None


def _q(s: str) -> str:
    """A TOML basic string (JSON escapes are valid TOML)."""
    return json.dumps(s)


def profile_toml(layout: Layout, tmpdir: str, network: NetworkPolicy | None = None) -> str:
    """config.toml for a scratch CODEX_HOME whose profile ``mdmtool_prove`` = ``layout``."""
    network = network if network is not None else layout.proxy
    lines = [f"default_permissions = {_q(PROFILE)}", "",
             f"[projects.{_q(layout.cwd)}]", 'trust_level = "trusted"', ""]
    if layout.network == NET_PROXY:
        lines += ["[features]", "network_proxy = true", ""]
    lines += [f"[permissions.{PROFILE}.filesystem]", '":root" = "read"']
    for root in layout.writable_roots:
        if root == "/tmp":
            lines.append('":slash_tmp" = "write"')
        elif root == tmpdir:
            lines.append('":tmpdir" = "write"')
        elif root != layout.cwd:
            lines.append(f'{_q(root)} = "write"')
    for d in layout.deny_paths + layout.deny_globs:
        lines.append(f'{_q(d)} = "none"')
    if layout.cwd in layout.writable_roots:
        lines += ["", f'[permissions.{PROFILE}.filesystem.":workspace_roots"]', '"." = "write"']
    lines += ["", f"[permissions.{PROFILE}.network]",
              f"enabled = {'true' if layout.network != 'off' else 'false'}"]
    if layout.network == NET_PROXY and network is not None:
        if network.mode:
            lines.append(f"mode = {_q(network.mode)}")
        for key in ("allow_local_binding", "dangerously_allow_all_unix_sockets",
                    "dangerously_allow_non_loopback_proxy"):
            if getattr(network, key):
                lines.append(f"{key} = true")
        if network.domains:
            lines += ["", f"[permissions.{PROFILE}.network.domains]"]
            lines += [f"{_q(k)} = {_q(v)}" for k, v in network.domains.items()]
        if network.unix_sockets:
            lines += ["", f"[permissions.{PROFILE}.network.unix_sockets]"]
            lines += [f"{_q(k)} = {_q(v)}" for k, v in network.unix_sockets.items()]
    return "\n".join(lines) + "\n"


def codex_argv(codex: str, layout: Layout) -> list[str]:
    profile = ":danger-full-access" if layout.full_access else PROFILE
    return [codex, "sandbox", "-P", profile, "-C", layout.cwd, "--"]


def run(codex: str, layout: Layout, ws, ops: list[dict], runner_cmd: list[str],
        network: NetworkPolicy | None = None, hosts: list[str] = (), bwrap: str = "bwrap",
        timeout: float = 120) -> dict:
    """One ``codex sandbox`` run of ``ops``; returns hostside's JSON (rc, stdout, ctx…)."""
    home = ws.codex_home
    with open(os.path.join(home, "config.toml"), "w", encoding="utf-8") as fh:
        fh.write(profile_toml(layout, ws.tmpdir, network))
    run_dir = ws.run
    hosts_file = os.path.join(run_dir, "hosts")
    with open(hosts_file, "w", encoding="utf-8") as fh:
        fh.write("127.0.0.1 localhost\n::1 localhost\n")
        for h in hosts:
            fh.write(f"127.0.0.1 {h}\n")
    resolv = os.path.join(run_dir, "resolv.conf")
    with open(resolv, "w", encoding="utf-8") as fh:
        fh.write("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
    outer = [bwrap, "--dev-bind", "/", "/", "--unshare-net", "--die-with-parent"]
    for src, dst in ((hosts_file, "/etc/hosts"), (resolv, "/etc/resolv.conf")):
        if os.path.isfile(dst):  # only over an existing file: never create on the host
            outer += ["--ro-bind", src, dst]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": ws.home,
           "CODEX_HOME": home, "TMPDIR": ws.tmpdir, "LANG": "C.UTF-8"}
    job = {"unix_path": os.path.join(run_dir, "probe.sock"),
           "http": layout.network == NET_PROXY, "doc": {"ops": ops},
           "argv": codex_argv(codex, layout) + runner_cmd, "cwd": layout.cwd, "env": env,
           "timeout": timeout}
    hostside = os.path.join(os.path.dirname(os.path.abspath(__file__)), "hostside.py")
    argv = outer + ["--", sys.executable, "-I", hostside, json.dumps(job)]
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout + 30)
    except subprocess.TimeoutExpired:
        raise MdmError("codex sandbox run timed out") from None
    try:
        res = json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise MdmError("could not start Codex in a loopback-only namespace: "
                       + (r.stderr.strip().splitlines() or ["no output"])[-1]) from None
    res["argv"] = job["argv"]
    res["config"] = profile_toml(layout, ws.tmpdir, network)
    return res


def rules_network(policy: NetworkPolicy) -> NetworkPolicy:
    """The policy with allow_local_binding on: every test name resolves to 127.0.0.1 in
    the proof namespace, so only this way the proxy shows its domain-rule decision."""
    return NetworkPolicy(**{**asdict(policy), "allow_local_binding": True})
