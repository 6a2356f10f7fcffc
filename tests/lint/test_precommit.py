"""The published pre-commit hooks work end to end: ``pre-commit try-repo`` installs mdmtool
from a real git repository holding this working tree and runs the hooks on a real repo."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
IGNORE = shutil.ignore_patterns(".git", "__pycache__", "fixtures", ".venv", "*.egg-info", ".pytest_cache",
                                "build", "dist")


def _git(cwd, *args):
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.invalid",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.invalid")
    subprocess.run(["git", *args], cwd=cwd, check=True, env=env, capture_output=True)


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory):
    pytest.importorskip("pre_commit", reason="pre-commit comes with the test extra")
    repo = tmp_path_factory.mktemp("hooks") / "mdmtool"
    shutil.copytree(ROOT, repo, ignore=IGNORE)
    for d in ("schemas", "templates"):  # hatch force-includes them
        (repo / d).mkdir(exist_ok=True)
        if not any((repo / d).iterdir()):
            (repo / d / ".keep").write_text("")
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "hooks under test")
    return repo


def _try_repo(hook_repo, target, hook, *files, home):
    env = dict(os.environ, PRE_COMMIT_HOME=str(home), PRE_COMMIT_COLOR="never")
    return subprocess.run([sys.executable, "-m", "pre_commit", "try-repo", str(hook_repo), hook,
                           "--files", *files], cwd=target, env=env, capture_output=True, text=True,
                          timeout=900)


def test_hooks_block_bad_configs_and_pass_good_ones(hook_repo, tmp_path):
    target = tmp_path / "configs"
    (target / ".codex").mkdir(parents=True)
    (target / "team.config.toml").write_text('sandbox_mode = "danger-full-access"\n')
    (target / ".codex" / "config.toml").write_text('model = "gpt-5"\n')
    (target / "requirements.toml").write_text('allowed_sandbox_modes = ["workspace-write"]\n')
    (target / "good-requirements").mkdir()
    (target / "good-requirements" / "requirements.toml").write_text(
        'allowed_sandbox_modes = ["read-only", "workspace-write"]\n')
    _git(target, "init", "-q")
    _git(target, "add", "-A")
    _git(target, "commit", "-q", "-m", "configs")
    home = tmp_path / "pc-home"

    bad = _try_repo(hook_repo, target, "mdmtool-lint-config", "team.config.toml", home=home)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "MDM301" in bad.stdout and "team.config.toml:1:1" in bad.stdout

    good = _try_repo(hook_repo, target, "mdmtool-lint-config", ".codex/config.toml", home=home)
    assert good.returncode == 0, good.stdout + good.stderr

    req = _try_repo(hook_repo, target, "mdmtool-lint-requirements", "requirements.toml", home=home)
    assert req.returncode == 1 and "MDM702" in req.stdout, req.stdout + req.stderr
    ok = _try_repo(hook_repo, target, "mdmtool-lint-requirements",
                   "good-requirements/requirements.toml", home=home)
    assert ok.returncode == 0, ok.stdout + ok.stderr
