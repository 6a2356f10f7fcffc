"""Hostile files: huge, deeply nested, long keys, bad bytes, BOM, CRLF, duplicate keys,
symlink loops, FIFOs, unreadable files and directories.

Each gives a clear answer in bounded time (a subprocess timeout guards every run that
could hang or crawl), and mdmtool fails closed where Codex does: a requirements or config
file that exists but cannot be read is a fatal error of the effective policy, never
skipped. What Codex 0.169.0 does with each was observed with the real binary; the live
comparison is tests/hardening/test_codex_hostile.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mdmtool.errors import MdmError
from mdmtool.tomlio import (MAX_DEPTH, MAX_TOML_BYTES, TomlSyntaxError, TooDeep, nesting_depth,
                            parse_override, parse_toml, read_toml_if_exists)
from tests.hardening.harness import (DROP_DAC, assert_clean, can_drop_dac, cli, machine,
                                     machine_args, rm, scratch, snapshot, sub)


@pytest.fixture
def base():
    d = scratch()
    yield d
    rm(d)


def dotted(n: int, part: str = "a") -> str:
    return ".".join([part] * n)


# ----------------------------------------------------------------------------- Codex's limits

@pytest.mark.parametrize("text,line,col", [
    (dotted(81) + " = 1\n", 1, 1),                                  # a key of 81 parts
    ("x = 1\n  [ " + dotted(81) + "]\ny = 1\n", 2, 3),              # a header: its bracket
    ("[[" + dotted(81) + "]]\n", 1, 1),                             # an array-of-tables header
    ('t = {' + dotted(81) + ' = 1}\n', 1, 6),                       # inside an inline table
    (".".join(['"q\\""'] * 81) + " = 1\n", 1, 1),                  # quoted parts with escapes
])
def test_keys_of_more_than_80_parts_are_refused_like_codex(text, line, col):
    with pytest.raises(TomlSyntaxError) as exc:
        parse_toml(text, "c.toml")
    assert "recursion limit" in exc.value.message
    assert (exc.value.file, exc.value.line, exc.value.col) == ("c.toml", line, col)


@pytest.mark.parametrize("text,col", [
    ("a = " + "[" * 81 + "]" * 81 + "\n", 85),
    ("a = " + "{b = " * 81 + "1" + "}" * 81 + "\n", 405),
    ("a = " + "[" * 100_000 + "]" * 100_000 + "\n", 85),  # past Python's recursion limit too
    ("a = [" + "{b = [" * 40 + "1" + "]}" * 40 + "]\n", 5 + 6 * 40),  # mixed: the 81st opener
])
def test_nesting_deeper_than_80_is_refused_like_codex(text, col):
    with pytest.raises(TomlSyntaxError) as exc:
        parse_toml(text, "c.toml")
    assert "cannot recurse further" in exc.value.message
    assert (exc.value.line, exc.value.col) == (1, col)


def test_what_codex_accepts_at_its_limits_parses():
    assert nesting_depth(parse_toml(dotted(80) + " = 1\n", "c")) == 80
    assert nesting_depth(parse_toml("[" + dotted(80) + "]\nx = 1\n", "c")) == 81
    assert nesting_depth(parse_toml("a = " + "[" * 80 + "]" * 80 + "\n", "c")) == 81
    text = "[" + dotted(40) + "]\nx = " + "[" * 80 + "]" * 80 + "\n"  # per-key, per-value limits
    assert nesting_depth(parse_toml(text, "c")) == 121
    assert parse_toml('x = "' + dotted(500) + '"\n', "c")["x"] == dotted(500)  # dots in a string


def test_a_100000_part_key_is_refused_without_tomllibs_quadratic_path():
    text = "[" + dotted(100_000) + "]\nx = 1\n"  # tomllib alone: about two minutes
    r = sub("validate", "--kind", "config", "/dev/stdin", stdin=text, timeout=60)
    assert_clean(r, allow=(2,), names=("/dev/stdin",), position=True)
    assert "recursion limit" in r.out


def test_depth_mdmtool_cannot_follow_is_an_input_error_not_a_codex_refusal(base):
    deep = "[" + dotted(80) + "]\n" + dotted(80, "b") + " = " + "[" * 41 + "]" * 41 + "\n"
    with pytest.raises(TooDeep):
        parse_toml(deep, "c")
    m = machine(base, user=deep)
    r = cli("effective", *machine_args(m))
    assert_clean(r, allow=(2,), names=("config.toml",))
    assert "Codex would accept" in r.err and "refuse" not in r.text
    path = os.path.join(base, "deep.config.toml")
    Path(path).write_text(deep)
    r = cli("validate", path)
    assert_clean(r, allow=(2,), names=(path,))
    with pytest.raises(TooDeep):
        parse_override(dotted(MAX_DEPTH + 1) + "=1")


def test_every_command_handles_the_deepest_data_it_accepts(base):
    """Depth MAX_DEPTH (80-part header, 80-part key, 40-deep arrays): no RecursionError in
    the resolver, schema check, diff (deepdiff), merge / fix (tomlkit), MDM or fleet."""
    def deep(leaf: str) -> str:
        return "[" + dotted(80) + "]\n" + dotted(80, "b") + " = " + "[" * 40 + leaf + "]" * 40 + "\n"
    assert nesting_depth(parse_toml(deep("1"), "c")) == MAX_DEPTH
    m = machine(base, requirements='allowed_approval_policies = ["never"]\n' + deep("1"),
                user='approval_policy = "never"\n' + deep("1"), project=deep("2"))
    a, b = os.path.join(base, "a.config.toml"), os.path.join(base, "b.config.toml")
    Path(a).write_text(deep("1"))
    Path(b).write_text(deep("2"))
    req = os.path.join(m["etc"], "requirements.toml")
    prof = os.path.join(base, "p.mobileconfig")
    runs = [
        cli("validate", a, req),
        cli("lint", "--no-progress", "-j", "1", a),
        cli("lint", "--no-progress", "-j", "1", "--format", "sarif", base),
        cli("effective", "--format", "json", *machine_args(m)),
        cli("explain", "a", *machine_args(m)),
        cli("diff", a, b, "--format", "json"),
        cli("merge", a, b),
        cli("fix", "--dry-run", a),
        cli("mdm", "build", "--requirements", req, "--managed-config", a, "-o", prof),
    ]
    for r in runs:
        assert_clean(r, allow=(0, 1))
    assert_clean(cli("mdm", "read", prof, "--format", "json"), allow=(0, 1))
    doc = os.path.join(base, "host.json")
    Path(doc).write_text(cli("effective", "--format", "json", *machine_args(m)).out)
    assert_clean(cli("fleet", "report", doc), allow=(0, 1))
    assert_clean(cli("fleet", "impact", doc, "--requirements", req), allow=(0, 1))


# ----------------------------------------------------------------------------- size

def test_a_50_mb_toml_file_is_refused_quickly_and_is_not_a_codex_refusal(base):
    big = os.path.join(base, "config.toml")
    line = 'key_{} = "a value of some length, repeated to make a big file"\n'
    with open(big, "w") as fh:
        n = 0
        while fh.tell() < 50 * 1024 * 1024:
            fh.write("".join(line.format(n + i) for i in range(10_000)))
            n += 10_000
    r = sub("validate", big, timeout=60)
    assert_clean(r, allow=(2,), names=(big,))
    assert f"larger than {MAX_TOML_BYTES // (1024 * 1024)} MiB" in r.out
    m = machine(os.path.join(base, "m"))
    os.replace(big, os.path.join(m["home"], "config.toml"))
    r = sub("effective", *machine_args(m), timeout=60)  # mdmtool's limit, not Codex's
    assert_clean(r, allow=(2,), names=("config.toml",))
    assert "refuse" not in r.text
    r = sub("mdm", "read", "/dev/zero", timeout=60)  # endless input
    assert_clean(r, allow=(2,), names=("/dev/zero",))
    r = sub("validate", "/dev/zero", timeout=60)
    assert_clean(r, allow=(2,), names=("/dev/zero",))


def test_many_long_dotted_keys_are_refused_before_tomllib_spends_minutes(base):
    """43,000 keys of 80 parts under an 80-part header (7 MB, valid for Codex): tomllib
    alone needs about four minutes; mdmtool answers at once."""
    path = os.path.join(base, "c.config.toml")
    with open(path, "w") as fh:
        fh.write("[" + dotted(80) + "]\n")
        for i in range(43_000):
            fh.write(".".join([f"b{i}"] + ["b"] * 79) + " = 1\n")
    r = sub("validate", path, timeout=60)
    assert_clean(r, allow=(2,), names=(path,))
    assert "too many long dotted keys" in r.out
    Path(path).write_text("".join(f'[projects."/home/u/p{i}.d"]\ntrust_level = "trusted"\n'
                                  for i in range(20_000)))  # a big real-looking file is read
    assert_clean(sub("validate", "--format", "json", path, timeout=120), allow=(0, 1))


def test_very_long_keys_and_values(base):
    key = "k" * 3_000_000
    path = os.path.join(base, "long.config.toml")
    Path(path).write_text(f'{key} = "{"v" * 3_000_000}"\nmodel = "m"\n')
    r = sub("validate", "--format", "json", path, timeout=120)
    assert_clean(r, allow=(0,))
    doc = json.loads(r.out)
    assert [f["rule"] for f in doc["findings"]] == ["MDM003"]  # an unknown key, reported
    assert len(r.out) < 20_000  # messages never repeat a 3 MB key in full


# ----------------------------------------------------------------------------- bytes

def test_non_utf8_bytes_name_file_line_and_col_everywhere(base):
    path = os.path.join(base, "bad.config.toml")
    Path(path).write_bytes(b'model = "m"\napproval_policy = "ne\xffver"\n')
    for r in (cli("validate", path), cli("lint", "--no-progress", "-j", "1", path),
              cli("diff", path, path), cli("merge", path, path), cli("fix", path)):
        assert_clean(r, allow=(2,), names=(path,), position=True)
        assert ":2:" in r.text
    m = machine(os.path.join(base, "m"))
    Path(m["etc"], "requirements.toml").write_bytes(b'allowed_sandbox_modes = ["read-only"] # \xff\n')
    r = cli("effective", *machine_args(m))  # Codex: fatal "invalid utf-8 sequence"
    assert_clean(r, allow=(1,))
    assert "requirements.toml" in r.out and "UTF-8" in r.out


def test_bom_and_crlf_are_read_like_codex(base):
    m = machine(base, requirements='\ufeffallowed_approval_policies = ["never"]\r\n',
                user='approval_policy = "never"\r\n')
    r = cli("effective", "--format", "json", *machine_args(m))
    assert_clean(r, allow=(0,))
    doc = json.loads(r.out)
    assert doc["ok"] and doc["approval_policy"] == "never"
    Path(m["home"], "config.toml").write_bytes(b'\xef\xbb\xbfmodel = "m"\r\nweb_search = "live"\r\n')
    assert_clean(cli("validate", os.path.join(m["home"], "config.toml")), allow=(0,))


def test_duplicate_keys_are_a_syntax_error_on_the_second_line(base):
    path = os.path.join(base, "dup.config.toml")
    Path(path).write_text('model = "a"\nmodel = "b"\n')
    r = cli("validate", path)
    assert_clean(r, allow=(2,), names=(path,), position=True)
    assert f"{path}:2:" in r.out
    m = machine(os.path.join(base, "m"), user='model = "a"\nmodel = "b"\n')
    r = cli("effective", *machine_args(m))  # Codex: "duplicate key" at 2:1, refuses to start
    assert_clean(r, allow=(1,))
    assert "config.toml:2:" in r.out


# ----------------------------------------------------------------------------- the file system

def test_dangling_symlinks_count_as_absent_like_codex(base):
    m = machine(base)
    os.symlink("nowhere.toml", os.path.join(m["etc"], "requirements.toml"))
    os.symlink("nowhere.toml", os.path.join(m["etc"], "config.toml"))
    os.unlink(os.path.join(m["home"], "config.toml"))
    os.symlink("nowhere.toml", os.path.join(m["home"], "config.toml"))
    os.symlink("nowhere.toml", os.path.join(m["proj"], ".codex", "config.toml"))
    assert read_toml_if_exists(os.path.join(m["etc"], "requirements.toml")) is None
    r = cli("effective", "--format", "json", *machine_args(m))
    assert_clean(r, allow=(0,))
    assert json.loads(r.out)["ok"] is True


@pytest.mark.parametrize("what", ["loop", "directory", "fifo"])
def test_a_requirements_file_that_cannot_be_read_is_fatal_not_skipped(base, what):
    """Codex: "Symbolic link loop (os error 40)", "path ... is not a file": it refuses to
    start. A FIFO must not hang either tool's reader: mdmtool refuses it at once."""
    m = machine(base)
    req = os.path.join(m["etc"], "requirements.toml")
    {"loop": lambda: os.symlink("requirements.toml", req), "directory": lambda: os.mkdir(req),
     "fifo": lambda: os.mkfifo(req)}[what]()
    r = sub("effective", "--format", "json", *machine_args(m), timeout=60)
    assert_clean(r, allow=(1,))
    doc = json.loads(r.out)
    assert doc["ok"] is False and any("requirements.toml" in e for e in doc["errors"])


@pytest.mark.parametrize("where", ["system", "user", "managed", "project"])
def test_config_layers_that_are_not_files_are_fatal(base, where):
    m = machine(base, trusted=False)
    path = {"system": os.path.join(m["etc"], "config.toml"),
            "user": os.path.join(m["home"], "config.toml"),
            "managed": os.path.join(m["etc"], "managed_config.toml"),
            "project": os.path.join(m["proj"], ".codex", "config.toml")}[where]
    if os.path.exists(path):
        os.unlink(path)
    os.mkdir(path)  # Codex: "path `...` is not a file", even for an untrusted project
    r = cli("effective", "--format", "json", *machine_args(m))
    assert_clean(r, allow=(1,))
    assert any(path in e for e in json.loads(r.out)["errors"])


def test_symlink_loops_in_project_discovery_are_skipped_like_codex(base):
    m = machine(base)
    rm(os.path.join(m["proj"], ".codex"))
    os.symlink(".codex", os.path.join(m["proj"], ".codex"))  # .codex -> itself
    sub_dir = os.path.join(m["proj"], "src")
    os.makedirs(sub_dir)
    os.symlink("loop", os.path.join(sub_dir, "loop"))
    os.symlink("../src", os.path.join(sub_dir, ".git"))  # a marker that is a symlink cycle
    r = sub("effective", "--format", "json", "--system-dir", m["etc"], "--codex-home", m["home"],
            "--cwd", sub_dir, timeout=60)
    assert_clean(r, allow=(0,))
    assert json.loads(r.out)["ok"] is True


def test_system_dir_that_is_a_file_is_fatal(base):
    f = os.path.join(base, "codex")
    Path(f).write_text("not a directory\n")  # Codex: "Not a directory (os error 20)"
    m = machine(os.path.join(base, "m"))
    r = cli("effective", "--format", "json", "--system-dir", f, "--codex-home", m["home"],
            "--cwd", m["proj"])
    assert_clean(r, allow=(1,))
    assert json.loads(r.out)["ok"] is False


def test_an_explicit_fifo_never_hangs(base):
    fifo = os.path.join(base, "config.toml")
    os.mkfifo(fifo)  # nobody writes to it
    for args in (["validate", fifo], ["mdm", "read", fifo], ["diff", fifo, fifo],
                 ["lint", "--no-progress", "-j", "1", fifo]):
        assert_clean(sub(*args, timeout=60))


def test_a_deleted_working_directory_is_an_input_error(base):
    gone = os.path.join(base, "gone")
    os.mkdir(gone)
    m = machine(os.path.join(base, "m"))
    import subprocess
    import sys
    code = (f"import os; os.chdir({gone!r}); os.rmdir({gone!r}); import sys; "
            f"sys.argv = ['mdmtool', 'effective', '--system-dir', {m['etc']!r}, "
            f"'--codex-home', {m['home']!r}]; from mdmtool.cli import main; main()")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2])))
    assert p.returncode == 2 and "current directory no longer exists" in p.stderr, p.stderr


# ----------------------------------------------------------------------------- unreadable (as root)

needs_dac = pytest.mark.skipif(not can_drop_dac(), reason="cannot make root obey file permissions "
                               "here (setpriv missing or CAP_DAC_* cannot be dropped)")


@needs_dac
@pytest.mark.parametrize("target", ["requirements", "system-dir", "user-config", "project-config"])
def test_unreadable_files_fail_closed(base, target):
    """Tests run as root: root obeys permissions once CAP_DAC_OVERRIDE/READ_SEARCH are
    dropped (setpriv). An unreadable requirements file or /etc/codex is fatal (Codex: any
    read error but not-found), never a silently weaker policy."""
    m = machine(base, requirements='allowed_sandbox_modes = ["read-only"]\n',
                project='model = "p"\n')
    path = {"requirements": os.path.join(m["etc"], "requirements.toml"), "system-dir": m["etc"],
            "user-config": os.path.join(m["home"], "config.toml"),
            "project-config": os.path.join(m["proj"], ".codex", "config.toml")}[target]
    os.chmod(path, 0)
    try:
        r = sub("effective", "--format", "json", *machine_args(m), prefix=DROP_DAC, timeout=60)
    finally:
        os.chmod(path, 0o755)
    assert_clean(r, allow=(1,))
    doc = json.loads(r.out)
    assert doc["ok"] is False
    assert any("permission denied" in e.lower() for e in doc["errors"]), doc["errors"]


@needs_dac
def test_unreadable_directories_during_project_discovery(base):
    """A directory above cwd that cannot be listed: markers and .codex dirs there are not
    visible (Codex's is_dir() checks fail the same way); the answer is still clean."""
    m = machine(base)
    deep = os.path.join(m["proj"], "a", "b")
    os.makedirs(deep)
    locked = os.path.join(m["proj"], "a")
    os.chmod(locked, 0o311)  # searchable, not listable
    try:
        r = sub("effective", "--format", "json", "--system-dir", m["etc"], "--codex-home", m["home"],
                "--cwd", deep, prefix=DROP_DAC, timeout=60)
    finally:
        os.chmod(locked, 0o755)
    assert_clean(r, allow=(0, 1))
    json.loads(r.out)
    os.chmod(m["proj"], 0o000)  # not even searchable: cwd cannot be examined
    try:
        r = sub("effective", "--system-dir", m["etc"], "--codex-home", m["home"], "--cwd", deep,
                prefix=DROP_DAC, timeout=60)
    finally:
        os.chmod(m["proj"], 0o755)
    assert_clean(r)


@needs_dac
def test_unreadable_explicit_inputs_are_one_line_errors(base):
    path = os.path.join(base, "config.toml")
    Path(path).write_text('model = "m"\n')
    os.chmod(path, 0)
    try:
        for args in (["validate", path], ["diff", path, path], ["merge", path, path],
                     ["fix", path], ["mdm", "read", path], ["lint", "--no-progress", path]):
            r = sub(*args, prefix=DROP_DAC, timeout=60)
            assert_clean(r, allow=(2,), names=(path,))
            assert "permission denied" in r.text.lower()
    finally:
        os.chmod(path, 0o644)


def test_write_commands_leave_targets_untouched_on_input_errors(base):
    bad = os.path.join(base, "bad.config.toml")
    Path(bad).write_text('model = "m"\nmodel = \n')
    good = os.path.join(base, "good.config.toml")
    Path(good).write_text('model = "m"\n')
    out = os.path.join(base, "out.toml")
    Path(out).write_text("# keep me\n")
    before = snapshot(base)
    for args in (["merge", good, bad, "-o", out], ["merge", bad, good, "-o", out],
                 ["fix", bad], ["mdm", "build", "--managed-config", bad, "-o", out],
                 ["init", "--posture", "nope", "-o", out]):
        r = cli(*args)
        assert_clean(r, allow=(2,))
        assert snapshot(base) == before, args
    for f in os.listdir(base):
        assert not f.startswith(".mdmtool-"), f  # no temporary file left behind
    with pytest.raises(MdmError):
        parse_override("no-equals-sign")


def test_history_reports_hostile_revisions_per_commit(base):
    """A revision that is not UTF-8, too big, too deep or a directory is that commit's
    error; the history goes on (it used to stop at the first undecodable revision)."""
    import subprocess
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@e", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@e")
    cfg = os.path.join(base, "config.toml")

    def commit(msg):
        subprocess.run(["git", "add", "-A", "."], cwd=base, env=env, check=True)
        subprocess.run(["git", "commit", "-qm", msg], cwd=base, env=env, check=True)
    subprocess.run(["git", "init", "-q"], cwd=base, env=env, check=True)
    Path(cfg).write_text('approval_policy = "never"\n')
    commit("good")
    Path(cfg).write_bytes(b"\xff\xfe not utf-8\n")
    commit("bytes")
    Path(cfg).write_text("a = " + "[" * 90 + "]" * 90 + "\n")
    commit("deep")
    with open(cfg, "w") as fh:
        fh.write('k = "v"\n' * (MAX_TOML_BYTES // 8 + 10))
    commit("big")
    os.unlink(cfg)
    os.makedirs(cfg)
    Path(cfg, "x").write_text("")
    commit("directory")
    r = sub("history", cfg, "--format", "json", timeout=120)
    assert_clean(r, allow=(0,))
    errors = {c["subject"]: c["error"] for c in json.loads(r.out)["commits"]}
    assert errors["good"] is None
    assert "UTF-8" in errors["bytes"] and "cannot recurse" in errors["deep"]
    assert "larger than" in errors["big"] and "directory" in errors["directory"]


def test_fleet_sources_are_read_with_bounds(base):
    """An endless file, a FIFO in the fleet directory, a pipe: bounded memory and time, a
    one-line answer (the reader used to load a whole line or file into memory, and to
    seek, which a pipe cannot)."""
    for args in (["fleet", "report", "/dev/zero"], ["fleet", "summary", "/dev/zero"],
                 ["fleet", "impact", "/dev/zero", "--requirements", "/dev/null"]):
        r = sub(*args, timeout=120, prefix=["prlimit", "--as=3000000000"])
        assert_clean(r, allow=(2,), names=("/dev/zero",))
        assert "larger than 64 MiB" in r.err
    m = machine(os.path.join(base, "m"))
    doc = cli("effective", "--format", "jsonl", *machine_args(m)).out
    fleet = os.path.join(base, "fleet")
    os.makedirs(fleet)
    Path(fleet, "a.json").write_text(doc)
    os.mkfifo(os.path.join(fleet, "b.json"))
    r = sub("fleet", "report", fleet, "--format", "json", timeout=60)
    assert_clean(r, allow=(1,))
    report = json.loads(r.out)
    assert report["hosts"] == 1 and "not a regular file" in json.dumps(report)
    r = sub("fleet", "report", "/dev/stdin", stdin=doc + doc, timeout=60)  # a pipe: no seeking
    assert_clean(r, allow=(0,))
    assert "2 host(s)" in r.out
