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

from mdmtool.errors import MdmError


def _is_table(value: Any) -> bool:
    return isinstance(value, dict)


def _fresh(item: Any) -> Any:
    """A copy of an overlay item safe to insert anywhere in the base document.

    Dotted-key and implicit ("super") tables are rebuilt as ordinary tables: appended at
    the end of a document, a dotted key line would land in whatever table precedes it.
    """
    import tomlkit
    from tomlkit.items import Table
    if isinstance(item, Table) and (item.is_super_table() or _has_dotted(item)):
        return tomlkit.item(item.unwrap())
    return copy.deepcopy(item)


def _has_dotted(table) -> bool:
    from tomlkit.items import Table
    for key, value in table.value.body:
        if key is not None and getattr(key, "is_dotted", lambda: False)():
            return True
        if isinstance(value, Table) and _has_dotted(value):
            return True
    return False


def merge_into(base: Any, overlay: Any) -> None:
    """Merge tomlkit mapping ``overlay`` into tomlkit mapping ``base`` in place."""
    for key in list(overlay.keys()):
        ov = overlay[key]
        if key in base and _is_table(base[key]) and _is_table(ov):
            merge_into(base[key], ov)
            continue
        base[key] = _fresh(ov)


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
    merge_into(doc, over)
    out = tomlkit.dumps(doc)
    check_same_values(out, merge_values(base_plain, overlay_plain), "merge")
    return out


def check_same_values(text: str, expected: dict, what: str) -> None:
    """Refuse (internal error, nothing written) when ``text`` does not mean ``expected``."""
    import tomllib

    from mdmtool.diff import _same
    try:
        got = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RuntimeError(f"{what} produced invalid TOML ({exc}); nothing was written") from None
    if not _same(got, expected):
        raise RuntimeError(f"{what} would change values it should not; nothing was written")
