"""`mdmtool lint --requirements REQ FLEET` on a generated fleet with known answers.

The fleet below is built so that its findings follow from its construction: every
fourth host's user config asks for ``never`` + ``danger-full-access`` (Codex refuses to
start under the requirements), every fourth asks for live web search (a fallback),
every fourth writes ``network_access`` into ``[features]``; ten hosts have a system
config Codex rejects (refusal naming that host's own file) and four an MCP server entry
Codex rejects (else the same as other hosts: the refusal must not be lost to sharing); a
third of the hosts carry a
per-user project trust entry (unique file contents, as real fleets have) and every
tenth host a project layer. It is large enough for the worker pool to be used.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import pathlib
import pty
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter

import jsonschema
import pytest

from mdmtool.lint.fleet import CHUNK, MIN_PARALLEL
from mdmtool.reporters.sarif import artifact_uri

ROOT = pathlib.Path(__file__).resolve().parents[2]
SARIF_SCHEMA = json.loads((ROOT / "tests" / "data" / "sarif-schema-2.1.0.json").read_text())

REQ = ('allowed_approval_policies = ["on-request", "never"]\n'
       'allowed_sandbox_modes = ["read-only", "workspace-write"]\n'
       'allowed_web_search_modes = ["cached", "disabled"]\n')
SYSTEM = ['model = "gpt-5"\n', 'approval_policy = "on-request"\nsandbox_mode = "workspace-write"\n']
USERS = ['model = "o3"\n',
         'web_search = "live"\n',
         'approval_policy = "never"\nsandbox_mode = "danger-full-access"\n',
         'model = "o3"\n\n[features]\nnetwork_access = true\n']
BAD_SYSTEM = 'approval_policy = "sometimes"\n'
N = 200
BAD = {i for i in range(N) if i % 20 in (7, 8)}  # user configs of these are clean/misplaced
BAD_MCP = {i for i in range(N) if i % 20 == 13}  # live web search, as hosts 1, 5, 9... have
YOLO = sum(1 for i in range(N) if i % 4 == 2)
LIVE = sum(1 for i in range(N) if i % 4 == 1)
MISPLACED = sum(1 for i in range(N) if i % 4 == 3)
PROJECTS = sum(1 for i in range(N) if i % 10 == 5)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    base = tmp_path_factory.mktemp("lintfleet")
    root = base / "fleet"
    for i in range(N):
        host = root / f"host{i:03d}"
        (host / "etc" / "codex").mkdir(parents=True)
        (host / "etc" / "codex" / "config.toml").write_text(BAD_SYSTEM if i in BAD else SYSTEM[i % 2])
        user = f"u{i % 7}"
        home = host / "home" / user / ".codex"
        home.mkdir(parents=True)
        text = USERS[i % 4]
        if i in BAD_MCP:
            text += '\n[mcp_servers.docs]\ncommand = 5\n'
        if i % 3 == 0:
            text += f'\n[projects."/home/{user}/src/app{i}"]\ntrust_level = "trusted"\n'
        (home / "config.toml").write_text(text)
        if i % 10 == 5:
            proj = host / "home" / user / "src" / "app" / ".codex"
            proj.mkdir(parents=True)
            (proj / "config.toml").write_text('sandbox_mode = "danger-full-access"\n')
    req = base / "requirements.toml"
    req.write_text(REQ)
    assert N > MIN_PARALLEL + 3 * CHUNK  # the pool is used with --jobs 2, several chunks
    return root, req


def _lint(*args, stderr=subprocess.PIPE, cwd=None):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "mdmtool", "lint", "--no-progress", *map(str, args)],
                          capture_output=stderr is subprocess.PIPE, text=True, env=env, cwd=cwd or ROOT)


@pytest.fixture(scope="module")
def parallel_json(fleet):
    root, req = fleet
    p = _lint("--requirements", req, "--format", "json", "-j", "2", root)
    assert p.returncode == 1, p.stderr
    return json.loads(p.stdout)


def test_parallel_run_equals_serial_run(fleet, parallel_json):
    root, req = fleet
    p = _lint("--requirements", req, "--format", "json", "-j", "1", root)
    assert p.returncode == 1, p.stderr
    serial = json.loads(p.stdout)
    for doc in (serial, parallel_json):
        doc.pop("command")
    assert parallel_json == serial  # same findings, files, summary, in the same order
    assert len(parallel_json["findings"]) > N / 2
    own = [f for f in parallel_json["findings"] if f["rule"] == "MDM110" and "/etc/codex/" in f["file"]]
    assert len(own) >= len(BAD) and all(f["file"] in f["message"] for f in own)


def test_memoised_hosts_equal_hosts_linted_from_scratch(fleet, parallel_json):
    """Hosts sharing files are linted once and re-pointed: each must read exactly as if
    linted alone (paths, messages naming the host's own files, positions)."""
    from mdmtool.lint import fleet as fleetmod
    from mdmtool.reporters.json import finding_to_json
    root, req = fleet
    fleetmod._init_worker(str(req))
    today = _dt.date.today()
    expected = [finding_to_json(f) for f in fleetmod.lint_spec(("override",), today).findings]
    for i in range(N):
        name = f"host{i:03d}"
        d = str(root / name)
        fleetmod.forget()
        alone = fleetmod.lint_spec(("host", d, name, d), today)
        expected += [finding_to_json(f) for f in alone.findings]
    assert parallel_json["findings"] == expected


def test_summary_counts_what_the_fleet_was_built_with(fleet, parallel_json):
    root, req = fleet
    p = _lint("--requirements", req, root)
    assert p.returncode == 1, p.stderr
    tail = p.stdout.splitlines()[-5:]
    files = 2 * N + PROJECTS + 1  # system + user per host, project layers, the requirements
    per_rule = Counter(f["rule"] for f in parallel_json["findings"])
    refusing = {pathlib.Path(f["file"]).relative_to(root).parts[0]
                for f in parallel_json["findings"] if f["rule"] == "MDM110"}
    assert refusing >= {f"host{i:03d}" for i in BAD | BAD_MCP}
    assert len(refusing) == YOLO + len(BAD) + len(BAD_MCP) and per_rule["MDM105"] == LIVE
    assert per_rule["MDM802"] == MISPLACED
    assert tail[1:] == [
        f"hosts checked: {N}; files: {files}",
        f"hosts running on a requirements fallback: {YOLO + LIVE}",
        f"hosts where Codex would refuse to start: {YOLO + len(BAD) + len(BAD_MCP)}",
        "findings per rule: " + ", ".join(f"{r}={n}" for r, n in sorted(per_rule.items())),
    ]
    sev = Counter(f["severity"] for f in parallel_json["findings"])
    assert tail[0] == (f"{sev['error']} error(s), {sev['warning']} warning(s), {sev['info']} info "
                       f"in {files} files")
    assert parallel_json["summary"] == {"error": sev["error"], "warning": sev["warning"],
                                        "info": sev["info"], "files": files}
    assert parallel_json["fleet"] == {"hosts": N, "files": files, "fallback_hosts": YOLO + LIVE,
                                      "refuse_to_start_hosts": YOLO + len(BAD) + len(BAD_MCP),
                                      "findings_per_rule": dict(sorted(per_rule.items()))}
    assert len(parallel_json["files"]) == len(set(parallel_json["files"])) == files


def test_output_writes_every_format(fleet, parallel_json, tmp_path):
    root, req = fleet
    out = {fmt: tmp_path / f"lint.{fmt}" for fmt in ("json", "sarif", "junit", "text")}
    (tmp_path / "lint.json").write_text("old")  # replaced atomically
    p = _lint("--requirements", req, "--format", "github", "-j", "2",
              *[f"--output={fmt}={path}" for fmt, path in out.items()], root)
    assert p.returncode == 1, p.stderr
    findings = parallel_json["findings"]
    files = parallel_json["files"]

    doc = json.loads(out["json"].read_text())
    assert doc["findings"] == findings and doc["files"] == files and doc["fleet"] == parallel_json["fleet"]

    sarif = json.loads(out["sarif"].read_text())
    errors = sorted(jsonschema.Draft4Validator(SARIF_SCHEMA).iter_errors(sarif), key=str)
    assert not errors, [e.message for e in errors[:3]]
    run = sarif["runs"][0]
    assert [a["location"]["uri"] for a in run["artifacts"]] == [artifact_uri(f) for f in files]
    assert [(r["ruleId"], r["message"]["text"]) for r in run["results"]] == \
        [(f["rule"], f["message"]) for f in findings]
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    for r, f in zip(run["results"], findings):
        assert rule_ids[r["ruleIndex"]] == r["ruleId"]
        loc = r["locations"][0]["physicalLocation"]["artifactLocation"]
        assert files[loc["index"]] == f["file"]

    suite = ET.parse(out["junit"]).getroot()
    cases = suite.findall("./testsuite/testcase")
    with_errors = {f["file"] for f in findings if f["severity"] == "error"}
    assert {c.get("name") for c in cases} == set(files)
    assert suite.get("failures") == str(sum(1 for c in cases if c.find("failure") is not None))
    assert {c.get("name") for c in cases if c.find("failure") is not None} == with_errors

    text = out["text"].read_text()
    assert text.count("[MDM") == len(findings)
    assert f"hosts checked: {N}; files: {len(files)}" in text

    gh = [line for line in p.stdout.splitlines() if line.startswith("::")]
    assert len(gh) == len(findings)
    assert p.stdout.splitlines()[-4] == f"hosts checked: {N}; files: {len(files)}"
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary files left behind


def test_output_to_a_missing_directory_is_an_input_error(fleet, tmp_path):
    root, req = fleet
    p = _lint("--requirements", req, f"--output=json={tmp_path / 'no' / 'x.json'}", root)
    assert p.returncode == 2
    assert "does not exist" in p.stderr and "Traceback" not in p.stderr
    p = _lint("--requirements", req, "--output=json=-", root, cwd=tmp_path)
    assert p.returncode == 2 and "standard output" in p.stderr and not p.stdout
    assert not (tmp_path / "-").exists()


def test_progress_bar_only_on_a_terminal(fleet, tmp_path):
    root, req = fleet
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "mdmtool", "lint", "--requirements", str(req), "-j", "2", str(root)]
    piped = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    assert "\r" not in piped.stderr and f"/{N} hosts" not in piped.stderr
    master, slave = pty.openpty()
    with open(tmp_path / "out.txt", "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=slave, env=env, cwd=ROOT)
        os.close(slave)
        seen = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        assert proc.wait() == 1
    os.close(master)
    assert f"{N}/{N} hosts".encode() in seen
    assert (tmp_path / "out.txt").read_text() == piped.stdout  # the bar never reaches stdout


def test_hosts_are_listed_in_name_order_with_bounded_memory(fleet, tmp_path, monkeypatch):
    from mdmtool.lint import discover
    root, _ = fleet
    odd = tmp_path / "odd"
    for name in ["b", "a b", "ü", "line\nbreak", "Z", "a", ".git"]:
        (odd / name).mkdir(parents=True)
    (odd / "file.toml").write_text("")
    for d in (root, odd):
        want = sorted(p.name for p in d.iterdir() if p.is_dir() and p.name != ".git")
        assert [n for n, _ in discover.host_dirs(str(d))] == want
        monkeypatch.setattr(discover, "SORT_RUN", 3)  # sorted in spilled runs, merged
        assert [n for n, _ in discover.host_dirs(str(d))] == want
        monkeypatch.setattr(discover, "SORT_RUN", 20_000)
