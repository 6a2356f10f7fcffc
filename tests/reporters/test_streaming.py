"""Streamed reports (fleet runs) are the documents ``render`` writes."""

from __future__ import annotations

import importlib
import io
import json
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mdmtool.model import Finding, Source
from mdmtool.redact import safe_finding
from mdmtool.reporters import render
from mdmtool.reporters.base import Report, formats, sort_key
from mdmtool.reporters.streaming import dumps_indented, indent_json

EXTRA = {"summary_lines": ["hosts checked: 2; files: 4"], "fleet": {"hosts": 2, "files": 4}}
COMMAND = "mdmtool lint --requirements r.toml --header token=sk-abcdefghijklmnop1234"


def _stream(fmt: str, units: list[tuple[list[str], list[Finding]]], counts, nfiles) -> str:
    buf = io.StringIO()
    stream = importlib.import_module(f"mdmtool.reporters.{fmt}").open_stream(buf, COMMAND)
    index: dict[str, int] = {}
    for files, findings in units:
        for p in files:
            index.setdefault(p, len(index))
        stream.add(files, sorted((safe_finding(f) for f in findings), key=sort_key), index)
    stream.close(counts, nfiles, EXTRA)
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "junit", "github"])
@pytest.mark.parametrize("clean", [False, True])
def test_one_unit_streams_byte_for_byte_what_render_writes(fmt, clean, findings, files):
    fs = [] if clean else findings + [
        Finding("MDM302", "warning", "Authorization: Bearer abcdef0123456789 leaks", Source(None))]
    want = render(fmt, fs, files, COMMAND, EXTRA)
    rep = Report(list(fs), list(files), COMMAND, {})
    assert _stream(fmt, [(rep.files, fs)], rep.counts(), len(rep.files)) == want
    assert "abcdef0123456789" not in want and "sk-abcdefghijklmnop1234" not in want


def test_every_builtin_format_streams():
    for fmt in formats():
        assert hasattr(importlib.import_module(f"mdmtool.reporters.{fmt}"), "open_stream"), fmt


def test_units_stream_in_order_with_shared_files(findings):
    """Two hosts and the shared requirements file: a finding of the second host on the
    requirements file (listed by the first unit) points at that file's artifact."""
    req = "fleet-req.toml"
    a = [Finding("MDM110", "error", "refuses to start", Source("h1/config.toml", 1, 1))]
    b = [Finding("MDM110", "error", "host 2: requirements leave no fallback", Source(req, 2, 1)),
         Finding("MDM301", "warning", "danger", Source("h2/config.toml", 3, 5))]
    units = [([req], []), (["h1/config.toml"], a), (["h2/config.toml"], b)]
    counts = {"error": 2, "warning": 1, "info": 0}
    doc = json.loads(_stream("json", units, counts, 3))
    assert doc["files"] == [req, "h1/config.toml", "h2/config.toml"]
    assert [f["message"] for f in doc["findings"]] == ["refuses to start",
                                                        "host 2: requirements leave no fallback",
                                                        "danger"]
    assert doc["summary"] == {**counts, "files": 3} and doc["fleet"] == EXTRA["fleet"]
    run = json.loads(_stream("sarif", units, counts, 3))["runs"][0]
    idx = [r["locations"][0]["physicalLocation"]["artifactLocation"]["index"] for r in run["results"]]
    assert idx == [1, 0, 2]
    assert [r["ruleIndex"] for r in run["results"]] == [0, 0, 1]
    suite = ET.fromstring(_stream("junit", units, counts, 3))
    cases = [(c.get("name"), c.find("failure") is not None) for c in suite.iter("testcase")]
    assert cases == [(req, False), ("h1/config.toml", True), ("h2/config.toml", False), (req, True)]
    assert suite.get("tests") == "4" and suite.get("failures") == "2"


def test_dumps_indented_matches_json_module():
    for obj in [{}, {"a": 1, "b": [], "c": {}, "d": {"x": [1, {"y": None}]}, "e": 'é"\n',
                     "f": 1.5, "g": True, "h": None}, {1: 2}]:
        for level in (0, 2, 4):
            assert dumps_indented(obj, level) == indent_json(json.dumps(obj, indent=2), level)


_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text()
_TREES = st.recursive(_SCALARS, lambda c: st.lists(c, max_size=4) | st.tuples(c, c)
                      | st.dictionaries(st.text(max_size=5), c, max_size=4), max_leaves=20)


@settings(max_examples=500, deadline=None)
@given(_TREES, st.integers(0, 3))
def test_dumps_indented_matches_json_module_on_any_document(obj, level):
    assert dumps_indented(obj, level) == indent_json(json.dumps(obj, indent=2, default=str), level)
