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
import stat
import tomllib
from typing import Any

from mdmtool.errors import MdmError
from mdmtool.model import Source
from mdmtool.record import Record

_POS_RE = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_EOF_RE = re.compile(r"\s*\(at end of document\)\s*$")

#: Largest file mdmtool reads; Codex config files are a few KB, and parsing 8 MiB of TOML
#: already takes seconds.
MAX_TOML_BYTES = 8 * 1024 * 1024
#: Deepest nesting of tables and arrays mdmtool handles (Codex's own limits allow 80 key
#: parts under an 80-part header, so real files stay far below). Deeper data would
#: exhaust Python's recursion limit in the resolver, the schema check or the diff.
MAX_DEPTH = 200
#: Codex's reader refuses keys of more than 80 dotted parts; ``tomllib`` takes quadratic
#: time on them (a key of 100,000 parts: two minutes), so such keys are found first.
_KEY_PART = r"""(?:[A-Za-z0-9_-]++|"(?:[^"\\\n]|\\.)*+"|'[^'\n]*+')"""
_LONG_KEY_RE = re.compile(
    rf"(?<![^\s\[{{,]){_KEY_PART}(?>(?:[ \t]*+\.[ \t]*+{_KEY_PART}){{80,}})")


#: ``tomllib`` spends time quadratic in a dotted key's parts (plus its table header's) on
#: every key; a few thousand 80-part keys take minutes. Files past this budget of
#: parts x path length are refused before parsing (a real config stays far below it).
MAX_KEY_WORK = 8_000_000


class TomlSyntaxError(MdmError):
    """A file that is not valid TOML (Codex refuses it too)."""


class FileMissing(MdmError):
    """The file does not exist (also: a dangling symlink); Codex skips such layers."""


class Unsupported(MdmError):
    """Input past mdmtool's own limits (size, depth) that Codex may well accept: never
    reported as a Codex refusal, always as an input error (exit 2)."""


class TooDeep(Unsupported):
    """Valid TOML nested deeper than mdmtool handles (see :data:`MAX_DEPTH`)."""


def nesting_depth(value: Any) -> int:
    """How deeply tables and arrays nest in ``value`` (a table of scalars: 1); iterative."""
    if not isinstance(value, (dict, list)):
        return 0
    deepest = 0
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        deepest = max(deepest, depth)
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return deepest


def _limit_error(text: str, filename: str) -> TomlSyntaxError | None:
    from mdmtool.tomlpos import codex_limit
    hit = codex_limit(text)
    if hit is None:
        return None
    msg, line, col = hit
    return TomlSyntaxError(f"invalid TOML: {msg}", file=filename, line=line, col=col)


def _check_key_work(text: str, filename: str) -> None:
    """Refuse text whose dotted keys would keep ``tomllib`` busy for minutes.

    Estimated per line: a header of h parts costs h*h, a key of k parts below it k*(h+k).
    Dots inside strings count too, which can only overestimate.
    """
    work, header = 0, 1
    for line in text.split("\n"):
        s = line.lstrip(" \t")
        if s.startswith("["):
            header = s.split("]", 1)[0].count(".") + 1
            work += header * header
        else:
            eq = s.find("=")
            if eq > 0:
                k = s.count(".", 0, eq) + 1
                work += k * (header + k)
    if work > MAX_KEY_WORK:
        raise Unsupported(f"too many long dotted keys to read in reasonable time ({work:,} "
                          f"key-part steps; mdmtool reads at most {MAX_KEY_WORK:,})", file=filename)


def _checked(data: dict[str, Any], text: str, filename: str) -> dict[str, Any]:
    """``data`` unless it breaks Codex's nesting limits or mdmtool's depth limit."""
    depth = nesting_depth(data)
    if depth > 80:  # a key or nesting may be past Codex's limits: find it exactly
        err = _limit_error(text, filename)
        if err is not None:
            raise err
    if depth > MAX_DEPTH:
        raise TooDeep(f"tables and arrays nested {depth} deep; mdmtool handles at most "
                      f"{MAX_DEPTH} (Codex would accept this file)", file=filename)
    return data


class TomlFile(Record):
    """A parsed TOML file: its text, its data, and lazily computed key positions."""

    path: str
    text: str
    data: dict[str, Any]
    _positions: dict | None = None

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
    if text.count(".") > 80 and _LONG_KEY_RE.search(text):
        err = _limit_error(text, filename)
        if err is not None:
            raise err
    if len(text) > 65536:  # smaller texts cannot hold enough long keys to be slow
        _check_key_work(text, filename)
    try:
        return _checked(tomllib.loads(text), text, filename)
    except tomllib.TOMLDecodeError as exc:
        first = exc
    except RecursionError:
        raise _limit_error(text, filename) or TomlSyntaxError(
            "invalid TOML: nesting is too deep", file=filename) from None
    from mdmtool.tomlpos import fold_multiline_inline_tables
    folded = fold_multiline_inline_tables(text)
    if folded != text:
        try:
            return _checked(tomllib.loads(folded), text, filename)
        except (tomllib.TOMLDecodeError, RecursionError):
            pass
    msg, line, col = _error_position(text, str(first))
    if msg.startswith(("Cannot overwrite a value", "Cannot declare")):
        msg = f"duplicate key ({msg})"  # Codex: "duplicate key"
    raise TomlSyntaxError(f"invalid TOML: {msg}", file=filename, line=line, col=col) from None


def read_bytes(path: str, limit: int, *, regular_only: bool = False, what: str = "") -> bytes:
    """Up to ``limit`` bytes of a file, with one-line errors (missing, unreadable, too big).

    A FIFO is opened without blocking, so one nobody writes to reads as empty instead of
    hanging; ``regular_only`` refuses anything but a regular file, as Codex does for the
    files it discovers ("is not a file").
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise FileMissing("no such file", file=path) from None
    except IsADirectoryError:
        raise MdmError("is a directory, not a file", file=path) from None
    except PermissionError:
        raise MdmError("permission denied", file=path) from None
    except OSError as exc:
        raise MdmError(f"cannot read: {exc.strerror or exc}", file=path) from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise MdmError("is a directory, not a file", file=path)
        if regular_only and not stat.S_ISREG(mode):
            raise MdmError("is not a regular file", file=path)
        if hasattr(os, "O_NONBLOCK"):
            os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=False) as fh:
            raw = fh.read(limit + 1)
    except OSError as exc:
        raise MdmError(f"cannot read: {exc.strerror or exc}", file=path) from None
    finally:
        os.close(fd)
    if len(raw) > limit:
        raise Unsupported(f"file is larger than {limit // (1024 * 1024)} MiB; mdmtool does not "
                          f"read it{what}", file=path)
    return raw


def read_text(path: str, *, regular_only: bool = False) -> str:
    """Read a file as UTF-8 text (see :func:`read_bytes`); not UTF-8 is a syntax error."""
    raw = read_bytes(path, MAX_TOML_BYTES, regular_only=regular_only)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise TomlSyntaxError("file is not valid UTF-8", file=path, line=line, col=col) from None


def read_toml(path: str, *, display: str | None = None, regular_only: bool = False) -> TomlFile:
    """Read and parse a TOML file. ``display`` is the name used in messages."""
    name = display or path
    text = read_text(path, regular_only=regular_only)
    return TomlFile(path=name, text=text, data=parse_toml(text, name))


def read_toml_if_exists(path: str, *, display: str | None = None) -> TomlFile | None:
    """Like :func:`read_toml`, but ``None`` when the file does not exist (Codex skips it,
    also behind a dangling symlink). Anything else that is not a readable regular file
    is an error (Codex: "is not a file"; a symlink loop; permission denied)."""
    try:
        return read_toml(path, display=display, regular_only=True)
    except FileMissing:
        return None


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
        value = _override_value(raw)
    except (tomllib.TOMLDecodeError, RecursionError, KeyError, ValueError):
        value = raw.strip().strip("\"'")
    parts = key.split(".")
    depth = len(parts) + nesting_depth(value)
    if depth > MAX_DEPTH:
        raise TooDeep(f"override nested {depth} deep; mdmtool handles at most {MAX_DEPTH} "
                      f"(Codex would accept it): {'.'.join(parts[:3])}...")
    return parts, value


def _override_value(raw: str) -> Any:
    """The TOML value of ``-c key=raw``; raises where Codex's reader fails (then Codex,
    and the caller, take ``raw`` as a literal string), also past Codex's nesting limits."""
    text = f"_x_ = {raw}"
    if text.count(".") > 80 and _LONG_KEY_RE.search(text) and _limit_error(text, "-c") is not None:
        raise ValueError("past Codex's limits")
    try:
        value = tomllib.loads(text)["_x_"]
    except tomllib.TOMLDecodeError:
        from mdmtool.tomlpos import fold_multiline_inline_tables
        text = fold_multiline_inline_tables(text)
        value = tomllib.loads(text)["_x_"]
    if nesting_depth(value) > 80 and _limit_error(text, "-c") is not None:
        raise ValueError("past Codex's limits")
    return value
