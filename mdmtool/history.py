"""The posture story of one file through its git history (``mdmtool history``).

Each commit on the first-parent line that touched the file is diffed against the version
before it. A version that is not valid TOML is reported as such (Codex would refuse to
start on it) and skipped as a baseline, so the next commit is compared with the last
version Codex could read.
"""

from __future__ import annotations

from dataclasses import dataclass

from mdmtool.diff import DiffResult, Side, diff_sides, side_from_text
from mdmtool.errors import MdmError
from mdmtool.gitsource import CommitInfo, file_history, open_repo, read_at, repo_relpath


@dataclass
class HistoryEntry:
    commit: CommitInfo
    result: DiffResult | None  # None when this version could not be parsed
    error: str | None = None

    def to_json(self) -> dict:
        c = self.commit
        out = {"commit": c.hexsha, "author": c.author, "date": c.date, "subject": c.subject,
               "error": self.error}
        if self.result is not None:
            out["changes"] = [ch.to_json() for ch in self.result.changes]
            out["summary"] = {**self.result.counts(), "posture": self.result.posture,
                              "text": self.result.summary_line()}
        return out


def posture_history(path: str, *, kind: str | None = None, max_count: int | None = None,
                    rev: str = "HEAD") -> tuple[str, list[HistoryEntry]]:
    """(repo-relative path, entries newest first) for ``path``."""
    repo = open_repo(path)
    rel = repo_relpath(repo, path)
    commits = file_history(repo, rel, max_count=max_count, rev=rev)
    if not commits:
        raise MdmError(f"no commit on {rev} touches this file", file=path)
    oldest = repo.commit(commits[-1].hexsha)
    base_text = read_at(repo, oldest.parents[0].hexsha, rel) if oldest.parents else None
    prev: Side = _side(base_text, f"{rel}", kind)[0] or side_from_text(None, rel, kind)
    entries: list[HistoryEntry] = []
    for info in reversed(commits):
        try:  # a version that is not UTF-8, too big or a directory is this commit's error
            text = read_at(repo, info.hexsha, rel)
            side, error = _side(text, rel, kind)
            result = diff_sides(prev, side, kind) if side is not None else None
        except MdmError as exc:
            side, error, result = None, str(exc), None
        if side is None:
            entries.append(HistoryEntry(commit=info, result=None, error=error))
            continue
        entries.append(HistoryEntry(commit=info, result=result))
        prev = side
    entries.reverse()
    return rel, entries


def _side(text: str | None, label: str, kind: str | None) -> tuple[Side | None, str | None]:
    try:
        return side_from_text(text, label, kind), None
    except MdmError as exc:
        return None, str(exc)
