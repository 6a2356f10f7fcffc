"""Property tests: random and mutated TOML, plists, base64 payloads and command lines
fed to every command. Whatever the input: a documented exit code, never a traceback or
exit 3; bad TOML is exit 2 naming file:line:col; a failing write command writes nothing.

The long run (100,000+ inputs on the core functions) is ``benchmarks/fuzz.py``.
"""

from __future__ import annotations

import json
import os
import random
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mdmtool.errors import MdmError
from mdmtool.mdm import MdmPayloadError, decode_value
from mdmtool.redact import redact_toml_text
from mdmtool.tomlio import TomlSyntaxError, Unsupported, nesting_depth, parse_override, parse_toml
from tests.hardening import mutate
from tests.hardening.harness import assert_clean, cli, corpus, machine, machine_args, rm, scratch, snapshot

CORPUS = corpus()
FAST = settings(max_examples=300, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
CLI = settings(max_examples=60, deadline=None, database=None,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                      HealthCheck.function_scoped_fixture])

ops = st.lists(st.tuples(st.sampled_from(mutate.OPS), st.floats(0, 0.999), st.integers(0, 1 << 16),
                         st.integers(0, 63)), min_size=1, max_size=4)
seeds = st.integers(0, 2**32 - 1)


@st.composite
def mutated(draw) -> bytes:
    """A fixture file (config, requirements, ...) with a few hostile edits, as bytes."""
    if draw(st.booleans()):
        base = draw(st.sampled_from(CORPUS)).encode()
    else:
        base = mutate.dump_toml(mutate.random_doc(random.Random(draw(seeds)),
                                                  draw(st.sampled_from(["config", "requirements"])))).encode()
    return mutate.apply_ops(base, draw(ops))


def tomllib_verdict(raw: bytes):
    """What the standard reader says: ('ok', data) / ('syntax', has_position) / ('bytes', None)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "bytes", None
    try:
        return "ok", tomllib.loads(text.removeprefix("\ufeff"))
    except tomllib.TOMLDecodeError as exc:
        return "syntax", "(at line" in str(exc) or "end of document" in str(exc)
    except RecursionError:
        return "deep", None


@pytest.fixture(scope="module")
def work():
    d = scratch("mdmtool-fuzz-")
    yield d
    rm(d)


# ----------------------------------------------------------------------------- the reader itself

@FAST
@given(mutated())
@example(b"[" + b".".join([b"a"] * 100_000) + b"]\n")
@example(b"a = " + b"[" * 5000 + b"]" * 5000)
@example(b"\xef\xbb\xbfa = 1\r\nb = 'x'\r\n")
def test_parse_toml_agrees_with_tomllib_or_names_codex_limits(raw):
    verdict, data = tomllib_verdict(raw)
    if verdict == "bytes":
        return  # read_text's job (tested below through the CLI)
    text = raw.decode("utf-8")
    try:
        mine = parse_toml(text, "f.toml")
    except TomlSyntaxError as exc:
        assert exc.file == "f.toml"
        limit = "recursion limit" in exc.message or "cannot recurse" in exc.message
        if verdict == "ok":  # refused only for a Codex limit tomllib does not have
            assert limit, exc.message
        else:
            assert limit or exc.line is not None or "nesting is too deep" in exc.message
        return
    except Unsupported:
        assert verdict == "ok" and nesting_depth(data) > 80
        return
    # accepted: what tomllib read (or the TOML 1.1 folded form of it)
    assert verdict in ("ok", "syntax")
    if verdict == "ok":
        assert mine == data


@FAST
@given(st.text(max_size=300), st.text(max_size=40).filter(lambda k: "=" not in k))
def test_parse_override_never_crashes(raw, key):
    try:
        parts, _value = parse_override(f"{key}={raw}")
    except MdmError:
        return
    assert parts == key.strip().split(".")


@FAST
@given(mutated(), st.integers(0, 2**32 - 1))
def test_redacted_toml_text_never_shows_a_planted_secret(raw, seed):
    secret = f"PLANTED-{seed:x}-s3cr3t"
    text = raw.decode("utf-8", "replace")
    planted = f'{text}\n[mcp_servers.z.env]\nAPI_TOKEN = "{secret}"\n[x]\napi_key = "{secret}"\n'
    assert secret not in redact_toml_text(planted)


@FAST
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200), st.integers(), st.none(),
                 st.lists(st.text(max_size=5), max_size=3)))
def test_base64_payload_values_decode_or_fail_like_codex(value):
    try:
        out = decode_value(value, "config_toml_base64", "p.plist")
    except MdmPayloadError as exc:
        assert exc.file == "p.plist" or (exc.file or "").startswith("p.plist")
        return
    assert out is None or isinstance(out, str)


# ----------------------------------------------------------------------------- every command

def _write(work: str, name: str, raw: bytes) -> str:
    path = os.path.join(work, name)
    Path(path).write_bytes(raw)
    return path


@CLI
@given(mutated(), st.sampled_from(["text", "json", "sarif", "junit", "github"]),
       st.sampled_from(["config.toml", "requirements.toml", "managed_config.toml", "x.toml"]))
def test_validate_and_lint(work, raw, fmt, name):
    path = _write(work, name, raw)
    verdict, _ = tomllib_verdict(raw)
    r = cli("validate", path, "--format", fmt)
    bad = verdict in ("bytes", "syntax")
    assert_clean(r, allow=(2,) if bad else (0, 1, 2), names=(path,), position=bad and fmt == "text")
    r = cli("lint", "--no-progress", "-j", "1", path, "--format", fmt)
    assert_clean(r, names=(path,))
    if fmt in ("json", "sarif"):
        json.loads(r.out)


@CLI
@given(mutated(), st.sampled_from(["requirements", "user", "project", "managed", "system"]),
       st.sampled_from(["text", "json", "jsonl"]))
def test_effective_and_explain_on_a_hostile_layer(work, raw, layer, fmt):
    base = scratch("mdmtool-fuzz-m-")
    try:
        m = machine(base)
        target = {"requirements": os.path.join(m["etc"], "requirements.toml"),
                  "system": os.path.join(m["etc"], "config.toml"),
                  "managed": os.path.join(m["etc"], "managed_config.toml"),
                  "user": os.path.join(m["home"], "config.toml"),
                  "project": os.path.join(m["proj"], ".codex", "config.toml")}[layer]
        Path(target).write_bytes(raw)
        r = cli("effective", "--format", fmt, *machine_args(m))
        assert_clean(r, names=(target,))
        if fmt == "json" and r.code in (0, 1):
            doc = json.loads(r.out)
            assert doc["ok"] == (r.code == 0)
        assert_clean(cli("explain", "sandbox_mode", *machine_args(m)), names=(target,))
    finally:
        rm(base)


@CLI
@given(mutated(), mutated(), st.sampled_from(["text", "json", "github"]))
def test_diff(work, a_raw, b_raw, fmt):
    a = _write(work, "a.config.toml", a_raw)
    b = _write(work, "b.config.toml", b_raw)
    r = cli("diff", a, b, "--format", fmt, "--fail-on", "widening")
    assert_clean(r, names=(a, b))


@CLI
@given(mutated(), st.sampled_from(CORPUS), st.sampled_from(["merge", "merge-base", "fix", "mdm-build"]))
def test_write_commands_write_nothing_on_error(work, raw, other, cmd):
    d = scratch("mdmtool-fuzz-w-")
    try:
        hostile = _write(d, "config.toml", raw)
        good = _write(d, "other.config.toml", other.encode())
        out = os.path.join(d, "out.toml")
        Path(out).write_text("# untouched\n")
        args = {"merge": ["merge", good, hostile, "-o", out],
                "merge-base": ["merge", hostile, good, "-o", out],
                "fix": ["fix", hostile, "--no-lint"],
                "mdm-build": ["mdm", "build", "--managed-config", hostile, "-o", out]}[cmd]
        before = snapshot(d)
        r = cli(*args)
        assert_clean(r, names=(hostile, good))
        if r.code != 0 or cmd == "mdm-build" and r.code:
            assert snapshot(d) == before, f"{cmd} exited {r.code} but changed files"
        elif cmd in ("merge", "merge-base", "fix"):
            written = out if cmd != "fix" else hostile
            parse_toml(Path(written).read_text(encoding="utf-8"), written)  # valid TOML written
        assert not [f for f in os.listdir(d) if f.startswith(".mdmtool-")]
    finally:
        rm(d)


@CLI
@given(seeds, st.sampled_from(["text", "json", "sarif", "junit", "github"]), ops, st.booleans())
def test_mdm_read_on_hostile_plists(work, seed, fmt, byte_ops, mangle):
    rng = random.Random(seed)
    data = mutate.random_plist(rng, CORPUS[:50] + ["", "x = \n", "a = " + "[" * 90])
    if mangle:
        data = mutate.apply_ops(data, byte_ops)
    path = _write(work, "p.mobileconfig", data)
    extract = os.path.join(work, f"extract-{seed}")
    r = cli("mdm", "read", path, "--format", fmt, "--extract", extract)
    assert_clean(r, names=(path,))
    if r.code == 2:
        assert not os.path.exists(extract) or not os.listdir(extract)
    rm(extract)


@CLI
@given(st.lists(st.one_of(st.sampled_from(CORPUS[:3]).map(lambda _: None), st.binary(max_size=300)),
                min_size=1, max_size=4), seeds)
def test_fleet_report_and_impact_on_hostile_documents(work, blobs, seed):
    d = scratch("mdmtool-fuzz-f-")
    try:
        good = cli("effective", "--format", "json", *machine_args(machine(os.path.join(d, "m")))).out
        rng = random.Random(seed)
        for i, blob in enumerate(blobs):
            raw = mutate.apply_ops(good.encode(), mutate.random_ops(rng)) if blob is None else blob
            _write(d, f"host{i}.json", raw)
        Path(d, "hosts.jsonl").write_bytes(b"\n".join(b if b else b"{" for b in blobs if b is not None))
        req = _write(d, "requirements.toml", rng.choice(CORPUS).encode())
        for fmt in ("text", "json", "csv"):
            assert_clean(cli("fleet", "report", d, "--format", fmt))
            assert_clean(cli("fleet", "impact", d, "--requirements", req, "--format", fmt))
        assert_clean(cli("fleet", "summary", os.path.join(d, "host0.json")))
    finally:
        rm(d)


# ----------------------------------------------------------------------------- command lines

WORDS = ["", "-", "--", " ", "x" * 5000, "é", "/", "/dev/null", "/nonexistent/x.toml", ".",
         "..", "-c", "--format", "json", "text", "sarif", "git:HEAD:x", "git:", "a=b", "=",
         "never", "strict", "0", "-1", "99999999999999999999", "~/x", "\u2028", "--help"]
COMMANDS = {
    "validate": ["--kind", "--format", "--strict"],
    "effective": ["--system-dir", "--codex-home", "--cwd", "-p", "-c", "-s", "-a", "--yolo",
                  "--full-auto", "--add-dir", "--search", "--enable", "--disable", "--mdm-plist",
                  "--cloud-requirements", "--exec", "--format"],
    "explain": ["--system-dir", "--codex-home", "--cwd", "-c", "-s", "-a", "--format"],
    "lint": ["--requirements", "--format", "--output", "-j", "--no-progress", "--system-dir"],
    "diff": ["--kind", "--format", "--fail-on", "--git", "--effective", "--vary", "--changes-only"],
    "history": ["--kind", "--format", "--max-count", "--rev", "--changes-only"],
    "merge": ["-o", "--dry-run", "--backup", "--kind"],
    "fix": ["--requirements", "--prefer", "--dry-run", "--backup", "--no-lint", "--kind", "--format"],
    "init": ["--posture", "-o", "--force"],
    "mdm build": ["-o", "--requirements", "--managed-config", "--display-name", "--identifier",
                  "--uuid", "--payload-uuid", "--organization", "--description"],
    "mdm read": ["--format", "--extract", "--force"],
    "mdm jamf-ea": ["--keep"],
    "fleet report": ["--format", "--csv"],
    "fleet impact": ["--requirements", "--channel", "--format", "--csv", "--fail-on"],
    "fleet summary": [],
    "doctor": ["--format"],
    "prove": ["--format", "--backend"],
}


@CLI
@given(st.sampled_from(sorted(COMMANDS)), st.data())
def test_random_command_lines(work, command, data):
    """Any argument list: usage errors are exit 2 with a message, never a traceback.
    (prove and doctor only get arguments that stop before a sandbox is started.)"""
    files = [os.path.join(work, "f.config.toml"), work, os.path.join(work, "missing.toml")]
    Path(files[0]).write_text(data.draw(st.sampled_from(CORPUS)))
    words = WORDS + files
    args = command.split()
    for _ in range(data.draw(st.integers(0, 6))):
        if data.draw(st.booleans()):
            args.append(data.draw(st.sampled_from(COMMANDS[command] or ["--help"])))
        args.append(data.draw(st.sampled_from(words)))
    if command == "prove":
        args += ["--backend", "bogus"]
    if command == "doctor":
        args += ["--no-smoke", "--format", "bogus"]
    if command in ("init", "mdm build", "fleet report", "fleet impact", "mdm read"):
        args = [a if a not in ("/", ".", "..", "/dev/null") else os.path.join(work, "out") for a in args]
    r = cli(*args)
    assert_clean(r)


SUBPROCESS = settings(max_examples=12, deadline=None, database=None,
                      suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                             HealthCheck.function_scoped_fixture])


@SUBPROCESS
@given(mutated(), seeds)
def test_a_smaller_sample_as_real_processes(work, raw, seed):
    """As users run it: the console entry point (only the invoked command is built),
    real stdout/stderr encodings, exit codes from the process."""
    from tests.hardening.harness import sub
    d = scratch("mdmtool-fuzz-p-")
    try:
        m = machine(d)
        target = os.path.join(m["home"], "config.toml")
        Path(target).write_bytes(raw)
        verdict, _ = tomllib_verdict(raw)
        bad = verdict in ("bytes", "syntax")
        r = sub("validate", target, timeout=120)
        assert_clean(r, allow=(2,) if bad else (0, 1, 2), names=(target,), position=bad)
        assert_clean(sub("effective", *machine_args(m), timeout=120), names=(target,))
        plist = _write(d, "p.plist", mutate.random_plist(random.Random(seed), [raw.decode("utf-8", "replace")]))
        assert_clean(sub("mdm", "read", plist, timeout=120), names=(plist,))
    finally:
        rm(d)
