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


def _inputs(case_root, config: str):
    import os
    from mdmtool.model import ResolveInputs
    home, proj, etc = (os.path.join(case_root, d) for d in ("home", "proj", "etc"))
    for d in (home, os.path.join(proj, ".git"), etc):
        os.makedirs(d)
    with open(os.path.join(home, "config.toml"), "w") as fh:
        fh.write(config + f'\n[projects."{proj}"]\ntrust_level = "trusted"\n')
    return ResolveInputs(system_dir=etc, codex_home=home, cwd=proj)


PROXY_CONFIG = '''default_permissions = "netp"
[features]
network_proxy = true
[permissions.netp]
extends = ":workspace"
[permissions.netp.network]
enabled = true
[permissions.netp.network.domains]
"pkg.example" = "allow"
"*.cdn.example" = "allow"
"bad.cdn.example" = "deny"
'''


def test_resolved_spec_marks_the_proxy_and_read_only_base(case_root):
    from mdmtool.commands.prove import sandbox_spec
    from mdmtool.resolve import resolve
    spec = sandbox_spec(resolve(_inputs(case_root, PROXY_CONFIG)))
    assert spec.network_access and spec.network.proxy_active
    assert spec.network.domains["bad.cdn.example"] == "deny"


def test_read_only_extending_profile_gets_its_base(tmp_path):
    from mdmtool.commands.prove import sandbox_spec
    from mdmtool.resolve import resolve
    root = str(tmp_path)
    spec = sandbox_spec(resolve(_inputs(root, f'default_permissions = "ro"\n[permissions.ro]\n'
                                        f'extends = ":read-only"\n[permissions.ro.filesystem]\n'
                                        f'"{root}/out" = "write"\n')))
    lay = from_spec(spec, tmpdir="/w/tmpdir")
    assert lay.writable_roots == [f"{root}/out"]                # no workspace, no /tmp


@pytest.mark.codex
def test_command_proves_a_resolved_proxy_policy(codex_bin, case_root, capsys):
    import json
    from mdmtool.commands.prove import run_prove
    rc = run_prove(_inputs(case_root, PROXY_CONFIG), fmt="json", codex=codex_bin)
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0 and doc["result"] == "pass", doc
    codex = {p["id"]: p for p in doc["runs"][1]["probes"]}
    assert codex["proxy.host[bad.cdn.example]"]["detail"].endswith("blocked-by-denylist")
    assert codex["proxy.host[a.b.cdn.example]"]["observed"] == "allowed"
    assert codex["proxy.host[pkg.example]"]["observed"] == "allowed"
