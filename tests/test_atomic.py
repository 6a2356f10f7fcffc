"""Atomic writes: content, mode, backup, symlinks, and kill -9 at random moments."""

from __future__ import annotations

import os
import random
import signal
import stat
import subprocess
import sys
import time
import tomllib

import pytest

from mdmtool.atomic import atomic_write_text
from mdmtool.errors import MdmError


def test_writes_exact_bytes_and_keeps_mode(tmp_path):
    target = tmp_path / "config.toml"
    target.write_text("a = 1\n")
    os.chmod(target, 0o600)
    atomic_write_text(str(target), "a = 2\r\nb = 'é'\n")
    assert target.read_bytes() == "a = 2\r\nb = 'é'\n".encode()
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["config.toml"]  # no temp file left


def test_new_file_gets_umask_mode(tmp_path):
    target = tmp_path / "new.toml"
    old = os.umask(0o022)
    try:
        atomic_write_text(str(target), "x = 1\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_backup_keeps_previous_content_and_mode(tmp_path):
    target = tmp_path / "requirements.toml"
    target.write_text("old = true\n")
    os.chmod(target, 0o640)
    atomic_write_text(str(target), "new = true\n", backup=True)
    bak = tmp_path / "requirements.toml.bak"
    assert bak.read_text() == "old = true\n"
    assert stat.S_IMODE(bak.stat().st_mode) == 0o640
    assert target.read_text() == "new = true\n"


def test_symlink_inside_directory_is_followed(tmp_path):
    real = tmp_path / "real.toml"
    real.write_text("a = 1\n")
    link = tmp_path / "config.toml"
    link.symlink_to("real.toml")
    atomic_write_text(str(link), "a = 2\n")
    assert link.is_symlink()
    assert real.read_text() == "a = 2\n"


def test_symlink_leaving_directory_is_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "victim.toml"
    victim.write_text("keep = true\n")
    inner = tmp_path / "inner"
    inner.mkdir()
    link = inner / "config.toml"
    link.symlink_to(victim)
    with pytest.raises(MdmError, match="refusing to write through symlink"):
        atomic_write_text(str(link), "evil = true\n")
    assert victim.read_text() == "keep = true\n"


def test_missing_directory_is_an_input_error(tmp_path):
    with pytest.raises(MdmError, match="does not exist"):
        atomic_write_text(str(tmp_path / "nope" / "x.toml"), "a = 1\n")


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_unwritable_directory_is_an_input_error(tmp_path):
    target = tmp_path / "x.toml"
    target.write_text("a = 1\n")
    os.chmod(tmp_path, 0o500)
    try:
        with pytest.raises(MdmError, match="cannot write"):
            atomic_write_text(str(target), "a = 2\n")
    finally:
        os.chmod(tmp_path, 0o700)
    assert target.read_text() == "a = 1\n"


_WRITER = r"""
import sys
from mdmtool.atomic import atomic_write_text
path, a, b = sys.argv[1], open(sys.argv[2]).read(), open(sys.argv[3]).read()
print("ready", flush=True)
i = 0
while True:
    atomic_write_text(path, a if i % 2 else b, backup=(i % 3 == 0))
    i += 1
"""


def _version(n: int, lines: int = 20000) -> str:
    body = "".join(f'key_{i} = "{n}-{i:06d}-{"x" * 40}"\n' for i in range(lines))
    return f"# version {n}\n[table]\n{body}"


def test_kill_9_at_random_moments_leaves_old_or_new_file(tmp_path):
    a, b = _version(1), _version(2)
    (tmp_path / "a.src").write_text(a)
    (tmp_path / "b.src").write_text(b)
    target = tmp_path / "work" / "config.toml"
    target.parent.mkdir()
    target.write_text(a)
    rng = random.Random(1234)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    seen = set()
    for _ in range(25):
        proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(target),
                                 str(tmp_path / "a.src"), str(tmp_path / "b.src")],
                                stdout=subprocess.PIPE, env=env)
        assert proc.stdout.readline().strip() == b"ready"
        time.sleep(rng.uniform(0.0, 0.25))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        text = target.read_text()
        assert text in (a, b), "torn file after kill -9"
        tomllib.loads(text)
        seen.add(text[:12])
        bak = target.parent / "config.toml.bak"
        if bak.exists():
            assert bak.read_text() in (a, b), "torn backup after kill -9"
    # the writer really was interrupted mid-loop at different versions
    assert len(seen) == 2
