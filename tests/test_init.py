"""Posture templates and `mdmtool init`.

Each posture's README has a "How it resolves" table. Every row is checked three ways:
README == what the real Codex 0.169.0 answered (fixtures/template_cases/, recorded by
fixtures/template_cases/record.py) == what mdmtool's resolver says on the same files.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from mdmtool.errors import MdmError, UsageError
from mdmtool.model import ResolveInputs
from mdmtool.resolve import resolve
from mdmtool.schemas import validate_text
from mdmtool.postures import FILES, POSTURES, read_template, template_path, templates_root, write_posture
from mdmtool.tomlio import parse_toml
from tests.template_scenarios import SCENARIOS

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RECORDED = os.path.join(REPO, "fixtures", "template_cases")
KINDS = {"requirements.toml": "requirements", "managed_config.toml": "managed-config",
         os.path.join("project", ".codex", "config.toml"): "config"}
COLUMNS = ("scenario", "starts", "approval_policy", "approvals_reviewer", "sandbox_mode",
           "network_access", "web_search", "warnings")

#: (posture, scenario) -> why mdmtool's resolver differs from the real Codex (none today)
RESOLVER_GAPS: dict[tuple[str, str], str] = {}


def cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=REPO)
    return subprocess.run([sys.executable, "-m", "mdmtool", *args], capture_output=True, text=True,
                          env=env, timeout=120)


# ----------------------------------------------------------------------------- the README tables

def readme_table(posture: str) -> dict[str, dict[str, str]]:
    rows: dict[str, dict[str, str]] = {}
    header = None
    for line in read_template(posture, "README.md").splitlines():
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if tuple(cells) == COLUMNS:
            header = cells
            continue
        if header and cells and cells[0] in SCENARIOS:
            rows[cells[0]] = dict(zip(header, cells))
    assert set(rows) == set(SCENARIOS), f"{posture}/README.md must document every scenario"
    return rows


def warning_keys(messages: list[str]) -> set[str]:
    keys = set()
    for m in messages:
        hit = re.search(r"Configured value for `([^`]+)` is disallowed", m)
        if hit:
            keys.add(hit.group(1))
        elif m.startswith("Project-local config, hooks, and exec policies are disabled"):
            keys.add("untrusted-project")
        elif m.startswith("Error:") or "cannot be used because requirements" in m:
            keys.add("fatal")
    return keys


def expected_from_readme(row: dict[str, str]) -> dict:
    def val(s: str):
        return None if s == "—" else {"true": True, "false": False}.get(s, s)
    warnings = set() if row["warnings"] == "—" else {w.strip() for w in row["warnings"].split(",")}
    return {"starts": row["starts"] == "yes", "approval_policy": val(row["approval_policy"]),
            "approvals_reviewer": val(row["approvals_reviewer"]),
            "sandbox_mode": val(row["sandbox_mode"]), "network_access": val(row["network_access"]),
            "web_search": val(row["web_search"]), "warnings": warnings}


def recorded(posture: str, scenario: str) -> dict:
    with open(os.path.join(RECORDED, posture, f"{scenario}.json"), encoding="utf-8") as fh:
        rec = json.load(fh)
    return {"starts": not rec["startup_failed"], "approval_policy": rec["approval_policy"],
            "approvals_reviewer": rec["approvals_reviewer"], "sandbox_mode": rec["sandbox_mode"],
            "network_access": rec["network_access"], "web_search": rec["web_search_observed"],
            "warnings": warning_keys(rec["warnings"])}


def resolved(posture: str, scenario: str, root: str) -> dict:
    """Build the scenario as real files (as record.py did for Codex) and resolve it."""
    sc = SCENARIOS[scenario]
    system, home, project = (os.path.join(root, d) for d in ("etc", "home", "project"))
    os.makedirs(system)
    os.makedirs(home)
    os.makedirs(project)
    for name in ("requirements.toml", "managed_config.toml"):
        shutil.copy(template_path(posture, name), system)
    if sc.get("project_config"):
        os.makedirs(os.path.join(project, ".codex"))
        shutil.copy(template_path(posture, os.path.join("project", ".codex", "config.toml")),
                    os.path.join(project, ".codex", "config.toml"))
    user = sc.get("user_config", "")
    if sc.get("trust", "trusted"):
        user += f'\n[projects."{project}"]\ntrust_level = "{sc.get("trust", "trusted")}"\n'
    with open(os.path.join(home, "config.toml"), "w") as fh:
        fh.write(user)
    flags = sc.get("flags", [])
    policy = resolve(ResolveInputs(
        system_dir=system, codex_home=home, cwd=project,
        sandbox=flags[flags.index("--sandbox") + 1] if "--sandbox" in flags else None,
        search="--search" in flags, yolo="--dangerously-bypass-approvals-and-sandbox" in flags)).to_json()
    keys = warning_keys([w["message"] for w in policy["warnings"]])
    if not policy["ok"]:
        keys.add("fatal")
    return {"starts": policy["ok"], "approval_policy": policy["approval_policy"],
            "approvals_reviewer": policy["approvals_reviewer"], "sandbox_mode": policy["sandbox_mode"],
            "network_access": policy["network_access"], "web_search": policy["web_search"],
            "warnings": keys}


CASES = [(p, s) for p in POSTURES for s in SCENARIOS]


@pytest.mark.parametrize("posture, scenario", CASES)
def test_readme_matches_real_codex(posture, scenario):
    assert expected_from_readme(readme_table(posture)[scenario]) == recorded(posture, scenario)


@pytest.mark.parametrize("posture, scenario", [
    pytest.param(p, s, marks=pytest.mark.xfail(reason=RESOLVER_GAPS[(p, s)], strict=True))
    if (p, s) in RESOLVER_GAPS else (p, s) for p, s in CASES])
def test_resolver_matches_readme(posture, scenario, case_root):
    got = resolved(posture, scenario, case_root)
    want = expected_from_readme(readme_table(posture)[scenario])
    if want["starts"]:
        assert got["warnings"] == want["warnings"]
    else:  # Codex stops at the fatal error; warnings computed before it are never printed
        assert "fatal" in got["warnings"]
    assert {k: v for k, v in got.items() if k != "warnings"} == \
        {k: v for k, v in want.items() if k != "warnings"}


@pytest.mark.parametrize("posture", POSTURES)
def test_managed_config_keeps_the_requirement_lists(posture, case_root):
    """managed_config.toml's approval_policy / approvals_reviewer / sandbox_mode become
    requirements that replace the lists; the templates must not narrow their own lists."""
    resolved(posture, "deployed", case_root)
    policy = resolve(ResolveInputs(system_dir=os.path.join(case_root, "etc"),
                                   codex_home=os.path.join(case_root, "home"),
                                   cwd=os.path.join(case_root, "project")))
    own = parse_toml(read_template(posture, "requirements.toml"), "requirements.toml")
    for key in ("allowed_approval_policies", "allowed_approvals_reviewers", "allowed_sandbox_modes"):
        assert policy.requirements.get(key) == own.get(key), key


# ----------------------------------------------------------------------------- the files

@pytest.mark.parametrize("posture", POSTURES)
def test_templates_validate_clean(posture):
    for rel, kind in KINDS.items():
        path = template_path(posture, rel)
        assert validate_text(read_template(posture, rel), kind, path) == [], path


@pytest.mark.parametrize("posture", POSTURES)
def test_templates_lint_clean(posture, capsys):
    try:
        from mdmtool.commands.lint import run_lint
    except ImportError:
        pytest.skip("mdmtool.commands.lint is not importable yet (issue 4)")
    paths = [template_path(posture, rel) for rel in KINDS]
    rc = run_lint(paths, requirements=template_path(posture, "requirements.toml"), fmt="json",
                  outputs=[], system_dir="/nonexistent", codex_home=None, cwd=None, profile=None,
                  jobs=1, progress=False)
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0 and doc["findings"] == []  # not even a warning


@pytest.mark.parametrize("posture", POSTURES)
def test_every_setting_is_explained(posture):
    """Each block of settings carries a comment (the comments explain every choice)."""
    for rel in KINDS:
        lines = read_template(posture, rel).splitlines()
        assert lines[0].startswith(f"# mdmtool posture: {posture}")
        block: list[str] = []
        for line in lines + [""]:
            if line.strip():
                block.append(line.strip())
                continue
            settings = [b for b in block if not b.startswith("#")]
            if settings:
                assert any(b.startswith("#") for b in block), f"{posture}/{rel}: {settings[0]}"
            block = []


def test_templates_root_is_the_checkout_or_package():
    root = templates_root()
    assert sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d))) == sorted(POSTURES)


# ----------------------------------------------------------------------------- init

@pytest.mark.parametrize("posture", POSTURES)
def test_init_writes_the_posture(posture, tmp_path):
    out = tmp_path / "out"
    r = cli("init", "--posture", posture, "-o", str(out))
    assert r.returncode == 0, r.stderr
    for rel in FILES:
        assert (out / rel).read_text(encoding="utf-8") == read_template(posture, rel)
    assert f"mdmtool mdm build --requirements {out}/requirements.toml" in r.stdout


def test_init_refuses_to_overwrite(tmp_path):
    out = tmp_path / "out"
    (out / "project" / ".codex").mkdir(parents=True)
    (out / "managed_config.toml").write_text("mine = 1\n")
    r = cli("init", "--posture", "strict", "-o", str(out))
    assert r.returncode == 2 and "refusing to overwrite" in r.stderr and "--force" in r.stderr
    assert (out / "managed_config.toml").read_text() == "mine = 1\n"
    assert not (out / "requirements.toml").exists()  # nothing written at all
    r = cli("init", "--posture", "strict", "-o", str(out), "--force")
    assert r.returncode == 0
    assert (out / "managed_config.toml").read_text() == read_template("strict", "managed_config.toml")
    leftovers = [p.name for p in out.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_init_bad_input(tmp_path):
    r = cli("init", "--posture", "lax", "-o", str(tmp_path / "o"))
    assert r.returncode == 2 and "unknown posture 'lax'" in r.stderr
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(MdmError, match="not a directory"):
        write_posture("open", str(f))
    with pytest.raises(UsageError):
        write_posture("nope", str(tmp_path / "o"))
