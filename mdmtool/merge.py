"""Codex's merge semantics (``merge_toml_values``), shared by config and requirements.

Tables recurse key by key; any other pair (scalars, arrays, a type change) is replaced
wholesale by the overlay; an empty overlay table changes nothing.
"""

from __future__ import annotations

import copy
from typing import Any


def merge_values(base: Any, overlay: Any) -> Any:
    """Return ``base`` merged with ``overlay`` (neither argument is modified)."""
    if isinstance(base, dict) and isinstance(overlay, dict):
        out = dict(base)
        for key, value in overlay.items():
            out[key] = merge_values(base[key], value) if key in base else copy.deepcopy(value)
        return out
    return copy.deepcopy(overlay)


def set_path(table: dict, path: list[str], value: Any) -> None:
    """Set a dotted key path in ``table``, creating (or replacing non-table) parents."""
    cur = table
    for part in path[:-1]:
        nxt = cur.get(part)
        if not isinstance(nxt, dict):
            nxt = {}
            cur[part] = nxt
        cur = nxt
    cur[path[-1]] = value


def get_path(table: Any, path: list[str] | tuple, default: Any = None) -> Any:
    cur = table
    for part in path:
        if not isinstance(cur, dict) or part not in cur:
            return default
        cur = cur[part]
    return cur
