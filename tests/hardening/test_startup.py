"""Cold start: heavy libraries are imported only by the commands that need them.

Each check runs a fresh interpreter and looks at ``sys.modules`` after the command, so
it holds whatever else the test process imported. Timing is benchmarks/startup.py's job
(no thresholds here).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.hardening.harness import ROOT, machine, machine_args, rm, scratch

HEAVY = {"jsonschema", "deepdiff", "git", "tomlkit", "rich", "pydantic", "numpy"}

_PROBE = r"""
import json, runpy, sys
out = sys.argv[1]
sys.argv = ["mdmtool"] + sys.argv[2:]
code = 0
try:
    runpy.run_module("mdmtool", run_name="__main__")
except SystemExit as exc:
    code = exc.code or 0
with open(out, "w") as fh:
    json.dump({"code": code, "modules": sorted({m.split(".")[0] for m in sys.modules})}, fh)
"""


def loaded(*args: str, env: dict | None = None) -> tuple[int, set[str]]:
    """(exit code, top-level modules imported) of ``mdmtool ARGS`` in a fresh interpreter."""
    d = scratch("mdmtool-startup-")
    try:
        out = os.path.join(d, "modules.json")
        e = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
        subprocess.run([sys.executable, "-c", _PROBE, out, *args], env=e, cwd=d, timeout=120,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        with open(out) as fh:
            doc = json.load(fh)
        return doc["code"], set(doc["modules"])
    finally:
        rm(d)


def test_importing_the_cli_imports_no_heavy_library():
    code = "import json, sys, mdmtool.cli; print(json.dumps(sorted(sys.modules)))"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)), check=True)
    mods = {m.split(".")[0] for m in json.loads(p.stdout)}
    assert not mods & HEAVY, mods & HEAVY
    assert "mdmtool" in mods  # the probe really imported the CLI


@pytest.fixture(scope="module")
def simple_machine():
    base = scratch("mdmtool-startup-m-")
    m = machine(base, requirements='allowed_approval_policies = ["on-request", "untrusted"]\n'
                'allowed_sandbox_modes = ["read-only", "workspace-write"]\n',
                user='model = "gpt-5"\napproval_policy = "on-request"\n',
                project="[sandbox_workspace_write]\nnetwork_access = false\n")
    m["cache"] = os.path.join(base, "cache")
    yield m
    rm(base)


def test_effective_skips_jsonschema_once_the_schema_check_cache_is_warm(simple_machine):
    env = {"MDMTOOL_CACHE_DIR": simple_machine["cache"]}
    code, cold = loaded("effective", *machine_args(simple_machine), env=env)
    assert code == 0
    assert "jsonschema" in cold  # the first run checks types with the schema ...
    code, warm = loaded("effective", *machine_args(simple_machine), env=env)
    assert code == 0
    assert not warm & HEAVY, warm & HEAVY  # ... repeat runs answer from the cache
    code, off = loaded("effective", *machine_args(simple_machine), env={"MDMTOOL_NO_CACHE": "1"})
    assert code == 0 and "jsonschema" in off and not off & (HEAVY - {"jsonschema"})


@pytest.mark.parametrize("args,allowed", [
    (["--version"], set()),
    (["--help"], set()),
    (["validate", "{req}"], {"jsonschema"}),
    (["explain", "approval_policy", "--system-dir", "{etc}", "--codex-home", "{home}",
      "--cwd", "{proj}"], set()),
    (["fleet", "summary", "/nonexistent.json"], set()),
    (["mdm", "jamf-ea"], set()),
])
def test_each_command_imports_only_what_it_needs(simple_machine, args, allowed):
    fill = {"req": os.path.join(simple_machine["etc"], "requirements.toml"), **simple_machine}
    env = {"MDMTOOL_CACHE_DIR": simple_machine["cache"]}
    loaded("effective", *machine_args(simple_machine), env=env)  # warm the cache
    _code, mods = loaded(*[a.format(**fill) for a in args], env=env)
    assert not (mods & HEAVY) - allowed, (mods & HEAVY) - allowed


def test_building_only_the_invoked_command_keeps_help_and_errors_whole():
    """cli.main registers only the command being run (Typer inspects every signature)."""
    def run(*args):
        return subprocess.run([sys.executable, "-m", "mdmtool", *args], capture_output=True,
                              text=True, timeout=120, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    top = run("--help")
    assert top.returncode == 0
    for name in ("validate", "effective", "explain", "lint", "diff", "merge", "fix", "mdm", "fleet", "init"):
        assert name in top.stdout
    r = run("bogus")
    assert r.returncode == 2 and "No such command 'bogus'" in r.stderr
    r = run("fleet", "report", "--help")
    assert r.returncode == 0 and "Summarise collected effective documents" in r.stdout
    r = run("--debug", "validate", "/nonexistent.toml")
    assert r.returncode == 2 and "no such file" in r.stdout
    r = run("--version")
    assert r.returncode == 0 and r.stdout.startswith("mdmtool ")


def test_effective_takes_the_fast_path_without_typer_or_dataclasses(simple_machine):
    """`effective` is parsed by mdmtool.entry (argparse over the shared option table) and
    the resolver's types are mdmtool.record classes: neither Typer/Click nor
    dataclasses/inspect is imported (together ~45 ms of start-up, benchmarks/startup.py)."""
    env = {"MDMTOOL_CACHE_DIR": simple_machine["cache"]}
    loaded("effective", *machine_args(simple_machine), env=env)  # warm the schema-check cache
    for command in (["effective", "--format", "json"], ["explain", "approval_policy"]):
        code, mods = loaded(*command, *machine_args(simple_machine), env=env)
        assert code == 0
        assert not mods & {"typer", "click", "dataclasses", "inspect"}, command
    code, slow = loaded("effective", *machine_args(simple_machine), env={**env, "MDMTOOL_NO_FAST_PATH": "1"})
    assert code == 0 and "typer" in slow  # the switch really selects the Typer app
