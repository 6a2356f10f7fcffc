"""Codex's network-proxy host policy, decided offline.

Mirrors codex-rs/network-proxy (policy.rs, runtime.rs) as documented in
enforcement.md §2.3/§2.4, so ``mdmtool`` can say whether a host would be reachable
without sending a single packet:

* patterns: ``example.com`` exact; ``*.example.com`` every subdomain at any depth (not
  the apex); ``**.example.com`` apex and subdomains; mid-label globs
  (``region*.example.com``); ``*`` everything, valid only as an allow rule. Matching is
  glob-based (``*`` may cross dots), case-insensitive, on hosts without port/trailing dot.
* decision order: a deny match wins; local/private destinations are blocked unless
  ``allow_local_binding`` or an exact IP/``localhost`` allow rule; then the allow-list.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Callable, Iterable

from mdmtool.errors import MdmError
from mdmtool.model import NetworkPolicy

DENYLIST = "blocked-by-denylist"
ALLOWLIST = "blocked-by-allowlist"

#: (network, why) for IPv4 destinations Codex treats as local/non-public.
_V4_LOCAL = [(ipaddress.ip_network(n), why) for n, why in [
    ("0.0.0.0/8", "this-network"), ("10.0.0.0/8", "private (RFC 1918)"),
    ("100.64.0.0/10", "CGNAT"), ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"), ("172.16.0.0/12", "private (RFC 1918)"),
    ("192.0.0.0/24", "IETF protocol assignments"), ("192.0.2.0/24", "TEST-NET-1"),
    ("192.168.0.0/16", "private (RFC 1918)"), ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "TEST-NET-2"), ("203.0.113.0/24", "TEST-NET-3"),
    ("224.0.0.0/4", "multicast"), ("240.0.0.0/4", "reserved"),
]]
_V6_LOCAL = [(ipaddress.ip_network(n), why) for n, why in [
    ("::1/128", "loopback"), ("::/128", "unspecified"), ("ff00::/8", "multicast"),
    ("fc00::/7", "unique-local"), ("fe80::/10", "link-local"),
]]


@dataclass(frozen=True)
class Decision:
    """The proxy's verdict for one host: allowed, or the ``x-proxy-error`` reason."""

    host: str
    allowed: bool
    reason: str | None  # DENYLIST | ALLOWLIST | None
    why: str  # human explanation: which rule decided

    def to_json(self) -> dict:
        return {"host": self.host, "allowed": self.allowed, "reason": self.reason, "why": self.why}


def normalize_host(host: str) -> str:
    """Lowercase, strip brackets, one ``:port`` and trailing dots (policy.rs normalize_host)."""
    host = host.strip()
    if host.startswith("[") and "]" in host:
        host = host[1:host.index("]")]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    host = host.lower().rstrip(".")
    if "%" in host:  # scoped IPv6 literal: fe80::1%25lo0 -> fe80::1%lo0
        ip, _, scope = host.partition("%25") if "%25" in host else host.partition("%")
        if _ip(ip):
            return f"{ip}%{scope}"
    return host


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


def local_class(ip: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why an address counts as local/non-public for the proxy, or None when public."""
    addr = ipaddress.ip_address(ip) if isinstance(ip, str) else ip
    if isinstance(addr, ipaddress.IPv6Address):
        mapped = addr.ipv4_mapped or _v4_compatible(addr)
        if mapped is not None:
            return local_class(mapped) or ("loopback" if addr == ipaddress.ip_address("::1") else None)
        table = _V6_LOCAL
    else:
        if addr == ipaddress.ip_address("255.255.255.255"):
            return "broadcast"
        table = _V4_LOCAL
    for net, why in table:
        if addr in net:
            return why
    return None


def _v4_compatible(addr: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """Rust's Ipv6Addr::to_ipv4 also maps ``::a.b.c.d`` (deprecated IPv4-compatible)."""
    value = int(addr)
    if value >> 32 == 0 and value > 1:
        return ipaddress.IPv4Address(value & 0xFFFFFFFF)
    return None


def _expand(pattern: str) -> list[str]:
    """Pattern -> the glob candidates Codex compiles (expand_domain_pattern)."""
    p = pattern.strip()
    if p == "*":
        return ["*"]
    for prefix in ("**.", "*."):
        if p.startswith(prefix):
            domain = normalize_host(p[len(prefix):])
            return [f"?*.{domain}"] if prefix == "*." else [domain, f"?*.{domain}"]
    return [normalize_host(p)]


def _glob_regex(glob: str) -> re.Pattern[str]:
    """globset semantics without path separators: ``*`` any run, ``?`` one char,
    ``[..]`` classes, ``{a,b}`` alternatives; case-insensitive, anchored."""
    return re.compile("(?is)^" + _glob_body(glob) + r"\Z")


def _glob_body(glob: str) -> str:
    out, i = [], 0
    while i < len(glob):
        c = glob[i]
        if c == "*":
            while i + 1 < len(glob) and glob[i + 1] == "*":
                i += 1
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "[":
            end = glob.find("]", i + 2)
            if end < 0:
                raise MdmError(f"invalid domain pattern {glob!r}: unclosed '['")
            body = glob[i + 1:end]
            if body[:1] == "!":
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end
        elif c == "{":
            end = glob.find("}", i)
            if end < 0:
                raise MdmError(f"invalid domain pattern {glob!r}: unclosed '{{'")
            alts = glob[i + 1:end].split(",")
            out.append("(?:" + "|".join(_glob_body(a) for a in alts) + ")")
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def pattern_matches(pattern: str, host: str) -> bool:
    """Does one domain pattern match ``host`` (Codex semantics, see module doc)?"""
    h = normalize_host(host)
    return bool(h) and any(_glob_regex(g).match(h) for g in _expand(pattern))


def validate_domains(domains: dict[str, str]) -> None:
    """Raise MdmError for what Codex rejects: unknown actions, a ``*`` deny."""
    for pattern, action in domains.items():
        if action not in ("allow", "deny"):
            raise MdmError(f"network domain {pattern!r}: value must be \"allow\" or \"deny\", "
                           f"not {action!r}")
        if action == "deny" and "*" in _expand(pattern):
            raise MdmError(f"network domain {pattern!r}: the global wildcard \"*\" is only valid "
                           "as an allow rule")
        for glob in _expand(pattern):
            _glob_regex(glob)


def _explicit_local_allow(allows: Iterable[str], host: str) -> bool:
    """An exact (wildcard-free) allow rule naming this local host (is_explicit_local_allowlisted)."""
    for p in allows:
        p = p.strip()
        if "*" in p or "?" in p:
            continue
        if normalize_host(p) == host:
            return True
    return False


Resolver = Callable[[str], list[str]]


def decide(host: str, policy: NetworkPolicy, resolve: Resolver | None = None) -> Decision:
    """The proxy's decision for ``host`` under ``policy`` (enforcement.md §2.4).

    ``resolve`` maps a host name to its addresses; without it names are taken as
    public (offline). A name that resolves to no address is blocked like a DNS failure.
    """
    validate_domains(policy.domains)
    h = normalize_host(host)
    if not h:
        return Decision(host, False, ALLOWLIST, "empty host")
    allows = [p for p, a in policy.domains.items() if a == "allow"]
    denies = [p for p, a in policy.domains.items() if a == "deny"]
    for p in denies:
        if pattern_matches(p, h):
            return Decision(h, False, DENYLIST, f"deny rule {p!r} (deny wins)")
    allow_hit = next((p for p in allows if pattern_matches(p, h)), None)
    if not policy.allow_local_binding:
        literal = _ip(h)
        if h == "localhost" or literal is not None:
            why = "loopback" if h == "localhost" else local_class(literal)
            if why and not _explicit_local_allow(allows, h):
                return Decision(h, False, ALLOWLIST, f"local destination ({why}) without "
                                "allow_local_binding or an exact allow rule")
        elif resolve is not None:
            addrs = resolve(h)
            if not addrs:
                return Decision(h, False, ALLOWLIST, "name does not resolve (DNS failure)")
            for a in addrs:
                why = local_class(a)
                if why:
                    return Decision(h, False, ALLOWLIST, f"resolves to {a} ({why}) and "
                                    "allow_local_binding is off")
    if allow_hit is None:
        why = "allow-list is empty" if not allows else "no allow rule matches"
        return Decision(h, False, ALLOWLIST, why)
    return Decision(h, True, None, f"allow rule {allow_hit!r}")


def reachable(host: str, network_access: bool, policy: NetworkPolicy | None,
              resolve: Resolver | None = None) -> Decision:
    """Would a sandboxed command reach ``host``? Combines the command-network switch with
    the proxy (enforcement.md §2.1): off -> nothing; on without proxy -> direct egress,
    domain rules NOT enforced; proxy running -> :func:`decide`."""
    h = normalize_host(host)
    if not network_access:
        return Decision(h, False, None, "command network is off (socket creation refused)")
    if policy is None or not policy.proxy_active:
        return Decision(h, True, None, "network on without the proxy: direct egress, "
                        "domain rules are not enforced")
    return decide(h, policy, resolve)
