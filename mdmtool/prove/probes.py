"""The probe plan: what to try inside the sandbox and what the policy predicts.

Each :class:`Probe` is one operation for :mod:`mdmtool.prove.runner` plus the outcome
the :class:`~mdmtool.prove.layout.Layout` predicts. Outcomes are ``allowed`` /
``denied``; ``expect_detail`` pins the failure kind where it proves the mechanism
(EPERM = Codex's seccomp filter, not just an empty network namespace).
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field

from mdmtool.model import NetworkPolicy
from mdmtool.network import decide
from mdmtool.prove.layout import (NET_FULL, NET_OFF, NET_ON, NET_PROXY, PROTECTED_NAMES,
                                  Layout, static_prefix)
from mdmtool.prove.workspace import Workspace
from mdmtool.record import asdict

ALLOWED, DENIED = "allowed", "denied"
PASS, FAIL, SKIP, PREDICTED = "pass", "fail", "skip", "predicted"

#: Hosts every proxy proof asks about besides the policy's own patterns.
UNLISTED_HOST = "mdmtool-unlisted.example"
PROXY_PROBE_LIMIT = 24


@dataclass
class Probe:
    id: str
    title: str
    op: str  # write | create_in | read | list | tcp | unix | socket | egress | status | proxy | proxy_env
    target: str
    expected: str
    why: str = ""
    expect_detail: str | None = None  # substring the observed detail must contain
    run: str = "sandbox"  # sandbox | proxy-rules (a second run with allow_local_binding) | offline
    args: dict = field(default_factory=dict)

    def op_json(self) -> dict:
        return {"id": self.id, "op": self.op, "target": self.target, **self.args}


@dataclass
class Outcome:
    probe: Probe
    observed: str | None
    detail: str
    status: str  # pass | fail | skip | predicted

    def to_json(self) -> dict:
        p = asdict(self.probe)
        return {"id": p["id"], "title": p["title"], "op": p["op"], "target": p["target"],
                "expected": p["expected"], "why": p["why"], "expect_detail": p["expect_detail"],
                "observed": self.observed, "detail": self.detail, "status": self.status}


def judge(probe: Probe, observed: str | None, detail: str) -> Outcome:
    """Compare one observation with the prediction."""
    if observed is None:
        return Outcome(probe, None, detail, PREDICTED if probe.run == "offline" else SKIP)
    ok = observed == probe.expected
    if ok and probe.expect_detail and probe.expect_detail not in detail:
        ok = False
        detail = f"{detail} (expected {probe.expect_detail})"
    return Outcome(probe, observed, detail, PASS if ok else FAIL)


def _fs(pid: str, title: str, op: str, path: str, verdict: tuple[bool, str],
        detail: str | None = None) -> Probe:
    allowed, why = verdict
    return Probe(pid, title, op, path, ALLOWED if allowed else DENIED, why,
                 None if allowed else detail)


def plan(layout: Layout, ws: Workspace) -> list[Probe]:
    """Every probe for this policy, with its predicted outcome."""
    tag = uuid.uuid4().hex[:8]
    fname = f"mdmtool-probe-{tag}"
    w, r = layout.can_write, layout.can_read
    cwd = layout.cwd
    out = [
        _fs("fs.write.workspace", "write inside the workspace", "write",
            os.path.join(cwd, fname), w(os.path.join(cwd, fname))),
        _fs("fs.read.workspace", "read a workspace file", "read",
            os.path.join(cwd, "README.md"), r(os.path.join(cwd, "README.md"))),
        _fs("fs.write.sibling", "write a sibling of the workspace", "write",
            os.path.join(ws.sibling, fname), w(os.path.join(ws.sibling, fname))),
        _fs("fs.write.home", "write the home directory (stand-in)", "write",
            os.path.join(ws.home, fname), w(os.path.join(ws.home, fname))),
        _fs("fs.write.etc", "write /etc (stand-in)", "write",
            os.path.join(ws.etc, fname), w(os.path.join(ws.etc, fname))),
        _fs("fs.write.slash_tmp", "write /tmp", "write", f"/tmp/{fname}",
            w(f"/tmp/{fname}")),
        _fs("fs.write.tmpdir", "write $TMPDIR", "write", os.path.join(ws.tmpdir, fname),
            w(os.path.join(ws.tmpdir, fname))),
    ]
    for i, root in enumerate(layout.writable_roots):
        if root in (cwd, "/tmp", ws.tmpdir, "/"):
            continue
        p = os.path.join(root, fname)
        out.append(_fs(f"fs.write.root[{i}]", f"write writable root / --add-dir {root}",
                       "write", p, w(p)))
    for name in PROTECTED_NAMES[:3]:
        p = os.path.join(cwd, name)
        out.append(_fs(f"fs.write.protected[{name}]", f"create content under {name} "
                       "(read-only carve-out)", "create_in", p, w(os.path.join(p, fname))))
    nested = os.path.join(cwd, "sub", ".git")
    out.append(_fs("fs.write.nested_git", "write sub/.git (nested, not protected)",
                   "create_in", nested, w(os.path.join(nested, fname))))
    for i, (d, target) in enumerate(sorted(ws.deny_targets.items())):
        out.append(_fs(f"fs.read.deny[{i}]", f"read {target} (denied path {d})", "read",
                       target, r(target), "Permission denied"))
    for i, (g, samples) in enumerate(sorted(ws.glob_samples.items())):
        for j, s in enumerate(samples):
            out.append(_fs(f"fs.read.deny_glob[{i}.{j}]", f"read {s} (deny glob {g})",
                           "read", s, r(s), "Permission denied"))
        parent = static_prefix(g).rstrip("/") or "/"
        out.append(_fs(f"fs.list.deny_glob[{i}]", f"list {parent} (a glob deny keeps the "
                       "directory listable)", "list", parent, r(parent)))
    out += _network_probes(layout)
    out.append(_status_probe(layout))
    if layout.network == NET_PROXY and layout.proxy is not None:
        out += proxy_probes(layout.proxy)
    return out


def _network_probes(layout: Layout) -> list[Probe]:
    net = layout.network
    on = net in (NET_ON, NET_FULL)
    eperm = "EPERM"
    why = {NET_OFF: "command network off: seccomp refuses sockets, new network namespace",
           NET_ON: "command network on: host network namespace, no proxy (direct egress)",
           NET_FULL: "danger-full-access: no sandbox",
           NET_PROXY: "proxy mode: isolated namespace, only the proxy bridge"}[net]
    unix_ok = on or (net == NET_PROXY and layout.proxy is not None
                     and layout.proxy.dangerously_allow_all_unix_sockets)
    return [
        Probe("net.socket_inet", "create an IPv4 TCP socket", "socket", "AF_INET",
              DENIED if net == NET_OFF else ALLOWED, why, eperm if net == NET_OFF else None),
        Probe("net.loopback", "connect to a listener on the launcher's 127.0.0.1", "tcp",
              "127.0.0.1", ALLOWED if on else DENIED, why, eperm if net == NET_OFF else None),
        Probe("net.egress", "reach a non-local address (route check only: nothing is sent)",
              "egress", "192.0.2.1", ALLOWED if on else DENIED, why,
              eperm if net == NET_OFF else None),
        Probe("net.unix", "connect to a Unix socket outside the sandbox", "unix", "socket",
              ALLOWED if unix_ok else DENIED, why if unix_ok or net != NET_PROXY else
              "proxy mode: Unix sockets need dangerously_allow_all_unix_sockets",
              eperm if not unix_ok else None),
    ]


def _status_probe(layout: Layout) -> Probe:
    if layout.full_access:
        return Probe("kernel.confinement", "NoNewPrivs / Seccomp of the command", "status",
                     "/proc/self/status", "unconfined", "danger-full-access: no sandbox")
    return Probe("kernel.confinement", "NoNewPrivs / Seccomp of the command", "status",
                 "/proc/self/status", "confined", "bwrap + seccomp: NoNewPrivs 1, Seccomp 2")


def proxy_hosts(policy: NetworkPolicy) -> list[str]:
    """Hosts that exercise each domain rule: exact hits, subdomains at depth 1 and 2,
    the apex of a ``*.`` rule, mid-label wildcards, and one unlisted host."""
    hosts: list[str] = []
    for pattern in policy.domains:
        p = pattern.strip().lower().rstrip(".")
        if p == "*":
            continue
        if p.startswith("**."):
            d = p[3:]
            hosts += [d, f"a.{d}", f"a.b.{d}"]
        elif p.startswith("*."):
            d = p[2:]
            hosts += [d, f"a.{d}", f"a.b.{d}"]
        elif "*" in p or "?" in p:
            hosts.append(p.replace("*", "1").replace("?", "x"))
        else:
            hosts.append(p.split(":")[0].strip("[]"))
    hosts.append(UNLISTED_HOST)
    return list(dict.fromkeys(h for h in hosts if h and not h.replace(".", "").isdigit()
                              and ":" not in h))[:PROXY_PROBE_LIMIT]


def proxy_probes(policy: NetworkPolicy) -> list[Probe]:
    """Domain-rule probes (observed through Codex's proxy with every name mapped to a
    loopback listener, so they run with allow_local_binding on) and local-destination
    probes under the policy as given."""
    rules_policy = NetworkPolicy(**{**asdict(policy), "allow_local_binding": True})
    out = []
    for h in proxy_hosts(policy):
        d = decide(h, rules_policy)
        out.append(Probe(f"proxy.host[{h}]", f"proxy decision for {h} (domain rules)",
                         "proxy", h, ALLOWED if d.allowed else DENIED, d.why,
                         d.reason, run="proxy-rules"))
    for h in ("127.0.0.1", "localhost"):
        d = decide(h, policy)
        out.append(Probe(f"proxy.local[{h}]", f"proxy decision for local destination {h}",
                         "proxy", h, ALLOWED if d.allowed else DENIED, d.why, d.reason))
    out.append(Probe("proxy.env", "HTTP_PROXY points at a loopback proxy", "proxy_env",
                     "HTTP_PROXY", ALLOWED, "proxy running: HTTP_PROXY=http://127.0.0.1:<port>"))
    return out
