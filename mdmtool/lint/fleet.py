"""Lint many units (fleet hosts) in parallel with flat memory.

Units are described by small picklable specs and linted in worker processes in chunks;
the parent keeps only a bounded window of chunks in flight and consumes results in
order, so output is deterministic and is streamed by every format while memory stays
flat. Workers memoise by content hash (engine, resolver, whole hosts), so files and hosts
that repeat across the fleet are linted once per worker (hosts whose user configs differ
only by plain project trust entries count as repeats, see :func:`_share_key`), and hand
back findings already sorted and redacted. The summary counts hosts, findings per rule, hosts that run on a
requirements fallback and hosts on which Codex would refuse to start.
"""

from __future__ import annotations

import datetime as _dt
import os
import sys
import time
from collections import Counter, deque
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

from mdmtool.lint.memo import Memo
from mdmtool.model import Finding

#: below this many units, the pool's start-up costs more than it saves
MIN_PARALLEL = 64
CHUNK = 32

_REQ = {"path": None, "file": None}


@dataclass
class UnitResult:
    name: str
    files: list[str]
    findings: list[Finding]
    #: the --requirements file linted on its own (not a host)
    override: bool = False
    #: not a fleet host: its files may be named again by other units (see FileLedger)
    shared: bool = True


@dataclass
class Summary:
    units: int = 0
    files: int = 0
    per_rule: Counter = field(default_factory=Counter)
    severities: Counter = field(default_factory=Counter)
    fallback_hosts: int = 0
    fatal_hosts: int = 0
    input_errors: int = 0

    def add(self, r: UnitResult, new_files: int | None = None) -> None:
        """Count one result; ``new_files``: its files not listed before (default: all)."""
        from mdmtool.lint.catalog import RULES
        self.files += len(r.files) if new_files is None else new_files
        if r.override:  # the --requirements file itself: its findings, not a host
            for f in r.findings:
                self.per_rule[f.rule] += 1
                self.severities[f.severity] += 1
                self.input_errors += f.rule == "MDM100"
            return
        self.units += 1
        fb = fatal = False
        for f in r.findings:
            self.per_rule[f.rule] += 1
            self.severities[f.severity] += 1
            meta = RULES.get(f.rule)
            if meta is not None and meta.fallback:
                fb = True
            if meta is not None and meta.fatal and f.severity == "error":
                fatal = True
            if f.rule == "MDM100":
                self.input_errors += 1
        self.fallback_hosts += fb
        self.fatal_hosts += fatal

    def lines(self, noun: str = "hosts") -> list[str]:
        out = [f"{noun} checked: {self.units}; files: {self.files}",
               f"{noun} running on a requirements fallback: {self.fallback_hosts}",
               f"{noun} where Codex would refuse to start: {self.fatal_hosts}"]
        if self.per_rule:
            out.append("findings per rule: " + ", ".join(
                f"{r}={n}" for r, n in sorted(self.per_rule.items())))
        return out

    def to_json(self) -> dict:
        return {"hosts": self.units, "files": self.files, "fallback_hosts": self.fallback_hosts,
                "refuse_to_start_hosts": self.fatal_hosts, "findings_per_rule": dict(sorted(self.per_rule.items()))}


def _init_worker(req_path: str | None, pooled: bool = False) -> None:
    _REQ["path"] = req_path
    _REQ["file"] = None
    if pooled:  # workers tell each other what they resolved (see rules.resolved)
        from mdmtool.lint.rules import resolved
        resolved.SHARED["on"] = True


def _override():
    if _REQ["path"] and _REQ["file"] is None:
        from mdmtool.lint.context import REQUIREMENTS
        from mdmtool.lint.discover import load_file
        f = load_file(_REQ["path"], _REQ["path"], os.path.abspath(_REQ["path"]))
        f.role = REQUIREMENTS
        _REQ["file"] = f
    return _REQ["file"]


def lint_spec(spec: tuple, today: _dt.date) -> UnitResult:
    """Build the unit a spec describes, lint it, return its compact result (findings
    redacted and sorted as reports list them, so the parent only writes them out)."""
    from mdmtool.reporters.base import sort_key
    r = _lint_spec(spec, today)
    r.findings.sort(key=sort_key)
    return r


def _safe(findings: list[Finding]) -> list[Finding]:
    from mdmtool.redact import safe_finding
    return [safe_finding(f) for f in findings]


def _lint_spec(spec: tuple, today: _dt.date) -> UnitResult:
    from mdmtool.lint import discover
    from mdmtool.lint.engine import lint_unit
    kind = spec[0]
    if kind in ("tree", "host"):
        _, root, name, display_root = spec
        unit = discover.tree_unit(root, name, display_root)
        # hosts whose trees hold the same files (roles, contents; paths may differ, e.g.
        # user names) share results; project layers make the paths matter (trust lookup)
        paths = [f.path for f in unit.files]
        plain_tails = not any(f.role == "project" for f in unit.files)
        sig = (tuple((f.role, _share_key(f, plain_tails), f.error is None,
                      os.path.relpath(f.path, display_root) if f.role == "project" else None)
                     for f in unit.files), _REQ["path"])
        hit_ = _UNIT_MEMO.hit(sig)
        if hit_ is not None:
            old_paths, raw, safe = hit_
            return UnitResult(unit.name, paths, _rebase_paths(raw, safe, old_paths, paths),
                              shared=kind == "tree")
    elif kind == "files":
        unit = discover.file_unit(list(spec[1]))
    elif kind == "machine":
        _, system_dir, codex_home, cwd, profile = spec
        unit = discover.machine_unit(system_dir, codex_home, cwd, profile)
    else:  # "override": the --requirements file on its own
        from mdmtool.lint.context import Unit
        unit = Unit("requirements")
        unit.files.append(_override())
        return UnitResult(unit.name, [f.path for f in unit.files],
                          _safe(lint_unit(unit, today=today)), override=True)
    unit.requirements_override = _override()
    findings = lint_unit(unit, today=today)
    skip = _REQ["path"]
    if skip:  # the override's own findings are reported once, by its own unit
        findings = [f for f in findings if f.source.file != skip or f.rule in _CROSS_RULES]
    safe = _safe(findings)
    if kind in ("tree", "host"):
        _UNIT_MEMO.put(sig, (paths, findings, safe))
    return UnitResult(unit.name, [f.path for f in unit.files], list(safe), shared=kind != "host")


#: host signature -> (its paths, raw findings, redacted findings)
_UNIT_MEMO = Memo(1024)


def _share_key(f, plain_tails: bool) -> str:
    """What decides a file's part in its host's findings: its content, except the trust
    entries Codex appends to a user's config.toml (one per trusted project, per-user paths
    that make most fleet files unique). When every entry is plain (no root, home or system
    folder: MDM310; none that could cover the resolver's scratch directory) and the host has
    no project layer (whose trust the entries decide), no rule reads them, so hosts whose
    user configs share the rest share results (tests/lint/test_fleet_lint.py checks them
    against hosts linted from scratch)."""
    if not plain_tails or f.role != "user":
        return f.sha
    from mdmtool.lint.context import split_trust_tail
    split = split_trust_tail(f.text)
    if split is None:
        return f.sha
    head, entries = split
    from mdmtool.lint.rules.danger import broad_project
    from mdmtool.lint.rules.resolved import _projects_part
    if any(not path.startswith("/") or broad_project(path) for path in entries):
        return f.sha
    if _projects_part(entries) != "plain":
        return f.sha
    import hashlib
    return "head:" + hashlib.blake2b(head.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def forget() -> None:
    """Drop every memo of this process (hosts, files, parses, resolver runs): the next
    unit is linted from scratch, as by a fresh worker."""
    from mdmtool.lint import context, engine
    from mdmtool.lint.rules import resolved
    for memo in (_UNIT_MEMO, engine._FILE_MEMO, engine._WAIVER_MEMO, context._PARSED,
                 resolved._MEMO, resolved._REST):
        memo.clear()


def _rebase_paths(raw: list[Finding], safe: list[Finding], old: list[str],
                  new: list[str]) -> list[Finding]:
    """Findings of one host re-pointed at the matching files of an equivalent host,
    redacted: ``safe`` are ``raw`` redacted; a message that names a file is redacted
    again with the new name, others keep their redacted text."""
    from mdmtool.record import replace
    from mdmtool.redact import safe_finding
    mapping = {o: n for o, n in zip(old, new) if o != n}
    if not mapping:
        return list(safe)
    out = []
    for f, s in zip(raw, safe):
        file = mapping.get(f.source.file, f.source.file)
        msg = f.message
        for o, n in mapping.items():
            if o in msg:
                msg = msg.replace(o, n)
        if msg == f.message:
            out.append(replace(s, source=replace(s.source, file=file)))
        else:
            out.append(safe_finding(replace(f, source=replace(f.source, file=file), message=msg)))
    return out


#: rules that report on the requirements file but depend on the host's other files
_CROSS_RULES = {"MDM110", "MDM405", "MDM703"}


def _lint_chunk(specs: list[tuple], today: _dt.date) -> list[UnitResult]:
    return [lint_spec(s, today) for s in specs]


def _chunks(specs: Iterable[tuple], size: int) -> Iterator[list[tuple]]:
    buf: list[tuple] = []
    for s in specs:
        buf.append(s)
        if len(buf) >= size:
            yield buf
            buf = []
    if buf:
        yield buf


class FileLedger:
    """Every checked file listed once, in unit order, each with its position in the list.

    Fleet hosts' files are distinct by construction (each lives under its own host
    directory), so only paths another unit may name again are remembered: files of
    units given directly (file arguments, machine trees, the ``--requirements`` file) and
    files a finding names outside its own unit. Memory stays flat over 100k hosts.
    """

    def __init__(self) -> None:
        self.count = 0
        self._shared: dict[str, int] = {}

    def add(self, r: UnitResult) -> tuple[list[str], dict[str, int]]:
        """(files of ``r`` not listed before, position of every path ``r`` names)."""
        own = r.files
        index: dict[str, int] = {}
        new: list[str] = []
        named = [f.source.file for f in r.findings if f.source.file]
        for p in (own + named) if named else own:
            if p in index:
                continue
            i = self._shared.get(p)
            if i is None:
                i = self.count
                self.count += 1
                new.append(p)
                if r.shared or p not in own:
                    self._shared[p] = i
            index[p] = i
        return new, index


class Progress:
    """A one-line progress bar on stderr, only when stderr is a terminal."""

    def __init__(self, total: int | None, enabled: bool, noun: str = "hosts"):
        self.total, self.done, self.noun = total, 0, noun
        self.enabled = enabled and sys.stderr.isatty()
        self._shown = False
        self._last = 0.0

    def step(self, n: int) -> None:
        self.done += n
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.1 and self.done != self.total:
            return
        self._last = now
        if self.total:
            width = 30
            filled = min(width, int(width * self.done / max(self.total, 1)))
            sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} "
                             f"{self.noun}")
        else:
            sys.stderr.write(f"\r{self.done} {self.noun}")
        sys.stderr.flush()
        self._shown = True

    def hide(self) -> None:
        """Clear the bar (before output goes to the same terminal); the next step redraws it."""
        if self._shown:
            sys.stderr.write("\r" + " " * 60 + "\r")
            sys.stderr.flush()
            self._shown = False
            self._last = 0.0

    def close(self) -> None:
        self.hide()


def warm_up() -> None:
    """Import everything a worker needs before the pool forks, so workers inherit it
    instead of each importing it again, and make the resolver's scratch directory here
    (forked workers exit without running exit handlers: theirs would be left behind)."""
    from mdmtool.lint import discover, engine  # noqa: F401
    from mdmtool.lint.catalog import RULES  # noqa: F401
    from mdmtool.lint.rules import load_all
    from mdmtool.redact import safe_finding  # noqa: F401
    from mdmtool.reporters.base import sort_key  # noqa: F401
    load_all()
    try:
        import mdmtool.resolve  # noqa: F401  (unit rules resolve each distinct setup)
    except ImportError:  # pragma: no cover - resolver room missing
        pass
    from mdmtool.lint.rules.resolved import _scratch
    _scratch()  # made (and removed at exit) by this process, not by each worker


def run_units(specs: Iterable[tuple], *, on_result: Callable[[UnitResult], None],
              req_path: str | None = None, jobs: int | None = None,
              progress: Progress | None = None, today: _dt.date | None = None) -> None:
    """Lint every spec, calling ``on_result`` in input order."""
    today = today or _dt.date.today()
    jobs = jobs or os.cpu_count() or 1
    bar = progress or Progress(None, False)
    it = iter(specs)
    head: list[tuple] = []
    for s in it:  # peek: small runs stay in this process
        head.append(s)
        if len(head) > MIN_PARALLEL:
            break
    try:
        # the first units are linted here: small runs need no pool, and in large ones the
        # workers, forked afterwards, start with what these taught the memos (setups
        # resolved, shared files parsed) instead of each learning it again
        _init_worker(req_path)
        serial = len(head) <= MIN_PARALLEL or jobs <= 1
        for s in (_chain(head, it) if serial else head):
            r = lint_spec(s, today)
            on_result(r)
            bar.step(0 if r.override else 1)
        if serial:
            return
        warm_up()
        window = max(2, jobs * 3)
        with ProcessPoolExecutor(max_workers=jobs, initializer=_init_worker,
                                 initargs=(req_path, True)) as pool:
            pending: deque = deque()
            for chunk in _chunks(it, CHUNK):
                pending.append(pool.submit(_lint_chunk, chunk, today))
                while len(pending) >= window:
                    _drain_one(pending, on_result, bar)
            while pending:
                _drain_one(pending, on_result, bar)
    finally:
        bar.close()


def _drain_one(pending: deque, on_result, bar: Progress) -> None:
    results = pending.popleft().result()
    for r in results:
        on_result(r)
    bar.step(sum(1 for r in results if not r.override))


def _chain(head: list, it: Iterator) -> Iterator:
    yield from head
    yield from it
