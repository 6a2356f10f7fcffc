"""mdmtool.network: Codex's proxy host policy (enforcement.md §2.3/§2.4), offline."""

from __future__ import annotations

import pytest

from mdmtool.errors import MdmError
from mdmtool.model import NetworkPolicy
from mdmtool.network import (ALLOWLIST, DENYLIST, decide, local_class, normalize_host,
                             pattern_matches, reachable, validate_domains)


@pytest.mark.parametrize("pattern,host,hit", [
    ("example.com", "example.com", True),
    ("example.com", "a.example.com", False),
    ("*.example.com", "a.example.com", True),
    ("*.example.com", "b.a.example.com", True),      # any depth (Q10)
    ("*.example.com", "example.com", False),          # not the apex
    ("**.example.com", "example.com", True),
    ("**.example.com", "x.y.example.com", True),
    ("region*.v2.argotunnel.com", "region1.v2.argotunnel.com", True),
    ("region*.v2.argotunnel.com", "region.v2.argotunnel.com", True),
    ("region*.v2.argotunnel.com", "xregion1.v2.argotunnel.com", False),
    ("region*.v2.argotunnel.com", "foo.region1.v2.argotunnel.com", False),
    ("*", "anything.test", True),
    ("Example.COM.", "EXAMPLE.com.", True),           # case and trailing dot
    ("example.com", "example.com:8443", True),        # port stripped
    ("[::1]", "::1", True),
    ("[fe80::1%25lo0]", "fe80::1%lo0", True),
    ("[fe80::1%25lo0]", "fe80::1", False),
    ("*.example.com", "notexample.com", False),
    ("*.example.com", "example.com.evil.test", False),
])
def test_pattern_semantics(pattern, host, hit):
    assert pattern_matches(pattern, host) is hit


def test_normalize_host():
    assert normalize_host("  API.Example.COM.:443 ") == "api.example.com"
    assert normalize_host("[2001:DB8::1]:443") == "2001:db8::1"
    assert normalize_host("2001:db8::1") == "2001:db8::1"   # unbracketed IPv6 keeps its colons


@pytest.mark.parametrize("ip,why", [
    ("127.0.0.1", "loopback"), ("10.1.2.3", "private (RFC 1918)"), ("172.16.0.1", "private (RFC 1918)"),
    ("192.168.1.1", "private (RFC 1918)"), ("169.254.1.1", "link-local"), ("100.64.0.1", "CGNAT"),
    ("192.0.2.7", "TEST-NET-1"), ("198.51.100.7", "TEST-NET-2"), ("203.0.113.7", "TEST-NET-3"),
    ("198.18.0.1", "benchmarking"), ("224.0.0.1", "multicast"), ("240.0.0.1", "reserved"),
    ("255.255.255.255", "broadcast"), ("0.0.0.0", "this-network"), ("::1", "loopback"),
    ("fd00::1", "unique-local"), ("fe80::1", "link-local"), ("ff02::1", "multicast"),
    ("::ffff:10.0.0.1", "private (RFC 1918)"), ("8.8.8.8", None), ("2606:4700::1111", None),
    ("172.32.0.1", None),
])
def test_local_classes(ip, why):
    assert local_class(ip) == why


E9 = NetworkPolicy(enabled=True, proxy_active=True, allow_local_binding=True, domains={
    "exact.test": "deny", "**.both.test": "allow", "deny.both.test": "deny", "other.test": "allow"})


@pytest.mark.parametrize("host,allowed,reason", [
    ("other.test", True, None), ("both.test", True, None), ("x.both.test", True, None),
    ("exact.test", False, DENYLIST), ("deny.both.test", False, DENYLIST),
    ("unlisted.test", False, ALLOWLIST),
])
def test_example_e9_decisions(host, allowed, reason):
    """enforcement.md example E9 (managed ∪ user domains; user deny on a managed allow)."""
    d = decide(host, E9)
    assert (d.allowed, d.reason) == (allowed, reason)


def test_deny_beats_allow_and_wildcard():
    pol = NetworkPolicy(domains={"*.corp.example": "allow", "uploads.corp.example": "deny"})
    assert decide("a.corp.example", pol).allowed
    d = decide("uploads.corp.example", pol)
    assert not d.allowed and d.reason == DENYLIST and "deny wins" in d.why


def test_empty_allow_list_blocks_everything():
    d = decide("example.com", NetworkPolicy())
    assert not d.allowed and d.reason == ALLOWLIST and "empty" in d.why


def test_local_destinations_need_allow_local_binding_or_exact_rule():
    pol = NetworkPolicy(domains={"*": "allow", "127.0.0.1": "allow"})
    assert decide("127.0.0.1", pol).allowed                 # exact IP allow rule
    d = decide("localhost", pol)                             # `*` never counts as a local exception
    assert not d.allowed and d.reason == ALLOWLIST and "local" in d.why
    assert not decide("10.0.0.8", pol).allowed
    assert decide("10.0.0.8", NetworkPolicy(domains={"*": "allow"}, allow_local_binding=True)).allowed


def test_resolution_to_private_address_blocks_even_allowlisted_names():
    pol = NetworkPolicy(domains={"intranet.example": "allow"})
    assert decide("intranet.example", pol).allowed           # offline: names taken as public
    d = decide("intranet.example", pol, resolve=lambda h: ["10.2.3.4"])
    assert not d.allowed and "10.2.3.4" in d.why
    assert not decide("intranet.example", pol, resolve=lambda h: []).allowed  # DNS failure


def test_star_deny_and_bad_values_are_errors():
    with pytest.raises(MdmError):
        validate_domains({"*": "deny"})
    with pytest.raises(MdmError):
        validate_domains({"a.test": "none"})
    validate_domains({"*": "allow"})


def test_reachable_combines_command_network_and_proxy():
    pol = NetworkPolicy(enabled=True, domains={"ok.test": "allow"}, proxy_active=False)
    assert not reachable("ok.test", False, pol).allowed      # network off
    d = reachable("blocked.test", True, pol)                  # on, no proxy: rules NOT enforced
    assert d.allowed and "not enforced" in d.why
    pol.proxy_active = True
    assert reachable("ok.test", True, pol).allowed
    assert not reachable("blocked.test", True, pol).allowed
