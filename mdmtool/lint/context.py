"""What the rules see: one :class:`LintFile` per file and a :class:`Unit` per machine.

A unit is the set of files Codex reads together on one machine (or a repository of
configs checked together): system files, user config, profiles, project layers,
requirements and shell scripts. Parsing is lazy and positions are computed only when a
finding needs them.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

from mdmtool.errors import MdmError
from mdmtool.lint.memo import Memo
from mdmtool.model import Finding, Source

#: sha -> (parsed data, key positions or None); shared, read-only
_PARSED: Memo = Memo(1024)

# roles
SYSTEM, USER, PROFILE, PROJECT, STANDALONE = "system", "user", "profile", "project", "standalone"
REQUIREMENTS, MANAGED, SHELL = "requirements", "managed", "shell"
CONFIG_ROLES = (SYSTEM, USER, PROFILE, PROJECT, STANDALONE)


@dataclass
class LintFile:
    """One file: its display path, role, text and (lazily) parsed data."""

    path: str                      # shown in findings
    role: str
    text: str
    host_path: str | None = None   # where the file lives on the machine it configures
    project_dir: str | None = None  # PROJECT role: the directory holding .codex/
    error: MdmError | None = None  # unreadable / not TOML
    _toml: Any = field(default=None, repr=False)
    _sha: str | None = field(default=None, repr=False)

    @property
    def kind(self) -> str:
        if self.role == REQUIREMENTS:
            return "requirements"
        if self.role == MANAGED:
            return "managed-config"
        if self.role == SHELL:
            return "shell"
        return "config"

    @property
    def sha(self) -> str:
        if self._sha is None:
            self._sha = hashlib.blake2b(self.text.encode("utf-8", "surrogatepass"),
                                        digest_size=16).hexdigest()
        return self._sha

    @property
    def toml(self):
        """The :class:`mdmtool.tomlio.TomlFile`, or ``None`` when the file is broken.

        Parsed data and key positions are shared by every file with the same content
        (fleets repeat files), so each distinct text is parsed and scanned once.
        """
        if self._toml is None and self.error is None and self.role != SHELL:
            from mdmtool.tomlio import TomlFile, parse_toml
            cached = _PARSED.hit(self.sha)
            if cached is not None:
                self._toml = TomlFile(self.path, self.text, cached[0], _positions=cached[1])
                return self._toml
            data = _with_trust_tail(self.text, self.path)
            if data is None:
                try:
                    data = parse_toml(self.text, self.path)
                except MdmError as exc:
                    self.error = exc
                    return None
            self._toml = TomlFile(self.path, self.text, data)
            _PARSED.put(self.sha, (data, None))
        return self._toml

    def _positions(self) -> dict:
        t = self.toml
        pos = t.positions()
        data, cached = _PARSED.get(self.sha, (t.data, None))
        if cached is None:
            _PARSED.put(self.sha, (data, pos))
        return pos

    @property
    def data(self) -> dict:
        t = self.toml
        return t.data if t is not None else {}

    @property
    def ok(self) -> bool:
        return self.toml is not None if self.role != SHELL else self.error is None

    def locate(self, keypath: Iterable) -> Source:
        t = self.toml
        if t is None:
            return Source(self.path)
        kp = tuple(keypath)
        quick = _quick_locate(self.text, kp)
        if quick is not None:
            return Source(self.path, quick[0], quick[1])
        self._positions()
        if kp and not t.has_position(kp):
            # implicit table ([a.b.c] defines a.b): point at its first written descendant
            hits = [pos for path, pos in t.positions().items()
                    if len(path) > len(kp) and path[:len(kp)] == kp]
            if hits:
                line, col = min(hits)[:2]
                return Source(self.path, line, col)
        return t.locate(kp)

    def get(self, *keypath, default=None):
        cur: Any = self.data
        for k in keypath:
            if not isinstance(cur, dict) or k not in cur:
                return default
            cur = cur[k]
        return cur


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")

#: what Codex appends to a user's config.toml when they trust a project
_TRUST_HEADER = re.compile(r'\[projects\."([^"\\\x00-\x1f\x7f]*)"\][ \t]*')
_TRUST_LEVEL = re.compile(r'trust_level[ \t]*=[ \t]*"(trusted|untrusted)"[ \t]*')


def split_trust_tail(text: str) -> tuple[str, dict[str, dict]] | None:
    """``(head, entries)`` when ``text`` is a head followed only by the trust entries Codex
    appends (``[projects."<path>"]`` + ``trust_level = "..."``), else ``None``.

    Guards (else ``None``): no CR, backslash or other mention of ``projects`` in the head
    (so the head defines no ``projects`` table and the entries are the table's only
    contents), plain entries only, no path twice, and a text small and simple enough that
    :func:`mdmtool.tomlio.parse_toml` runs no extra check on it (a head is a prefix: it
    then runs none either).
    """
    if len(text) > 65536 or text.count(".") > 80 or "\r" in text:
        return None
    if text.startswith('[projects."'):
        cut = 0
    else:
        cut = text.find('\n[projects."') + 1
        if cut == 0:
            return None
    head = text[:cut]
    if "projects" in head or "\\" in head:
        return None
    entries: dict[str, dict] = {}
    current = None
    for line in text[cut:].split("\n"):
        m = _TRUST_HEADER.fullmatch(line)
        if m:
            current = m.group(1)
            if current in entries:
                return None  # declared twice: the full parse reports it
            entries[current] = {}
            continue
        m = _TRUST_LEVEL.fullmatch(line)
        if m and current is not None and not entries[current]:
            entries[current] = {"trust_level": m.group(1)}
            continue
        if line.strip(" \t"):
            return None
    return head, entries


def _with_trust_tail(text: str, path: str) -> dict | None:
    """The data of ``text`` when it is a shared head followed only by trust entries
    (:func:`split_trust_tail`): the head is parsed once for every user who has it (it is
    memoised like a whole file) and the entries are added, which is exactly what a full
    parse gives. Fleets differ per user mostly by these entries, so most "unique" files
    are parsed this way. ``None``: parse it whole."""
    split = split_trust_tail(text)
    if split is None:
        return None
    head, entries = split
    sha = hashlib.blake2b(head.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
    cached = _PARSED.hit(sha)
    if cached is not None:
        head_data = cached[0]
    else:
        from mdmtool.tomlio import parse_toml
        try:
            head_data = parse_toml(head, path)
        except MdmError:
            return None  # the full parse reports the error, positioned in the whole text
        _PARSED.put(sha, (head_data, None))
    if "projects" in head_data:
        return None
    data = dict(head_data)
    data["projects"] = entries
    return data


def _quick_locate(text: str, kp: tuple) -> tuple[int, int] | None:
    """line:col of a simple key without scanning the file: a bare key directly below a
    ``[bare.header]`` (or at the top). ``None`` = use the full scanner."""
    if not kp or len(kp) > 3 or not all(isinstance(k, str) and _BARE_KEY.match(k) for k in kp):
        return None
    table, key = kp[:-1], kp[-1]
    lines = text.split("\n")
    in_table = not table
    header = "[" + ".".join(table) + "]" if table else None
    for i, raw in enumerate(lines):
        s = raw.strip()
        if s.startswith("["):
            if in_table and not table:
                return None  # top-level key not found before the first header
            in_table = s.split("#", 1)[0].strip().replace(" ", "") == header
            continue
        if in_table and (s.startswith(key + " ") or s.startswith(key + "=")):
            rest = s[len(key):].lstrip()
            if rest.startswith("="):
                return i + 1, len(raw) - len(raw.lstrip()) + 1
    return None


@dataclass
class Unit:
    """Files Codex reads together on one machine (a fleet host, this machine, a repo)."""

    name: str
    files: list[LintFile] = field(default_factory=list)
    #: ``--requirements`` file applied to the unit (the admin's fleet-wide requirements)
    requirements_override: LintFile | None = None
    #: per-run memo for unit rules (merged views, resolver results)
    cache: dict = field(default_factory=dict, repr=False)

    def by_role(self, *roles: str) -> list[LintFile]:
        return [f for f in self.files if f.role in roles]

    def one(self, role: str) -> LintFile | None:
        fs = self.by_role(role)
        return fs[0] if fs else None

    @property
    def system_config(self) -> LintFile | None:
        return next((f for f in self.files if f.role == SYSTEM), None)

    @property
    def requirements(self) -> LintFile | None:
        """The requirements that apply: ``--requirements``, else the unit's (system first)."""
        if self.requirements_override is not None:
            return self.requirements_override
        reqs = [f for f in self.files if f.role == REQUIREMENTS]
        for f in reqs:
            if f.host_path and f.host_path.replace("\\", "/").endswith("etc/codex/requirements.toml"):
                return f
        return reqs[0] if reqs else None

    @property
    def managed(self) -> LintFile | None:
        return self.one(MANAGED)

    @property
    def user_config(self) -> LintFile | None:
        """The user's config.toml; a lone standalone config stands in for it."""
        u = self.one(USER)
        if u is not None:
            return u
        st = self.by_role(STANDALONE)
        return st[0] if len(st) == 1 else None

    def subjects(self) -> list[LintFile]:
        """Configs resolved against the requirements: user configs and standalone ones."""
        return self.by_role(USER, STANDALONE)

    def all_files(self) -> list[LintFile]:
        out = list(self.files)
        if self.requirements_override is not None and self.requirements_override not in out:
            out.append(self.requirements_override)
        return out


class Hit:
    """Helper the rules use to build findings with catalog defaults."""

    @staticmethod
    def make(rule: str, file: LintFile, keypath: Iterable | None, message: str, *,
             fix: dict | None = None, severity: str | None = None, remediation: str | None = None,
             source: Source | None = None) -> Finding:
        from mdmtool.lint.catalog import RULES
        meta = RULES[rule]
        kp = tuple(keypath) if keypath is not None else ()
        src = source or (file.locate(kp) if kp else Source(file.path, 1, 1))
        key = ".".join(str(k) for k in kp) if kp else None
        return Finding(rule, severity or meta.severity, message, src,
                       remediation=remediation or meta.remediation, key=key, fix=fix)


hit = Hit.make
