"""prove with the real bubblewrap: every required policy passes, probe by probe, and a
sandbox that does not match its policy is caught."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from mdmtool.model import ResolveInputs
from mdmtool.prove.engine import prove
from mdmtool.prove.probes import FAIL, PASS
from tests.prove import policies

pytestmark = pytest.mark.bwrap


def observed(result, backend="bwrap"):
    run = next(r for r in result.runs if r.name == backend)
    return {o.probe.id: (o.observed, o.status, o.detail) for o in run.outcomes}


@pytest.mark.parametrize("name", sorted(policies.REQUIRED))
def test_required_policies_pass(bwrap_ok, name):
    result = prove(policies.REQUIRED[name], backends=("bwrap",))
    bad = [(o.probe.id, o.probe.expected, o.observed, o.detail)
           for o in result.runs[0].outcomes if o.status != PASS]
    assert result.result == "pass" and not bad, bad
    assert result.exit_code() == 0
    assert not os.path.exists(result.workspace)          # removed without --keep


def test_read_only_observations(bwrap_ok):
    obs = observed(prove(policies.READ_ONLY, backends=("bwrap",)))
    assert obs["fs.write.workspace"][0] == "denied" and "EROFS" in obs["fs.write.workspace"][2]
    assert obs["fs.write.slash_tmp"][0] == "denied"
    assert obs["net.loopback"][0] == "denied" and "EPERM" in obs["net.loopback"][2]
    assert obs["kernel.confinement"][0] == "confined"


def test_workspace_observations(bwrap_ok):
    obs = observed(prove(policies.WORKSPACE, backends=("bwrap",)))
    assert obs["fs.write.workspace"][0] == "allowed"
    assert [obs[f"fs.write.root[{i}]"][0] for i in (1, 2)] == ["allowed", "allowed"]
    assert {obs[k][0] for k in obs if k.startswith("fs.write.protected")} == {"denied"}
    assert obs["fs.write.nested_git"][0] == "allowed"
    assert obs["fs.write.sibling"][0] == obs["fs.write.home"][0] == obs["fs.write.etc"][0] == "denied"
    assert obs["fs.write.slash_tmp"][0] == obs["fs.write.tmpdir"][0] == "allowed"


def test_tmp_exclusions(bwrap_ok):
    net = observed(prove(policies.WORKSPACE_NET, backends=("bwrap",)))
    assert net["fs.write.slash_tmp"][:2] == ("denied", PASS) and net["fs.write.tmpdir"][0] == "allowed"
    assert net["net.loopback"][0] == "allowed" and net["net.egress"][0] == "allowed"
    no_tmpdir = observed(prove(policies.WORKSPACE_NO_TMPDIR, backends=("bwrap",)))
    assert no_tmpdir["fs.write.tmpdir"][:2] == ("denied", PASS)
    assert no_tmpdir["fs.write.slash_tmp"][0] == "allowed"


def test_deny_read_profile_observations(bwrap_ok):
    result = prove(policies.LOCKED, backends=("bwrap",))
    obs = observed(result)
    reads = {k: v for k, v in obs.items() if k.startswith("fs.read.deny")}
    assert len(reads) >= 8 and {v[0] for v in reads.values()} == {"denied"}
    assert all("EACCES" in v[2] for v in reads.values())
    assert {v[0] for k, v in obs.items() if k.startswith("fs.list.deny_glob")} == {"allowed"}
    assert obs["fs.read.workspace"][0] == "allowed"


def test_danger_full_access_observations(bwrap_ok):
    obs = observed(prove(policies.DANGER, backends=("bwrap",)))
    assert obs["fs.write.etc"][0] == obs["fs.write.protected[.git]"][0] == "allowed"
    assert obs["kernel.confinement"][0] == "unconfined" and obs["net.unix"][0] == "allowed"


def test_proxy_policy_on_bwrap_predicts_domains_offline(bwrap_ok):
    result = prove(policies.PROXY, backends=("bwrap",))
    obs = observed(result)
    assert obs["net.egress"][0] == "denied" and obs["net.socket_inet"][0] == "allowed"
    assert obs["net.unix"][0] == "denied" and "EPERM" in obs["net.unix"][2]
    preds = {o.probe.id: o for o in result.runs[0].outcomes if o.probe.op == "proxy"}
    assert preds["proxy.host[uploads.corp.example]"].probe.expected == "denied"
    assert preds["proxy.host[a.b.corp.example]"].probe.expected == "allowed"
    assert preds["proxy.host[corp.example]"].probe.expected == "denied"
    assert preds["proxy.host[github.example]"].probe.expected == "allowed"
    assert {o.status for o in preds.values()} == {"predicted"} and result.result == "pass"


def test_mismatch_without_seccomp_is_detected(bwrap_ok):
    """A sandbox built without Codex's seccomp filter: loopback fails with ECONNREFUSED in
    the empty namespace instead of EPERM, socket creation succeeds -> prove fails."""
    result = prove(policies.WORKSPACE, backends=("bwrap",), use_seccomp=False)
    fails = {o.probe.id for o in result.runs[0].outcomes if o.status == FAIL}
    assert {"net.socket_inet", "net.loopback", "kernel.confinement"} <= fails
    assert result.result == "fail" and result.exit_code() == 1


def test_mismatch_with_host_network_is_detected(bwrap_ok):
    """Network policy off, sandbox keeps the host network namespace: egress is possible."""
    result = prove(policies.WORKSPACE, backends=("bwrap",), use_seccomp=False, unshare_net=False)
    obs = observed(result)
    assert obs["net.loopback"][:2] == ("allowed", FAIL)
    assert obs["net.egress"][:2] == ("allowed", FAIL)
    assert obs["fs.write.workspace"][1] == PASS          # the filesystem part still matches


def test_keep_and_no_leftovers(bwrap_ok):
    before = set(glob.glob("/tmp/mdmtool-probe-*"))
    result = prove(policies.LOCKED, backends=("bwrap",), keep=True)
    try:
        assert os.path.isdir(result.workspace) and result.kept
        assert os.path.isfile(os.path.join(result.workspace, "fs", "home", "alice", "repo", "README.md"))
        assert not os.path.exists("/home/alice/repo")
    finally:
        from mdmtool.prove.workspace import _rmtree
        _rmtree(result.workspace)
    assert set(glob.glob("/tmp/mdmtool-probe-*")) == before


def _case(case_root, user_config: str) -> ResolveInputs:
    home, proj, etc = (os.path.join(case_root, d) for d in ("home", "proj", "etc"))
    for d in (home, os.path.join(proj, ".git"), etc):
        os.makedirs(d)
    with open(os.path.join(home, "config.toml"), "w") as fh:
        fh.write(user_config + f'\n[projects."{proj}"]\ntrust_level = "trusted"\n')
    return ResolveInputs(system_dir=etc, codex_home=home, cwd=proj)


def test_command_end_to_end_json_and_junit(bwrap_ok, case_root, capsys):
    from mdmtool.commands.prove import run_prove
    inputs = _case(case_root, 'default_permissions = "locked"\n[permissions.locked]\n'
                   'extends = ":workspace"\n[permissions.locked.filesystem.":workspace_roots"]\n'
                   '"**/*.pem" = "none"\n"private" = "none"\n')
    assert run_prove(inputs, fmt="json", backend="bwrap") == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["result"] == "pass" and doc["layout"]["deny_globs"]
    probes = {p["id"]: p for p in doc["runs"][0]["probes"]}
    assert probes["fs.read.deny_glob[0.0]"]["observed"] == "denied"
    assert run_prove(inputs, fmt="junit", backend="bwrap") == 0
    suites = ET.fromstring(capsys.readouterr().out)
    suite = suites.find("testsuite")
    assert suite.get("name") == "prove.bwrap" and suite.get("failures") == "0"
    assert int(suite.get("tests")) == len(suite.findall("testcase")) >= 16


def test_cli_text_table(bwrap_ok, case_root):
    _case(case_root, 'sandbox_mode = "workspace-write"\n[sandbox_workspace_write]\n'
          'network_access = true\n')
    r = subprocess.run([sys.executable, "-m", "mdmtool", "prove", "--backend", "bwrap",
                        "--system-dir", os.path.join(case_root, "etc"),
                        "--codex-home", os.path.join(case_root, "home"),
                        "--cwd", os.path.join(case_root, "proj")],
                       capture_output=True, text=True, timeout=120,
                       cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "PROBE" in r.stdout and "result: PASS" in r.stdout
    assert "network on" in r.stdout


def test_refusing_policy_exits_1(case_root, capsys):
    from mdmtool.commands.prove import run_prove
    inputs = _case(case_root, "[permissions.x]\nextends = \":workspace\"\n")
    assert run_prove(inputs, backend="bwrap") == 1
    assert "default_permissions" in capsys.readouterr().err
