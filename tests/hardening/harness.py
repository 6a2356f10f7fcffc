"""Running mdmtool on hostile input, and what a clean answer to it looks like.

``cli()`` runs the real Typer app in this process (fast enough for property tests);
``sub()`` runs ``python -m mdmtool`` as users do. ``assert_clean()`` is the contract every
hardening test checks: a documented exit code (never 3), no traceback, and for input
errors one line naming the file (and, for TOML syntax, the line and column).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
SCRATCH = "/var/tmp"  # not /tmp: Codex's sandbox leaves .git/.codex mount targets there


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


_COMMAND = None


def _command():
    """The Click command behind the Typer app, built once (Typer rebuilds it per call)."""
    global _COMMAND
    if _COMMAND is None:
        import typer.main

        from mdmtool.cli import app
        _COMMAND = typer.main.get_command(app)
    return _COMMAND


def cli(*args: str, stdin: str | None = None) -> Run:
    """Run ``mdmtool ARGS`` in this process; exceptions escaping the app propagate."""
    from typer.testing import CliRunner
    import typer.testing as tt

    runner = CliRunner()
    saved = tt._get_command
    tt._get_command = lambda app: _command()
    try:
        from mdmtool import cli as climod
        climod._state["debug"] = False
        res = runner.invoke(None, list(args), input=stdin, catch_exceptions=False, prog_name="mdmtool")
    finally:
        tt._get_command = saved
    return Run(res.exit_code, res.stdout, res.stderr)


def sub(*args: str, stdin: str | None = None, timeout: float = 120, env: dict | None = None,
        prefix: list[str] | None = None, cwd: str | None = None) -> Run:
    """Run ``python -m mdmtool ARGS`` as a fresh process (``prefix``: e.g. setpriv ...)."""
    e = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    p = subprocess.run([*(prefix or []), sys.executable, "-m", "mdmtool", *args], input=stdin,
                       capture_output=True, text=True, timeout=timeout, env=e, cwd=cwd or str(ROOT))
    return Run(p.returncode, p.stdout, p.stderr)


_POS = re.compile(r":\d+:\d+")


def assert_clean(run: Run, *, allow=(0, 1, 2), names: tuple[str, ...] = (),
                 position: bool = False) -> None:
    """The contract for any input: a documented exit code, never 3 or a traceback.

    On exit 2 the output names one of ``names`` (the input files), with ``:line:col``
    when ``position``; every ``mdmtool: error:`` line is a single line.
    """
    assert run.code in allow, f"exit {run.code}\n{run.text[-3000:]}"
    assert run.code != 3 and "internal error" not in run.err, run.text[-3000:]
    assert "Traceback (most recent call last)" not in run.text, run.text[-3000:]
    if run.code == 2 and run.err.startswith("mdmtool: error:"):  # the error boundary's lines
        assert all(line.startswith("mdmtool: ") for line in run.err.splitlines()), run.err[-2000:]
    if run.code == 2 and names:
        hits = [line for line in run.text.splitlines() if any(n in line for n in names)]
        assert hits, f"no line names {names}:\n{run.text[-2000:]}"
        if position:
            assert any(_POS.search(line.split(n, 1)[1]) for line in hits for n in names if n in line), \
                f"no file:line:col in:\n{run.text[-2000:]}"


def scratch(prefix: str = "mdmtool-hard-") -> str:
    return tempfile.mkdtemp(prefix=prefix, dir=SCRATCH)


def rm(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)


def machine(base: str, *, requirements: str | None = None, user: str | None = None,
            project: str | None = None, trusted: bool = True) -> dict[str, str]:
    """A machine under ``base``: etc (system dir), home (CODEX_HOME), proj (a git project
    with a .codex dir, trusted unless told otherwise)."""
    m = {"etc": os.path.join(base, "etc"), "home": os.path.join(base, "home"),
         "proj": os.path.join(base, "proj")}
    for d in (m["etc"], m["home"], os.path.join(m["proj"], ".git"), os.path.join(m["proj"], ".codex")):
        os.makedirs(d, exist_ok=True)
    if requirements is not None:
        Path(m["etc"], "requirements.toml").write_text(requirements, encoding="utf-8")
    trust = f'\n[projects."{m["proj"]}"]\ntrust_level = "trusted"\n' if trusted else ""
    Path(m["home"], "config.toml").write_text((user or "") + trust, encoding="utf-8")
    if project is not None:
        Path(m["proj"], ".codex", "config.toml").write_text(project, encoding="utf-8")
    return m


def machine_args(m: dict[str, str]) -> list[str]:
    return ["--system-dir", m["etc"], "--codex-home", m["home"], "--cwd", m["proj"]]


def snapshot(path: str) -> dict[str, bytes]:
    """Every file under ``path`` (or the file itself) with its bytes: "nothing written"."""
    if os.path.isfile(path):
        return {path: Path(path).read_bytes()}
    out = {}
    for dirpath, _dirs, files in os.walk(path):
        for f in files:
            p = os.path.join(dirpath, f)
            out[p] = Path(p).read_bytes()
    return out


def corpus() -> list[str]:
    """TOML texts of the fixture corpus (config, requirements, managed config, projects)."""
    texts = []
    for p in sorted(FIXTURES.rglob("*.toml")):
        try:
            t = p.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if 0 < len(t) < 20_000:
            texts.append(t)
    return texts


def can_drop_dac() -> bool:
    """Can we make root obey file permissions (setpriv dropping CAP_DAC_*)?"""
    if shutil.which("setpriv") is None:
        return False
    d = scratch("mdmtool-dac-")
    try:
        p = os.path.join(d, "f")
        Path(p).write_text("x")
        os.chmod(p, 0)
        r = subprocess.run([*DROP_DAC, "cat", p], capture_output=True)
        return r.returncode != 0 and b"ermission denied" in r.stderr
    finally:
        rm(d)


#: run a command as root without the capabilities that bypass file permissions
DROP_DAC = ["setpriv", "--inh-caps=-dac_override,-dac_read_search",
            "--bounding-set=-dac_override,-dac_read_search"]
