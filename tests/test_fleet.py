"""Fleet report and rollout impact on a generated fleet with known answers.

benchmarks/fleetgen.py builds a real directory tree per host (system dir with a posture
template, CODEX_HOME, a project) and resolves it; the expected figures below follow from
its SETUPS table. Impact predictions are checked against the ground truth: the same host
trees with the new requirements really put in place and resolved again.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import plistlib
import shutil
import subprocess
import sys
from collections import Counter

import pytest

from mdmtool.fleet import build_report, iter_documents, summary_line
from mdmtool.impact import ImpactAnalysis, Outcome
from mdmtool.resolve import resolve
from mdmtool.postures import template_path

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "benchmarks"))
import fleetgen  # noqa: E402

PER_SETUP = 3
N = PER_SETUP * len(fleetgen.SETUPS)

#: setup -> (posture, starts, fallbacks) as Codex 0.169.0 decides them
KNOWN = {
    "unmanaged-plain": ("unmanaged", True, []),
    "unmanaged-wide": ("unmanaged", True, []),
    "open-plain": ("open", True, []),
    "open-wide": ("open", True, []),
    "open-never-ws": ("open", True, []),
    "open-live": ("open", True, []),
    "balanced-plain": ("balanced", True, []),
    "balanced-project": ("balanced", True, []),
    "balanced-untrusted": ("balanced", True, []),
    "strict-plain": ("strict", True, []),
    "strict-wide": ("strict", True, ["permission_profile"]),
    "strict-project": ("strict", True, []),
    "broken-req": ("custom", False, []),
    "custom": ("custom", True, ["permission_profile"]),
}


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mdmtool", *args], capture_output=True, text=True,
                          input=stdin, env=dict(os.environ, PYTHONPATH=REPO), timeout=300)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("fleet"))
    # real trees under /var/tmp: /tmp holds Codex's stray .git/.codex mount targets
    work = os.path.join("/var/tmp", "mdmtool-fleet-" + os.path.basename(root))
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    jsonl = os.path.join(root, "fleet.jsonl")
    docs = os.path.join(root, "docs")
    hosts = fleetgen.write_fleet(work, N, jsonl=jsonl, out_dir=docs, resolve_all=True)
    yield {"root": root, "work": work, "jsonl": jsonl, "dir": docs, "hosts": hosts}
    shutil.rmtree(work, ignore_errors=True)


def unavailable(host: str) -> bool:
    return int(host.split("-")[1]) % 7 == 3


# ----------------------------------------------------------------------------- report

def test_report_known_answers(fleet):
    hosts = fleet["hosts"]
    report = build_report(fleet["jsonl"])
    assert report.hosts == N and not report.unreadable
    assert dict(report.postures) == dict(Counter(KNOWN[s][0] for s in hosts.values()))
    assert sorted(r.host for r in report.refusing) == sorted(h for h, s in hosts.items() if not KNOWN[s][1])
    assert {r.host: r.fallbacks for r in report.on_fallback} == \
        {h: KNOWN[s][2] for h, s in hosts.items() if KNOWN[s][2]}
    assert sorted(r.host for r in report.backend_unavailable) == sorted(h for h in hosts if unavailable(h))
    for r in report.refusing:
        assert "must include 'read-only'" in r.error


def test_directory_jsonl_and_stdin_agree(fleet):
    a = cli("fleet", "report", "--format", "json", fleet["jsonl"])
    b = cli("fleet", "report", "--format", "json", fleet["dir"])
    with open(fleet["jsonl"]) as fh:
        c = cli("fleet", "report", "--format", "json", "-", stdin=fh.read())
    assert a.returncode == b.returncode == c.returncode == 1  # some hosts refuse to start
    ja, jb, jc = (json.loads(x.stdout) for x in (a, b, c))
    for doc in (jb, jc):  # same figures; only the document sources differ
        assert {k: v for k, v in doc.items() if k not in ("refusing_to_start", "on_fallback", "sandbox_backend")} == \
            {k: v for k, v in ja.items() if k not in ("refusing_to_start", "on_fallback", "sandbox_backend")}
        assert doc["refusing_to_start"]["count"] == ja["refusing_to_start"]["count"]
    assert ja["kind"] == "mdmtool-fleet-report" and ja["hosts"] == N
    assert ja["on_fallback"]["by_key"] == {"permission_profile": 2 * PER_SETUP}


def test_text_and_csv_exports(fleet, tmp_path):
    out = tmp_path / "hosts.csv"
    r = cli("fleet", "report", fleet["dir"], "--csv", str(out))
    assert r.returncode == 1
    assert f"Fleet: {N} host(s)" in r.stdout
    assert f"Codex would refuse to start: {PER_SETUP} " in r.stdout
    assert "Sandbox backend unavailable:" in r.stdout and "bubblewrap is not installed" in r.stdout
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == N
    by_host = {row["host"]: row for row in rows}
    for host, setup in fleet["hosts"].items():
        row = by_host[host]
        assert row["posture"] == KNOWN[setup][0]
        assert row["ok"] == ("true" if KNOWN[setup][1] else "false")
        assert row["fallbacks"] == ";".join(KNOWN[setup][2])
        assert row["backend"] == ("unavailable" if unavailable(host) else "available")
    r = cli("fleet", "report", fleet["jsonl"], "--format", "csv")
    assert list(csv.DictReader(io.StringIO(r.stdout)))[0].keys() == rows[0].keys()


def test_unreadable_documents(tmp_path, fleet):
    d = tmp_path / "docs"
    d.mkdir()
    shutil.copy(os.path.join(fleet["dir"], "host-000", "host-000000.json"), d / "a.json")
    (d / "b.json").write_text("{not json")
    (d / "c.json").write_text(json.dumps({"schema_version": 99, "ok": True}))
    r = cli("fleet", "report", str(d), "--format", "json")
    assert r.returncode == 1
    doc = json.loads(r.stdout)
    assert doc["hosts"] == 1 and len(doc["unreadable"]) == 2
    (d / "a.json").unlink()
    r = cli("fleet", "report", str(d))
    assert r.returncode == 2 and "no readable effective document" in r.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli("fleet", "report", str(empty)).returncode == 2
    assert cli("fleet", "report", str(tmp_path / "missing")).returncode == 2
    assert cli("fleet", "report", str(empty), "--format", "xml").returncode == 2


def test_summary_line(fleet):
    docs = {host_doc.doc["host"]: host_doc.doc for host_doc in iter_documents(fleet["jsonl"])}
    hosts = fleet["hosts"]
    strict = next(h for h, s in hosts.items() if s == "strict-wide")
    line = summary_line(docs[strict])
    assert line.startswith("posture=strict ok=yes approval=on-request")
    assert "sandbox=read-only" in line and "fallbacks=permission_profile" in line
    broken = next(h for h, s in hosts.items() if s == "broken-req")
    assert summary_line(docs[broken]).startswith("posture=custom ok=no refuses-to-start:")
    r = cli("fleet", "summary", "-", stdin=json.dumps(docs[strict], indent=2))  # as the EA runs it
    assert r.returncode == 0 and r.stdout.strip() == line
    r = cli("fleet", "summary", "-", stdin="{")
    assert r.returncode == 2 and "not JSON" in r.stderr


# ----------------------------------------------------------------------------- impact

def ground_truth(fleet, host: str, new_requirements: str, channel: str = "system") -> Outcome:
    """Copy the host's tree, really put the new requirements in place, resolve."""
    src = os.path.join(fleet["work"], "hosts", host)
    dst = os.path.join(fleet["work"], "truth", host)
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst, symlinks=True)
    # the copy is the same machine at another path: re-point its trust entry
    inputs = fleetgen.host_inputs(dst)
    cfg = os.path.join(inputs.codex_home, "config.toml")
    with open(cfg) as fh:
        text = fh.read().replace(src, dst)
    with open(cfg, "w") as fh:
        fh.write(text)
    with open(new_requirements) as fh:
        new = fh.read()
    if channel == "system":
        with open(os.path.join(inputs.system_dir, "requirements.toml"), "w") as fh:
            fh.write(new)
    else:
        plist = os.path.join(dst, "mdm.plist")
        with open(plist, "wb") as fh:
            plistlib.dump({"requirements_toml_base64": base64.b64encode(new.encode()).decode()}, fh)
        inputs.mdm_plist = plist
    return Outcome.from_doc(resolve(inputs).to_json())


def predictions(fleet, new_requirements: str, channel: str = "system") -> tuple[dict, ImpactAnalysis]:
    out = {}
    with ImpactAnalysis(new_requirements, channel) as analysis:
        for item in iter_documents(fleet["jsonl"]):
            h = analysis.host(item.doc, item.origin)
            out[h.host] = h
    return out, analysis


@pytest.mark.parametrize("posture", ["strict", "balanced", "open"])
def test_impact_matches_ground_truth(fleet, posture):
    new = template_path(posture, "requirements.toml")
    predicted, analysis = predictions(fleet, new)
    assert analysis.resolutions <= len(fleetgen.SETUPS)  # hosts differing only in paths share one
    for host in fleet["hosts"]:
        h = predicted[host]
        assert h.status != "cannot-predict", h.note
        truth = ground_truth(fleet, host, new)
        assert (h.after.ok, h.after.values, h.after.fallbacks) == (truth.ok, truth.values, truth.fallbacks), host


def test_impact_known_answers_strict(fleet):
    predicted, _ = predictions(fleet, template_path("strict", "requirements.toml"))
    status = {setup: {predicted[h].status for h, s in fleet["hosts"].items() if s == setup}
              for setup in fleetgen.SETUPS}
    assert status["strict-plain"] == status["strict-wide"] == status["strict-project"] == {"unchanged"}
    assert status["unmanaged-plain"] == {"unchanged"}
    assert status["unmanaged-wide"] == {"falls-back"}
    assert status["open-live"] == {"falls-back"}
    assert status["broken-req"] == {"changes"}  # refuses to start -> starts
    wide = next(predicted[h] for h, s in fleet["hosts"].items() if s == "unmanaged-wide")
    assert wide.new_fallbacks == ["approval_policy", "permission_profile", "web_search_mode"]
    assert "sandbox_mode: danger-full-access -> read-only" in wide.changes
    live = next(predicted[h] for h, s in fleet["hosts"].items() if s == "open-live")
    assert live.new_fallbacks == ["web_search_mode"] and live.changes == ["web_search: live -> cached"]


def test_impact_balanced_refusals_and_fail_on(fleet, tmp_path):
    new = template_path("balanced", "requirements.toml")
    r = cli("fleet", "impact", "--requirements", new, fleet["jsonl"], "--format", "json",
            "--fail-on", "refuse", "--csv", str(tmp_path / "impact.csv"))
    assert r.returncode == 1, r.stderr
    doc = json.loads(r.stdout)
    refusing = sorted(h["host"] for h in doc["hosts"] if h["status"] == "refuses")
    # never + danger-full-access in the user config, nothing managed overriding them
    assert refusing == sorted(h for h, s in fleet["hosts"].items() if s in ("unmanaged-wide", "open-wide"))
    assert doc["summary"]["newly_refusing"] == len(refusing) == 2 * PER_SETUP
    assert all("cannot be used because requirements do not allow" in h["after"]["error"]
               for h in doc["hosts"] if h["status"] == "refuses")
    rows = list(csv.DictReader((tmp_path / "impact.csv").open()))
    assert len(rows) == N and sum(row["status"] == "refuses" for row in rows) == len(refusing)
    r = cli("fleet", "impact", "--requirements", template_path("strict", "requirements.toml"),
            fleet["jsonl"], "--fail-on", "refuse")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "would refuse to start: 0" in r.stdout
    r = cli("fleet", "impact", "--requirements", template_path("strict", "requirements.toml"),
            fleet["jsonl"], "--fail-on", "fallback")
    assert r.returncode == 1


def test_impact_of_the_current_requirements_changes_nothing(fleet):
    """Replay: rolling out what a host already runs must predict no change."""
    for posture in ("strict", "balanced", "open"):
        predicted, _ = predictions(fleet, template_path(posture, "requirements.toml"))
        mine = [h for h, s in fleet["hosts"].items() if fleetgen.SETUPS[s][0] == posture]
        assert mine and all(predicted[h].status == "unchanged" for h in mine), posture


def test_impact_mdm_channel(fleet):
    new = template_path("strict", "requirements.toml")
    predicted, _ = predictions(fleet, new, channel="mdm")
    docs = {d.doc["host"]: d.doc for d in iter_documents(fleet["jsonl"])}
    for host, setup in fleet["hosts"].items():
        if setup not in ("open-wide", "balanced-project", "unmanaged-plain", "broken-req", "custom"):
            continue
        h = predicted[host]
        sources = docs[host]["requirement_sources"]
        separable = all("data" in s for s in sources) or \
            not [s for s in sources if s["source"] == "managed-config"]
        if not separable:
            # the system file's own content is not in the document, only the composition
            # with managed_config.toml: adding an MDM source on top cannot be replayed
            assert h.status == "cannot-predict" and "requirement_sources[].data" in h.note
            continue
        truth = ground_truth(fleet, host, new, channel="mdm")
        assert (h.after.ok, h.after.values, h.after.fallbacks) == \
            (truth.ok, truth.values, truth.fallbacks), host
    broken = next(predicted[h] for h, s in fleet["hosts"].items() if s == "broken-req")
    # the MDM source is composed above the system file: its allowed_sandbox_modes replaces
    # the system list that lacked read-only (codex-policy.md §6.2), so the host starts again
    assert broken.status == "changes" and broken.changes == ["refuses to start -> starts"]


def test_impact_bad_inputs(fleet, tmp_path):
    bad = tmp_path / "new.toml"
    bad.write_text("allowed_sandbox_modes = [\n")
    r = cli("fleet", "impact", "--requirements", str(bad), fleet["jsonl"])
    assert r.returncode == 2 and f"{bad}:" in r.stderr
    r = cli("fleet", "impact", "--requirements", template_path("open", "requirements.toml"),
            fleet["jsonl"], "--channel", "floppy")
    assert r.returncode == 2
    lean = tmp_path / "lean.jsonl"
    lean.write_text(json.dumps({"schema_version": 1, "ok": True, "host": "old",
                                "approval_policy": "on-request"}) + "\n")
    r = cli("fleet", "impact", "--requirements", template_path("open", "requirements.toml"),
            str(lean), "--fail-on", "refuse")
    assert r.returncode == 1 and "cannot predict: 1" in r.stdout and "no layers" in r.stdout
