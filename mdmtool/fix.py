"""The fix engine: apply machine fixes to a tomlkit document, touching only their lines.

A fix is a dict (``Finding.fix``)::

    {"op": "set",    "path": [keys or array indices], "value": v}
    {"op": "delete", "path": [...], "comment": "optional line left in its place"}
    {"op": "move",   "path": [...], "to": [...], "value": optional new value,
                     "file": optional sibling file name (the command writes that one)}

Each fix is checked against the document as it is when its turn comes; one that no
longer applies (already fixed, conflicting destination) is skipped with a reason, never
forced. :func:`expected_values` replays the same fixes on plain data so the command can
prove the edited text means exactly that before writing it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

_MISSING = object()


@dataclass
class FixOutcome:
    fix: dict
    applied: bool
    description: str
    rule: str | None = None
    #: for moves into another file: (file name, destination path, value)
    external: tuple | None = None
    #: implicit tables removed because a deletion left them empty
    pruned: list = field(default_factory=list)


@dataclass
class FixPlan:
    outcomes: list[FixOutcome] = field(default_factory=list)

    @property
    def applied(self) -> list[FixOutcome]:
        return [o for o in self.outcomes if o.applied]

    @property
    def skipped(self) -> list[FixOutcome]:
        return [o for o in self.outcomes if not o.applied]


def dotted(path: list) -> str:
    from mdmtool.posture import dotted as _d
    return _d(tuple(path)) if path else "(root)"


def _get(node: Any, path: list) -> Any:
    for part in path:
        if isinstance(node, dict) and not isinstance(part, int) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and -len(node) <= part < len(node):
            node = node[part]
        else:
            return _MISSING
    return node


def _container_of(node: Any):
    """The tomlkit Container holding a table's items (the document is one itself)."""
    from tomlkit.container import Container
    if isinstance(node, Container):
        return node
    value = getattr(node, "value", None)
    return value if isinstance(value, Container) else None


def _insert_comment(table: Any, index: int, text: str) -> None:
    """Insert a ``# text`` line at body position ``index`` (tomlkit has no public way)."""
    import tomlkit
    container = _container_of(table)
    if container is None:
        return
    for k, v in list(container._map.items()):
        if isinstance(v, tuple):
            container._map[k] = tuple(i + 1 if i >= index else i for i in v)
        elif v >= index:
            container._map[k] = v + 1
    container.body.insert(index, (None, tomlkit.comment(text)))


def _body_index(table: Any, key: str) -> int | None:
    container = _container_of(table)
    if container is None:
        return None
    for i, (k, _v) in enumerate(container.body):
        if k is not None and k.key == key:
            return i
    return None


def _ensure_parent(doc: Any, path: list):
    """The table that will hold ``path[-1]``, creating missing tables; None if blocked."""
    import tomlkit
    node = doc
    for part in path[:-1]:
        if isinstance(part, int):
            if not isinstance(node, list) or not -len(node) <= part < len(node):
                return None
            node = node[part]
            continue
        if not isinstance(node, dict):
            return None
        if part not in node:
            node[part] = tomlkit.table()
        node = node[part]
    return node if isinstance(node, (dict, list)) else None


def _set(doc: Any, path: list, value: Any) -> str | None:
    """Set; returns a reason when it cannot."""
    parent = _ensure_parent(doc, path)
    last = path[-1]
    if parent is None:
        return f"cannot set {dotted(path)}: a parent key is not a table"
    if isinstance(parent, list):
        if not isinstance(last, int) or not -len(parent) <= last < len(parent):
            return f"cannot set {dotted(path)}: no such array element"
        parent[last] = value
        return None
    if isinstance(last, int):
        return f"cannot set {dotted(path)}: not an array"
    from mdmtool.tomlmerge import set_item
    set_item(parent, last, copy.deepcopy(value))
    return None


def _delete(doc: Any, path: list, comment: str | None = None) -> list[list]:
    """Delete ``path``; returns implicit parent tables that became empty and were removed
    too (``[profiles.work]`` gone leaves no ``profiles`` table behind)."""
    parent = _get(doc, path[:-1])
    last = path[-1]
    if isinstance(parent, list):
        del parent[last]
        return []
    index = _body_index(parent, last) if comment else None
    del parent[last]
    if comment and index is not None:
        _insert_comment(parent, index, comment)
    pruned = []
    up = list(path[:-1])
    while up and not comment:
        node = _get(doc, up)
        if not (isinstance(node, dict) and len(node) == 0 and getattr(node, "is_super_table",
                                                                       lambda: False)()):
            break
        del _get(doc, up[:-1])[up[-1]]
        pruned.append(list(up))
        up = up[:-1]
    return pruned


def _plain(value: Any) -> Any:
    return value.unwrap() if hasattr(value, "unwrap") else copy.deepcopy(value)


def apply_fixes(doc: Any, fixes: list[dict], rules: list[str | None] | None = None) -> FixPlan:
    """Apply ``fixes`` in order to tomlkit document ``doc`` (in place)."""
    plan = FixPlan()
    rules = rules or [None] * len(fixes)
    for fix, rule in zip(fixes, rules):
        plan.outcomes.append(_apply_one(doc, fix, rule))
    return plan


def _apply_one(doc: Any, fix: dict, rule: str | None) -> FixOutcome:
    op, path = fix.get("op"), list(fix.get("path") or [])
    if op not in ("set", "delete", "move") or not path:
        return FixOutcome(fix, False, f"unsupported fix {op!r} (not a TOML key edit)", rule)
    current = _get(doc, path)
    where = dotted(path)
    if op == "set":
        value = fix.get("value")
        if current is not _MISSING and _plain(current) == value and type(_plain(current)) is type(value):
            return FixOutcome(fix, False, f"{where} is already {value!r}", rule)
        why = _set(doc, path, value)
        if why:
            return FixOutcome(fix, False, why, rule)
        old = "unset" if current is _MISSING else repr(_plain(current))
        return FixOutcome(fix, True, f"set {where}: {old} -> {value!r}", rule)
    if current is _MISSING:
        return FixOutcome(fix, False, f"{where} is not set any more", rule)
    if op == "delete":
        pruned = _delete(doc, path, fix.get("comment"))
        return FixOutcome(fix, True, f"removed {where}", rule, pruned=pruned)
    # move
    to = list(fix.get("to") or [])
    value = fix["value"] if "value" in fix else _plain(current)
    if fix.get("file"):
        pruned = _delete(doc, path, fix.get("comment"))
        return FixOutcome(fix, True, f"moved {where} to {fix['file']} ({dotted(to)})", rule,
                          external=(fix["file"], to, value), pruned=pruned)
    if not to:
        return FixOutcome(fix, False, f"cannot move {where} to the document root", rule)
    existing = _get(doc, to)
    if existing is not _MISSING and _plain(existing) != value:
        return FixOutcome(fix, False, f"cannot move {where}: {dotted(to)} is already set to a "
                          "different value; resolve by hand", rule)
    if to[: len(path)] == path:
        return FixOutcome(fix, False, f"cannot move {where} into itself", rule)
    # the moved key keeps its own trailing comment (`key = v  # why`) unless a new value is set
    item = value if "value" in fix else _detached(_get(doc, path[:-1]), path[-1], current)
    pruned = _delete(doc, path, fix.get("comment"))
    if existing is _MISSING:
        why = _set(doc, to, item)
        if why:
            return FixOutcome(fix, False, why, rule)
    return FixOutcome(fix, True, f"moved {where} to {dotted(to)}", rule, pruned=pruned)


def _detached(parent: Any, key: Any, current: Any) -> Any:
    """A copy of the tomlkit item at ``parent[key]`` (its trailing comment included) that can
    be inserted elsewhere; tomlkit hands out booleans as plain ``bool``, so ask for the item."""
    try:
        item = parent.item(key) if hasattr(parent, "item") and not isinstance(key, int) else current
        return copy.deepcopy(item)
    except Exception:  # noqa: BLE001 - fall back to the plain value
        return _plain(current)


def expected_values(data: dict, outcomes: list[FixOutcome]) -> dict:
    """Replay the applied fixes on plain data (what the edited text must mean)."""
    data = copy.deepcopy(data)
    for o in outcomes:
        if not o.applied:
            continue
        fix, path = o.fix, list(o.fix["path"])
        if fix["op"] == "set":
            _plain_set(data, path, fix.get("value"))
            continue
        current = _get(data, path)
        parent = _get(data, path[:-1])
        del parent[path[-1]]
        for up in o.pruned:
            del _get(data, up[:-1])[up[-1]]
        if fix["op"] == "move" and not fix.get("file"):
            value = fix["value"] if "value" in fix else current
            if _get(data, list(fix["to"])) is _MISSING:
                _plain_set(data, list(fix["to"]), value)
    return data


def _plain_set(data: Any, path: list, value: Any) -> None:
    node = data
    for part in path[:-1]:
        if isinstance(node, list):
            node = node[part]
        else:
            node = node.setdefault(part, {})
    node[path[-1]] = copy.deepcopy(value)
