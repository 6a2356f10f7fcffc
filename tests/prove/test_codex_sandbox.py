"""The same probes through Codex's own backend (`codex sandbox -P`): every required policy
passes there too and both backends observe the same thing. Skips cleanly without Codex."""

from __future__ import annotations

import tomllib

import pytest

from mdmtool.prove import codex_sandbox as cx
from mdmtool.prove.engine import prove
from mdmtool.prove.layout import from_spec
from mdmtool.prove.probes import PASS
from tests.prove import policies


def _check(result):
    names = [r.name for r in result.runs]
    assert names == ["bwrap", "codex"], names
    codex = result.runs[1]
    assert codex.error is None, codex.error + "\n" + codex.stderr
    bad = [(o.probe.id, o.probe.expected, o.observed, o.detail)
           for r in result.runs for o in r.outcomes if o.status not in (PASS, "predicted")]
    assert not bad, bad
    assert result.disagreements == []
    assert result.result == "pass"
    return {o.probe.id: o for o in codex.outcomes}


@pytest.mark.codex
@pytest.mark.parametrize("name", sorted(policies.REQUIRED))
def test_required_policies_agree_with_codex(codex_bin, name):
    obs = _check(prove(policies.REQUIRED[name], codex=codex_bin))
    assert all(o.observed is not None for o in obs.values())  # Codex ran every probe


@pytest.mark.codex
def test_codex_proxy_enforces_domain_rules(codex_bin):
    """Codex's real proxy (in a loopback-only namespace) decides exactly as mdmtool.network."""
    obs = _check(prove(policies.PROXY, codex=codex_bin))
    assert obs["proxy.host[uploads.corp.example]"].detail.endswith("blocked-by-denylist")
    assert obs["proxy.host[corp.example]"].detail.endswith("blocked-by-allowlist")   # *. skips apex
    assert obs["proxy.host[a.b.corp.example]"].observed == "allowed"                  # any depth
    assert obs["proxy.host[github.example]"].observed == "allowed"                    # ** has apex
    assert obs["proxy.host[mdmtool-unlisted.example]"].observed == "denied"
    assert obs["proxy.local[127.0.0.1]"].observed == "denied"
    assert obs["proxy.env"].observed == "allowed"
    assert obs["net.loopback"].observed == "denied"        # only the proxy bridge, no host loopback


@pytest.mark.codex
def test_codex_without_tmpdir(codex_bin):
    obs = _check(prove(policies.WORKSPACE_NO_TMPDIR, codex=codex_bin))
    assert obs["fs.write.tmpdir"].observed == "denied"


def test_profile_toml_is_the_layout(case_root):
    lay = from_spec(policies.LOCKED, tmpdir="/w/tmpdir", home="/home/alice")
    doc = tomllib.loads(cx.profile_toml(lay, "/w/tmpdir"))
    prof = doc["permissions"][cx.PROFILE]
    fs = prof["filesystem"]
    assert doc["default_permissions"] == cx.PROFILE
    assert fs[":root"] == "read" and fs[":slash_tmp"] == "write" and fs[":tmpdir"] == "write"
    assert fs["/srv/extra"] == "write" and fs[":workspace_roots"] == {".": "write"}
    assert fs["/home/alice/.ssh"] == "none" and fs["/home/alice/repo/**/*.env"] == "none"
    assert fs["/etc/secrets/**"] == "none"
    assert prof["network"] == {"enabled": False}
    assert doc["projects"]["/home/alice/repo"]["trust_level"] == "trusted"


def test_profile_toml_for_proxy_and_argv():
    lay = from_spec(policies.PROXY, tmpdir=None, home="/home/alice")
    doc = tomllib.loads(cx.profile_toml(lay, "/none"))
    assert doc["features"]["network_proxy"] is True
    net = doc["permissions"][cx.PROFILE]["network"]
    assert net["enabled"] is True and net["domains"]["uploads.corp.example"] == "deny"
    assert cx.codex_argv("codex", lay)[:4] == ["codex", "sandbox", "-P", cx.PROFILE]
    danger = from_spec(policies.DANGER, tmpdir=None)
    assert cx.codex_argv("codex", danger)[3] == ":danger-full-access"
    rules = cx.rules_network(lay.proxy)
    assert rules.allow_local_binding and not lay.proxy.allow_local_binding
