"""Secrets never reach any output: every reporter of every command, errors and diffs.

One machine carries secrets in every shape Codex config has (MCP ``env`` and
``http_headers``, ``shell_environment_policy.set``, bearer tokens, ``*_key`` flags in
``args``, URL credentials and query tokens, an ``Authorization`` header in ``notify``) and
some of them in places that also produce findings (an ``env`` value of the wrong type,
a deprecated ``bearer_token``). Every view must name the keys and hide the values.
"""

from __future__ import annotations

import base64
import json
import os
import plistlib
import subprocess
from pathlib import Path

import pytest

from mdmtool.redact import (REDACTED, is_secret_key, is_secret_path, redact, redact_at,
                            redact_text, redact_toml_text)
from tests.hardening.harness import assert_clean, cli, machine, machine_args, rm, scratch

SECRETS = ["s3cr3t-ENV-1", "s3cr3t-HDR-2", "s3cr3t-SET-3", "s3cr3t-TOK-4", "s3cr3t-PWD-5",
           "s3cr3t-ARG-6", "abc123SECRET7", "pw-SECRET8", "s3cr3t-QRY-9", "86753091",
           "s3cr3t-CLI-10"]

CONFIG = '''model = "gpt-5"
notify = ["curl", "-H", "Authorization: Bearer abc123SECRET7"]

[mcp_servers.docs]
command = "npx"
args = ["-y", "server", "--api-key", "s3cr3t-ARG-6"]
env = { GITHUB_TOKEN = "s3cr3t-ENV-1", PIN = 86753091 }
http_headers = { "X-Api" = "s3cr3t-HDR-2" }

[mcp_servers.remote]
url = "https://user:pw-SECRET8@example.com/mcp"
bearer_token = "s3cr3t-TOK-4"

[shell_environment_policy.set]
DB_PASSWORD = "s3cr3t-SET-3"

[model_providers.corp]
name = "corp"
base_url = "https://corp.example.com/v1?api_key=s3cr3t-QRY-9"
experimental_bearer_token = "s3cr3t-PWD-5"
'''


def rotated(text: str) -> str:
    """The same config with every secret rotated (a diff that changes only secrets)."""
    for i, s in enumerate(SECRETS):
        text = text.replace(s, s.replace("SECRET", "ROTATED").replace("s3cr3t", "r0tated")
                            if not s.isdigit() else str(int(s) + 1))
    return text


ROTATED = [rotated(s) for s in SECRETS]


def assert_hidden(text: str, what: str) -> None:
    leaked = [s for s in SECRETS + ROTATED if s in text]
    assert not leaked, f"{what} shows {leaked}:\n{text[:3000]}"


@pytest.fixture(scope="module")
def world():
    base = scratch("mdmtool-secrets-")
    m = machine(base, user=CONFIG, requirements='allowed_approval_policies = ["on-request", "never"]\n')
    a = os.path.join(base, "a.config.toml")
    b = os.path.join(base, "b.config.toml")
    Path(a).write_text(CONFIG)
    Path(b).write_text(rotated(CONFIG))
    yield {"base": base, "m": m, "a": a, "b": b}
    rm(base)


FORMATS = ["text", "json", "sarif", "junit", "github"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_validate_every_format(world, fmt):
    r = cli("validate", world["a"], "--format", fmt)
    assert_clean(r, allow=(1,))
    assert "mcp_servers.docs.env.PIN" in r.out  # the finding is there, its value is not
    assert_hidden(r.text, f"validate --format {fmt}")


@pytest.mark.parametrize("fmt", FORMATS)
def test_lint_every_format_and_output_file(world, fmt):
    out = os.path.join(world["base"], f"lint.{fmt}")
    r = cli("lint", "--no-progress", "-j", "1", world["a"], "--format", fmt, "--output", f"{fmt}={out}")
    assert_clean(r, allow=(0, 1))
    assert r.out.strip()
    assert_hidden(r.text, f"lint --format {fmt}")
    assert_hidden(Path(out).read_text(), f"lint --output {fmt}")
    r = cli("lint", "--no-progress", "-j", "1", "--format", fmt, *machine_args(world["m"]))
    assert_clean(r, allow=(0, 1))
    assert_hidden(r.text, f"lint (this machine) --format {fmt}")


@pytest.mark.parametrize("fmt", ["text", "json", "jsonl"])
def test_effective_every_format(world, fmt):
    r = cli("effective", "--format", fmt, *machine_args(world["m"]),
            "-c", "mcp_servers.docs.env.API_TOKEN=s3cr3t-CLI-10",
            "-c", 'mcp_servers.docs.env.PLAIN="s3cr3t-CLI-10"')  # a name that looks harmless
    assert_clean(r, allow=(0, 1))
    assert_hidden(r.text, f"effective --format {fmt}")
    if fmt == "json":
        doc = json.loads(r.out)
        layers = {layer["kind"]: layer["config"] for layer in doc["layers"]}
        assert layers["user"]["mcp_servers"]["docs"]["env"]["GITHUB_TOKEN"] == REDACTED
        assert layers["user"]["mcp_servers"]["docs"]["command"] == "npx"  # not over-redacted


@pytest.mark.parametrize("key", ["mcp_servers.docs.env.GITHUB_TOKEN", "mcp_servers.docs",
                                 "mcp_servers", "shell_environment_policy", "notify",
                                 "model_providers.corp", "mcp_servers.remote.url"])
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_explain_keys_that_hold_secrets(world, key, fmt):
    r = cli("explain", key, "--format", fmt, *machine_args(world["m"]),
            "-c", "mcp_servers.docs.env.GITHUB_TOKEN=s3cr3t-CLI-10",
            "-c", "shell_environment_policy.set.PLAIN=s3cr3t-CLI-10")
    assert_clean(r, allow=(0, 1))
    assert_hidden(r.text, f"explain {key} --format {fmt}")


@pytest.mark.parametrize("fmt", ["text", "json", "github"])
def test_diff_of_rotated_secrets(world, fmt):
    label = os.path.join(world["base"], "token=s3cr3t-QRY-9")  # a file name with a token in it
    os.makedirs(label, exist_ok=True)
    r = cli("diff", world["a"], f"git:HEAD:{label}/config.toml", "--format", fmt)
    assert_clean(r)
    assert_hidden(r.text, f"diff labels --format {fmt}")
    r = cli("diff", world["a"], world["b"], "--format", fmt, "--fail-on", "any")
    assert_clean(r, allow=(1,))
    assert "mcp_servers.docs" in r.out  # the changes are reported
    assert_hidden(r.text, f"diff --format {fmt}")
    r = cli("diff", "--effective", "--system-dir", world["m"]["etc"], "--codex-home",
            world["m"]["home"], "--cwd", world["m"]["proj"],
            os.path.join(world["m"]["home"], "config.toml"), world["b"], "--format", fmt)
    assert_clean(r, allow=(0, 1))
    assert_hidden(r.text, f"diff --effective --format {fmt}")


def test_history_of_rotated_secrets(world):
    repo = os.path.join(world["base"], "repo")
    os.makedirs(repo)
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@e", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@e")
    cfg = os.path.join(repo, "config.toml")

    def git(*a):
        subprocess.run(["git", *a], cwd=repo, env=env, check=True, capture_output=True)
    git("init", "-q")
    for i, text in enumerate((CONFIG, rotated(CONFIG))):
        Path(cfg).write_text(text)
        git("add", "config.toml")
        git("commit", "-q", "-m", f"change {i}")
    for fmt in ("text", "json"):
        r = cli("history", cfg, "--format", fmt)
        assert_clean(r, allow=(0,))
        assert_hidden(r.text, f"history --format {fmt}")


def test_merge_and_fix_previews(world):
    r = cli("merge", world["a"], world["b"], "--dry-run")
    assert_clean(r, allow=(0,))
    assert "mcp_servers" in r.out
    assert_hidden(r.text, "merge --dry-run")
    for fmt in ("text", "json"):
        r = cli("fix", world["a"], "--dry-run", "--format", fmt)
        assert_clean(r, allow=(0, 1))
        assert_hidden(r.text, f"fix --dry-run --format {fmt}")


@pytest.mark.parametrize("fmt", FORMATS)
def test_mdm_read_every_format(world, fmt):
    plist = os.path.join(world["base"], "codex.plist")
    with open(plist, "wb") as fh:
        plistlib.dump({"config_toml_base64": base64.b64encode(CONFIG.encode()).decode()}, fh)
    r = cli("mdm", "read", plist, "--format", fmt)
    assert_clean(r, allow=(0, 1))
    assert "mcp_servers" in r.out
    assert_hidden(r.text, f"mdm read --format {fmt}")


def test_mdm_build_reports_findings_without_values(world):
    r = cli("mdm", "build", "--managed-config", world["a"], "-o", os.path.join(world["base"], "p.mobileconfig"))
    assert_clean(r, allow=(0, 1))
    assert_hidden(r.text, "mdm build")


def test_fleet_report_and_impact(world):
    fleet = os.path.join(world["base"], "fleet")
    os.makedirs(fleet)
    r = cli("effective", "--format", "json", *machine_args(world["m"]))
    Path(fleet, "host-a.json").write_text(r.out)
    # a document written by something else that did not redact: the report must not echo it
    leaky = json.loads(r.out)
    leaky.update(host="leaky", ok=False, errors=["failed: Authorization: Bearer abc123SECRET7 "
                                                 "and https://user:pw-SECRET8@example.com"])
    Path(fleet, "host-b.json").write_text(json.dumps(leaky))
    req = os.path.join(world["m"]["etc"], "requirements.toml")
    for fmt in ("text", "json", "csv"):
        r = cli("fleet", "report", fleet, "--format", fmt)
        assert_clean(r, allow=(0, 1))
        assert "leaky" in r.out
        assert_hidden(r.text, f"fleet report --format {fmt}")
        r = cli("fleet", "impact", fleet, "--requirements", req, "--format", fmt)
        assert_clean(r, allow=(0, 1))
        assert_hidden(r.text, f"fleet impact --format {fmt}")


def test_error_lines_hide_secrets(world):
    for args in (["effective", "-c", "mcp_servers.x.env.TOKEN:Bearer abc123SECRET7"],
                 ["validate", "https://user:pw-SECRET8@example.com/config.toml"],
                 ["diff", "/nonexistent/x.toml?token=s3cr3t-QRY-9", world["a"]],
                 ["mdm", "read", "https://user:pw-SECRET8@example.com/p.mobileconfig"]):
        r = cli(*args)
        assert_clean(r, allow=(2,))
        assert_hidden(r.text, " ".join(args[:1]) + " error")


# ----------------------------------------------------------------------------- the redaction rules

def test_which_keys_are_secret():
    for k in ("GITHUB_TOKEN", "api_key", "password", "db_passwd", "client_secret", "env",
              "http_headers", "bearer_token", "Authorization", "cookie"):
        assert is_secret_key(k), k
    for k in ("model", "command", "key", "approval_policy", "preferred_auth_method", "url"):
        assert not is_secret_key(k), k
    assert is_secret_path(("mcp_servers", "x", "env", "ANYTHING"))
    assert not is_secret_path(("rules", "prefix_rules", 0, "pattern", 0, "token"))


def test_redact_keeps_structure_booleans_and_prefix_rule_tokens():
    data = {"mcp_servers": {"x": {"command": "npx", "env": {"A": "1", "B": {"C": "2"}},
                                  "args": ["--token", "t", "--password=p", "-v"],
                                  "enabled": True, "startup_timeout_sec": 10}},
            "features": {"keyring": True},
            "rules": {"prefix_rules": [{"pattern": [{"token": "rm"}], "decision": "prompt"}]}}
    out = redact(data)
    x = out["mcp_servers"]["x"]
    assert x["env"] == {"A": REDACTED, "B": {"C": REDACTED}}
    assert x["args"] == ["--token", REDACTED, f"--password={REDACTED}", "-v"]
    assert x["command"] == "npx" and x["enabled"] is True and x["startup_timeout_sec"] == 10
    assert out["features"]["keyring"] is True
    assert out["rules"]["prefix_rules"][0]["pattern"][0]["token"] == "rm"
    assert redact_at(("mcp_servers", "x", "env"), {"A": "v"}) == {"A": REDACTED}
    assert redact_at(("mcp_servers", "x", "http_headers", "X"), "v") == REDACTED


def test_redact_text_shapes():
    text = ("Authorization: Bearer abcd1234efgh key sk-abcdefghijklmnopqrstu ghp_" + "a" * 36 +
            " https://u:pass@h/p?x=1&token=zz AKIAABCDEFGHIJKLMNOP API_KEY=v1 \"password\": \"v2\"")
    out = redact_text(text)
    for s in ("abcd1234efgh", "sk-abcdef", "ghp_aaaa", ":pass@", "token=zz", "AKIAABCD", "v1", "v2"):
        assert s not in out, s
    for s in ("the bearer token is read from the environment", "basic sandbox settings",
              "Token budget exceeded", '{ token = "rm" }', "/home/u/.codex/config.toml:3:1"):
        assert redact_text(s) == s  # ordinary text is left alone


def test_redact_toml_text_keeps_layout_and_hides_values_even_in_broken_toml():
    out = redact_toml_text(CONFIG)
    assert_hidden(out, "redact_toml_text")
    assert out.count("\n") == CONFIG.count("\n")
    assert 'command = "npx"' in out and "[mcp_servers.docs]" in out
    broken = CONFIG.replace("[shell_environment_policy.set]", "[shell_environment_policy.set") + "x = = 1\n"
    assert_hidden(redact_toml_text(broken), "redact_toml_text (broken)")
    multi = 'bearer_token = """\nline one\nline two\n"""\nmodel = "m"\n'
    assert redact_toml_text(multi) == f'bearer_token = "{REDACTED}"\nmodel = "m"\n'


@pytest.mark.codex
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_crosscheck_hides_secrets_codex_quotes(world, fmt):
    """Codex's own error quotes the value (``invalid type: integer `86753091` ...``)."""
    from mdmtool import CODEX_VERSION, codex_driver
    if not codex_driver.find_codex(version=CODEX_VERSION) or codex_driver.bwrap_problem():
        pytest.skip(f"needs Codex {CODEX_VERSION} and bubblewrap")
    r = cli("crosscheck", "--no-web-probe", "--format", fmt, *machine_args(world["m"]))
    assert_clean(r, allow=(0, 1))
    assert "mcp_servers" in r.text or "error" in r.text
    assert_hidden(r.text, f"crosscheck --format {fmt}")
