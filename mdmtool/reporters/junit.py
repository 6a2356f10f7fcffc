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


def render(report: Report) -> str:
    groups = report.by_file()
    failures = sum(1 for fs in groups.values() if any(f.severity == "error" for f in fs))
    root = ET.Element("testsuites", name="mdmtool", tests=str(len(groups)),
                      failures=str(failures), errors="0", time="0")
    suite = ET.SubElement(root, "testsuite", name=_clean(report.tool_command),
                          tests=str(len(groups)), failures=str(failures), errors="0",
                          skipped="0", time="0")
    for path, fs in groups.items():
        name = path or "(no file)"
        case = ET.SubElement(suite, "testcase", classname="mdmtool", name=_clean(name),
                             file=_clean(name), time="0")
        if not fs:
            continue
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
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
