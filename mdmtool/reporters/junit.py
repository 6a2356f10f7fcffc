"""JUnit XML for CI test tabs: one testcase per checked file.

A file with error-level findings is a failed testcase; every finding (any severity) is
listed in the testcase text so CI viewers show warnings too. Clean files pass.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from mdmtool.reporters.base import Report

# characters XML 1.0 cannot carry at all
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: str) -> str:
    return _INVALID_XML.sub("\ufffd", text)


def suites(tool_command: str, tests: int, failures: int):
    """The ``<testsuites>`` root and its one ``<testsuite>`` (no testcases yet)."""
    root = ET.Element("testsuites", name="mdmtool", tests=str(tests),
                      failures=str(failures), errors="0", time="0")
    suite = ET.SubElement(root, "testsuite", name=_clean(tool_command),
                          tests=str(tests), failures=str(failures), errors="0",
                          skipped="0", time="0")
    return root, suite


def testcase(suite, path: str, fs: list) -> ET.Element:
    """One file's testcase: failed when it has error-level findings, every finding listed."""
    name = path or "(no file)"
    attrs = dict(classname="mdmtool", name=_clean(name), file=_clean(name), time="0")
    case = ET.Element("testcase", attrs) if suite is None else ET.SubElement(suite, "testcase", attrs)
    if not fs:
        return case
    body = "\n".join(_clean(f.line_text() + (f"\n    fix: {f.remediation}" if f.remediation else ""))
                     for f in fs)
    errors = [f for f in fs if f.severity == "error"]
    if errors:
        rules = ", ".join(sorted({f.rule for f in errors}))
        fail = ET.SubElement(case, "failure", type=rules,
                             message=_clean(f"{len(errors)} error(s): {errors[0].message}"))
        fail.text = body
    else:
        out = ET.SubElement(case, "system-out")
        out.text = body
    return case


def render(report: Report) -> str:
    groups = report.by_file()
    failures = sum(1 for fs in groups.values() if any(f.severity == "error" for f in fs))
    root, suite = suites(report.tool_command, len(groups), failures)
    for path, fs in groups.items():
        testcase(suite, path, fs)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def open_stream(fh, tool_command: str):
    """Write this format unit by unit (see :mod:`mdmtool.reporters.streaming`)."""
    from mdmtool.reporters.streaming import JUnitStream
    return JUnitStream(fh, tool_command)
