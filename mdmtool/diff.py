"""Posture-aware diff of two Codex documents (config, requirements or effective JSON).

deepdiff finds what changed; each change is then lifted to the *unit* a posture rule
judges (a whole allow-list, a domains table, one scalar key) and classified by
:mod:`mdmtool.posture`. Every change carries the file:line of both sides.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Callable

from mdmtool.errors import MdmError
from mdmtool.model import Source
from mdmtool.posture import (CLASSES, CONFIG, EFFECTIVE, KINDS, MISSING, NARROWING, NEUTRAL,
                             REQUIREMENTS, WIDENING, Effect, classify, dotted, rule_for, show,
                             worst)

#: top-level keys that only exist in requirements files
REQUIREMENT_MARKERS = {
    "allowed_approval_policies", "allowed_approvals_reviewers", "allowed_sandbox_modes",
    "allowed_web_search_modes", "allowed_permission_profiles", "allowed_permissions",
    "enforce_residency", "feature_requirements", "experimental_network", "rules",
    "allow_managed_hooks_only", "remote_sandbox_config", "allowed_login_methods",
    "allowed_chatgpt_workspaces", "guardian_policy_config", "guardian_extra_policy",
}
#: effective-document keys that are bookkeeping, not posture
EFFECTIVE_IGNORED = ("origins", "layers", "schema_version", "requirement_sources", "project_root",
                     "cwd", "codex_home", "system_dir")


@dataclass
class Side:
    """One side of a diff: parsed data plus a way to point at its lines."""

    label: str
    kind: str
    data: dict
    locator: Callable[[tuple], Source | None] = field(default=lambda path: None, repr=False)
    present: bool = True  # False: the file does not exist at that revision
    #: True when the kind came from --kind or the file name, not guessed from content
    kind_certain: bool = True

    def locate(self, path: tuple) -> Source | None:
        return self.locator(path) if self.present else None


@dataclass
class Change:
    path: tuple
    old: Any
    new: Any
    effects: list[Effect]
    old_source: Source | None = None
    new_source: Source | None = None

    @property
    def key(self) -> str:
        return dotted(self.path)

    @property
    def classification(self) -> str:
        return worst(self.effects)

    def shown(self) -> tuple[Any, Any, list[Effect]]:
        """(old, new, effects) fit to print: secret values hidden, also in the reasons."""
        from mdmtool.redact import hide_values, redact_at, secret_leaves
        leaves = [v for side in (self.old, self.new) if side is not MISSING
                  for v in secret_leaves(self.path, side)]
        old = self.old if self.old is MISSING else redact_at(self.path, self.old)
        new = self.new if self.new is MISSING else redact_at(self.path, self.new)
        return old, new, [Effect(e.classification, hide_values(e.reason, leaves)) for e in self.effects]

    def to_json(self) -> dict:
        from mdmtool.tomlio import to_json_compatible

        def src(s: Source | None):
            return None if s is None else {"file": s.file, "line": s.line, "col": s.col}
        old, new, effects = self.shown()
        return {
            "key": self.key, "path": list(self.path),
            "old": None if old is MISSING else to_json_compatible(old),
            "new": None if new is MISSING else to_json_compatible(new),
            "old_present": self.old is not MISSING, "new_present": self.new is not MISSING,
            "classification": self.classification,
            "effects": [{"classification": e.classification, "reason": e.reason}
                        for e in effects],
            "old_source": src(self.old_source), "new_source": src(self.new_source),
        }


@dataclass
class DiffResult:
    a: Side
    b: Side
    changes: list[Change]
    kind: str = CONFIG  # the rules applied (the kind both sides share)

    def counts(self) -> dict[str, int]:
        out = {c: 0 for c in CLASSES}
        for ch in self.changes:
            out[ch.classification] += 1
        return out

    @property
    def posture(self) -> str:
        c = self.counts()
        if c[WIDENING] and c[NARROWING]:
            return "mixed"
        if c[WIDENING]:
            return "widened"
        if c[NARROWING]:
            return "narrowed"
        return "unchanged"

    def summary_line(self) -> str:
        c = self.counts()
        n = len(self.changes)
        if not n:
            return "no changes; posture unchanged"
        return (f"{n} change{'s' if n != 1 else ''}: {c[WIDENING]} widening, "
                f"{c[NARROWING]} narrowing, {c[NEUTRAL]} neutral; posture {self.posture}")

    def to_json(self) -> dict:
        return {
            "a": {"label": self.a.label, "kind": self.a.kind, "present": self.a.present},
            "b": {"label": self.b.label, "kind": self.b.kind, "present": self.b.present},
            "kind": self.kind,
            "changes": [c.to_json() for c in self.changes],
            "summary": {**self.counts(), "total": len(self.changes), "posture": self.posture,
                        "text": self.summary_line()},
        }


# ----------------------------------------------------------------------------- loading

def kind_from_name(name: str) -> str | None:
    base = os.path.basename(name).lower()
    if "requirements" in base:
        return REQUIREMENTS
    if "config" in base:
        return CONFIG
    return None


def detect_kind(name: str, data: Any) -> str:
    """config, requirements or effective, from the file name and the content."""
    if isinstance(data, dict) and "schema_version" in data and (
            "origins" in data or "approval_policy" in data):
        return EFFECTIVE
    base = os.path.basename(name).lower()
    if "requirements" in base:
        return REQUIREMENTS
    if "config" in base:
        return CONFIG
    if isinstance(data, dict) and (REQUIREMENT_MARKERS & set(data) or _requirement_shapes(data)):
        return REQUIREMENTS
    return CONFIG


def _requirement_shapes(data: dict) -> bool:
    """Shapes only requirements use: MCP ``identity`` entries, ``permissions.filesystem``."""
    servers = data.get("mcp_servers")
    if isinstance(servers, dict) and any(isinstance(v, dict) and "identity" in v
                                         for v in servers.values()):
        return True
    perms = data.get("permissions")
    return isinstance(perms, dict) and isinstance(perms.get("filesystem"), dict) \
        and "deny_read" in perms["filesystem"]


def _json_locator(doc: dict, label: str) -> Callable[[tuple], Source | None]:
    """Point at the file:line an effective document's ``origins`` name for a key; a
    requirement points at the highest requirement source file."""
    origins = doc.get("origins") if isinstance(doc.get("origins"), dict) else {}
    sources = doc.get("requirement_sources") if isinstance(doc.get("requirement_sources"), list) else []
    req_file = next((s.get("file") for s in reversed(sources)
                     if isinstance(s, dict) and s.get("file")), None)

    def locate(path: tuple) -> Source | None:
        for n in range(len(path), 0, -1):
            o = origins.get(".".join(str(p) for p in path[:n]))
            if isinstance(o, dict) and o.get("file"):
                return Source(o["file"], o.get("line"))
        if path and path[0] == "requirements" and req_file:
            return Source(req_file)
        return None
    return locate


def side_from_effective(doc: dict, label: str) -> Side:
    """A side from an ``mdmtool effective --format json`` document (already parsed)."""
    data = {k: v for k, v in doc.items() if k not in EFFECTIVE_IGNORED}
    return Side(label=label, kind=EFFECTIVE, data=data, locator=_json_locator(doc, label))


def side_from_text(text: str | None, label: str, kind: str | None = None,
                   source_name: str | None = None) -> Side:
    """Parse a document given as text (``None``: absent, an empty document).

    ``label`` names the side in headers and errors; ``source_name`` (default: the label)
    is the file name its positions point at.
    """
    certain = kind is not None or kind_from_name(label) is not None
    if text is None:
        return Side(label=label, kind=kind or detect_kind(label, {}), data={}, present=False,
                    kind_certain=certain)
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped.startswith("{") and (kind in (None, EFFECTIVE)):
        try:
            doc = json.loads(text.lstrip("\ufeff"))
        except json.JSONDecodeError as exc:
            raise MdmError(f"invalid JSON: {exc.msg}", file=label, line=exc.lineno,
                           col=exc.colno) from None
        if not isinstance(doc, dict):
            raise MdmError("a JSON document must be an object", file=label)
        k = kind or detect_kind(label, doc)
        if k != EFFECTIVE:
            raise MdmError("JSON input must be an `mdmtool effective --format json` document",
                           file=label)
        return side_from_effective(doc, label)
    from mdmtool.tomlio import TomlFile, parse_toml
    data = parse_toml(text, label)
    tf = TomlFile(path=source_name or label, text=text, data=data)
    k = kind or detect_kind(label, data)
    if k == EFFECTIVE:
        raise MdmError("an effective-policy document must be JSON", file=label)
    return Side(label=label, kind=k, data=data, locator=tf.locate,
                kind_certain=certain or k == REQUIREMENTS)


def load_file(path: str, kind: str | None = None, label: str | None = None) -> Side:
    from mdmtool.tomlio import read_text
    return side_from_text(read_text(path), label or path, kind)


# ----------------------------------------------------------------------------- diffing

def _get(root: Any, path: tuple) -> Any:
    cur = root
    for part in path:
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur):
            cur = cur[part]
        else:
            return MISSING
    return cur


def _same(a: Any, b: Any) -> bool:
    if a is MISSING or b is MISSING:
        return a is b
    return json.dumps(a, sort_keys=True, default=repr) == json.dumps(b, sort_keys=True, default=repr)


def _judge(kind: str, old: dict, new: dict, path: tuple, out: dict) -> bool:
    """Record ``path`` as a judged unit if a rule (or the value's shape) stops here."""
    o, n = _get(old, path), _get(new, path)
    if _same(o, n):
        return True
    rule = rule_for(kind, path) if path else None
    if rule is not None and rule.claims(o, n):
        out.setdefault(path, None)
        return True
    if isinstance(o, list) or isinstance(n, list):
        out.setdefault(path, None)  # arrays are replaced wholesale: judge the whole array
        return True
    o_tab, n_tab = isinstance(o, dict), isinstance(n, dict)
    if not o_tab and not n_tab:
        out.setdefault(path, None)
        return True
    if o_tab != n_tab and o is not MISSING and n is not MISSING:
        out.setdefault(path, None)  # a table replaced a value, or the reverse
        return True
    return False


def _expand(kind: str, old: dict, new: dict, path: tuple, out: dict) -> None:
    if _judge(kind, old, new, path, out):
        return
    o, n = _get(old, path), _get(new, path)
    keys = list(o) if isinstance(o, dict) else []
    keys += [k for k in (n if isinstance(n, dict) else {}) if k not in keys]
    for k in keys:
        _expand(kind, old, new, path + (k,), out)


def _units_for(kind: str, old: dict, new: dict, target: tuple, out: dict) -> None:
    """Walk down to a deepdiff change, stopping at the first rule that judges it."""
    for i in range(len(target)):
        if i and _judge(kind, old, new, target[:i], out):
            return
    _expand(kind, old, new, target, out)


def _deep_paths(old: dict, new: dict) -> list[tuple]:
    if _same(old, new):
        return []  # identical: spare the deepdiff import (numpy, pydantic: ~0.3 s)
    from deepdiff import DeepDiff
    dd = DeepDiff(old, new, view="tree", verbose_level=2)
    paths = []
    for _report, items in dd.items():
        for item in items:
            paths.append(tuple(item.path(output_format="list")))
    return sorted(set(paths), key=lambda p: [str(x) for x in p])


def diff_sides(a: Side, b: Side, kind: str | None = None) -> DiffResult:
    """Every posture-relevant change from ``a`` to ``b``, classified."""
    k = kind or _common_kind(a, b)
    if kind is None and a.kind != b.kind and k is None:
        raise MdmError(f"cannot compare a {a.kind} document ({a.label}) with a {b.kind} "
                       f"document ({b.label}); pass --kind to force one")
    units: dict[tuple, None] = {}
    for p in _deep_paths(a.data, b.data):
        _units_for(k, a.data, b.data, p, units)
    # a unit below another unit is judged by the upper one
    ordered = sorted(units, key=len)
    kept: list[tuple] = []
    for p in ordered:
        if not any(p[:len(q)] == q for q in kept):
            kept.append(p)
    changes = []
    for p in sorted(kept, key=lambda p: [str(x) for x in p]):
        o, n = _get(a.data, p), _get(b.data, p)
        changes.append(Change(path=p, old=o, new=n, effects=classify(k, p, o, n),
                              old_source=a.locate(p) if o is not MISSING else None,
                              new_source=b.locate(p) if n is not MISSING else None))
    if k == EFFECTIVE:
        changes.sort(key=lambda c: (_EFFECTIVE_ORDER.get(c.path[0], len(_EFFECTIVE_ORDER)), c.key))
    else:
        changes.sort(key=lambda c: (_line(c), c.key))
    return DiffResult(a=a, b=b, changes=changes, kind=k)


def _common_kind(a: Side, b: Side) -> str | None:
    """The kind both sides share; a guessed ``config`` yields to the other side's kind."""
    if a.kind == b.kind:
        return a.kind
    if EFFECTIVE in (a.kind, b.kind):
        return None
    if not a.present or not a.kind_certain:
        return b.kind
    if not b.present or not b.kind_certain:
        return a.kind
    return None


_EFFECTIVE_ORDER = {k: i for i, k in enumerate((
    "ok", "errors", "approval_policy", "approval_granular", "approvals_reviewer", "sandbox_mode",
    "network_access", "permission_profile", "web_search", "writable_roots", "workspace_roots",
    "features_non_default", "trust", "requirements", "configured", "warnings", "notices"))}


def _line(c: Change) -> tuple:
    n, o = c.new_source, c.old_source
    return ((n.line or 0) if n else 0, (o.line or 0) if o else 0)


__all__ = ["Side", "Change", "DiffResult", "detect_kind", "side_from_text", "load_file",
           "diff_sides", "KINDS", "show"]
