"""The diff / merge / fix / history commands end to end: exit codes, formats, --effective."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "fixtures" / "diff"


def mdm(*args: str, cwd: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "mdmtool", *args], capture_output=True, text=True,
                          cwd=cwd or str(ROOT), env=env, timeout=120)


def test_fail_on_exit_codes():
    wide = FIX / "widening-approval-on-request-to-never"
    narrow = FIX / "narrowing-approval-never-to-on-request"
    neutral = FIX / "neutral-model-change"
    a, b = str(wide / "a.toml"), str(wide / "b.toml")
    assert mdm("diff", a, b).returncode == 0  # no gate: report only
    assert mdm("diff", a, b, "--fail-on", "widening").returncode == 1
    assert mdm("diff", a, b, "--fail-on", "narrowing").returncode == 0
    assert mdm("diff", b, a, "--fail-on", "narrowing").returncode == 1
    n = str(narrow / "a.toml"), str(narrow / "b.toml")
    assert mdm("diff", *n, "--fail-on", "widening").returncode == 0
    assert mdm("diff", *n, "--fail-on", "widening,narrowing").returncode == 1
    m = str(neutral / "a.toml"), str(neutral / "b.toml")
    assert mdm("diff", *m, "--fail-on", "widening", "--fail-on", "narrowing").returncode == 0
    assert mdm("diff", *m, "--fail-on", "any").returncode == 1
    assert mdm("diff", a, a, "--fail-on", "any").returncode == 0


def test_usage_and_input_errors_exit_2():
    a = str(FIX / "neutral-model-change" / "a.toml")
    r = mdm("diff", a, "--fail-on", "bogus")
    assert r.returncode == 2 and "unknown --fail-on" in r.stderr
    r = mdm("diff", a, "/nonexistent/config.toml")
    assert r.returncode == 2 and "no such file" in r.stderr and "Traceback" not in r.stderr
    r = mdm("diff", a)
    assert r.returncode == 2
    r = mdm("diff", a, a, "--format", "yaml")
    assert r.returncode == 2 and "unknown --format" in r.stderr


def test_formats():
    d = FIX / "widening-new-writable-root"
    a, b = str(d / "a.toml"), str(d / "b.toml")
    text = mdm("diff", a, b).stdout
    assert "WIDENING   sandbox_workspace_write.writable_roots" in text
    assert f"[{a}:2:1 -> {b}:2:1]" in text and text.rstrip().endswith("posture widened")
    doc = json.loads(mdm("diff", a, b, "--format", "json").stdout)
    assert doc["summary"]["widening"] == 1 and doc["changes"][0]["new_source"]["line"] == 2
    gh = mdm("diff", a, b, "--format", "github", "--fail-on", "widening").stdout.splitlines()
    assert gh[0].startswith(f"::error file={b},line=2,title=posture widening%3A ")
    gh = mdm("diff", a, b, "--format", "github").stdout.splitlines()
    assert gh[0].startswith("::warning ")


def test_no_neutral_hides_neutral_changes(tmp_path):
    a = tmp_path / "a.config.toml"
    a.write_text('model = "x"\nweb_search = "cached"\n')
    b = tmp_path / "b.config.toml"
    b.write_text('model = "y"\nweb_search = "live"\n')
    out = mdm("diff", str(a), str(b), "--no-neutral").stdout
    assert "web_search" in out and "model" not in out


# ----------------------------------------------------------------------------- --effective

def _setup(root: Path, name: str, requirements: str | None, user: str) -> dict:
    etc = root / name / "etc"
    home = root / name / "home"
    proj = root / "project"
    for d in (etc, home, proj):
        d.mkdir(parents=True, exist_ok=True)
    if requirements is not None:
        (etc / "requirements.toml").write_text(requirements)
    (home / "config.toml").write_text(user + f'\n[projects."{proj}"]\ntrust_level = "trusted"\n')
    return {"etc": str(etc), "home": str(home), "proj": str(proj)}


def test_effective_two_system_dirs(case_root):
    root = Path(case_root)
    a = _setup(root, "a", 'allowed_approval_policies = ["on-request"]\n', 'approval_policy = "never"\n')
    b = _setup(root, "b", 'allowed_approval_policies = ["on-request", "never"]\n',
               'approval_policy = "never"\n')
    common = ["--codex-home", a["home"], "--cwd", a["proj"], "--format", "json"]
    r = mdm("diff", "--effective", a["etc"], b["etc"], *common, "--fail-on", "widening")
    assert r.returncode == 1, r.stderr
    doc = json.loads(r.stdout)
    keys = {c["key"]: c for c in doc["changes"]}
    assert keys["approval_policy"]["old"] == "on-request" and keys["approval_policy"]["new"] == "never"
    assert keys["approval_policy"]["classification"] == "widening"
    assert keys["approval_policy"]["old_source"]["file"].endswith("requirements.toml")
    assert keys["approval_policy"]["new_source"]["file"] == str(Path(a["home"]) / "config.toml")
    assert keys["requirements.allowed_approval_policies"]["classification"] == "widening"
    assert doc["a"]["label"] == f"system-dir {a['etc']}"


def test_effective_before_and_after_a_file_change(case_root):
    root = Path(case_root)
    s = _setup(root, "s", None, 'sandbox_mode = "workspace-write"\n')
    new_req = root / "new-requirements.toml"
    new_req.write_text('allowed_sandbox_modes = ["read-only"]\n')
    target = str(Path(s["etc"]) / "requirements.toml")  # does not exist yet
    r = mdm("diff", "--effective", target, str(new_req), "--system-dir", s["etc"],
            "--codex-home", s["home"], "--cwd", s["proj"], "--format", "json",
            "--fail-on", "narrowing")
    assert r.returncode == 1, r.stderr
    doc = json.loads(r.stdout)
    keys = {c["key"]: c for c in doc["changes"]}
    assert keys["sandbox_mode"]["old"] == "workspace-write" and keys["sandbox_mode"]["new"] == "read-only"
    assert keys["sandbox_mode"]["classification"] == "narrowing"
    # origins point at the real directory, never at the private temporary copy
    assert "mdmtool-diff-" not in r.stdout
    assert keys["sandbox_mode"]["new_source"]["file"] == target
    assert not os.path.exists(target)  # nothing of the user's was touched


def test_effective_rejects_files_outside_the_setup(case_root):
    s = _setup(Path(case_root), "s", None, "")
    other = Path(case_root) / "elsewhere.toml"
    other.write_text("")
    r = mdm("diff", "--effective", str(other), str(other), "--system-dir", s["etc"],
            "--codex-home", s["home"], "--cwd", s["proj"])
    assert r.returncode == 2 and "neither in the system dir" in r.stderr


# ----------------------------------------------------------------------------- merge, fix

def test_merge_cli(tmp_path):
    base = tmp_path / "config.toml"
    base.write_text('# base\napproval_policy = "on-request"  # ask\n\n[features]\nx = true\n')
    over = tmp_path / "overlay.toml"
    over.write_text('approval_policy = "never"\n[sandbox_workspace_write]\nnetwork_access = true\n')
    r = mdm("merge", str(base), str(over))
    assert r.returncode == 0 and r.stdout.startswith('# base\napproval_policy = "never"  # ask\n')
    r = mdm("merge", str(base), str(over), "--dry-run")
    assert r.returncode == 0 and '+approval_policy = "never"  # ask' in r.stdout
    assert "posture widened" in r.stdout
    assert base.read_text().count("on-request") == 1
    r = mdm("merge", str(base), str(over), "-o", str(base), "--backup")
    assert r.returncode == 0, r.stderr
    assert tomllib.loads(base.read_text())["approval_policy"] == "never"
    assert "on-request" in (tmp_path / "config.toml.bak").read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text("x = \n")
    r = mdm("merge", str(base), str(bad))
    assert r.returncode == 2 and f"{bad}:1" in r.stderr


def test_fix_cli(tmp_path):
    cfg = tmp_path / "config.toml"
    cfg.write_text('approval_policy = "on-failure"  # keep me\nmodel = "x"\n')
    r = mdm("fix", str(cfg), "--dry-run", "--no-lint")
    assert r.returncode == 1 and '+approval_policy = "on-request"  # keep me' in r.stdout
    r = mdm("fix", str(cfg), "--no-lint")
    assert r.returncode == 0, r.stderr
    assert cfg.read_text() == 'approval_policy = "on-request"  # keep me\nmodel = "x"\n'


@pytest.mark.skipif(not Path("/usr/bin/git").exists() and not Path("/bin/git").exists(),
                    reason="git not installed")
def test_history_cli(tmp_path):
    repo = tmp_path / "r"
    repo.mkdir()
    env = dict(os.environ, GIT_AUTHOR_NAME="Ann", GIT_AUTHOR_EMAIL="a@example.com",
               GIT_COMMITTER_NAME="Ann", GIT_COMMITTER_EMAIL="a@example.com")

    def git(*a):
        subprocess.run(["git", *a], cwd=repo, check=True, env=env, capture_output=True)
    git("init", "-q")
    (repo / "requirements.toml").write_text('allowed_sandbox_modes = ["read-only"]\n')
    git("add", ".")
    git("commit", "-qm", "Lock down")
    (repo / "requirements.toml").write_text('allowed_sandbox_modes = ["read-only", "danger-full-access"]\n')
    git("commit", "-qam", "Allow full access")
    r = mdm("history", "requirements.toml", cwd=str(repo))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "Allow full access" in lines[2] and "Ann" in lines[2]
    assert "posture widened" in lines[3]
    assert 'new allowed sandbox mode "danger-full-access"' in r.stdout
    assert "posture narrowed" in r.stdout  # the first commit added the requirement


def test_effective_two_codex_homes_in_process(case_root, capsys):
    from mdmtool.commands.diff import run_diff
    from mdmtool.model import ResolveInputs
    root = Path(case_root)
    a = _setup(root, "a", None, 'sandbox_mode = "read-only"\n')
    b = _setup(root, "b", None, 'sandbox_mode = "danger-full-access"\napproval_policy = "never"\n')
    (Path(a["home"]) / "auth.json").write_text("{}")  # what makes a dir look like CODEX_HOME
    inputs = ResolveInputs(system_dir=a["etc"], cwd=a["proj"])
    rc = run_diff(a["home"], b["home"], effective=True, inputs=inputs, fmt="json",
                  fail_on=["widening"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 1
    keys = {c["key"]: c["classification"] for c in doc["changes"]}
    assert keys["sandbox_mode"] == "widening" and keys["approval_policy"] == "widening"
    assert doc["a"]["label"].startswith("codex-home ")
