"""``mdmtool lint``: run the lint rules over this machine, files, machine trees or a fleet.

Plain function returning the exit code: 0 clean (warnings and info allowed), 1 error-level
findings, 2 usage or input errors (bad option, missing path, a file that is not TOML).
Reporters only format; the exit code is decided here from the findings.
"""

from __future__ import annotations

import os
import shlex
import sys
import tempfile
from typing import TextIO

from mdmtool.errors import MdmError, UsageError


def parse_outputs(outputs: list[str]) -> list[tuple[str, str]]:
    from mdmtool.reporters import formats
    out = []
    for spec in outputs:
        fmt, sep, path = spec.partition("=")
        if not sep or not path:
            raise UsageError(f"--output expects FORMAT=PATH, got {spec!r}")
        if fmt not in formats():
            raise UsageError(f"unknown output format {fmt!r} in --output (choose from {', '.join(formats())})")
        out.append((fmt, path))
    return out


def plan(paths: list[str], *, system_dir: str, codex_home: str | None, cwd: str | None,
         profile: str | None):
    """(specs iterator, estimated unit count or None, noun) for the given paths."""
    from mdmtool.lint import discover
    if not paths:
        from mdmtool.layers import default_codex_home
        home = codex_home or default_codex_home()
        return iter([("machine", system_dir, home, cwd or ".", profile)]), 1, "machines"
    files, trees, fleets = [], [], []
    for p in paths:
        if os.path.isdir(p):
            (trees if discover.is_tree(p) else fleets).append(p)
        elif os.path.exists(p):
            files.append(p)
        else:
            raise MdmError("no such file or directory", file=p)

    def gen():
        if files:
            yield ("files", tuple(files))
        for t in trees:
            yield ("tree", t, t, t)
        for root in fleets:
            for name, d in discover.host_dirs(root):
                yield ("tree", d, name, d)

    noun = "hosts" if fleets else "units"
    return gen(), None, noun


def _count_hosts(paths: list[str]) -> int | None:
    from mdmtool.lint import discover
    n = 0
    for p in paths:
        if os.path.isdir(p) and not discover.is_tree(p):
            n += sum(1 for _ in discover.host_dirs(p))
        else:
            n += 1
    return n


class _Sink:
    """One output destination; streams when its format can, else collects."""

    def __init__(self, fmt: str, path: str | None, stream: TextIO):
        from mdmtool.reporters import get_reporter
        import importlib
        self.fmt, self.path = fmt, path
        self.module = None
        try:
            mod = importlib.import_module(f"mdmtool.reporters.{fmt}")
            if getattr(mod, "STREAMING", False):
                self.module = mod
        except ImportError:
            pass
        get_reporter(fmt)  # validates the name
        self.tmp = None
        if self.module is not None:
            if path:
                d = os.path.dirname(os.path.abspath(path)) or "."
                fd, self.tmp = tempfile.mkstemp(prefix=".mdmtool-", dir=d)
                self.fh = os.fdopen(fd, "w", encoding="utf-8")
            else:
                self.fh = stream

    @property
    def streaming(self) -> bool:
        return self.module is not None

    def write_findings(self, findings) -> None:
        from mdmtool.redact import safe_finding
        for f in findings:
            self.fh.write(self.module.format_finding(safe_finding(f)) + "\n")

    def finish(self, findings, files, command, summary, noun, multi) -> None:
        extra_lines = summary.lines(noun) if multi else []
        if self.streaming:
            counts = {k: summary.severities.get(k, 0) for k in ("error", "warning", "info")}
            self.fh.write(self.module.footer(counts, summary.files, extra_lines))
            if self.tmp:
                self.fh.close()
                os.replace(self.tmp, self.path)
            else:
                self.fh.flush()
            return
        from mdmtool.reporters import render
        extra = {"summary_lines": extra_lines}
        if multi:
            extra["fleet"] = summary.to_json()
        text = render(self.fmt, findings, files, command, extra)
        if self.path:
            from mdmtool.atomic import atomic_write_text
            atomic_write_text(self.path, text)
        else:
            sys.stdout.write(text)
            sys.stdout.flush()

    def abort(self) -> None:
        if self.tmp and os.path.exists(self.tmp):
            self.fh.close()
            os.unlink(self.tmp)


def run_lint(paths: list[str], *, requirements: str | None = None, fmt: str = "text",
             outputs: list[str] | None = None, system_dir: str = "/etc/codex",
             codex_home: str | None = None, cwd: str | None = None, profile: str | None = None,
             jobs: int | None = None, progress: bool = True, today=None) -> int:
    from mdmtool.lint.engine import sort_findings
    from mdmtool.lint.fleet import Summary, run_units
    from mdmtool.reporters import base
    dests = parse_outputs(list(outputs or []))
    base.get_reporter(fmt)
    if requirements is not None:
        if not os.path.isfile(requirements):
            raise MdmError("no such file (--requirements)", file=requirements)
    if jobs is not None and jobs < 1:
        raise UsageError("--jobs must be at least 1")
    specs, total, noun = plan(paths, system_dir=system_dir, codex_home=codex_home, cwd=cwd,
                              profile=profile)
    if progress and sys.stderr.isatty() and total is None:
        total = _count_hosts(paths)
    if requirements is not None:
        specs = _prepend(("override",), specs)
    sinks = [_Sink(fmt, None, sys.stdout)] + [_Sink(f, p, sys.stdout) for f, p in dests]
    collect = any(not s.streaming for s in sinks)
    summary = Summary()
    all_findings: list = []
    all_files: list[str] = []
    units = [0]

    def on_result(r) -> None:
        fs = sort_findings(r.findings)
        if r.override:
            summary.files += len(r.files)
            for f in fs:
                summary.per_rule[f.rule] += 1
                summary.severities[f.severity] += 1
                if f.rule == "MDM100":
                    summary.input_errors += 1
        else:
            summary.add(r)
            units[0] += 1
        for s in sinks:
            if s.streaming:
                s.write_findings(fs)
        if collect:
            all_findings.extend(fs)
            all_files.extend(r.files)

    command = shlex.join(["mdmtool", "lint"] + _argv_tail())
    try:
        run_units(specs, on_result=on_result, req_path=requirements, jobs=jobs, total=total,
                  progress=progress, today=today)
    except BaseException:
        for s in sinks:
            s.abort()
        raise
    multi = units[0] > 1 or noun == "hosts"
    for s in sinks:
        s.finish(all_findings, all_files, command, summary, noun, multi)
    if summary.input_errors:
        return 2
    return 1 if summary.severities.get("error") else 0


def _prepend(first, it):
    yield first
    yield from it


def _argv_tail() -> list[str]:
    argv = sys.argv[1:]
    if argv and argv[0] == "lint":
        return argv[1:]
    return argv
