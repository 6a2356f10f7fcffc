"""Line:col of every key, table header and array element of a TOML text.

A small scanner that understands just enough TOML (keys, headers, strings, arrays,
inline tables, comments) to map a key path such as ``("sandbox_workspace_write",
"writable_roots", 1)`` to the position where it is written. It never decides whether
the text is valid (``tomllib`` does), so it is forgiving: on text it cannot follow it
stops and returns what it found.
"""

from __future__ import annotations

_BARE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


class _Scanner:
    def __init__(self, text: str):
        self.s = text
        self.i = 0
        self.n = len(text)
        self.line = 1
        self.line_start = 0
        self.pos: dict[tuple, tuple[int, int]] = {}
        self.aot_count: dict[tuple, int] = {}
        #: character offsets inside multi-line inline tables to blank out (for folding)
        self.fold: list[int] = []
        self.brace_depth = 0

    # -- low level
    def here(self) -> tuple[int, int]:
        return self.line, self.i - self.line_start + 1

    def peek(self, k: int = 0) -> str:
        j = self.i + k
        return self.s[j] if j < self.n else ""

    def advance(self, k: int = 1) -> None:
        for _ in range(k):
            if self.i < self.n and self.s[self.i] == "\n":
                self.line += 1
                self.line_start = self.i + 1
            self.i += 1

    def skip_ws(self, newlines: bool = False) -> None:
        while self.i < self.n:
            c = self.s[self.i]
            if c in " \t\r":
                self.advance()
            elif c == "\n" and newlines:
                if self.brace_depth:
                    self.fold.append(self.i)
                self.advance()
            elif c == "#" and newlines:
                while self.i < self.n and self.s[self.i] != "\n":
                    if self.brace_depth:
                        self.fold.append(self.i)
                    self.advance()
            else:
                return

    def skip_line(self) -> None:
        while self.i < self.n and self.s[self.i] != "\n":
            self.advance()

    # -- tokens
    def read_string(self) -> str:
        q = self.peek()
        triple = self.s.startswith(q * 3, self.i)
        if triple:
            self.advance(3)
            end = self.s.find(q * 3, self.i)
            while end != -1 and q == '"' and _escaped(self.s, end):
                end = self.s.find(q * 3, end + 1)
            if end == -1:
                raise ValueError("unterminated string")
            while self.s.startswith(q, end + 3):  # up to two quotes may close the string
                end += 1
            body = self.s[self.i:end]
            self.advance(end + 3 - self.i)
            return body
        self.advance()
        out = []
        while self.i < self.n:
            c = self.s[self.i]
            if c == "\n":
                raise ValueError("newline in string")
            if c == q:
                self.advance()
                return "".join(out) if q == "'" else _unescape("".join(out))
            if c == "\\" and q == '"':
                out.append(c)
                self.advance()
                if self.i < self.n:
                    out.append(self.s[self.i])
            else:
                out.append(c)
            self.advance()
        raise ValueError("unterminated string")

    def read_key(self) -> tuple[list[str], list[tuple[int, int]]]:
        parts, where = [], []
        while True:
            self.skip_ws()
            where.append(self.here())
            c = self.peek()
            if c in "\"'":
                parts.append(self.read_string())
            else:
                start = self.i
                while self.i < self.n and self.s[self.i] in _BARE:
                    self.advance()
                if start == self.i:
                    raise ValueError("expected a key")
                parts.append(self.s[start:self.i])
            self.skip_ws()
            if self.peek() == ".":
                self.advance()
                continue
            return parts, where

    def read_value(self, path: tuple) -> None:
        c = self.peek()
        if c in "\"'":
            self.read_string()
        elif c == "[":
            self.advance()
            idx = 0
            while True:
                self.skip_ws(newlines=True)
                if self.peek() == "]":
                    self.advance()
                    return
                if not self.peek():
                    raise ValueError("unterminated array")
                self.pos.setdefault(path + (idx,), self.here())
                self.read_value(path + (idx,))
                idx += 1
                self.skip_ws(newlines=True)
                if self.peek() == ",":
                    self.advance()
                elif self.peek() != "]":
                    raise ValueError("expected , or ]")
        elif c == "{":
            self.advance()
            self.brace_depth += 1
            last_comma = None
            while True:
                self.skip_ws(newlines=True)
                if self.peek() == "}":
                    if last_comma is not None:  # TOML 1.1 trailing comma
                        self.fold.append(last_comma)
                    self.advance()
                    break
                if not self.peek():
                    raise ValueError("unterminated inline table")
                keys, where = self.read_key()
                for k in range(len(keys)):
                    self.pos.setdefault(path + tuple(keys[: k + 1]), where[k])
                self.skip_ws()
                if self.peek() != "=":
                    raise ValueError("expected =")
                self.advance()
                self.skip_ws()
                self.read_value(path + tuple(keys))
                self.skip_ws(newlines=True)
                last_comma = None
                if self.peek() == ",":
                    last_comma = self.i
                    self.advance()
            self.brace_depth -= 1
        else:
            while self.i < self.n and self.s[self.i] not in ",]}\n#":
                self.advance()

    def run(self) -> None:
        table: tuple = ()
        while self.i < self.n:
            self.skip_ws(newlines=True)
            if self.i >= self.n:
                return
            if self.peek() == "[":
                aot = self.peek(1) == "["
                start = self.here()
                self.advance(2 if aot else 1)
                keys, _ = self.read_key()
                self.advance(2 if aot else 1)
                table = tuple(keys)
                if aot:
                    idx = self.aot_count.get(table, 0)
                    self.aot_count[table] = idx + 1
                    self.pos.setdefault(table, start)
                    table = table + (idx,)
                self.pos.setdefault(table, start)
                self.skip_line()
                continue
            keys, where = self.read_key()
            for k in range(len(keys)):
                self.pos.setdefault(table + tuple(keys[: k + 1]), where[k])
            if self.peek() != "=":
                raise ValueError("expected =")
            self.advance()
            self.skip_ws()
            self.read_value(table + tuple(keys))
            self.skip_ws()
            if self.peek() == "#":
                self.skip_line()


def _escaped(s: str, idx: int) -> bool:
    n = 0
    while idx - 1 - n >= 0 and s[idx - 1 - n] == "\\":
        n += 1
    return n % 2 == 1


def _unescape(s: str) -> str:
    if "\\" not in s:
        return s
    try:
        return s.encode("latin-1", "backslashreplace").decode("unicode_escape")
    except UnicodeDecodeError:
        return s


def scan_positions(text: str) -> dict[tuple, tuple[int, int]]:
    """Map every key path (and array index) in ``text`` to its (line, col), 1-based."""
    sc = _Scanner(text)
    try:
        sc.run()
    except (ValueError, IndexError, RecursionError):
        pass
    return sc.pos


def fold_multiline_inline_tables(text: str) -> str:
    """Put TOML 1.1 multi-line inline tables on one line, keeping every offset."""
    sc = _Scanner(text)
    try:
        sc.run()
    except (ValueError, IndexError, RecursionError):
        pass
    if not sc.fold:
        return text
    chars = list(text)
    for i in sc.fold:
        chars[i] = " "
    return "".join(chars)


# ----------------------------------------------------------------------------- Codex's limits

#: Codex's TOML reader refuses a key of more than 80 dotted parts ("recursion limit") and
#: arrays / inline tables nested more than 80 deep ("cannot recurse further"); observed
#: with Codex 0.169.0 (a header of 80 parts plus a key, or 40 parts plus 80-deep arrays,
#: is accepted: the limits are per key and per value).
CODEX_MAX_KEY_PARTS = 80
CODEX_MAX_NESTING = 80
KEY_LIMIT_MESSAGE = "recursion limit: a key of more than 80 dotted parts (Codex refuses it)"
NESTING_LIMIT_MESSAGE = ("cannot recurse further; max recursion depth met: arrays or inline "
                         "tables nested more than 80 deep (Codex refuses it)")


class _LimitHit(Exception):
    def __init__(self, message: str, line: int, col: int):
        super().__init__(message)
        self.message, self.line, self.col = message, line, col


class _LimitScanner(_Scanner):
    """The scanner, stopping at the first key or nesting Codex's reader would refuse.

    It raises before the positions of a too-long key are recorded, so a key of 100,000
    parts costs linear time.
    """

    def __init__(self, text: str):
        super().__init__(text)
        self.depth = 0

    def read_key(self):
        self.skip_ws()
        start, line, line_start = self.i, self.line, self.line_start
        parts, where = super().read_key()
        if len(parts) > CODEX_MAX_KEY_PARTS:
            j = start - 1
            while j >= line_start and self.s[j] in " \t":
                j -= 1
            if j >= line_start and self.s[j] == "[":  # a table header: point at its bracket
                start = j - 1 if j - 1 >= line_start and self.s[j - 1] == "[" else j
            raise _LimitHit(KEY_LIMIT_MESSAGE, line, start - line_start + 1)
        return parts, where

    def read_value(self, path: tuple) -> None:
        if self.peek() not in ("[", "{"):
            super().read_value(path)
            return
        self.depth += 1
        try:
            if self.depth > CODEX_MAX_NESTING:
                raise _LimitHit(NESTING_LIMIT_MESSAGE, *self.here())
            super().read_value(path)
        finally:
            self.depth -= 1


def codex_limit(text: str) -> tuple[str, int, int] | None:
    """(message, line, col) of the first key or nesting beyond Codex's limits, else None."""
    sc = _LimitScanner(text)
    try:
        sc.run()
    except _LimitHit as hit:
        return hit.message, hit.line, hit.col
    except (ValueError, IndexError, RecursionError):
        pass
    return None


# ----------------------------------------------------------------------------- value spans

_BARE_LITERAL = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_:.+- ")


class _SpanScanner(_Scanner):
    """The scanner, also recording where each scalar value is written (for redaction)."""

    def __init__(self, text: str):
        super().__init__(text)
        self.spans: dict[tuple[int, int], tuple] = {}

    def read_key(self):
        parts, where = super().read_key()
        if len(parts) > CODEX_MAX_KEY_PARTS:  # not TOML Codex reads; recording it is quadratic
            raise ValueError("key too long")
        return parts, where

    def read_value(self, path: tuple) -> None:
        start = self.i
        scalar = self.peek() not in ("[", "{")
        super().read_value(path)
        if scalar:
            end = self.i
            while end > start and self.s[end - 1] in " \t\r":
                end -= 1
            text = self.s[start:end]
            # a string, or a bare literal (number, boolean, date); anything else is text
            # the scanner did not understand and must not vouch for
            if end > start and (text[0] in "\"'" or _BARE_LITERAL.issuperset(text)):
                self.spans[(start, end)] = path


def value_spans(text: str) -> tuple[dict[tuple[int, int], tuple], int | None]:
    """{(start, end) offsets of each scalar value: its key path}, and the offset of the
    line where scanning stopped on text it could not follow (None: all of it)."""
    sc = _SpanScanner(text)
    try:
        sc.run()
    except (ValueError, IndexError, RecursionError):
        stop = sc.line_start  # values on the line it stopped at are not trusted either
        return {span: path for span, path in sc.spans.items() if span[1] <= stop}, stop
    return sc.spans, None
