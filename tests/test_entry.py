"""The console entry's fast path for `effective` / `explain` answers exactly as the Typer app.

Every command line runs twice as a real process, through the argparse fast path and with
MDMTOOL_NO_FAST_PATH=1 through Typer, and the two must agree byte for byte (exit code,
stdout, stderr): both are built from mdmtool.machine_options, and anything the fast
path cannot take (help, unknown options, missing values) is handed to Typer.
"""

from __future__ import annotations

import os

import pytest

from mdmtool.entry import codex_short_values, parse_fast
from mdmtool.machine_options import MACHINE_OPTIONS, SESSION, inputs_from
from mdmtool.model import ResolveInputs
from tests.hardening.harness import machine, machine_args, rm, scratch, sub


@pytest.fixture(scope="module")
def m():
    base = scratch("mdmtool-entry-")
    mm = machine(base, requirements='allowed_approval_policies = ["on-request", "never"]\n'
                 'allowed_sandbox_modes = ["read-only", "workspace-write"]\n',
                 user='approval_policy = "untrusted"\nsandbox_mode = "danger-full-access"\n'
                 '[profiles.x]\nmodel = "o3"\n',
                 project="[sandbox_workspace_write]\nnetwork_access = true\n")
    mm["extra"] = os.path.join(base, "extra")
    os.makedirs(mm["extra"])
    yield mm
    rm(base)


CASES = [
    ["effective"],
    ["effective", "--format", "json"],
    ["effective", "--format=jsonl"],
    ["effective", "-c", 'approval_policy="never"', "-cweb_search=live", "--config", "model=o3"],
    ["effective", "-s", "workspace-write", "-a", "never", "--search"],
    ["effective", "--sandbox=read-only", "--ask-for-approval=on-request"],
    ["effective", "--yolo"],
    ["effective", "--dangerously-bypass-approvals-and-sandbox", "--format", "json"],
    ["effective", "--full-auto"],
    ["effective", "--add-dir", "@EXTRA@", "--add-dir", "/nonexistent", "--format", "json"],
    ["effective", "--enable", "web_search_request", "--disable", "shell_tool", "--exec"],
    ["effective", "-p", "missing"],
    ["effective", "--profile", "x"],
    ["effective", "--mdm-plist", "/nonexistent.plist"],
    ["effective", "--cloud-requirements", "/nonexistent.toml"],
    ["effective", "--format", "yaml"],  # the command's own usage error
    ["effective", "--bogus"],  # Typer's "No such option"
    ["effective", "-c"],  # Typer's missing value
    ["effective", "--sys", "/x"],  # no abbreviations (Click has none)
    ["effective", "stray"],  # Typer's unexpected extra argument
    ["effective", "-s=read-only", "-a=never", "-c=model=o3", "-p=x"],  # clap strips the `=`
    ["effective", "--help"],
    ["explain", "approval_policy"],
    ["explain", "sandbox_mode", "--format", "json", "-s", "read-only"],
    ["explain", "--format", "json", "web_search", "--search"],
    ["explain"],  # Typer's missing argument
    ["explain", "no_such_key_anywhere"],
    ["explain", "a", "b"],
]


@pytest.mark.parametrize("args", CASES, ids=[" ".join(c) for c in CASES])
def test_fast_path_and_typer_answer_alike(m, args):
    args = [a.replace("@EXTRA@", m["extra"]) for a in args]
    argv = [args[0], *machine_args(m), *args[1:]]
    fast = sub(*argv, cwd=m["proj"])
    typer = sub(*argv, cwd=m["proj"], env={"MDMTOOL_NO_FAST_PATH": "1"})
    assert (fast.code, fast.out, fast.err) == (typer.code, typer.out, typer.err)
    assert fast.code in (0, 1, 2), fast.text  # and every answer is a documented one
    assert "Traceback" not in fast.text


def test_version_answers_alike():
    fast, typer = sub("--version"), sub("--version", env={"MDMTOOL_NO_FAST_PATH": "1"})
    assert (fast.code, fast.out, fast.err) == (typer.code, typer.out, typer.err) == (
        0, "mdmtool 0.1.0 (models Codex CLI 0.169.0)\n", "")


def test_parse_fast_takes_plain_invocations_only():
    assert parse_fast(["effective", "--format", "json", "-c", "a=1", "-c", "b=2"]) == (
        "effective", {**{o.dest: False if o.kind == "flag" else None for o in MACHINE_OPTIONS},
                      "overrides": ["a=1", "b=2"], "fmt": "json"})
    assert parse_fast(["explain", "approval_policy"])[1]["key"] == "approval_policy"
    for argv in ([], ["lint"], ["--debug", "effective"], ["effective", "--help"], ["effective", "-h"],
                 ["effective", "--bogus"], ["explain"], ["effective", "-s"]):
        assert parse_fast(argv) is None, argv


def test_every_machine_option_reaches_resolve_inputs():
    argv = ["effective"]
    for o in MACHINE_OPTIONS:
        argv += [o.flags[0]] if o.kind == "flag" else [o.flags[0], f"v-{o.dest}"]
    _, values = parse_fast(argv)
    values.pop("fmt")
    inputs = inputs_from(values)
    for o in MACHINE_OPTIONS:
        want = True if o.kind == "flag" else [f"v-{o.dest}"] if o.kind == "list" else f"v-{o.dest}"
        assert getattr(inputs, o.dest) == want, o.dest
    assert set(SESSION) <= set(ResolveInputs._fields)
    assert inputs_from({}) == ResolveInputs()


def test_short_options_take_a_value_after_an_equals_sign_as_codex_does():
    """Codex (clap) reads `-s=read-only` as `-s read-only`; so do both paths."""
    assert codex_short_values(["effective", "-s=read-only", "-c=a=1", "--cwd", "-s=x", "-o=f"]) == \
        ["effective", "-sread-only", "-ca=1", "--cwd", "-s=x", "-o=f"]  # a value stays a value
    _, values = parse_fast(["effective", "-s=read-only", "-c=a=1"])
    assert values["sandbox"] == "read-only" and values["overrides"] == ["a=1"]
