"""Never print a secret: the one place that decides what is secret and hides it.

Codex config carries secrets in a few shapes: MCP server ``env`` and ``http_headers``
tables, ``shell_environment_policy.set``, provider ``http_headers``, bearer tokens, and
keys named like ``*token*``, ``*secret*``, ``*key*``, ``*password*``. Every view (text,
JSON, SARIF, JUnit, GitHub annotations, diffs, error lines, decoded MDM payloads) passes
values through :func:`redact` / :func:`redact_at` (structure-aware) and free text through
:func:`redact_text` (well-known token shapes, ``name=value`` pairs, URL credentials).
TOML shown as text goes through :func:`redact_toml_text`.
"""

from __future__ import annotations

import re
from typing import Any

REDACTED = "<redacted>"

#: a key whose name contains one of these holds a secret (scalars only; booleans never)
_SECRET_WORDS = ("token", "secret", "password", "passwd", "passphrase", "key", "credential",
                 "auth", "cookie", "bearer", "private")
#: names that contain a secret word but hold no secret (Codex enum settings)
_NOT_SECRET = frozenset({"key", "keys", "preferred_auth_method", "cli_auth_credentials_store",
                         "mcp_oauth_credentials_store", "forced_login_method", "keyring_backend"})
#: every value below a table of one of these names is secret (environment, headers)
SECRET_TABLES = frozenset({"env", "http_headers", "env_http_headers", "headers", "set",
                           "header_injections", "environment", "secrets", "credentials"})

_TOKEN_SHAPES = [
    # an Authorization value; the token must hold a digit or punctuation (not English)
    r"\b(?:Bearer|BEARER|bearer)[ \t]+(?=[A-Za-z0-9._~+/=-]*[0-9._~+/=-])[A-Za-z0-9._~+/=-]{8,}",
    r"\b(?:Basic|BASIC)[ \t]+(?=[A-Za-z0-9+/=]*[0-9+/=])[A-Za-z0-9+/]{8,}={0,2}",
    r"\bsk-[A-Za-z0-9_-]{12,}",
    r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{16,}",
    r"\bgithub_pat_[A-Za-z0-9_]{16,}",
    r"\bglpat-[A-Za-z0-9_-]{16,}",
    r"\bxox[abposr]-[A-Za-z0-9-]{8,}",
    r"\bnpm_[A-Za-z0-9]{20,}",
    r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
    r"\bAIza[0-9A-Za-z_-]{30,}",
    r"\beyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{6,}",
    r"-----BEGIN[A-Z ]*PRIVATE KEY-----(?:.|\n)*?(?:-----END[A-Z ]*PRIVATE KEY-----|\Z)",
]
#: substrings without which no token shape can match (skips the regex work, and its
#: compilation, on ordinary text: this module is on every command's start-up path)
_TOKEN_HINTS = ("earer", "EARER", "asic", "ASIC", "sk-", "ghp_", "gho_", "ghu_", "ghs_", "ghr_",
                "github_pat_", "glpat-", "xox", "npm_", "AKIA", "ASIA", "AIza", "eyJ", "PRIVATE KEY")
_PAIR_WORDS = ("token", "secret", "passw", "passphrase", "api", "credential", "authorization",
               "cookie", "private")
_PATTERNS = {
    "token": "|".join(f"(?:{p})" for p in _TOKEN_SHAPES),
    #: ``scheme://user:password@host`` -> the password
    "url": r"(?<=://)([^/\s:@\"']+):([^/\s@\"']+)(?=@)",
    #: ``?token=...`` and friends in URLs
    "query": r"(?i)([?&;](?:access_token|token|api[_-]?key|apikey|key|secret|password|"
             r"passwd|sig|signature|auth|code)=)([^&#\s\"']+)",
    #: ``NAME=value`` / ``"name": "value"`` / ``name = 'value'`` where NAME looks secret
    # tried only at the start of a name, which is consumed whole: linear time on long runs
    "pair": r"(?i)(?<![A-Za-z0-9_.-])(?P<name>(?=[A-Za-z0-9_.-]*?(?:token|secret|password|passwd|"
            r"passphrase|api[_-]?key|credential|authorization|cookie|private[_-]?key))"
            r"[A-Za-z0-9_.-]++)"
            r"(?P<sep>[\"']?[ \t]*+[=:][ \t]*+)"
            r"(?P<value>\"(?:[^\"\\\n]|\\.)*\"|'[^'\n]*'|[^\s,;}\])\"']+)",
    #: a command-line flag whose next argument is a secret (``--api-key VALUE``)
    "flag": r"(?i)^-{1,2}[a-z0-9_-]*(?:token|secret|password|passwd|key|auth|credential|cookie)"
            r"[a-z0-9_-]*$",
}
_COMPILED: dict[str, re.Pattern] = {}


def _re(name: str) -> re.Pattern:
    pat = _COMPILED.get(name)
    if pat is None:
        pat = _COMPILED[name] = re.compile(_PATTERNS[name])
    return pat


def is_secret_key(name: str) -> bool:
    """Does a key of this name hold a secret?"""
    low = str(name).lower()
    if low in _NOT_SECRET:
        return False
    return low in SECRET_TABLES or any(w in low for w in _SECRET_WORDS)


def _pair(m: re.Match) -> str:
    if m.group("name") == "token" and m.group("value")[:1] in "\"'":  # prefix_rules patterns
        return m.group(0)
    if m.group("value") == REDACTED or m.group("value").strip("\"'") == REDACTED:
        return m.group(0)
    return m.group("name") + m.group("sep") + REDACTED


def redact_text(text: str) -> str:
    """Free text with token-shaped values, ``secret=value`` pairs and URL credentials hidden."""
    if not text:
        return text
    if any(h in text for h in _TOKEN_HINTS):
        text = _re("token").sub(REDACTED, text)
    if "://" in text and "@" in text:
        text = _re("url").sub(lambda m: f"{m.group(1)}:{REDACTED}", text)
    if "=" in text and ("?" in text or "&" in text or ";" in text):
        text = _re("query").sub(lambda m: m.group(1) + REDACTED, text)
    if ("=" in text or ":" in text) and any(w in text.lower() for w in _PAIR_WORDS):
        text = _re("pair").sub(_pair, text)
    return text


def _leaf(value: Any, secret: bool) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if secret:
        return REDACTED
    if isinstance(value, str):
        key, eq, rest = value.partition("=")  # a `-c key=value` override, kept as text
        if eq and rest and "." in key and not any(c in key for c in " \t\"'{[") \
                and is_secret_path(tuple(key.split("."))):
            return f"{key}={REDACTED}"
        return redact_text(value)
    return value


def _list(values: list, key: str, secret: bool, in_pattern: bool) -> list:
    out: list = []
    hide_next = False
    for v in values:
        if isinstance(v, (dict, list)):
            out.append(_walk(v, key, secret, in_pattern))
            hide_next = False
            continue
        if hide_next and isinstance(v, str):
            out.append(REDACTED)
            hide_next = False
            continue
        if isinstance(v, str) and not secret:
            flag, eq, rest = v.partition("=")
            if _re("flag").match(flag):
                if eq:
                    out.append(f"{flag}={REDACTED}" if rest else v)
                    continue
                hide_next = True
        out.append(_leaf(v, secret))
    return out


def _walk(value: Any, key: str, secret: bool, in_pattern: bool) -> Any:
    if isinstance(value, dict):
        below = secret or str(key).lower() in SECRET_TABLES
        out = {}
        for k, v in value.items():
            if isinstance(v, (dict, list)):
                out[k] = _walk(v, k, below, in_pattern)
            else:
                hit = below or (is_secret_key(k) and not (in_pattern and k == "token"))
                out[k] = _leaf(v, hit)
        return out
    if isinstance(value, list):
        return _list(value, key, secret or (is_secret_key(key) and not in_pattern),
                     in_pattern or key == "pattern")
    return _leaf(value, secret or (bool(key) and is_secret_key(key)))


def redact(value: Any, key: str = "") -> Any:
    """A copy of ``value`` (a TOML/JSON value found under ``key``) with secrets hidden."""
    return _walk(value, key, False, False)


def is_secret_path(path: tuple | list) -> bool:
    """Is the value at this key path secret as a whole (below a secret table, or a
    secret-named key)? Array indexes and the prefix-rule ``token`` are not secrets."""
    parts = [p for p in path if isinstance(p, str)]
    if not parts:
        return False
    if any(p.lower() in SECRET_TABLES for p in parts[:-1]):
        return True
    if parts[-1] == "token" and "pattern" in parts:
        return False
    return is_secret_key(parts[-1])


def redact_at(path: tuple | list, value: Any) -> Any:
    """``value`` as found at ``path``, redacted with the context of the whole path."""
    if is_secret_path(path):
        return value if isinstance(value, bool) or value is None else (
            _walk(value, "env", True, False) if isinstance(value, (dict, list)) else REDACTED)
    parts = [p for p in path if isinstance(p, str)]
    return _walk(value, parts[-1] if parts else "", False, "pattern" in parts)


def redact_override(spec: str) -> str:
    """A ``-c key=value`` argument as it may be shown."""
    key, eq, raw = spec.partition("=")
    if eq and is_secret_path(tuple(key.strip().split("."))):
        return f"{key}={REDACTED}"
    return redact_text(spec)


def redact_toml_text(text: str) -> str:
    """TOML text with the value of every secret key replaced by ``"<redacted>"``.

    Comments and layout stay. Lines the scanner did not follow (broken TOML) are judged
    one by one: a secret-looking ``key = value`` or anything under a secret table header
    is hidden, and token shapes anywhere.
    """
    from mdmtool.tomlpos import value_spans
    spans, _stopped = value_spans(text)
    edits: list[tuple[int, int, str]] = []
    covered: set[int] = set()
    line_of = _line_index(text)
    by_path = {path: text[start:end] for (start, end), path in spans.items()}
    for (start, end), path in spans.items():
        covered.update(range(line_of(start), line_of(max(start, end - 1)) + 1))
        seg = text[start:end]
        prev = by_path.get(path[:-1] + (path[-1] - 1,)) if path and isinstance(path[-1], int) else None
        after_flag = prev is not None and bool(_re("flag").match(prev.strip("\"'")))
        if (after_flag or is_secret_path(path)) and seg not in ("true", "false"):
            edits.append((start, end, f'"{REDACTED}"'))
        else:
            safe = redact_text(seg)
            if safe != seg:
                edits.append((start, end, safe))
    edits.extend(_line_edits(text, covered))
    out = text
    for start, end, new in sorted(edits, reverse=True):
        out = out[:start] + new + out[end:]
    return out


def _line_index(text: str):
    import bisect
    starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]
    return lambda offset: bisect.bisect_right(starts, offset) - 1


def _line_edits(text: str, covered: set[int]) -> list[tuple[int, int, str]]:
    """Edits for the lines no value span covers: secret assignments, lines under a secret
    table header, token shapes. (Plain string operations: no regex to backtrack.)"""
    edits = []
    table_secret = False
    offset = 0
    for n, line in enumerate(text.split("\n")):
        start, offset = offset, offset + len(line) + 1
        stripped = line.lstrip(" \t")
        header = stripped.startswith("[")
        if header:
            name = stripped.lstrip("[").split("]", 1)[0].split("#", 1)[0]
            parts = [p.strip().strip("\"'").lower() for p in name.split(".")]
            table_secret = any(p in SECRET_TABLES for p in parts)
        if n in covered or header:
            continue
        eq = line.find("=")
        if eq > 0 and "#" not in line[:eq] and line[eq + 1:].strip():
            keys = [k.strip().strip("\"'") for k in line[:eq].split(".")]
            if table_secret or is_secret_key(keys[-1]) or any(k.lower() in SECRET_TABLES for k in keys):
                vstart = eq + 1 + (len(line[eq + 1:]) - len(line[eq + 1:].lstrip(" \t")))
                edits.append((start + vstart, start + len(line), f'"{REDACTED}"'))
                continue
        safe = redact_text(line)
        if safe != line:
            edits.append((start, start + len(line), safe))
    return edits


def scrub(value: Any) -> Any:
    """A JSON-like value with :func:`redact_text` applied to every string in it."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(v) for v in value]
    return value


def safe_finding(f):
    """A copy of a :class:`mdmtool.model.Finding` fit to print: message and remediation
    scrubbed, the values of its machine fix redacted for the key path it edits."""
    from mdmtool.record import replace
    fix = f.fix
    if isinstance(fix, dict):
        path = fix.get("path") if isinstance(fix.get("path"), list) else []
        fix = {k: (redact_at(path, v) if k in ("value", "choices", "old", "new") else scrub(v))
               for k, v in fix.items()}
    source = f.source
    if source.file and redact_text(source.file) != source.file:  # a path with credentials in it
        source = replace(source, file=redact_text(source.file))
    return replace(f, message=shorten(redact_text(f.message)), source=source,
                               remediation=shorten(redact_text(f.remediation)) if f.remediation else f.remediation,
                               key=shorten(f.key) if f.key else f.key, fix=fix)


def shorten(text: str, limit: int = 1000) -> str:
    """A message fit for one line of a report: a 3 MB key is not repeated in full."""
    if len(text) <= limit:
        return text
    keep = limit // 2 - 20
    return f"{text[:keep]}...({len(text) - 2 * keep} characters)...{text[-keep:]}"


def secret_leaves(path: tuple | list, value: Any) -> list[Any]:
    """The scalars of ``value`` (found at ``path``) that :func:`redact_at` hides."""
    out: list[Any] = []

    def pair(orig: Any, shown: Any) -> None:
        if isinstance(orig, dict) and isinstance(shown, dict):
            for k in orig:
                pair(orig[k], shown.get(k))
        elif isinstance(orig, list) and isinstance(shown, list):
            for o, n in zip(orig, shown):
                pair(o, n)
        elif orig != shown and isinstance(orig, (str, int, float)) and not isinstance(orig, bool):
            out.append(orig)
    pair(value, redact_at(path, value))
    return out


def hide_values(text: str, leaves: list[Any]) -> str:
    """``text`` with every occurrence of the given secret values replaced, then scrubbed."""
    import json
    for leaf in sorted(leaves, key=lambda v: -len(str(v))):
        if isinstance(leaf, str):
            if len(leaf) >= 3 or leaf in text:
                text = text.replace(json.dumps(leaf), json.dumps(REDACTED)).replace(leaf, REDACTED) \
                    if leaf else text
        else:
            text = re.sub(rf"(?<![\w.]){re.escape(str(leaf))}(?![\w.])", REDACTED, text)
    return redact_text(text)


def known_secrets(*documents: Any) -> list[Any]:
    """Every secret value in these documents (parsed config / requirements): what a
    message quoting them (a Codex error, say) must not repeat."""
    out: list[Any] = []
    for doc in documents:
        if isinstance(doc, (dict, list)):
            out.extend(v for v in secret_leaves((), doc) if len(str(v)) >= 4)
    return out


def hide_known(value: Any, leaves: list[Any]) -> Any:
    """A JSON-like value (or text) with the given secret values hidden in every string."""
    if isinstance(value, str):
        return hide_values(value, leaves)
    if isinstance(value, dict):
        return {k: hide_known(v, leaves) for k, v in value.items()}
    if isinstance(value, list):
        return [hide_known(v, leaves) for v in value]
    return value
