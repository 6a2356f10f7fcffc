"""A small on-disk cache of answers keyed by content hash (e.g. "this file is schema-clean").

Lives in ``$MDMTOOL_CACHE_DIR`` or ``$XDG_CACHE_HOME/mdmtool`` (``~/.cache/mdmtool``); set
``MDMTOOL_NO_CACHE=1`` to disable. Every failure to read or write is ignored: the cache
only ever saves time, never changes an answer.
"""

from __future__ import annotations

import os

from mdmtool import __version__

try:  # the built-in SHA-256: importing hashlib loads OpenSSL (3-5 ms of every start-up)
    from _sha256 import sha256 as _sha256  # CPython 3.11
except ImportError:  # pragma: no cover - other versions and interpreters
    try:
        from _sha2 import sha256 as _sha256  # CPython 3.12+
    except ImportError:
        from hashlib import sha256 as _sha256


def digest(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return _sha256(data).hexdigest()


def _dir() -> str | None:
    if os.environ.get("MDMTOOL_NO_CACHE"):
        return None
    base = os.environ.get("MDMTOOL_CACHE_DIR")
    if not base:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        base = os.path.join(xdg, "mdmtool")
    return base


def key(*parts: str) -> str:
    h = _sha256(__version__.encode())
    for p in parts:
        h.update(b"\0")
        h.update(p.encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def get(k: str) -> str | None:
    d = _dir()
    if d is None:
        return None
    try:
        with open(os.path.join(d, k[:2], k), encoding="utf-8") as fh:
            return fh.read()
    except OSError:
        return None


def put(k: str, value: str) -> None:
    d = _dir()
    if d is None:
        return
    sub = os.path.join(d, k[:2])
    try:
        os.makedirs(sub, exist_ok=True)
        tmp = os.path.join(sub, f".{k}.{os.getpid()}")
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(value)
        os.replace(tmp, os.path.join(sub, k))
    except OSError:
        pass
