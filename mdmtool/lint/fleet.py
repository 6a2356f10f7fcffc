"""Lint many units (fleet hosts) in parallel with flat memory.

Units are described by small picklable specs and linted in worker processes in chunks;
the parent keeps only a bounded window of chunks in flight and consumes results in
order, so output is deterministic and can be streamed (text, github) while memory stays
flat. Workers memoise by content hash (engine, resolver), so shared files are linted
once per worker. The summary counts hosts, findings per rule, hosts that run on a
requirements fallback and hosts on which Codex would refuse to start.
"""

from __future__ import annotations

import datetime as _dt
import os
import sys
from collections import Counter, deque
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

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


@dataclass
class Summary:
    units: int = 0
    files: int = 0
    per_rule: Counter = field(default_factory=Counter)
    severities: Counter = field(default_factory=Counter)
    fallback_hosts: int = 0
    fatal_hosts: int = 0
    input_errors: int = 0

    def add(self, r: UnitResult) -> None:
        from mdmtool.lint.catalog import RULES
        self.units += 1
        self.files += len(r.files)
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


def _init_worker(req_path: str | None) -> None:
    _REQ["path"] = req_path
    _REQ["file"] = None


def _override():
    if _REQ["path"] and _REQ["file"] is None:
        from mdmtool.lint.context import REQUIREMENTS
        from mdmtool.lint.discover import load_file
        f = load_file(_REQ["path"], _REQ["path"], os.path.abspath(_REQ["path"]))
        f.role = REQUIREMENTS
        _REQ["file"] = f
    return _REQ["file"]


def lint_spec(spec: tuple, today: _dt.date) -> UnitResult:
    """Build the unit a spec describes, lint it, return its compact result."""
    from mdmtool.lint import discover
    from mdmtool.lint.engine import lint_unit
    kind = spec[0]
    if kind == "tree":
        _, root, name, display_root = spec
        unit = discover.tree_unit(root, name, display_root)
        # hosts whose trees hold the same files (roles, contents; paths may differ, e.g.
        # user names) share results; project layers make the paths matter (trust lookup)
        paths = [f.path for f in unit.files]
        sig = (tuple((f.role, f.sha, f.error is None,
                      os.path.relpath(f.path, display_root) if f.role == "project" else None)
                     for f in unit.files), _REQ["path"])
        hit_ = _UNIT_MEMO.get(sig)
        if hit_ is not None:
            old_paths, findings = hit_
            return UnitResult(unit.name, paths, _rebase_paths(findings, old_paths, paths))
    elif kind == "files":
        unit = discover.file_unit(list(spec[1]))
    elif kind == "machine":
        _, system_dir, codex_home, cwd, profile = spec
        unit = discover.machine_unit(system_dir, codex_home, cwd, profile)
    else:  # "override": the --requirements file on its own
        from mdmtool.lint.context import Unit
        unit = Unit("requirements")
        unit.files.append(_override())
        return UnitResult(unit.name, [f.path for f in unit.files], lint_unit(unit, today=today),
                          override=True)
    unit.requirements_override = _override()
    findings = lint_unit(unit, today=today)
    skip = _REQ["path"]
    if skip:  # the override's own findings are reported once, by its own unit
        findings = [f for f in findings if f.source.file != skip or f.rule in _CROSS_RULES]
    if kind == "tree":
        if len(_UNIT_MEMO) >= _UNIT_MEMO_MAX:
            _UNIT_MEMO.clear()
        _UNIT_MEMO[sig] = (paths, findings)
    return UnitResult(unit.name, [f.path for f in unit.files], findings)


_UNIT_MEMO: dict = {}
_UNIT_MEMO_MAX = 2048


def _rebase_paths(findings: list[Finding], old: list[str], new: list[str]) -> list[Finding]:
    """Findings of one host re-pointed at the matching files of an equivalent host."""
    from dataclasses import replace
    mapping = {o: n for o, n in zip(old, new) if o != n}
    if not mapping:
        return list(findings)
    out = []
    for f in findings:
        file = mapping.get(f.source.file, f.source.file)
        msg = f.message
        for o, n in mapping.items():
            if o in msg:
                msg = msg.replace(o, n)
        out.append(replace(f, source=replace(f.source, file=file), message=msg))
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


class Progress:
    """A one-line progress bar on stderr, only when stderr is a terminal."""

    def __init__(self, total: int | None, enabled: bool):
        self.total, self.done = total, 0
        self.enabled = enabled and sys.stderr.isatty()

    def step(self, n: int) -> None:
        self.done += n
        if not self.enabled:
            return
        if self.total:
            width = 30
            filled = int(width * self.done / max(self.total, 1))
            sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} hosts")
        else:
            sys.stderr.write(f"\r{self.done} hosts")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\r" + " " * 60 + "\r")
            sys.stderr.flush()


def run_units(specs: Iterable[tuple], *, on_result: Callable[[UnitResult], None],
              req_path: str | None = None, jobs: int | None = None, total: int | None = None,
              progress: bool = True, today: _dt.date | None = None) -> None:
    """Lint every spec, calling ``on_result`` in input order."""
    today = today or _dt.date.today()
    jobs = jobs or os.cpu_count() or 1
    bar = Progress(total, progress)
    it = iter(specs)
    head: list[tuple] = []
    for s in it:  # peek: small runs stay in this process
        head.append(s)
        if len(head) >= MIN_PARALLEL:
            break
    try:
        if len(head) < MIN_PARALLEL or jobs <= 1:
            _init_worker(req_path)
            for s in _chain(head, it):
                on_result(lint_spec(s, today))
                bar.step(1)
            return
        window = max(2, jobs * 3)
        with ProcessPoolExecutor(max_workers=jobs, initializer=_init_worker,
                                 initargs=(req_path,)) as pool:
            pending: deque = deque()
            for chunk in _chunks(_chain(head, it), CHUNK):
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
    bar.step(len(results))


def _chain(head: list, it: Iterator) -> Iterator:
    yield from head
    yield from it
