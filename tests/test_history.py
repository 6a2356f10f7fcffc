"""Git revision diffs and posture history in a real temporary git repository."""

from __future__ import annotations

import json
import os

import pytest

git = pytest.importorskip("git")

from mdmtool.commands.diff import run_diff  # noqa: E402
from mdmtool.commands.history import run_history  # noqa: E402
from mdmtool.errors import MdmError  # noqa: E402
from mdmtool.history import posture_history  # noqa: E402


def _commit(repo, files: dict, message: str, author: str = "Alice Admin"):
    root = repo.working_tree_dir
    for name, text in files.items():
        path = os.path.join(root, name)
        if text is None:
            repo.index.remove([name], working_tree=True)
            continue
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as fh:
            fh.write(text)
        repo.index.add([name])
    actor = git.Actor(author, "admin@example.com")
    return repo.index.commit(message, author=actor, committer=actor)


@pytest.fixture
def repo(tmp_path, monkeypatch):
    r = git.Repo.init(tmp_path / "fleet")
    c1 = _commit(r, {"codex/config.toml": '# fleet config\napproval_policy = "on-request"\n'
                     'sandbox_mode = "read-only"\n'}, "Initial fleet config")
    c2 = _commit(r, {"codex/config.toml": '# fleet config\napproval_policy = "on-request"\n'
                     'sandbox_mode = "workspace-write"\n\n[sandbox_workspace_write]\n'
                     'network_access = true\n'}, "Let CI write and fetch", author="Bob Builder")
    _commit(r, {"README.md": "unrelated\n"}, "Docs only")
    c4 = _commit(r, {"codex/config.toml": '# fleet config\napproval_policy = "on-request"\n'
                     'sandbox_mode = "workspace-write"\nmodel = "gpt-5"\n\n'
                     '[sandbox_workspace_write]\nnetwork_access = false\n'}, "Close network again")
    monkeypatch.chdir(r.working_tree_dir)
    return r, (c1, c2, c4)


def test_git_spec_diff_between_revisions(repo, capsys):
    r, (c1, c2, _) = repo
    rc = run_diff(f"git:{c1.hexsha}:codex/config.toml", "git:HEAD~2:codex/config.toml",
                  fmt="json", fail_on=["widening"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 1
    keys = {c["key"]: c for c in out["changes"]}
    assert keys["sandbox_mode"]["classification"] == "widening"
    assert keys["sandbox_mode"]["new_source"] == {"file": "codex/config.toml", "line": 3, "col": 1}
    assert keys["sandbox_workspace_write.network_access"]["classification"] == "widening"
    assert out["a"]["label"] == f"{c1.hexsha}:codex/config.toml"


def test_git_range_and_worktree(repo, capsys):
    r, _ = repo
    assert run_diff("codex/config.toml", None, git_range="HEAD~3..HEAD~2", fmt="json",
                    fail_on=["narrowing"]) == 0
    assert run_diff("codex/config.toml", None, git_range="HEAD~1..HEAD", fmt="json",
                    fail_on=["narrowing"]) == 1
    capsys.readouterr()
    # REV alone compares with the work tree
    with open("codex/config.toml", "a") as fh:  # lands in [sandbox_workspace_write]: no effect
        fh.write('web_search = "live"\n')
    assert run_diff("codex/config.toml", None, git_range="HEAD", fail_on=["widening"]) == 0
    assert "sandbox_workspace_write.web_search" in capsys.readouterr().out
    text = open("codex/config.toml").read()
    with open("codex/config.toml", "w") as fh:
        fh.write('web_search = "live"\n' + text)
    assert run_diff("codex/config.toml", None, git_range="HEAD", fail_on=["widening"]) == 1
    out = capsys.readouterr().out
    assert "WIDENING   web_search" in out


def test_three_dot_range_uses_the_merge_base(repo, capsys):
    r, (c1, _c2, _c4) = repo
    r.git.checkout("-q", "-b", "feature", c1.hexsha)
    _commit(r, {"codex/config.toml": '# fleet config\napproval_policy = "never"\n'
                'sandbox_mode = "read-only"\n'}, "Feature: never ask")
    r.git.checkout("-q", "master" if "master" in r.heads else "main")
    # master...feature = what feature changed since it forked (c1), not master's own edits
    assert run_diff("codex/config.toml", None, git_range="HEAD...feature", fmt="json") == 0
    out = json.loads(capsys.readouterr().out)
    assert [c["key"] for c in out["changes"]] == ["approval_policy"]
    assert out["changes"][0]["classification"] == "widening"


def test_git_range_from_a_subdirectory(repo, capsys, monkeypatch):
    r, _ = repo
    monkeypatch.chdir(os.path.join(r.working_tree_dir, "codex"))
    assert run_diff("config.toml", None, git_range="HEAD~3..HEAD", fmt="json") == 0
    out = json.loads(capsys.readouterr().out)
    assert {c["key"] for c in out["changes"]} >= {"sandbox_mode", "model"}


def test_file_added_at_a_revision_is_diffed_from_empty(repo, capsys):
    r, _ = repo
    _commit(r, {"codex/requirements.toml": 'allowed_sandbox_modes = ["read-only"]\n'}, "Add reqs")
    assert run_diff("codex/requirements.toml", None, git_range="HEAD~1..HEAD", fmt="json",
                    fail_on=["narrowing"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["a"]["present"] is False
    assert out["changes"][0]["classification"] == "narrowing"
    _commit(r, {"codex/requirements.toml": None}, "Drop reqs")
    assert run_diff("codex/requirements.toml", None, git_range="HEAD~1..HEAD",
                    fail_on=["widening"]) == 1


def test_git_errors_are_input_errors(repo, tmp_path):
    with pytest.raises(MdmError, match="unknown git revision"):
        run_diff("git:no-such-rev:codex/config.toml", "codex/config.toml")
    with pytest.raises(MdmError, match="neither"):
        run_diff("codex/missing.toml", None, git_range="HEAD~1..HEAD")
    with pytest.raises(MdmError, match="git:REV:PATH"):
        run_diff("git:HEAD", "codex/config.toml")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "config.toml").write_text("")
    with pytest.raises(MdmError, match="not inside a git repository"):
        run_diff(str(outside / "config.toml"), None, git_range="HEAD~1..HEAD")


def test_history_per_commit(repo):
    r, (c1, c2, c4) = repo
    rel, entries = posture_history("codex/config.toml")
    assert rel == "codex/config.toml"
    assert [e.commit.hexsha for e in entries] == [c4.hexsha, c2.hexsha, c1.hexsha]
    newest, middle, first = entries
    assert middle.commit.author == "Bob Builder"
    assert middle.commit.subject == "Let CI write and fetch"
    assert middle.result.posture == "widened"
    assert newest.result.posture == "narrowed"
    assert {c.key: c.classification for c in newest.result.changes} == {
        "sandbox_workspace_write.network_access": "narrowing", "model": "neutral"}
    assert first.result.a.present is False  # the file was created there


def test_history_survives_a_broken_version(repo, capsys):
    r, _ = repo
    _commit(r, {"codex/config.toml": "approval_policy = never\n"}, "Oops")
    _commit(r, {"codex/config.toml": '# fleet config\napproval_policy = "never"\n'
                'sandbox_mode = "workspace-write"\nmodel = "gpt-5"\n\n'
                '[sandbox_workspace_write]\nnetwork_access = false\n'}, "Fix syntax, approve all")
    _, entries = posture_history("codex/config.toml", max_count=3)
    fixed, broken, close = entries
    assert broken.error and "invalid TOML" in broken.error and broken.result is None
    # compared with the last readable version, not the broken one
    assert [c.key for c in fixed.result.changes] == ["approval_policy"]
    assert fixed.result.changes[0].classification == "widening"
    assert run_history("codex/config.toml", max_count=3) == 0
    out = capsys.readouterr().out
    assert "Oops" in out and "error:" in out and "posture widened" in out
    assert run_history("codex/config.toml", fmt="json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["commits"]) == 5 and doc["commits"][1]["error"]


def test_history_of_untracked_file_is_an_input_error(repo):
    with open("new.toml", "w") as fh:
        fh.write("")
    with pytest.raises(MdmError, match="no commit"):
        posture_history("new.toml")


def test_effective_across_a_revision_range(repo, capsys):
    """The resolved policy of this setup with requirements.toml at REV1 vs REV2."""
    from mdmtool.model import ResolveInputs
    r, _ = repo
    root = r.working_tree_dir
    home = os.path.join(root, "home")
    os.makedirs(home)
    proj = os.path.join(root, "proj")
    os.makedirs(proj)
    with open(os.path.join(home, "config.toml"), "w") as fh:
        fh.write(f'approval_policy = "never"\n[projects."{proj}"]\ntrust_level = "trusted"\n')
    _commit(r, {"codex/requirements.toml": 'allowed_approval_policies = ["on-request"]\n'}, "Req")
    _commit(r, {"codex/requirements.toml": 'allowed_approval_policies = ["on-request", "never"]\n'},
            "Allow never")
    inputs = ResolveInputs(system_dir=os.path.join(root, "codex"), codex_home=home, cwd=proj)
    rc = run_diff("codex/requirements.toml", None, git_range="HEAD~1..HEAD", effective=True,
                  inputs=inputs, fmt="json", fail_on=["widening"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 1
    keys = {c["key"]: c for c in out["changes"]}
    assert (keys["approval_policy"]["old"], keys["approval_policy"]["new"]) == ("on-request", "never")
    assert out["a"]["label"] == "setup with HEAD~1:codex/requirements.toml"
    assert "mdmtool-diff-" not in json.dumps(out)
