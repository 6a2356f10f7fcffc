"""Codex's merge (:func:`mdmtool.merge.merge_values`) applied to a tomlkit document, so the
result keeps the base file's comments, formatting and key order.

Tables recurse; scalars, arrays and type changes are replaced by the overlay's item (with
its comment, else the base line's comment stays); an empty overlay table changes nothing,
and a merge that changes no value gives the base text back byte for byte. The text is
checked against the plain-dict merge before anyone writes it: if tomlkit ever renders a
different meaning, we stop instead of writing a wrong file.
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
    return _own_lines(copy.deepcopy(item))


def _own_lines(item: Any) -> Any:
    """End every line of ``item`` with a newline. A value taken from an inline table, or
    from the last line of a file without a final newline, has none: inserted before
    another key or header, the two would share one line (invalid TOML)."""
    import tomlkit
    from tomlkit.items import AoT, InlineTable, Item, Table, Whitespace
    if not isinstance(item, Item):
        item = tomlkit.item(item)
    if isinstance(item, AoT):
        for table in item.body:
            _own_lines(table)
        return item
    if isinstance(item, Whitespace):
        return item
    if "\n" not in item.trivia.trail:
        item.trivia.trail = "\n"
    if isinstance(item, Table) and not isinstance(item, InlineTable):
        for _key, child in item.value.body:
            _own_lines(child)
    return item


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


def _child(mapping: Any, key: str) -> Any:
    """``mapping[key]`` as a tomlkit item: ``[]`` hands out booleans as plain ``bool``,
    which would lose the overlay line's comment and trivia."""
    holder = getattr(mapping, "_internal_container", mapping)  # OutOfOrderTableProxy
    if hasattr(holder, "item"):
        try:
            return holder.item(key)
        except (KeyError, IndexError):  # tomlkit raises NonExistentKey (a KeyError)
            pass
    return mapping[key]


def merge_into(base: Any, overlay: Any, flat: bool = False, again: Any = None) -> None:
    """Merge tomlkit mapping ``overlay`` into tomlkit mapping ``base`` in place.

    ``flat``: ``base`` has no ``[header]`` (inline table or dotted keys), so tables and
    arrays of tables added below it must be written inline. ``again``: fetches ``base``
    anew from the document; a table split over several places (tomlkit's out-of-order
    proxy) indexes its parts by position, which the previous key's edit may have moved.
    """
    for key in list(overlay.keys()):
        if again is not None:
            base = again()
        ov = _child(overlay, key)
        if key in base and _is_table(base[key]) and _is_table(ov):
            fetch = (lambda up=again, k=key: up()[k]) if again else (lambda b=base, k=key: b[k])
            merge_into(base[key], ov, flat or _flat_child(base, key), fetch)
            continue
        set_item(base, key, _inline(ov) if flat else _fresh(ov))


def flat_at(doc: Any, path: list) -> bool:
    """Is the table at ``path`` (keys and array indexes) written without a ``[header]`` of
    its own (an inline table, dotted keys, or inside one of those)?"""
    from tomlkit.items import AoT, InlineTable
    node, flat = doc, False
    for part in path:
        if isinstance(part, int):
            flat = flat or not isinstance(node, AoT)  # elements of an inline array
        else:
            flat = flat or _flat_child(node, part)
        node = node[part]
    return flat or isinstance(node, InlineTable)


def set_item(table: Any, key: str, value: Any, flat: bool = False) -> None:
    """``table[key] = value``, also where tomlkit cannot replace in place (a key of a table
    split over dotted lines): then the old entry is removed and the new one appended.

    ``flat``: ``table`` has no ``[header]`` (see :func:`flat_at`), so ``value`` is written
    inline; else it gets lines of its own."""
    from tomlkit.items import InlineTable, Item, Table
    if flat or isinstance(table, InlineTable):
        value = _inline(value)
    elif isinstance(value, Item):
        if isinstance(value, Table) and value.is_aot_element():  # an element moved out of
            value = Table(value.value, value.trivia, False)  # its [[array]]: a [table] now
        value = _own_lines(value)
    _end_dotted_lines(table)
    if key in table and _is_table(table[key]) and (
            not _is_table(value) or hasattr(table[key], "_tables")):
        # a table spread over several dotted lines or headers: tomlkit replaces only
        # the first part and leaves the others (`c.a = 0` then `c.b = 0`, now a clash)
        del table[key]
    try:
        table[key] = value
    except (IndexError, KeyError):
        del table[key]
        table[key] = value


def _end_dotted_lines(table: Any) -> None:
    """Give every line written with dotted keys its newline. One has none only at the very
    end of a file without a final newline (``a.b = 0``); tomlkit adds the missing newline
    to the dotted table, which renders none, and writes a key it puts after it onto the
    same line."""
    from tomlkit.items import AoT, InlineTable, Table
    if isinstance(table, InlineTable):
        return

    def leaves(body: list, dotted: bool) -> None:
        for key, item in body:
            if key is None or not (dotted or key.is_dotted()) or isinstance(item, AoT):
                continue
            if isinstance(item, Table) and not isinstance(item, InlineTable):
                leaves(item.value.body, True)
            elif "\n" not in item.trivia.trail:
                item.trivia.trail += "\n"

    for body in _bodies(table):
        leaves(body, False)


def set_element(array: Any, index: int, value: Any) -> str | None:
    """``array[index] = value`` for an inline array or an array of tables; returns a reason
    when the value cannot be an element of that kind of array."""
    from tomlkit.items import AoT
    if not isinstance(array, AoT):
        array[index] = _inline(value)
    elif isinstance(value, dict):
        array[index] = _fresh(value)
    else:
        return "an array of tables holds only tables"
    return None


def merge_text(base_text: str, overlay_text: str, *, base_name: str = "base",
               overlay_name: str = "overlay") -> str:
    """Merged TOML text: ``base_text`` with ``overlay_text`` merged over it."""
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    from mdmtool.diff import _same
    from mdmtool.merge import merge_values
    from mdmtool.tomlio import parse_toml

    base_plain = parse_toml(base_text, base_name)  # Codex's reading, with line:col errors
    overlay_plain = parse_toml(overlay_text, overlay_name)
    expected = merge_values(base_plain, overlay_plain)
    if _same(expected, base_plain):  # nothing to change: the file as it is, byte for byte
        return base_text  # (tomlkit does not write every layout back exactly)
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
    check_same_values(out, expected, "merge")
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
