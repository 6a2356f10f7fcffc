"""``mdmtool lint``: run the lint rules over this machine, files, machine trees or a fleet.

Plain function returning the exit code: 0 clean (warnings and info allowed), 1 error-level
findings, 2 usage or input errors (bad option, missing path, a file that is not TOML).
Reporters only format; the exit code is decided here from the findings.
"""

from __future__ import annotations

import os
import shlex
import sys

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
    seen: set[str] = set()
    for p in paths:
        if os.path.isdir(p):
            real = os.path.realpath(p)
            if real in seen:  # the same directory twice would list every host twice
                continue
            seen.add(real)
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
                yield ("host", d, name, d)

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
    """One output destination. Formats that can stream (all built-in ones) are written
    unit by unit; others (registered at run time) are rendered from collected findings.
    Files are written atomically: a temporary file renamed into place at the end."""

    def __init__(self, fmt: str, path: str | None, command: str):
        import importlib

        from mdmtool.reporters import get_reporter
        reporter = get_reporter(fmt)  # validates the name
        self.fmt = fmt
        self.stream = None
        opener = None
        if fmt in _BUILTIN_STREAMING:
            module = importlib.import_module(f"mdmtool.reporters.{fmt}")
            if reporter is module.render:  # not replaced by a registered format
                opener = getattr(module, "open_stream", None)
        self.file = None  # AtomicWriter of an --output file; None: standard output
        if path and path != "-":
            from mdmtool.atomic import AtomicWriter
            self.file = AtomicWriter(path)
            raw = self.file.fh
        else:
            raw = sys.stdout
        from mdmtool.reporters.streaming import Batched
        self.fh = Batched(raw)
        if opener is not None:
            self.stream = opener(self.fh, command)

    def add(self, files, findings, index) -> None:
        if self.stream is not None:
            self.stream.add(files, findings, index)

    def finish(self, findings, files, command, summary, noun, multi) -> None:
        extra: dict = {"summary_lines": summary.lines(noun) if multi else []}
        if multi:
            extra["fleet"] = summary.to_json()
        if self.stream is not None:
            counts = {k: summary.severities.get(k, 0) for k in ("error", "warning", "info")}
            self.stream.close(counts, summary.files, extra)
        else:
            from mdmtool.reporters import render
            self.fh.write(render(self.fmt, findings, files, command, extra))
        self.fh.flush()
        if self.file is not None:
            self.file.commit()
            self.file = None

    def abort(self) -> None:
        self.fh.discard()
        if self.stream is not None:
            self.stream.discard()
        if self.file is not None:
            self.file.abort()
            self.file = None


#: formats whose module has ``open_stream`` (custom registered formats are rendered)
_BUILTIN_STREAMING = ("text", "json", "sarif", "junit", "github")


def run_lint(paths: list[str], *, requirements: str | None = None, fmt: str = "text",
             outputs: list[str] | None = None, system_dir: str = "/etc/codex",
             codex_home: str | None = None, cwd: str | None = None, profile: str | None = None,
             jobs: int | None = None, progress: bool = True, today=None) -> int:
    from mdmtool.lint.fleet import FileLedger, Progress, Summary, run_units
    from mdmtool.reporters import base
    dests = parse_outputs(list(outputs or []))
    base.get_reporter(fmt)
    if any(p == "-" for _, p in dests):
        raise UsageError("--output FORMAT=- would mix two reports on standard output: "
                         "use --format FORMAT for the one on standard output")
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
    command = shlex.join(["mdmtool", "lint"] + _argv_tail())
    sinks: list[_Sink] = []
    try:
        for f, p in [(fmt, None)] + dests:
            sinks.append(_Sink(f, p, command))
    except BaseException:
        for s in sinks:
            s.abort()
        raise
    collect = any(s.stream is None for s in sinks)
    to_terminal = any(s.file is None for s in sinks) and sys.stdout.isatty()
    summary = Summary()
    ledger = FileLedger()
    bar = Progress(total, progress, "hosts" if noun == "hosts" else "units")
    all_findings: list = []
    all_files: list[str] = []

    def on_result(r) -> None:
        new, index = ledger.add(r)
        summary.add(r, len(new))
        if to_terminal and r.findings:
            bar.hide()
        for s in sinks:
            s.add(new, r.findings, index)
        if collect:
            all_findings.extend(r.findings)
            all_files.extend(new)

    try:
        run_units(specs, on_result=on_result, req_path=requirements, jobs=jobs, progress=bar,
                  today=today)
        multi = summary.units > 1 or noun == "hosts"
        for s in sinks:
            s.finish(all_findings, all_files, command, summary, noun, multi)
    except BaseException:
        for s in sinks:
            s.abort()
        raise
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
