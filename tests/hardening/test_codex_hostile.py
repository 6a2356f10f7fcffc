"""Hostile inputs against the real Codex 0.169.0: does it start, and with what policy?

mdmtool must answer what Codex does: its TOML limits (80 key parts, 80 nesting levels),
BOM and CRLF, duplicate keys, dangling symlinks (absent), symlink loops, directories and
FIFOs where a file is expected, non-UTF-8 requirements, ``-c`` values nested past the
limit (a literal string). Needs Codex and bubblewrap (``bash scripts/test.sh`` installs
both); skipped with the reason otherwise.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

from mdmtool import CODEX_VERSION
from mdmtool.model import ResolveInputs
from mdmtool.resolve import resolve

pytestmark = pytest.mark.codex


@pytest.fixture(scope="module")
def codex_bin() -> str:
    from mdmtool import codex_driver
    path = codex_driver.find_codex(version=CODEX_VERSION)
    if not path:
        pytest.skip(f"no Codex {CODEX_VERSION} binary")
    problem = codex_driver.bwrap_problem()
    if problem:
        pytest.skip(problem)
    return path


def _w(path: str, text: str | bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(text.encode() if isinstance(text, str) else text)


def _dotted(n: int) -> str:
    return ".".join(["a"] * n)


CASES = {
    "key-80-parts": lambda ch, sd, cwd: _w(f"{ch}/config.toml", _dotted(80) + " = 1\n"),
    "key-81-parts": lambda ch, sd, cwd: _w(f"{ch}/config.toml", _dotted(81) + " = 1\n"),
    "header-81-parts": lambda ch, sd, cwd: _w(f"{ch}/config.toml", "[" + _dotted(81) + "]\nx = 1\n"),
    "header-80-and-key": lambda ch, sd, cwd: _w(f"{ch}/config.toml", "[" + _dotted(80) + "]\nx = 1\n"),
    "arrays-80": lambda ch, sd, cwd: _w(f"{ch}/config.toml", "a = " + "[" * 80 + "]" * 80 + "\n"),
    "arrays-81": lambda ch, sd, cwd: _w(f"{ch}/config.toml", "a = " + "[" * 81 + "]" * 81 + "\n"),
    "inline-81": lambda ch, sd, cwd: _w(f"{ch}/config.toml", "a = " + "{b = " * 81 + "1" + "}" * 81 + "\n"),
    "bom-crlf": lambda ch, sd, cwd: (_w(f"{ch}/config.toml", "\ufeffapproval_policy = 'never'\r\n"),
                                     _w(f"{sd}/requirements.toml", "\ufeffallowed_approval_policies = ['never']\r\n")),
    "duplicate-key": lambda ch, sd, cwd: _w(f"{ch}/config.toml", "model = 'a'\nmodel = 'b'\n"),
    "req-dangling-symlink": lambda ch, sd, cwd: os.symlink("nowhere.toml", f"{sd}/requirements.toml"),
    "cfg-dangling-symlink": lambda ch, sd, cwd: os.symlink("nowhere.toml", f"{ch}/config.toml"),
    "req-symlink-loop": lambda ch, sd, cwd: os.symlink("requirements.toml", f"{sd}/requirements.toml"),
    "req-is-directory": lambda ch, sd, cwd: os.mkdir(f"{sd}/requirements.toml"),
    "managed-is-directory": lambda ch, sd, cwd: os.mkdir(f"{sd}/managed_config.toml"),
    "req-not-utf8": lambda ch, sd, cwd: _w(f"{sd}/requirements.toml", b"allowed_sandbox_modes = ['read-only'] # \xff\n"),
    "project-dot-codex-loop": lambda ch, sd, cwd: os.symlink(".codex", f"{cwd}/.codex"),
    "project-config-is-directory": lambda ch, sd, cwd: os.makedirs(f"{cwd}/.codex/config.toml"),
}
OVERRIDES = {
    "c-value-81-deep": ["model=" + "[" * 81 + "]" * 81],  # Codex: a literal string
    "c-value-80-deep": ["model=" + "[" * 80 + "]" * 80],  # Codex: an array -> type error
    "c-key-150-parts": [_dotted(150) + "=1"],
}


#: what Codex 0.169.0 answered when these cases were recorded: does it start?
STARTS = {"key-80-parts": True, "key-81-parts": False, "header-81-parts": False,
          "header-80-and-key": True, "arrays-80": True, "arrays-81": False, "inline-81": False,
          "bom-crlf": True, "duplicate-key": False, "req-dangling-symlink": True,
          "cfg-dangling-symlink": True, "req-symlink-loop": False, "req-is-directory": False,
          "managed-is-directory": False, "req-not-utf8": False, "project-dot-codex-loop": True,
          "project-config-is-directory": False, "c-value-81-deep": True,
          "c-value-80-deep": False, "c-key-150-parts": True}


def _setup(name: str):
    from mdmtool.codex_driver import scratch_root
    base = tempfile.mkdtemp(prefix=f"hostile-{name}-", dir=scratch_root())
    home = os.path.join(base, "home")
    dirs = (os.path.join(home, ".codex"), os.path.join(base, "etc"), os.path.join(base, "cwd"))
    for d in dirs:
        os.makedirs(d)
    return base, home, *dirs


@pytest.mark.parametrize("name", sorted(CASES) + sorted(OVERRIDES))
def test_mdmtool_answers_what_codex_does(name, codex_bin):
    from mdmtool.codex_driver import CodexSetup, run_codex
    base, home, ch, sd, cwd = _setup(name)
    try:
        if name in CASES:
            CASES[name](ch, sd, cwd)
        overrides = OVERRIDES.get(name, [])
        ans = run_codex(CodexSetup(codex_home=ch, home=home, cwd=cwd, system_dir=sd,
                                   overrides=overrides, codex_bin=codex_bin))
        mine = resolve(ResolveInputs(system_dir=sd, codex_home=ch, cwd=cwd, overrides=overrides))
        assert ans.startup_ok == STARTS[name], ans.errors  # Codex itself still answers so
        assert mine.ok == ans.startup_ok, (mine.errors, ans.errors)
        if ans.startup_ok:
            assert mine.approval_policy == ans.approval_policy
            assert mine.sandbox_mode == ans.sandbox_mode
    finally:
        shutil.rmtree(base, ignore_errors=True)
