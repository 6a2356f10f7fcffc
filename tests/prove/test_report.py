"""Reporters (text, JSON, JUnit), the unsupported platform result, the probe plan."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from mdmtool.model import NetworkPolicy
from mdmtool.prove.engine import prove
from mdmtool.prove.probes import proxy_hosts
from mdmtool.prove.report import render
from mdmtool.prove.workspace import sample_paths
from tests.prove import policies


def test_windows_is_unsupported_not_a_failure():
    r = prove(policies.WORKSPACE, platform="win32")
    assert r.result == "unsupported" and r.exit_code() == 0 and not r.runs
    assert "unsupported on win32" in render(r, "text")
    assert json.loads(render(r, "json"))["result"] == "unsupported"
    suite = ET.fromstring(render(r, "junit")).find("testsuite")
    assert suite.find("testcase/skipped") is not None


@pytest.fixture(scope="module")
def mismatch(bwrap_ok):
    return prove(policies.WORKSPACE, backends=("bwrap",), use_seccomp=False)


def test_text_report_shows_mismatches(mismatch):
    text = render(mismatch, "text")
    header = next(line for line in text.splitlines() if line.startswith("PROBE"))
    assert header.split() == ["PROBE", "EXPECTED", "BWRAP", "RESULT"]
    assert "backends: bwrap 0." in text
    assert "mismatches:" in text and "net.socket_inet [bwrap]: expected denied" in text
    assert "result: FAIL" in text


def test_json_report(mismatch):
    doc = json.loads(render(mismatch, "json"))
    assert doc["result"] == "fail" and doc["runs"][0]["backend"] == "bwrap"
    assert "--seccomp" not in doc["runs"][0]["argv"] and "--unshare-net" in doc["runs"][0]["argv"]
    fails = [p for p in doc["runs"][0]["probes"] if p["status"] == "fail"]
    assert {"net.socket_inet", "net.loopback"} <= {p["id"] for p in fails}


def test_junit_report(mismatch):
    root = ET.fromstring(render(mismatch, "junit"))
    suite = root.find("testsuite")
    failed = [c.get("name") for c in suite.findall("testcase") if c.find("failure") is not None]
    assert int(suite.get("failures")) == len(failed) >= 3 and "net.loopback" in failed


def test_proxy_hosts_cover_each_rule():
    hosts = proxy_hosts(NetworkPolicy(domains={
        "*.corp.example": "allow", "**.gh.example": "allow", "exact.example": "deny",
        "region*.v2.example": "allow", "*": "allow", "10.0.0.1": "allow"}))
    assert {"corp.example", "a.corp.example", "a.b.corp.example", "gh.example",
            "exact.example", "region1.v2.example", "mdmtool-unlisted.example"} <= set(hosts)
    assert "10.0.0.1" not in hosts and "*" not in hosts


def test_glob_samples_match_the_glob():
    from mdmtool.prove.layout import glob_regex
    for g in ("/w/**/*.env", "/w/id_*", "/w/[ab]?/*.pem", "/w/[!a].key"):
        samples = sample_paths(g)
        assert samples and all(glob_regex(g).match(s) for s in samples), (g, samples)
    assert len(sample_paths("/w/**/*.env")) == 2      # zero and one directory deep
