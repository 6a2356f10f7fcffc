"""Reports written unit by unit, so a fleet run's memory stays flat however many hosts.

A format streams when its module defines ``open_stream(fh, tool_command)`` returning a
:class:`Stream`. The caller (``mdmtool lint``) feeds it every unit's files and findings
as they arrive and closes it with the totals; the result is the document ``render``
writes, with files and findings in unit order (each unit's findings sorted) instead of
one global sort. Parts that must follow something known only at the end (JSON's summary,
SARIF's rule table, JUnit's counts) are spooled to an anonymous temporary file, never
held in memory.

Contract: findings are already redacted (:func:`mdmtool.redact.safe_finding`) and sorted;
``files`` are the unit's new checked files, every file a finding names is among the files
passed so far, and ``index`` maps each path the unit mentions to its position in the
whole files list.
"""

from __future__ import annotations

import shutil
import tempfile
from typing import TextIO

from mdmtool.model import Finding


class Batched:
    """Joins small writes into ~64 KiB ones. Streaming reporters write once per host; on an
    unbuffered standard output (``python -u``, PYTHONUNBUFFERED=1) each would be a system
    call. Output still streams, a batch at a time; :meth:`flush` writes what is left."""

    LIMIT = 1 << 16

    def __init__(self, fh: TextIO):
        self._fh = fh
        self._parts: list[str] = []
        self._size = 0

    def write(self, text: str) -> int:
        self._parts.append(text)
        self._size += len(text)
        if self._size >= self.LIMIT:
            self._drain()
        return len(text)

    def _drain(self) -> None:
        if self._parts:
            self._fh.write("".join(self._parts))
            self._parts.clear()
            self._size = 0

    def flush(self) -> None:
        self._drain()
        self._fh.flush()

    def discard(self) -> None:
        """Forget what is not written yet (the run failed)."""
        self._parts.clear()
        self._size = 0


class Spool:
    """Text written to an anonymous temporary file, copied out at the end."""

    def __init__(self) -> None:
        self.fh = tempfile.TemporaryFile("w+", encoding="utf-8")
        self.n = 0  # items written

    def sep(self, first: str, other: str) -> str:
        self.n += 1
        return first if self.n == 1 else other

    def write(self, text: str) -> None:
        self.fh.write(text)

    def copy_to(self, out: TextIO) -> None:
        self.fh.flush()
        self.fh.seek(0)
        shutil.copyfileobj(self.fh, out, 1 << 16)
        self.fh.close()

    def close(self) -> None:
        if not self.fh.closed:
            self.fh.close()


class Stream:
    """Base class: one output document being written."""

    def __init__(self, fh: TextIO, tool_command: str):
        from mdmtool.redact import redact_text
        self.fh = fh
        self.tool_command = redact_text(tool_command)
        self.spools: list[Spool] = []

    def spool(self) -> Spool:
        s = Spool()
        self.spools.append(s)
        return s

    def add(self, files: list[str], findings: list[Finding], index: dict[str, int]) -> None:
        raise NotImplementedError

    def close(self, counts: dict[str, int], nfiles: int, extra: dict) -> None:
        raise NotImplementedError

    def discard(self) -> None:
        """Drop the spools (the run failed; the caller removes the partial output)."""
        for s in self.spools:
            s.close()


class LineStream(Stream):
    """Formats with one self-contained piece per finding and a footer (text, github)."""

    def __init__(self, fh: TextIO, tool_command: str, format_finding, footer):
        super().__init__(fh, tool_command)
        self._format, self._footer = format_finding, footer

    def add(self, files, findings, index) -> None:
        if findings:
            self.fh.write("".join(self._format(f) + "\n" for f in findings))

    def close(self, counts, nfiles, extra) -> None:
        self.fh.write(self._footer(counts, nfiles, extra.get("summary_lines")))


def indent_json(text: str, level: int) -> str:
    """``json.dumps(..., indent=2)`` output placed ``level`` levels deep in a document."""
    return text.replace("\n", "\n" + "  " * level)


_ENCODE = None


def dumps_indented(obj, level: int) -> str:
    """``indent_json(json.dumps(obj, indent=2, default=str), level)``, faster: json's C
    encoder is used only without ``indent``, so containers are laid out here, strings
    and integers are written directly and other scalars encoded by json."""
    global _ENCODE
    if _ENCODE is None:
        import json
        _ENCODE = json.JSONEncoder(default=str).encode
    return _dump(obj, level, _ENCODE)


def _dump(v, level: int, enc) -> str:
    t = type(v)
    if t is str:
        return _escape(v)
    if t is int:
        return int.__repr__(v)
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, dict) and v:
        if not all(isinstance(k, str) for k in v):  # json's own key conversions
            import json
            return indent_json(json.dumps(v, indent=2, default=str), level)
        pad = "\n" + "  " * (level + 1)
        inner = level + 1
        return ("{" + ",".join([pad + _escape(k) + ": " + _dump(x, inner, enc) for k, x in v.items()])
                + "\n" + "  " * level + "}")
    if isinstance(v, (list, tuple)) and v:
        pad = "\n" + "  " * (level + 1)
        inner = level + 1
        return "[" + ",".join([pad + _dump(x, inner, enc) for x in v]) + "\n" + "  " * level + "]"
    return enc(v)


def _escape(text: str) -> str:
    from json.encoder import encode_basestring_ascii  # what json.dumps writes for a str
    global _escape
    _escape = encode_basestring_ascii
    return encode_basestring_ascii(text)


def _placeholder() -> str:
    import os
    return "@@mdmtool-" + os.urandom(12).hex() + "@@"


class JsonStream(Stream):
    """:func:`mdmtool.reporters.json.render`'s document: files go straight out, findings
    to a spool copied in after the summary (known only at the end)."""

    def __init__(self, fh: TextIO, tool_command: str):
        import json

        from mdmtool.reporters.json import _head
        super().__init__(fh, tool_command)
        self.findings = self.spool()
        self.nfiles = 0
        head = json.dumps(_head(self.tool_command), indent=2)
        fh.write(head[:-2] + ',\n  "files": [')

    def add(self, files, findings, index) -> None:
        import json

        from mdmtool.reporters.json import finding_to_json
        out = []
        for p in files:
            self.nfiles += 1
            out.append(("\n    " if self.nfiles == 1 else ",\n    ") + json.dumps(p))
        if out:
            self.fh.write("".join(out))
        sp = self.findings
        for f in findings:
            sp.write(sp.sep("\n    ", ",\n    ") + dumps_indented(finding_to_json(f), 2))

    def close(self, counts, nfiles, extra) -> None:
        import json

        from mdmtool.redact import scrub
        w = self.fh.write
        w("\n  ]" if self.nfiles else "]")
        w(',\n  "summary": ' + indent_json(json.dumps({**counts, "files": nfiles}, indent=2), 1))
        w(',\n  "findings": [')
        self.findings.copy_to(self.fh)
        w("\n  ]" if self.findings.n else "]")
        taken = {"version", "tool", "command", "files", "summary", "findings", "summary_lines"}
        for k, v in scrub(extra).items():
            if k not in taken:
                w(",\n  " + json.dumps(k) + ": " + indent_json(json.dumps(v, indent=2, default=str), 1))
        w("\n}\n")


class SarifStream(Stream):
    """:func:`mdmtool.reporters.sarif.render`'s document: artifacts and results spooled,
    the rule table (first finding of each rule) kept, all written at the end."""

    def __init__(self, fh: TextIO, tool_command: str):
        super().__init__(fh, tool_command)
        self.artifacts, self.results = self.spool(), self.spool()
        self.rules: list[dict] = []
        self.rule_index: dict[str, int] = {}

    def add(self, files, findings, index) -> None:
        import json

        from mdmtool.reporters.sarif import _result, _rule, artifact_uri
        for p in files:
            self.artifacts.write(self.artifacts.sep("\n        ", ",\n        ") + indent_json(
                json.dumps({"location": {"uri": artifact_uri(p)}}, indent=2), 4))
        for f in findings:
            if f.rule not in self.rule_index:
                self.rule_index[f.rule] = len(self.rules)
                self.rules.append(_rule(f.rule, f))
            self.results.write(self.results.sep("\n        ", ",\n        ")
                               + dumps_indented(_result(f, self.rule_index[f.rule], index), 4))

    def close(self, counts, nfiles, extra) -> None:
        import json

        from mdmtool import CODEX_VERSION, __version__
        from mdmtool.reporters.sarif import INFO_URI, SARIF_SCHEMA
        arts, res = _placeholder(), _placeholder()
        run = {
            "tool": {"driver": {"name": "mdmtool", "version": __version__,
                                "semanticVersion": __version__, "informationUri": INFO_URI,
                                "rules": self.rules, "properties": {"codexVersion": CODEX_VERSION}}},
            "invocations": [{"commandLine": self.tool_command, "executionSuccessful": True}],
            "artifacts": arts,
            "results": res,
            "columnKind": "unicodeCodePoints",
        }
        text = json.dumps({"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]},
                          indent=2, default=str) + "\n"
        before, _, rest = text.partition(json.dumps(arts))
        middle, _, after = rest.partition(json.dumps(res))
        for piece, spool in ((before, self.artifacts), (middle, self.results)):
            self.fh.write(piece + "[")
            spool.copy_to(self.fh)
            self.fh.write("\n      ]" if spool.n else "]")
        self.fh.write(after)


class JUnitStream(Stream):
    """:func:`mdmtool.reporters.junit.render`'s document: testcases spooled, the suite's
    counts written first at the end. A finding on a file an earlier unit listed (the
    shared ``--requirements`` file) gets a testcase of its own in this unit."""

    def __init__(self, fh: TextIO, tool_command: str):
        super().__init__(fh, tool_command)
        self.cases = self.spool()
        self.failures = 0

    def add(self, files, findings, index) -> None:
        import xml.etree.ElementTree as ET

        from mdmtool.reporters.junit import testcase
        groups: dict[str, list[Finding]] = {f: [] for f in files}
        for fd in findings:
            groups.setdefault(fd.source.file or "", []).append(fd)
        for path, fs in groups.items():
            case = testcase(None, path, fs)
            ET.indent(case, level=2)
            self.failures += any(f.severity == "error" for f in fs)
            self.cases.write(self.cases.sep("", "\n    ") + ET.tostring(case, encoding="unicode"))

    def close(self, counts, nfiles, extra) -> None:
        import xml.etree.ElementTree as ET

        from mdmtool.reporters.junit import suites
        root, suite = suites(self.tool_command, self.cases.n, self.failures)
        if not self.cases.n:
            ET.indent(root)
            self.fh.write('<?xml version="1.0" encoding="UTF-8"?>\n'
                          + ET.tostring(root, encoding="unicode") + "\n")
            return
        mark = "mdmtool-cases-" + _placeholder().strip("@")
        ET.SubElement(suite, mark)
        ET.indent(root)
        before, _, after = ET.tostring(root, encoding="unicode").partition(f"<{mark} />")
        self.fh.write('<?xml version="1.0" encoding="UTF-8"?>\n' + before)
        self.cases.copy_to(self.fh)
        self.fh.write(after + "\n")
