"""Reading TOML the way Codex reads it, with positions, and Codex's ``-c`` value parsing.

Values come from the standard library's fast ``tomllib``. Codex's reader (the Rust
``toml`` crate) also accepts TOML 1.1 multi-line inline tables; when ``tomllib``
refuses a file only for that reason we fold those tables onto one line (character for
character, so positions stay valid) and parse again. Positions (line:col of every key
and array element) come from :mod:`mdmtool.tomlpos`, computed only when a finding
needs them.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import tomllib
from dataclasses import dataclass, field
from typing import Any

from mdmtool.errors import MdmError
from mdmtool.model import Source

_POS_RE = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_EOF_RE = re.compile(r"\s*\(at end of document\)\s*$")

#: Largest file mdmtool reads; Codex config files are a few KB.
MAX_TOML_BYTES = 64 * 1024 * 1024


class TomlSyntaxError(MdmError):
    """A file that is not valid TOML (Codex refuses it too)."""


@dataclass
class TomlFile:
    """A parsed TOML file: its text, its data, and lazily computed key positions."""

    path: str
    text: str
    data: dict[str, Any]
    _positions: dict | None = field(default=None, repr=False)

    def positions(self) -> dict:
        if self._positions is None:
            from mdmtool.tomlpos import scan_positions
            self._positions = scan_positions(self.text)
        return self._positions

    def locate(self, keypath: tuple | list) -> Source:
        """file:line:col of ``keypath`` (or of its nearest located ancestor)."""
        pos = self.positions()
        path = tuple(keypath)
        while path:
            hit = pos.get(path)
            if hit:
                return Source(self.path, hit[0], hit[1])
            path = path[:-1]
        return Source(self.path, 1, 1)

    def has_position(self, keypath: tuple | list) -> bool:
        return tuple(keypath) in self.positions()


def _error_position(text: str, message: str) -> tuple[str, int | None, int | None]:
    m = _POS_RE.search(message)
    if m:
        return message[: m.start()], int(m.group(1)), int(m.group(2))
    if _EOF_RE.search(message):
        lines = text.split("\n")
        return _EOF_RE.sub("", message) + " (at end of file)", len(lines), len(lines[-1]) + 1
    return message, None, None


def parse_toml(text: str, filename: str) -> dict[str, Any]:
    """Parse TOML text as Codex would; raise :class:`TomlSyntaxError` with file:line:col."""
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        first = exc
    except RecursionError:
        raise TomlSyntaxError("TOML nesting is too deep", file=filename) from None
    from mdmtool.tomlpos import fold_multiline_inline_tables
    folded = fold_multiline_inline_tables(text)
    if folded != text:
        try:
            return tomllib.loads(folded)
        except (tomllib.TOMLDecodeError, RecursionError):
            pass
    msg, line, col = _error_position(text, str(first))
    raise TomlSyntaxError(f"invalid TOML: {msg}", file=filename, line=line, col=col) from None


def read_text(path: str) -> str:
    """Read a file as UTF-8 text with clear errors (missing, unreadable, not UTF-8, too big)."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_TOML_BYTES + 1)
    except FileNotFoundError:
        raise MdmError("no such file", file=path) from None
    except IsADirectoryError:
        raise MdmError("is a directory, not a file", file=path) from None
    except PermissionError:
        raise MdmError("permission denied", file=path) from None
    except OSError as exc:
        raise MdmError(f"cannot read: {exc.strerror or exc}", file=path) from None
    if len(raw) > MAX_TOML_BYTES:
        raise MdmError(f"file is larger than {MAX_TOML_BYTES // (1024 * 1024)} MiB", file=path)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise TomlSyntaxError("file is not valid UTF-8", file=path, line=line, col=col) from None


def read_toml(path: str, *, display: str | None = None) -> TomlFile:
    """Read and parse a TOML file. ``display`` is the name used in messages."""
    name = display or path
    text = read_text(path)
    return TomlFile(path=name, text=text, data=parse_toml(text, name))


def read_toml_if_exists(path: str, *, display: str | None = None) -> TomlFile | None:
    """Like :func:`read_toml`, but ``None`` when the file does not exist (Codex skips it)."""
    if not os.path.lexists(path):
        return None
    return read_toml(path, display=display)


def to_json_compatible(value: Any) -> Any:
    """TOML values -> JSON values (datetimes become ISO 8601 strings)."""
    if isinstance(value, dict):
        return {k: to_json_compatible(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_json_compatible(v) for v in value]
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    return value


# ----------------------------------------------------------------------------- -c overrides

def parse_override(spec: str) -> tuple[list[str], Any]:
    """Parse ``-c key=value`` exactly as Codex does.

    The key is a dotted path (split on ``.``); the value is parsed as a TOML value, and
    when that fails it is taken as a literal string with surrounding quotes trimmed.
    """
    if "=" not in spec:
        raise MdmError(f"Invalid override (missing '='): {spec}")
    key, raw = spec.split("=", 1)
    key = key.strip()
    if not key:
        raise MdmError(f"Empty key in override: {spec}")
    value: Any
    try:
        value = tomllib.loads(f"_x_ = {raw}")["_x_"]
    except (tomllib.TOMLDecodeError, RecursionError):
        folded = None
        try:
            from mdmtool.tomlpos import fold_multiline_inline_tables
            folded = fold_multiline_inline_tables(f"_x_ = {raw}")
            value = tomllib.loads(folded)["_x_"]
        except (tomllib.TOMLDecodeError, RecursionError, KeyError):
            value = raw.strip().strip("\"'")
    return key.split("."), value
