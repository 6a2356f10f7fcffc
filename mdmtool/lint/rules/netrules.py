"""Network policy semantics (enforcement.md §2): invalid, shadowed and ineffective rules.

Host matching reuses :mod:`mdmtool.network` (Codex's matcher) when present; the
subsumption test here ("does deny D cover every host allow A can match?") is a small
structural check on the pattern forms Codex knows: exact, ``*.d``, ``**.d``, ``*``.
"""

from __future__ import annotations

import ipaddress

from mdmtool.lint.context import (MANAGED, PROFILE, PROJECT, REQUIREMENTS, STANDALONE, SYSTEM,
                                  USER, hit)
from mdmtool.lint.rules import file_rule
from mdmtool.lint.rules.util import network_tables

CONFIGS = (SYSTEM, USER, PROFILE, PROJECT, STANDALONE, MANAGED)

try:  # the prove helper's matcher (Codex semantics)
    from mdmtool.network import normalize_host, pattern_matches
except ImportError:  # pragma: no cover - minimal stand-in
    def normalize_host(host: str) -> str:
        h = host.strip().lower().rstrip(".")
        if h.count(":") == 1:
            h = h.split(":")[0]
        return h

    def pattern_matches(pattern: str, host: str) -> bool:
        p, h = pattern.strip().lower(), normalize_host(host)
        if p == "*":
            return True
        if p.startswith("**."):
            d = p[3:]
            return h == d or h.endswith("." + d)
        if p.startswith("*."):
            return h.endswith("." + p[2:])
        return h == normalize_host(p)


def _form(p: str) -> tuple[str, str]:
    """('star'|'sub'|'apexsub'|'exact'|'glob', domain)."""
    p = p.strip().lower()
    if p == "*":
        return "star", ""
    if p.startswith("**."):
        rest = p[3:]
        return ("glob", p) if "*" in rest or "?" in rest else ("apexsub", normalize_host(rest))
    if p.startswith("*."):
        rest = p[2:]
        return ("glob", p) if "*" in rest or "?" in rest else ("sub", normalize_host(rest))
    if "*" in p or "?" in p or "[" in p or "{" in p:
        return "glob", p
    return "exact", normalize_host(p)


def covers(deny: str, allow: str) -> bool:
    """True when every host ``allow`` can match is also matched by ``deny``."""
    dk, dd = _form(deny)
    ak, ad = _form(allow)
    if dk == "star":
        return True
    if ak == "exact":
        try:
            return pattern_matches(deny, ad)
        except Exception:  # noqa: BLE001 - a malformed pattern covers nothing
            return False
    if ak in ("sub", "apexsub"):
        under = lambda d: ad == d or ad.endswith("." + d)  # noqa: E731
        if dk == "apexsub":
            return under(dd)
        if dk == "sub":
            return ad.endswith("." + dd) or (ak == "sub" and ad == dd)
    return False


_LOCAL_SUFFIXES = ("localhost", "local", "internal", "lan", "home.arpa", "localdomain", "intranet")


def _local_wildcard(p: str) -> str | None:
    """A wildcard pattern whose every match is a local/private destination."""
    s = p.strip().lower()
    if "*" not in s and "?" not in s:
        return None
    kind, dom = _form(s)
    if kind in ("sub", "apexsub") and (dom in _LOCAL_SUFFIXES or dom.endswith(".localhost")):
        return f"names under .{dom}"
    body = s.replace("**.", "").replace("*.", "")
    probe = body.split("*")[0].rstrip(".")
    octets = probe.split(".")
    if octets and all(o.isdigit() for o in octets if o) and probe:
        guess = ".".join((octets + ["0", "0", "0", "0"])[:4])
        try:
            ip = ipaddress.ip_address(guess)
        except ValueError:
            return None
        if ip.is_private or ip.is_loopback or ip.is_link_local:
            return "private/loopback IP addresses"
    return None


def _registrable(dom: str) -> bool:
    """example.com or example.co.uk: a name people usually mean *with* its apex."""
    labels = dom.split(".")
    if len(labels) == 2:
        return True
    return len(labels) == 3 and labels[1] in ("co", "com", "org", "net", "ac", "gov") and len(labels[2]) == 2


@file_rule(*CONFIGS, REQUIREMENTS)
def domain_semantics(f):
    for prefix, table in network_tables(f.data, f.kind):
        domains = table.get("domains")
        if not isinstance(domains, dict):
            continue
        allows = [p for p, a in domains.items() if a == "allow"]
        denies = [p for p, a in domains.items() if a == "deny"]
        local_ok = table.get("allow_local_binding") is True
        where = ".".join(prefix)
        for p in denies:
            if p.strip() == "*":
                path = prefix + ("domains", p)
                yield hit("MDM401", f, path, f'"*" = "deny" in [{where}.domains] is invalid: the '
                          "global wildcard is only valid as an allow rule (Codex refuses the policy)",
                          fix={"op": "delete", "path": list(path)})
        for a in allows:
            if a.strip() == "*":
                continue
            shadow = next((d for d in denies if d.strip() != "*" and covers(d, a)), None)
            if shadow is not None:
                yield hit("MDM402", f, prefix + ("domains", a),
                          f'allow rule "{a}" never takes effect: deny rule "{shadow}" matches every '
                          "host it matches (deny wins)")
            if not local_ok:
                what = _local_wildcard(a)
                if what:
                    yield hit("MDM403", f, prefix + ("domains", a),
                              f'wildcard allow "{a}" targets {what}, which the proxy blocks while '
                              "allow_local_binding is false (wildcards never count as a local "
                              "exception; only exact IP or localhost rules do)")
            kind, dom = _form(a)
            if kind == "sub" and _registrable(dom):
                apex_allowed = any(pattern_matches(x, dom) for x in allows if x != a)
                if not apex_allowed:
                    path = prefix + ("domains", a)
                    yield hit("MDM404", f, path,
                              f'"{a}" matches subdomains of {dom} but not {dom} itself; write '
                              f'"**.{dom}" to include the apex',
                              fix={"op": "move", "path": list(path),
                                   "to": list(prefix + ("domains", f"**.{dom}"))})
