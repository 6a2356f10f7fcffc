"""Reading config files at git revisions (gitpython, imported only here).

Paths are given as the user sees them (relative to the current directory, or absolute)
and mapped to the repository root, like ``git show REV:./path``. A file missing at a
revision reads as ``None`` (added or deleted there), so a diff across that commit shows
every key as added or removed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from mdmtool.errors import MdmError

GIT_PREFIX = "git:"


@dataclass
class CommitInfo:
    hexsha: str
    short: str
    author: str
    date: str  # ISO 8601, author date
    subject: str


def _git():
    try:
        import git
    except ImportError as exc:  # gitpython installs, but the git binary may be missing
        raise MdmError(f"git support unavailable: {exc}") from None
    return git


def open_repo(path: str):
    """The repository containing ``path`` (a file or directory, existing or not)."""
    git = _git()
    probe = os.path.abspath(path)
    while not os.path.isdir(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    try:
        return git.Repo(probe, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise MdmError("not inside a git repository", file=path) from None
    except git.GitCommandNotFound:
        raise MdmError("the git program is not installed") from None


def repo_relpath(repo, path: str) -> str:
    """``path`` relative to the work tree root, with forward slashes."""
    root = os.path.realpath(repo.working_tree_dir)
    full = os.path.abspath(path)
    real_dir = os.path.realpath(os.path.dirname(full))
    rel = os.path.relpath(os.path.join(real_dir, os.path.basename(full)), root)
    if rel.startswith(".."):
        raise MdmError(f"path is outside the repository {root}", file=path)
    return rel.replace(os.sep, "/")


def _commit(repo, rev: str):
    git = _git()
    try:
        return repo.commit(rev)
    except (git.BadName, ValueError, git.GitCommandError):
        raise MdmError(f"unknown git revision {rev!r}") from None


def read_at(repo, rev: str, relpath: str) -> str | None:
    """Text of ``relpath`` at ``rev``; ``None`` if the file does not exist there."""
    commit = _commit(repo, rev)
    try:
        blob = commit.tree / relpath
    except KeyError:
        return None
    if blob.type != "blob":
        raise MdmError(f"{relpath} is a directory at {rev}")
    from mdmtool.tomlio import MAX_TOML_BYTES, Unsupported
    if blob.size > MAX_TOML_BYTES:
        raise Unsupported(f"larger than {MAX_TOML_BYTES // (1024 * 1024)} MiB at revision {rev}; "
                          "mdmtool does not read it", file=relpath)
    raw = blob.data_stream.read()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MdmError(f"not valid UTF-8 at revision {rev}", file=relpath) from None


def read_worktree(path: str) -> str | None:
    if not os.path.exists(path):
        return None
    from mdmtool.tomlio import read_text
    return read_text(path)


def parse_spec(spec: str) -> tuple[str, str]:
    """``git:REV:path`` -> (REV, path)."""
    body = spec[len(GIT_PREFIX):]
    if ":" not in body:
        raise MdmError(f"expected git:REV:PATH, got {spec!r}")
    rev, path = body.split(":", 1)
    if not rev or not path:
        raise MdmError(f"expected git:REV:PATH, got {spec!r}")
    return rev, path


def read_spec(spec: str) -> tuple[str | None, str, str]:
    """Read ``git:REV:path``: (text or None, label for messages, path for annotations)."""
    rev, path = parse_spec(spec)
    repo = open_repo(path)
    rel = repo_relpath(repo, path)
    return read_at(repo, rev, rel), f"{rev}:{rel}", path


def parse_range(spec: str, repo) -> tuple[str, str | None]:
    """``A..B`` -> (A, B); ``A...B`` -> (merge-base, B); ``A`` -> (A, None = work tree)."""
    if "..." in spec:
        left, right = spec.split("...", 1)
        left, right = left or "HEAD", right or "HEAD"
        bases = repo.merge_base(_commit(repo, left), _commit(repo, right))
        if not bases:
            raise MdmError(f"{left} and {right} have no common ancestor")
        return bases[0].hexsha, right
    if ".." in spec:
        left, right = spec.split("..", 1)
        return left or "HEAD", right or "HEAD"
    if not spec:
        raise MdmError("empty git revision range")
    return spec, None


def file_history(repo, relpath: str, max_count: int | None = None,
                 rev: str = "HEAD") -> list[CommitInfo]:
    """Commits on the first-parent line of ``rev`` that changed ``relpath``, newest first."""
    git = _git()
    kwargs = {"paths": relpath, "first_parent": True}
    if max_count:
        kwargs["max_count"] = max_count
    try:
        commits = list(repo.iter_commits(rev, **kwargs))
    except (git.GitCommandError, ValueError):
        raise MdmError(f"cannot read the history of {relpath} at {rev!r}") from None
    return [CommitInfo(hexsha=c.hexsha, short=c.hexsha[:10], author=c.author.name or "",
                       date=c.authored_datetime.isoformat(),
                       subject=next(iter((c.message or "").strip().splitlines()), ""))
            for c in commits]
