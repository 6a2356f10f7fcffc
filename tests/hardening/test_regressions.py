"""The smallest reproducers of what the fuzzers found (tests/hardening/test_fuzz.py and
benchmarks/fuzz.py), each once an internal error (exit 3) or a leaked secret."""

from __future__ import annotations

import base64
import json
import os
import plistlib
from pathlib import Path

import pytest

from mdmtool.redact import redact_toml_text
from tests.hardening.harness import assert_clean, cli, machine, machine_args, rm, scratch


@pytest.fixture
def base():
    d = scratch()
    yield d
    rm(d)


def test_non_utf8_config_in_effective_and_explain(base):
    """The plain-language explanation re-read the file as strict UTF-8."""
    m = machine(base)
    Path(m["home"], "config.toml").write_bytes(b'\x80model = "m"\n')
    for args in (["effective"], ["explain", "sandbox_mode"]):
        r = cli(*args, *machine_args(m))
        assert_clean(r, allow=(1,))
        assert "config.toml:1:1" in r.out and "UTF-8" in r.out


@pytest.mark.parametrize("data", [
    b'<?xml version="1.0"?>\n<plist version="1.0"><dict><key>a</key>\x00</dict></plist>',  # Expat
    b'<?xml version="1.0" encoding="UF-8"?><plist version="1.0"><dict/></plist>',  # LookupError
    b"bplist00" + b"\xaf" * 64,  # a binary plist pointing nowhere
])
def test_malformed_plists_are_input_errors(base, data):
    path = os.path.join(base, "p.mobileconfig")
    Path(path).write_bytes(data)
    r = cli("mdm", "read", path)
    assert_clean(r, allow=(2,), names=(path,))
    m = machine(os.path.join(base, "m"))
    r = cli("effective", *machine_args(m), "--mdm-plist", path)
    assert_clean(r, allow=(2,), names=(path,))


@pytest.mark.parametrize("old,new", [
    # a filesystem entry whose value is a table, not an access level
    ('[permissions.p.filesystem]\n"/a" = "read"\n',
     '[permissions.p.filesystem]\n"/a" = "read"\n"/b" = { x = 1 }\n'),
    # an allow-list holding a table
    ('allowed_sandbox_modes = ["read-only"]\n', 'allowed_sandbox_modes = [{ a = 1 }, "read-only"]\n'),
    ('', 'allowed_approval_policies = [["never"], "on-request"]\n'),
])
def test_posture_diff_of_values_of_the_wrong_shape(base, old, new):
    a, b = os.path.join(base, "a.requirements.toml"), os.path.join(base, "b.requirements.toml")
    Path(a).write_text(old)
    Path(b).write_text(new)
    for fmt in ("text", "json", "github"):
        r = cli("diff", a, b, "--format", fmt)
        assert_clean(r, allow=(0,))
        assert "allowed_" in r.out or "permissions.p.filesystem" in r.out


def test_toml_dates_and_times_in_the_effective_document(base):
    m = machine(base, user='model = 1979-05-27T07:32:00Z\n[features]\nx = 07:32:00\n',
                requirements="enforce_residency = 1979-05-27\n")
    r = cli("effective", "--format", "json", *machine_args(m))
    assert_clean(r, allow=(0, 1))
    doc = json.loads(r.out)
    user = next(layer for layer in doc["layers"] if layer["kind"] == "user")
    assert user["config"]["model"] == "1979-05-27T07:32:00+00:00"
    assert_clean(cli("effective", "--format", "jsonl", *machine_args(m)), allow=(0, 1))


def test_a_secret_inside_broken_toml_is_still_hidden():
    """The scanner read ``env = {...}`` as one bare array element and vouched for it."""
    text = '[rules]\nprefix_rules = [\n\nenv = { A = """s3cr3t-X""" }\n  { pattern = [] },\n]\n'
    assert "s3cr3t-X" not in redact_toml_text(text)
    text = 'x = [\napi_key = "s3cr3t-Y"\n, 1]\n'
    assert "s3cr3t-Y" not in redact_toml_text(text)


def _deep_bplist(depth: int) -> bytes:
    """A binary plist of ``depth`` nested one-element arrays (plistlib cannot write one)."""
    objects = [b"\xa1" + (i + 1).to_bytes(2, "big") for i in range(depth)] + [b"\x51x"]
    body, offsets = b"", []
    for obj in objects:
        offsets.append(8 + len(body))
        body += obj
    table = b"".join(o.to_bytes(4, "big") for o in offsets)
    trailer = (b"\0" * 6 + bytes([4, 2]) + len(objects).to_bytes(8, "big") + (0).to_bytes(8, "big")
               + (8 + len(body)).to_bytes(8, "big"))
    return b"bplist00" + body + table + trailer


def test_a_deeply_nested_binary_plist_is_a_bad_file_not_a_crash(base):
    """plistlib's binary reader recurses once per level: RecursionError means a bad file."""
    path = os.path.join(base, "deep.plist")
    Path(path).write_bytes(_deep_bplist(5000))
    r = cli("mdm", "read", path)
    assert_clean(r, allow=(2,), names=(path,))
    assert plistlib.loads(_deep_bplist(3)) == [[["x"]]]  # the builder makes real plists


def test_redaction_takes_linear_time_on_pathological_text():
    """A backtracking regex took 16 s on a 5,000-character key; the span scanner took
    100 s on a 33,000-part dotted key. A subprocess timeout is the hang guard."""
    import subprocess
    import sys
    from tests.hardening.harness import ROOT
    code = """
from mdmtool.redact import redact_text, redact_toml_text
for v in ["k" * 200000, "token" * 40000, " " * 200000 + "=", "x_token_y = " * 20000,
          "[" + " " * 100000, "a.b" * 33333 + " = 'x'\\napi_key = 's3cr3t'\\n",
          "x = {" + "a." * 50000 + "a = 1}\\n", 'password = "' + "\\\\x" * 100000]:
    assert "s3cr3t" not in redact_toml_text(v)
    redact_text(v)
print("ok")
"""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert p.stdout.strip() == "ok", p.stderr[-2000:]


def test_files_a_config_points_at_are_read_with_bounds(base):
    """model_catalog_json = "/dev/zero" ran out of memory; a 100,000-deep JSON catalog
    ended in RecursionError; a .git file that is not UTF-8 (linked worktree lookup)."""
    from tests.hardening.harness import sub
    m = machine(base)
    cfg = os.path.join(m["home"], "config.toml")
    Path(cfg).write_text('model_catalog_json = "/dev/zero"\n')
    r = sub("effective", *machine_args(m), timeout=120, prefix=["prlimit", "--as=3000000000"])
    assert_clean(r, allow=(2,), names=("/dev/zero",))
    deep = os.path.join(base, "deep.json")
    Path(deep).write_text("[" * 100_000 + "]" * 100_000)
    Path(cfg).write_text(f'model_catalog_json = "{deep}"\n')
    r = cli("effective", "--format", "json", *machine_args(m))
    assert_clean(r, allow=(1,))
    assert any("recursion limit" in e for e in json.loads(r.out)["errors"])
    Path(cfg).write_text("")
    rm(os.path.join(m["proj"], ".git"))
    Path(m["proj"], ".git").write_bytes(b"gitdir: \xff\xfe\n")
    assert_clean(cli("effective", *machine_args(m)), allow=(0, 1))
