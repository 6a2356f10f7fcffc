"""``mdmtool fleet report | impact | summary`` over collected effective documents."""

from __future__ import annotations

import csv
import io
import json
import sys

from mdmtool.errors import EXIT_FINDINGS, EXIT_OK, MdmError, UsageError

FORMATS = ("text", "json", "csv")
FAIL_ON = ("refuse", "fallback", "change")


class _CsvSink:
    """Collects CSV rows (header first) for stdout and/or an atomically written file."""

    def __init__(self, header) -> None:
        self.buf = io.StringIO()
        self.writer = csv.writer(self.buf, lineterminator="\n")
        self.writer.writerow(header)

    def add(self, row) -> None:
        from mdmtool.redact import scrub
        self.writer.writerow(scrub(list(row)))

    def text(self) -> str:
        return self.buf.getvalue()


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise UsageError(f"unknown --format {fmt!r} (choose from {', '.join(FORMATS)})")


def _save_csv(path: str, text: str) -> None:
    from mdmtool.atomic import atomic_write_text
    atomic_write_text(path, text)
    print(f"wrote {path}", file=sys.stderr)


def run_report(source: str, *, fmt: str = "text", csv_path: str | None = None) -> int:
    """Exit 0; 1 when a host would refuse to start or a document is unreadable; 2 when
    nothing could be read."""
    from mdmtool.fleet import HostRow, build_report

    _check_format(fmt)
    sink = _CsvSink(HostRow.CSV_FIELDS) if (csv_path or fmt == "csv") else None
    report = build_report(source, (lambda row: sink.add(row.csv_row())) if sink else None)
    if report.hosts == 0 and report.unreadable:
        first = report.unreadable[0]
        raise MdmError(f"no readable effective document ({len(report.unreadable)} unreadable; "
                       f"first: {first[0]}: {first[1]})")
    if report.hosts == 0:
        raise MdmError("no effective documents found (expected *.json files or JSON lines)", file=source)
    if csv_path and sink:
        _save_csv(csv_path, sink.text())
    from mdmtool.redact import redact_text, scrub
    if fmt == "json":
        sys.stdout.write(json.dumps(scrub(report.to_json()), indent=2) + "\n")
    elif fmt == "csv":
        sys.stdout.write(sink.text())
    else:
        sys.stdout.write(redact_text(report.to_text()))
    return EXIT_FINDINGS if (report.refusing or report.unreadable) else EXIT_OK


def run_summary(path: str) -> int:
    from mdmtool.fleet import _load_one, iter_documents, summary_line
    if path == "-":
        from mdmtool.fleet import MAX_DOCUMENT_CHARS, _too_long
        text = sys.stdin.read(MAX_DOCUMENT_CHARS + 1)
        docs = [_too_long("<stdin>") if len(text) > MAX_DOCUMENT_CHARS else _load_one(text, "<stdin>")]
    else:
        docs = list(iter_documents(path))
    if len(docs) != 1:
        raise MdmError(f"expected one effective document, found {len(docs)}", file=path)
    if docs[0].doc is None:
        raise MdmError(docs[0].error or "unreadable", file=path)
    from mdmtool.redact import redact_text
    print(redact_text(summary_line(docs[0].doc)))
    return EXIT_OK


IMPACT_CSV = ("host", "status", "changes", "new_fallbacks", "before_ok", "after_ok",
              "before_approval_policy", "after_approval_policy", "before_sandbox_mode",
              "after_sandbox_mode", "before_web_search", "after_web_search", "after_error", "note",
              "source")


def _impact_csv_row(h) -> list[str]:
    from mdmtool.fleet import _csv
    b, a = h.before, h.after
    return [h.host, h.status, "; ".join(h.changes), ";".join(h.new_fallbacks),
            _csv(b.ok if b else None), _csv(a.ok if a else None),
            _csv(b.values.get("approval_policy") if b else None),
            _csv(a.values.get("approval_policy") if a else None),
            _csv(b.values.get("sandbox_mode") if b else None),
            _csv(a.values.get("sandbox_mode") if a else None),
            _csv(b.values.get("web_search") if b else None),
            _csv(a.values.get("web_search") if a else None),
            _csv(a.error if a else None), _csv(h.note), h.origin]


def run_impact(source: str, requirements: str, *, channel: str = "system", fmt: str = "text",
               csv_path: str | None = None, fail_on: list[str] | None = None) -> int:
    """Predict every host; exit 1 when a --fail-on condition is met by any host."""
    from collections import Counter

    from mdmtool.fleet import TEXT_LIMIT, iter_documents
    from mdmtool.impact import ImpactAnalysis
    from mdmtool.redact import redact_text, scrub

    _check_format(fmt)
    fail_on = list(fail_on or [])
    for f in fail_on:
        if f not in FAIL_ON:
            raise UsageError(f"unknown --fail-on {f!r} (choose from {', '.join(FAIL_ON)})")
    sink = _CsvSink(IMPACT_CSV) if (csv_path or fmt == "csv") else None
    counts: Counter = Counter()
    newly_refusing = 0
    fb_keys: Counter = Counter()
    listed: dict[str, list] = {"refuses": [], "falls-back": [], "changes": [], "cannot-predict": []}
    unreadable: list[tuple[str, str]] = []
    first = True
    head = json.dumps({"schema_version": 1, "kind": "mdmtool-fleet-impact",
                       "requirements": requirements, "channel": channel})[:-1] + ', "hosts": [\n'
    with ImpactAnalysis(requirements, channel) as analysis:
        for item in iter_documents(source):
            if item.doc is None:
                unreadable.append((item.origin, item.error or "unreadable"))
                continue
            h = analysis.host(item.doc, item.origin)
            counts[h.status] += 1
            if h.status == "refuses" and h.before and h.before.ok:
                newly_refusing += 1
            fb_keys.update(h.new_fallbacks)
            if h.status in listed and len(listed[h.status]) <= TEXT_LIMIT:
                listed[h.status].append(h)
            if fmt == "json":  # streamed: hosts as they are predicted, the summary last
                sys.stdout.write((head if first else ",\n") + json.dumps(scrub(h.to_json())))
                first = False
            if sink:
                sink.add(_impact_csv_row(h))
        resolutions = analysis.resolutions
    hosts = sum(counts.values())
    if hosts == 0:
        raise MdmError("no readable effective documents"
                       + (f" ({len(unreadable)} unreadable; first: {unreadable[0][0]}: {unreadable[0][1]})"
                          if unreadable else ""), file=source)
    if csv_path and sink:
        _save_csv(csv_path, sink.text())
    summary = {"hosts": hosts, "refuses": counts["refuses"], "newly_refusing": newly_refusing,
               "falls_back": counts["falls-back"], "new_fallbacks_by_key": dict(fb_keys.most_common()),
               "changes": counts["changes"], "unchanged": counts["unchanged"],
               "cannot_predict": counts["cannot-predict"], "unreadable": len(unreadable),
               "distinct_setups_resolved": resolutions}
    if fmt == "json":
        tail = {"unreadable": [{"source": o, "error": e} for o, e in unreadable], "summary": summary}
        sys.stdout.write("\n], " + json.dumps(scrub(tail), indent=2)[1:] + "\n")
    elif fmt == "csv":
        sys.stdout.write(sink.text())
    else:
        out = [f"Impact of {requirements} (as {channel} requirements) on {hosts} host(s):",
               f"  would refuse to start: {counts['refuses']} (newly: {newly_refusing})",
               f"  would run on a new fallback: {counts['falls-back']}"
               + (" (" + ", ".join(f"{k} {c}" for k, c in fb_keys.most_common()) + ")" if fb_keys else ""),
               f"  effective policy changes otherwise: {counts['changes']}",
               f"  unchanged: {counts['unchanged']}"]
        if counts["cannot-predict"]:
            out.append(f"  cannot predict: {counts['cannot-predict']}")
        if unreadable:
            out.append(f"  unreadable documents: {len(unreadable)}")
        titles = {"refuses": "Would refuse to start", "falls-back": "Would fall back",
                  "changes": "Would change", "cannot-predict": "Cannot predict"}
        for status, rows in listed.items():
            if not rows:
                continue
            out.append(f"{titles[status]}:")
            for h in rows[:TEXT_LIMIT]:
                detail = (h.after.error if status == "refuses" and h.after else
                          h.note if status == "cannot-predict" else "; ".join(h.changes))
                if status == "falls-back":
                    detail = f"fallback {', '.join(h.new_fallbacks)}" + (f"; {detail}" if detail else "")
                out.append(f"  {h.host}: {detail}")
            total = counts[status]
            if total > TEXT_LIMIT:
                out.append(f"  ... and {total - TEXT_LIMIT} more (--format json or --csv for all)")
        sys.stdout.write(redact_text("\n".join(out)) + "\n")
    hit = (("refuse" in fail_on and counts["refuses"]) or
           ("fallback" in fail_on and (counts["falls-back"] or counts["refuses"])) or
           ("change" in fail_on and (counts["changes"] or counts["falls-back"] or counts["refuses"])))
    unknown = len(unreadable) + counts["cannot-predict"]
    if fail_on and unknown and not hit:  # a rollout gate fails closed on hosts it cannot assess
        print(f"mdmtool: {unknown} host(s) could not be assessed; failing --fail-on closed",
              file=sys.stderr)
        return EXIT_FINDINGS
    return EXIT_FINDINGS if hit else EXIT_OK
