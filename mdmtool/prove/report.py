"""Render a ProveResult: text table, JSON, JUnit XML. Reporters never decide exit codes."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from mdmtool.prove.engine import ProveResult
from mdmtool.prove.probes import FAIL, PASS, PREDICTED, SKIP

FORMATS = ("text", "json", "junit")


def render(result: ProveResult, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(result.to_json(), indent=2) + "\n"
    if fmt == "junit":
        return render_junit(result)
    return render_text(result)


def _describe(result: ProveResult) -> str:
    lay = result.layout
    if lay is None:
        return ""
    if lay.full_access:
        return "danger-full-access (no sandbox)"
    kind = "workspace-write" if lay.writable_roots else "read-only"
    extra = []
    if lay.deny_paths or lay.deny_globs:
        extra.append(f"{len(lay.deny_paths) + len(lay.deny_globs)} deny-read rule(s)")
    return f"{kind}, network {lay.network}" + (", " + ", ".join(extra) if extra else "")


def render_text(result: ProveResult) -> str:
    lines = []
    if result.result == "unsupported":
        return f"mdmtool prove: unsupported on {result.platform}: {result.message}\n"
    where = result.workspace + (" (kept)" if result.kept else " (removed)") if result.workspace else "-"
    lines.append(f"mdmtool prove: {_describe(result)}")
    lines.append(f"workspace: {where}")
    if result.runs:
        lines.append("backends: " + ", ".join(f"{r.name} {r.version or '?'}" if r.version or
                                              r.argv else f"{r.name} (no sandbox)" for r in result.runs))
    names = [r.name for r in result.runs]
    by_run = [{o.probe.id: o for o in r.outcomes} for r in result.runs]
    rows = [["PROBE", "EXPECTED", *[n.upper() for n in names], "RESULT"]]
    failures = []
    for p in result.probes:
        cells = [p.id, p.expected + (f" ({p.expect_detail})" if p.expect_detail else "")]
        statuses = []
        for name, outs in zip(names, by_run):
            o = outs.get(p.id)
            cells.append("-" if o is None or o.observed is None else o.observed)
            if o is not None:
                statuses.append(o.status)
                if o.status == FAIL:
                    failures.append(f"  {p.id} [{name}]: expected {p.expected}, observed "
                                    f"{o.observed}: {o.detail}  ({p.why})")
        cells.append(_overall(statuses))
        rows.append(cells)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    for r in result.runs:
        if r.error:
            lines.append(f"{r.name}: error: {r.error}")
    if failures:
        lines.append("mismatches:")
        lines += failures
    for d in result.disagreements:
        vals = ", ".join(f"{k}={v}" for k, v in d.items() if k != "probe" and not k.endswith("_detail"))
        lines.append(f"backends disagree on {d['probe']}: {vals}")
    total = len(result.probes)
    nfail = sum(1 for r in result.runs for o in r.outcomes if o.status == FAIL)
    npred = sum(1 for o in (result.runs[0].outcomes if result.runs else []) if o.status == PREDICTED)
    times = ", ".join(f"{r.name} {r.elapsed_s:.2f}s" for r in result.runs)
    lines.append(f"result: {result.result.upper()} - {total} probes, {nfail} mismatch(es), "
                 f"{len(result.disagreements)} disagreement(s)"
                 + (f", {npred} offline prediction(s)" if npred else "") + (f"; {times}" if times else ""))
    return "\n".join(lines) + "\n"


def _overall(statuses: list[str]) -> str:
    if FAIL in statuses:
        return FAIL
    if PASS in statuses:
        return PASS
    if PREDICTED in statuses:
        return PREDICTED
    return SKIP if statuses else "-"


def render_junit(result: ProveResult) -> str:
    suites = ET.Element("testsuites", name="mdmtool prove")
    if result.result == "unsupported":
        s = ET.SubElement(suites, "testsuite", name=f"prove ({result.platform})", tests="1",
                          failures="0", skipped="1")
        case = ET.SubElement(s, "testcase", classname="prove", name="platform")
        ET.SubElement(case, "skipped", message=f"unsupported: {result.message}")
    for run in result.runs:
        outs = run.outcomes
        s = ET.SubElement(suites, "testsuite", name=f"prove.{run.name}", tests=str(len(outs)),
                          failures=str(sum(o.status == FAIL for o in outs)),
                          skipped=str(sum(o.status in (SKIP, PREDICTED) for o in outs)),
                          time=f"{run.elapsed_s:.3f}")
        if run.error:
            case = ET.SubElement(s, "testcase", classname=f"prove.{run.name}", name="backend")
            ET.SubElement(case, "error", message=run.error)
        for o in outs:
            case = ET.SubElement(s, "testcase", classname=f"prove.{run.name}", name=o.probe.id)
            if o.status == FAIL:
                ET.SubElement(case, "failure", message=(
                    f"expected {o.probe.expected}, observed {o.observed}")).text = \
                    f"{o.probe.title}\n{o.detail}\npolicy: {o.probe.why}"
            elif o.status in (SKIP, PREDICTED):
                ET.SubElement(case, "skipped", message=f"{o.status}: {o.detail}")
    if result.disagreements:
        s = ET.SubElement(suites, "testsuite", name="prove.agreement",
                          tests=str(len(result.disagreements)),
                          failures=str(len(result.disagreements)), skipped="0")
        for d in result.disagreements:
            case = ET.SubElement(s, "testcase", classname="prove.agreement", name=d["probe"])
            ET.SubElement(case, "failure", message="backends disagree").text = json.dumps(d)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
