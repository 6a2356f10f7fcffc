"""Fleet views over collected ``mdmtool effective --format json`` documents.

A fleet is a directory of JSON documents (one per host, any depth) or a JSON-lines file.
Documents are read one at a time and reduced to a small :class:`HostRow`, so 100,000
hosts fit in a few MB. Impact analysis (:mod:`mdmtool.impact`) re-resolves hosts from
the ``layers`` their documents carry.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Iterator

from mdmtool.errors import MdmError

SUPPORTED_SCHEMA = 1
_FALLBACK_RE = re.compile(r"Configured value for `([^`]+)` is disallowed by requirements; falling back")
#: how many hosts per category the text views list
TEXT_LIMIT = 20

POLICY_FIELDS = ("approval_policy", "approvals_reviewer", "sandbox_mode", "network_access", "web_search")


# ----------------------------------------------------------------------------- input

@dataclass
class Document:
    """One collected document (or the reason it could not be read)."""

    origin: str  # file path, or file:line for JSON lines
    doc: dict[str, Any] | None
    error: str | None = None


def _load_one(text: str, origin: str) -> Document:
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return Document(origin, None, f"not JSON: {exc}")
    if not isinstance(doc, dict):
        return Document(origin, None, "not a JSON object")
    if "effective" in doc and isinstance(doc["effective"], dict):  # envelope {"host", "effective"}
        inner = dict(doc["effective"])
        for k, v in doc.items():
            if k != "effective":
                inner.setdefault(k, v)
        doc = inner
    version = doc.get("schema_version")
    if version != SUPPORTED_SCHEMA:
        return Document(origin, None, f"not an `mdmtool effective` document with schema_version "
                                      f"{SUPPORTED_SCHEMA} (schema_version: {version!r})")
    if "ok" not in doc:
        return Document(origin, None, "document has no \"ok\" field")
    return Document(origin, doc)


#: the largest document (or JSON line) read; effective documents are tens of KB
MAX_DOCUMENT_CHARS = 64 * 1024 * 1024


def _lines(fh) -> Iterator[str | None]:
    """The lines of ``fh``, each read with a bound; a line past it yields ``None`` and ends
    the reading (it may be endless: ``/dev/zero``)."""
    while True:
        line = fh.readline(MAX_DOCUMENT_CHARS + 1)
        if not line:
            return
        if len(line) > MAX_DOCUMENT_CHARS and not line.endswith("\n"):
            yield None
            return
        yield line


def _too_long(origin: str) -> Document:
    return Document(origin, None, f"larger than {MAX_DOCUMENT_CHARS // (1024 * 1024)} MiB; not read "
                                  "(nor anything after it in this file)")


def _iter_lines(fh, name: str, lines: Iterator[str | None] | None = None,
                start: int = 1) -> Iterator[Document]:
    for n, line in enumerate(lines if lines is not None else _lines(fh), start):
        if line is None:
            yield _too_long(f"{name}:{n}")
        elif line.strip():
            yield _load_one(line, f"{name}:{n}")


def _open(path: str):
    """Open for reading without blocking on a FIFO nobody writes to (it reads as empty)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    if hasattr(os, "O_NONBLOCK"):
        os.set_blocking(fd, True)
    return open(fd, encoding="utf-8", errors="replace")


def _iter_dir(root: str) -> Iterator[Document]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            if not name.endswith((".json", ".jsonl")):
                continue
            if not os.path.isfile(path):
                yield Document(path, None, "not a regular file")
                continue
            try:
                with _open(path) as fh:
                    if name.endswith(".jsonl"):
                        yield from _iter_lines(fh, path)
                        continue
                    text = fh.read(MAX_DOCUMENT_CHARS + 1)
            except OSError as exc:
                yield Document(path, None, f"cannot read: {exc.strerror or exc}")
                continue
            yield _too_long(path) if len(text) > MAX_DOCUMENT_CHARS else _load_one(text, path)


def iter_documents(source: str) -> Iterator[Document]:
    """Every document of a fleet source: a directory, a JSON-lines file, one JSON file or '-'.

    Read as a stream (a pipe works: nothing seeks), every document or line bounded."""
    if source == "-":
        yield from _iter_lines(sys.stdin, "<stdin>")
        return
    if os.path.isdir(source):
        yield from _iter_dir(source)
        return
    if not os.path.exists(source):
        raise MdmError("no such file or directory", file=source)
    try:
        fh = _open(source)
    except OSError as exc:
        raise MdmError(f"cannot read: {exc.strerror or exc}", file=source) from None
    with fh:
        lines = _lines(fh)
        first = next(lines, "")
        if first is None:
            yield _too_long(f"{source}:1")
            yield from _iter_lines(fh, source, lines, 2)
            return
        stripped = first.strip()
        single_line_doc = stripped.startswith("{") and stripped.endswith("}")
        if stripped and not single_line_doc:  # a pretty-printed single document
            rest = fh.read(MAX_DOCUMENT_CHARS + 1 - len(first))
            if len(first) + len(rest) > MAX_DOCUMENT_CHARS:
                yield _too_long(source)
                return
            yield _load_one(first + rest, source)
            return
        if stripped:
            yield _load_one(first, f"{source}:1")
        yield from _iter_lines(fh, source, lines, 2)


def host_name(doc: dict[str, Any], origin: str) -> str:
    """The host a document belongs to: its ``host`` field, else its file name / line."""
    for key in ("host", "hostname", "serial"):
        value = doc.get(key)
        if isinstance(value, str) and value:
            return value
    base = os.path.basename(origin)
    return base[:-5] if base.endswith(".json") else base


# ----------------------------------------------------------------------------- postures

def _web(values: Any) -> tuple:
    if not isinstance(values, list):
        return ()
    return tuple(sorted({v for v in values if isinstance(v, str)} - {"disabled"}))


def _tuple(values: Any) -> tuple:
    return tuple(json.dumps(v, sort_keys=True) if not isinstance(v, str) else v
                 for v in values) if isinstance(values, list) else ()


def signature(requirements: dict[str, Any]) -> tuple:
    """What decides a posture: the allow-lists (order matters: the first is the fallback),
    whether a managed network proxy runs, and whether its allowlist is exclusive."""
    net = requirements.get("experimental_network") or {}
    if not isinstance(net, dict):
        net = {}
    deny_read = ((requirements.get("permissions") or {}).get("filesystem") or {}).get("deny_read") \
        if isinstance(requirements.get("permissions"), dict) else None
    return (_tuple(requirements.get("allowed_approval_policies")),
            _tuple(requirements.get("allowed_approvals_reviewers")),
            _tuple(requirements.get("allowed_sandbox_modes")),
            _web(requirements.get("allowed_web_search_modes")),
            bool(net.get("enabled")), bool(net.get("managed_allowed_domains_only")),
            bool(deny_read))


@lru_cache(maxsize=1)
def posture_signatures() -> dict[tuple, str]:
    """Signature -> posture name, from the shipped templates resolved by the real resolver."""
    import shutil
    import tempfile

    from mdmtool.model import ResolveInputs
    from mdmtool.resolve import resolve
    from mdmtool.postures import POSTURES, template_path

    out: dict[tuple, str] = {}
    work = tempfile.mkdtemp(prefix="mdmtool-postures-")
    try:
        for posture in POSTURES:
            system = os.path.join(work, posture, "etc")
            home = os.path.join(work, posture, "home")
            os.makedirs(system)
            os.makedirs(home)
            for name in ("requirements.toml", "managed_config.toml"):
                shutil.copy(template_path(posture, name), os.path.join(system, name))
            policy = resolve(ResolveInputs(system_dir=system, codex_home=home, cwd=home))
            out.setdefault(signature(policy.requirements), posture)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out


def posture_of(doc: dict[str, Any]) -> str:
    """strict / balanced / open (the template it matches), custom, or unmanaged."""
    req = doc.get("requirements") or {}
    sources = doc.get("requirement_sources") or []
    if not req and not sources:
        return "unmanaged"
    return posture_signatures().get(signature(req if isinstance(req, dict) else {}), "custom")


# ----------------------------------------------------------------------------- one host

def fallback_keys(doc: dict[str, Any]) -> list[str]:
    """The settings this host runs on a requirements fallback for (Codex's warning keys)."""
    keys = []
    for w in doc.get("warnings") or []:
        if not isinstance(w, dict):
            continue
        m = _FALLBACK_RE.search(str(w.get("message") or ""))
        if m and m.group(1) not in keys:
            keys.append(m.group(1))
    return keys


def backend_of(doc: dict[str, Any]) -> tuple[str, str | None, str | None]:
    """(available | unavailable | unknown, backend name, reason) from ``sandbox_backend``."""
    info = doc.get("sandbox_backend")
    if isinstance(info, bool):
        return ("available" if info else "unavailable"), None, None
    if not isinstance(info, dict) or "available" not in info:
        return "unknown", None, None
    state = "available" if info.get("available") else "unavailable"
    return state, info.get("name"), info.get("reason")


def _first_line(text: Any) -> str:
    return str(text).strip().splitlines()[0] if str(text).strip() else ""


@dataclass
class HostRow:
    """What the fleet views keep of one host."""

    host: str
    origin: str
    ok: bool
    posture: str
    approval_policy: Any = None
    approvals_reviewer: str | None = None
    sandbox_mode: str | None = None
    network_access: bool | None = None
    web_search: str | None = None
    fallbacks: list[str] = field(default_factory=list)
    backend: str = "unknown"
    backend_name: str | None = None
    backend_reason: str | None = None
    error: str | None = None

    CSV_FIELDS = ("host", "ok", "posture", "approval_policy", "approvals_reviewer", "sandbox_mode",
                  "network_access", "web_search", "fallbacks", "backend", "backend_name", "error",
                  "source")

    def to_json(self) -> dict[str, Any]:
        return {"host": self.host, "source": self.origin, "ok": self.ok, "posture": self.posture,
                **{k: getattr(self, k) for k in POLICY_FIELDS},
                "fallbacks": self.fallbacks, "backend": self.backend,
                "backend_name": self.backend_name, "backend_reason": self.backend_reason,
                "error": self.error}

    def csv_row(self) -> list[str]:
        return [self.host, _csv(self.ok), self.posture, _csv(self.approval_policy),
                _csv(self.approvals_reviewer), _csv(self.sandbox_mode), _csv(self.network_access),
                _csv(self.web_search), ";".join(self.fallbacks), self.backend,
                _csv(self.backend_name), _csv(self.error), self.origin]


def _csv(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def host_row(doc: dict[str, Any], origin: str) -> HostRow:
    ok = bool(doc.get("ok"))
    state, name, reason = backend_of(doc)
    errors = doc.get("errors") or []
    approval = doc.get("approval_policy")
    if approval == "granular" and doc.get("approval_granular"):
        approval = "granular"
    return HostRow(host=host_name(doc, origin), origin=origin, ok=ok, posture=posture_of(doc),
                   approval_policy=approval, approvals_reviewer=doc.get("approvals_reviewer"),
                   sandbox_mode=doc.get("sandbox_mode"), network_access=doc.get("network_access"),
                   web_search=doc.get("web_search"), fallbacks=fallback_keys(doc), backend=state,
                   backend_name=name, backend_reason=reason,
                   error=_first_line(errors[0]) if errors else None)


def summary_line(doc: dict[str, Any]) -> str:
    """One line for a Jamf extension attribute or a log."""
    row = host_row(doc, "-")
    if not row.ok:
        return f"posture={row.posture} ok=no refuses-to-start: {row.error or 'unknown error'}"[:250]

    def show(v: Any) -> str:
        if isinstance(v, bool):
            return "on" if v else "off"
        return "-" if v is None else str(v)
    return (f"posture={row.posture} ok=yes approval={show(row.approval_policy)} "
            f"reviewer={show(row.approvals_reviewer)} sandbox={show(row.sandbox_mode)} "
            f"network={show(row.network_access)} web_search={show(row.web_search)} "
            f"fallbacks={','.join(row.fallbacks) or 'none'} backend={row.backend}")


# ----------------------------------------------------------------------------- the report

@dataclass
class FleetReport:
    """Counts over the whole fleet plus the hosts that need attention."""

    hosts: int = 0
    postures: Counter = field(default_factory=Counter)
    distributions: dict[str, Counter] = field(default_factory=lambda: {k: Counter() for k in POLICY_FIELDS})
    refusing: list[HostRow] = field(default_factory=list)
    on_fallback: list[HostRow] = field(default_factory=list)
    fallback_keys: Counter = field(default_factory=Counter)
    backend: Counter = field(default_factory=Counter)
    backend_unavailable: list[HostRow] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)

    def add(self, row: HostRow) -> None:
        self.hosts += 1
        self.postures[row.posture] += 1
        self.backend[row.backend] += 1
        if not row.ok:
            self.refusing.append(row)
        else:
            for key in POLICY_FIELDS:
                self.distributions[key][_csv(getattr(row, key)) or "-"] += 1
        if row.fallbacks:
            self.on_fallback.append(row)
            self.fallback_keys.update(row.fallbacks)
        if row.backend == "unavailable":
            self.backend_unavailable.append(row)

    def to_json(self) -> dict[str, Any]:
        def hosts(rows: list[HostRow], **extra) -> list[dict]:
            return [{"host": r.host, "source": r.origin, **{k: f(r) for k, f in extra.items()}}
                    for r in rows]
        return {
            "schema_version": 1,
            "kind": "mdmtool-fleet-report",
            "hosts": self.hosts,
            "unreadable": [{"source": o, "error": e} for o, e in self.unreadable],
            "postures": dict(self.postures.most_common()),
            "refusing_to_start": {"count": len(self.refusing),
                                  "hosts": hosts(self.refusing, error=lambda r: r.error,
                                                 posture=lambda r: r.posture)},
            "on_fallback": {"count": len(self.on_fallback), "by_key": dict(self.fallback_keys.most_common()),
                            "hosts": hosts(self.on_fallback, fallbacks=lambda r: r.fallbacks,
                                           posture=lambda r: r.posture)},
            "sandbox_backend": {"counts": dict(self.backend.most_common()),
                                "unavailable": hosts(self.backend_unavailable,
                                                     backend=lambda r: r.backend_name,
                                                     reason=lambda r: r.backend_reason)},
            "effective": {k: dict(c.most_common()) for k, c in self.distributions.items()},
        }

    def to_text(self) -> str:
        n = self.hosts
        pct = (lambda c: f"{c} ({100.0 * c / n:.1f}%)") if n else (lambda c: str(c))
        out = [f"Fleet: {n} host(s)" + (f", {len(self.unreadable)} unreadable document(s)"
                                        if self.unreadable else "")]
        out.append("Postures: " + (", ".join(f"{p} {pct(c)}" for p, c in self.postures.most_common()) or "-"))
        out.append(f"Codex would refuse to start: {pct(len(self.refusing))}")
        out += [f"  {r.host}: {r.error}" for r in self.refusing[:TEXT_LIMIT]]
        out += _more(len(self.refusing))
        keys = ", ".join(f"{k} {c}" for k, c in self.fallback_keys.most_common())
        out.append(f"Running on a requirements fallback: {pct(len(self.on_fallback))}"
                   + (f" ({keys})" if keys else ""))
        out += [f"  {r.host}: {', '.join(r.fallbacks)}" for r in self.on_fallback[:TEXT_LIMIT]]
        out += _more(len(self.on_fallback))
        out.append(f"Sandbox backend unavailable: {pct(len(self.backend_unavailable))}"
                   + (f" (not reported: {self.backend['unknown']})" if self.backend.get("unknown") else ""))
        out += [f"  {r.host}: {r.backend_name or 'backend'}: {r.backend_reason or 'unavailable'}"
                for r in self.backend_unavailable[:TEXT_LIMIT]]
        out += _more(len(self.backend_unavailable))
        started = n - len(self.refusing)
        out.append(f"Effective policy of the {started} host(s) that start:")
        for key in POLICY_FIELDS:
            counts = self.distributions[key]
            out.append(f"  {key}: " + (", ".join(f"{v} {c}" for v, c in counts.most_common()) or "-"))
        for origin, error in self.unreadable[:TEXT_LIMIT]:
            out.append(f"unreadable: {origin}: {error}")
        out += _more(len(self.unreadable))
        return "\n".join(out) + "\n"


def _more(count: int) -> list[str]:
    return [f"  ... and {count - TEXT_LIMIT} more (--format json or --csv for all)"] if count > TEXT_LIMIT else []


def build_report(source: str, row_sink=None) -> FleetReport:
    """Stream ``source`` into a :class:`FleetReport`; ``row_sink(row)`` sees every host."""
    report = FleetReport()
    for item in iter_documents(source):
        if item.doc is None:
            report.unreadable.append((item.origin, item.error or "unreadable"))
            continue
        row = host_row(item.doc, item.origin)
        report.add(row)
        if row_sink is not None:
            row_sink(row)
    return report
