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


def _insert_comment(container: Any, index: int, text: str) -> None:
    """Insert a ``# text`` line at body position ``index`` (tomlkit has no public way)."""
    import tomlkit
    for k, v in list(container._map.items()):
        if isinstance(v, tuple):
            container._map[k] = tuple(i + 1 if i >= index else i for i in v)
        elif v >= index:
            container._map[k] = v + 1
    container.body.insert(index, (None, tomlkit.comment(text)))


def _spot(table: Any, key: str) -> tuple | None:
    """(tomlkit Container, body index) of ``key``'s line in ``table``; for a table split
    over several places (dotted lines, out-of-order headers), in the part that holds it."""
    parts = getattr(table, "_tables", None)  # OutOfOrderTableProxy
    for part in parts if parts is not None else [table]:
        container = _container_of(part)
        for i, (k, _v) in enumerate(container.body if container is not None else []):
            if k is None or k.key != key:
                continue
            if parts is not None and len(part) == 1 and len(parts) > 1:
                # the part holds only this key, so tomlkit drops the part with it: the
                # line is the part's own place in the container around it
                outer = table._container
                return next(((outer, j) for j, (_k, v) in enumerate(outer.body) if v is part),
                            (container, i))
            return container, i
    return None


def _ensure_parent(doc: Any, path: list):
    """The table that will hold ``path[-1]``, creating missing tables (inline ones where
    the file writes that part without ``[headers]``); None if blocked."""
    import tomlkit

    from mdmtool.tomlmerge import flat_at
    node = doc
    for i, part in enumerate(path[:-1]):
        if isinstance(part, int):
            if not isinstance(node, list) or not -len(node) <= part < len(node):
                return None
            node = node[part]
            continue
        if not isinstance(node, dict):
            return None
        if part not in node:
            node[part] = tomlkit.inline_table() if flat_at(doc, path[:i]) else tomlkit.table()
        node = node[part]
    return node if isinstance(node, (dict, list)) else None


def _set(doc: Any, path: list, value: Any) -> str | None:
    """Set; returns a reason when it cannot (then the document is left untouched)."""
    why = _blocked(doc, path, value)
    if why:
        return why
    from mdmtool.tomlmerge import flat_at, set_element, set_item
    parent, last = _ensure_parent(doc, path), path[-1]
    if isinstance(parent, list):
        return set_element(parent, last, copy.deepcopy(value))
    set_item(parent, last, copy.deepcopy(value), flat=flat_at(doc, path[:-1]))
    return None


def _delete(doc: Any, path: list, comment: str | None = None) -> list[list]:
    """Delete ``path``; returns implicit parent tables that became empty and were removed
    too (``[profiles.work]`` gone leaves no ``profiles`` table behind, and ``a.b.c = 1``
    gone leaves no ``a.b``: a table written only as dotted keys has no line left to be).
    The ``comment`` line takes the place of the outermost line removed."""
    parent = _get(doc, path[:-1])
    last = path[-1]
    if isinstance(parent, list):
        from tomlkit.items import AoT
        if isinstance(parent, AoT) and len(parent) == 1 and not isinstance(path[-2], int):
            # an emptied [[array]] has no header left: tomlkit writes it as `a.b = []` where
            # a later [a] header then clashes, so it becomes an empty inline array here
            import tomlkit

            from mdmtool.tomlmerge import set_item
            set_item(_get(doc, path[:-2]), path[-2], tomlkit.array())
        else:
            del parent[last]
        return []
    spot = _spot(parent, last) if comment else None
    del parent[last]  # tomlkit leaves a placeholder: body positions stay valid
    pruned = []
    up = list(path[:-1])
    while up:
        node = _get(doc, up)
        if not (isinstance(node, dict) and len(node) == 0 and getattr(node, "is_super_table",
                                                                       lambda: False)()):
            break
        holder = _get(doc, up[:-1])
        spot = (_spot(holder, up[-1]) or spot) if comment else None
        del holder[up[-1]]
        pruned.append(list(up))
        up = up[:-1]
    if spot is not None:
        _insert_comment(*spot, comment)
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
    if isinstance(path[-1], int) and to[: len(path) - 1] == path[:-1]:
        return FixOutcome(fix, False, f"cannot move {where} within its own array (removing it "
                          "shifts the elements after it)", rule)
    why = _blocked(doc, to, value) if existing is _MISSING else None
    if why:  # checked before anything is deleted
        return FixOutcome(fix, False, why, rule)
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


def _blocked(doc: Any, path: list, value: Any) -> str | None:
    """Why :func:`_set` cannot set ``path`` (the walk of :func:`_ensure_parent`, creating
    nothing), so a failing set or move leaves no half-made tables or deleted source."""
    from tomlkit.items import AoT
    node, where = doc, dotted(path)
    for i, part in enumerate(path[:-1]):
        if isinstance(part, int):
            if not isinstance(node, list) or not -len(node) <= part < len(node):
                return f"cannot set {where}: a parent key is not a table"
            node = node[part]
        elif not isinstance(node, dict):
            return f"cannot set {where}: a parent key is not a table"
        elif part not in node:  # created as tables from here on
            if any(isinstance(p, int) for p in path[i + 1:-1]):
                return f"cannot set {where}: a parent key is not a table"
            node = {}
            break
        else:
            node = node[part]
    last = path[-1]
    if isinstance(node, list):
        if not isinstance(last, int) or not -len(node) <= last < len(node):
            return f"cannot set {where}: no such array element"
        if isinstance(node, AoT) and not isinstance(value, dict):
            return f"cannot set {where}: an array of tables holds only tables"
        return None
    if not isinstance(node, dict):
        return f"cannot set {where}: a parent key is not a table"
    if isinstance(last, int):
        return f"cannot set {where}: not an array"
    return None


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
