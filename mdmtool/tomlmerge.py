"""Codex's merge (:func:`mdmtool.merge.merge_values`) applied to a tomlkit document, so the
result keeps the base file's comments, formatting and key order.

Tables recurse; scalars, arrays and type changes are replaced by the overlay's item (with
its comment, else the base line's comment stays); an empty overlay table changes nothing.
The text is checked against the plain-dict merge before anyone writes it: if tomlkit
ever renders a different meaning, we stop instead of writing a wrong file.
"""

from __future__ import annotations

import copy
from typing import Any

from mdmtool.errors import EXIT_INTERNAL, MdmError


def _is_table(value: Any) -> bool:
    return isinstance(value, dict)


def _unwrap(value: Any) -> Any:
    if hasattr(value, "unwrap"):
        return value.unwrap()
    if isinstance(value, dict):  # tomlkit's out-of-order table proxy has no unwrap()
        return {k: _unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    return value


def _fresh(item: Any) -> Any:
    """A copy of an overlay item safe to insert under a ``[header]`` table.

    Dotted-key, implicit ("super") and split (out-of-order) tables are rebuilt as ordinary
    tables: appended at the end of a document, a dotted key line would land in whatever
    table precedes it.
    """
    import tomlkit
    from tomlkit.items import Table
    if isinstance(item, dict) and (not isinstance(item, Table) or item.is_super_table()
                                   or _has_dotted(item)):
        if not isinstance(item, tomlkit.items.InlineTable):
            return tomlkit.item(_unwrap(item))
    return copy.deepcopy(item)


def _has_dotted(table) -> bool:
    from tomlkit.items import Table
    for key, value in table.value.body:
        if key is not None and key.is_dotted():
            return True
        if isinstance(value, Table) and _has_dotted(value):
            return True
    return False


def _inline(value: Any) -> Any:
    """A value as inline TOML (tables -> inline tables), for places where no ``[header]``
    may appear: inside an inline table or a table written with dotted keys."""
    import tomlkit
    value = _unwrap(value)
    if isinstance(value, dict):
        table = tomlkit.inline_table()
        for k, v in value.items():
            table[k] = _inline(v)
        return table
    if isinstance(value, list):
        arr = tomlkit.array()
        for v in value:
            arr.append(_inline(v))
        return arr
    return value


def _bodies(node: Any) -> list:
    """The tomlkit body lists that hold ``node``'s keys (several for a split table)."""
    from tomlkit.container import Container
    if isinstance(node, Container):
        return [node.body]
    tables = getattr(node, "_tables", None)  # OutOfOrderTableProxy
    if tables is not None:
        return [t.value.body for t in tables]
    value = getattr(node, "value", None)
    return [value.body] if isinstance(value, Container) else []


def _flat_child(parent: Any, key: str) -> bool:
    """Is ``parent[key]`` written without a header of its own (inline or dotted keys)?"""
    from tomlkit.items import InlineTable
    if isinstance(parent[key], InlineTable):
        return True
    return any(k is not None and k.key == key and k.is_dotted()
               for body in _bodies(parent) for k, _v in body)


def merge_into(base: Any, overlay: Any, flat: bool = False) -> None:
    """Merge tomlkit mapping ``overlay`` into tomlkit mapping ``base`` in place.

    ``flat``: ``base`` has no ``[header]`` (inline table or dotted keys), so tables and
    arrays of tables added below it must be written inline.
    """
    for key in list(overlay.keys()):
        ov = overlay[key]
        if key in base and _is_table(base[key]) and _is_table(ov):
            merge_into(base[key], ov, flat or _flat_child(base, key))
            continue
        set_item(base, key, _inline(ov) if flat else _fresh(ov))


def set_item(table: Any, key: str, value: Any) -> None:
    """``table[key] = value``, also where tomlkit cannot replace in place (a key of a table
    split over dotted lines): then the old entry is removed and the new one appended."""
    try:
        table[key] = value
    except (IndexError, KeyError):
        del table[key]
        table[key] = value


def merge_text(base_text: str, overlay_text: str, *, base_name: str = "base",
               overlay_name: str = "overlay") -> str:
    """Merged TOML text: ``base_text`` with ``overlay_text`` merged over it."""
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    from mdmtool.merge import merge_values
    from mdmtool.tomlio import parse_toml

    base_plain = parse_toml(base_text, base_name)  # Codex's reading, with line:col errors
    overlay_plain = parse_toml(overlay_text, overlay_name)
    try:
        doc = tomlkit.parse(base_text)
        over = tomlkit.parse(overlay_text)
    except TOMLKitError as exc:
        raise MdmError(f"cannot edit this file while keeping its formatting: {exc}",
                       file=base_name) from None
    try:
        merge_into(doc, over)
        out = tomlkit.dumps(doc)
    except (TOMLKitError, IndexError, KeyError, ValueError) as exc:
        raise MdmError(f"cannot merge {overlay_name} into this file's layout ({exc}); "
                       "rewrite its dotted keys as [tables] and retry", file=base_name) from None
    check_same_values(out, merge_values(base_plain, overlay_plain), "merge")
    return out


class EditRefused(MdmError):
    """The edited text would not mean what was intended: a layout tomlkit cannot edit
    faithfully. Nothing is written; exit 3 (it is our limitation, not the user's input)."""

    exit_code = EXIT_INTERNAL


def check_same_values(text: str, expected: dict, what: str) -> None:
    """Refuse (nothing written) when ``text`` does not mean exactly ``expected``."""
    from mdmtool.diff import _same
    from mdmtool.tomlio import parse_toml
    try:
        got = parse_toml(text, "result")  # Codex's reading (TOML 1.1 inline tables too)
    except MdmError as exc:
        raise EditRefused(f"refusing to write: the {what} produced invalid TOML ({exc.message}); "
                          "nothing was written") from None
    if not _same(got, expected):
        raise EditRefused(f"refusing to write: the {what} would change values it should not "
                          "(this file's layout defeats the editor); nothing was written")
