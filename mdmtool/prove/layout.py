"""What an enforcement backend must build for one SandboxSpec, and what it predicts.

A :class:`Layout` is the backend-neutral reading of a policy (enforcement.md §1, §3.2):
writable roots with their protected metadata names, deny-read paths and globs, and the
network mode. Both the bwrap argv and every probe's expected outcome come from it, so
the prediction and the enforcement can only disagree when the backend does.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from mdmtool.errors import MdmError
from mdmtool.model import FsEntry, NetworkPolicy, SandboxSpec

#: Names kept read-only under every writable root, even when missing (0.169 Linux adds .aws).
PROTECTED_NAMES = (".git", ".agents", ".codex", ".aws")

NET_OFF, NET_ON, NET_PROXY, NET_FULL = "off", "on", "proxy", "full"

_GLOB_CHARS = set("*?[")
_SPECIAL_ALIASES = {"project_roots": "workspace_roots", "cwd": "workspace_roots"}


def is_glob(path: str) -> bool:
    return any(c in _GLOB_CHARS for c in path)


def glob_regex(pattern: str) -> re.Pattern[str]:
    """Path glob -> anchored regex: ``*``/``?`` stay inside one component, ``**/`` spans
    zero or more directories, ``[..]`` classes (``!`` negates)."""
    out, i = ["^"], 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[" and pattern.find("]", i + 2) > 0:
            end = pattern.find("]", i + 2)
            body = pattern[i + 1:end]
            if body.startswith("!"):
                body = "^" + body[1:]
            elif body.startswith("^"):
                body = "\\" + body
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    out.append("$")
    return re.compile("".join(out))


def static_prefix(pattern: str) -> str:
    """The directory part of a glob before its first wildcard (where expansion starts)."""
    cut = min((pattern.index(c) for c in _GLOB_CHARS if c in pattern), default=len(pattern))
    head = pattern[:cut]
    return head if head.endswith("/") else os.path.dirname(head) or "/"


def under(path: str, root: str) -> bool:
    """``path`` is ``root`` or inside it (lexically, both normalised absolute paths)."""
    return path == root or path.startswith(root.rstrip("/") + "/")


@dataclass
class Layout:
    """The enforcement plan for one policy (absolute, normalised paths)."""

    cwd: str
    full_access: bool = False  # danger-full-access: no sandbox at all
    network: str = NET_OFF  # off | on | proxy | full
    writable_roots: list[str] = field(default_factory=list)
    deny_paths: list[str] = field(default_factory=list)
    deny_globs: list[str] = field(default_factory=list)
    tmpdir: str | None = None
    proxy: NetworkPolicy | None = None
    notes: list[str] = field(default_factory=list)
    _protected: tuple | None = field(default=None, repr=False, compare=False)

    # ------------------------------------------------------------------ predictions
    def protected_paths(self) -> list[str]:
        """Read-only carve-outs: NAME under every writable root, plus a gitdir target."""
        key = tuple(self.writable_roots)
        if self._protected is not None and self._protected[0] == key:
            return self._protected[1]
        out: list[str] = []
        for root in self.writable_roots:
            for name in PROTECTED_NAMES:
                p = os.path.join(root, name)
                out.append(p)
                target = gitdir_target(p) if name == ".git" else None
                if target:
                    out.append(target)
        self._protected = (key, list(dict.fromkeys(out)))
        return self._protected[1]

    def denied_by_glob(self, path: str) -> str | None:
        for g in self.deny_globs:
            if glob_regex(g).match(path):
                return g
        return None

    def can_read(self, path: str) -> tuple[bool, str]:
        """Predicted read access and the rule that decides it."""
        if self.full_access:
            return True, "danger-full-access: no sandbox"
        for d in self.deny_paths:
            if under(path, d):
                return False, f"deny-read {d}"
        g = self.denied_by_glob(path)
        if g:
            return False, f"deny-read glob {g}"
        return True, "whole filesystem readable"

    def can_write(self, path: str) -> tuple[bool, str]:
        """Predicted write access and the rule that decides it."""
        if self.full_access:
            return True, "danger-full-access: no sandbox"
        for d in self.deny_paths:
            if under(path, d):
                return False, f"deny {d}"
        g = self.denied_by_glob(path)
        if g:
            return False, f"deny glob {g}"
        roots = [r for r in self.writable_roots if under(path, r)]
        if not roots:
            return False, "outside every writable root"
        for p in self.protected_paths():
            if under(path, p):
                return False, f"protected {p} (read-only inside a writable root)"
        return True, f"writable root {max(roots, key=len)}"


def gitdir_target(dot_git: str) -> str | None:
    """The resolved gitdir when ``.git`` is a ``gitdir:`` pointer file (worktrees)."""
    try:
        if not os.path.isfile(dot_git):
            return None
        with open(dot_git, encoding="utf-8", errors="replace") as fh:
            first = fh.readline().strip()
    except OSError:
        return None
    if not first.startswith("gitdir:"):
        return None
    target = first[len("gitdir:"):].strip()
    return os.path.normpath(os.path.join(os.path.dirname(dot_git), target))


def scoped(path: str) -> str | None:
    """The part after a ``:workspace_roots/`` (``:project_roots/``, ``:cwd/``) scope, or the
    path itself when relative; None for absolute / ``~`` paths. Such entries apply under
    every workspace root (cwd, extra roots, --add-dir dirs)."""
    for prefix in (":workspace_roots/", ":project_roots/", ":cwd/"):
        if path.startswith(prefix):
            return path[len(prefix):]
    if path.startswith(("/", "~")):
        return None
    return path[2:] if path.startswith("./") else path


def _special(entry_special: str) -> str:
    name = entry_special.strip().lstrip(":")
    return _SPECIAL_ALIASES.get(name, name)


def from_spec(spec: SandboxSpec, tmpdir: str | None, home: str | None = None) -> Layout:
    """Read a SandboxSpec the way Codex 0.169 enforces it on Linux.

    ``tmpdir`` is the ``$TMPDIR`` the sandboxed command gets (None: unset); ``home``
    expands ``~/`` in paths. Relative and ``:workspace_roots/``-scoped profile paths
    apply under every workspace root. ``fs_entries`` with a ``:root`` entry are the whole
    profile; without one they are layered on the built-in grants of ``spec.mode`` (a
    profile extending ``:workspace`` / ``:read-only`` lists only its own entries).
    """
    if spec.mode not in ("read-only", "workspace-write", "danger-full-access"):
        raise MdmError(f"cannot prove sandbox mode {spec.mode!r} (external-sandbox is "
                       "enforced outside Codex)")
    home = home or os.path.expanduser("~")
    cwd = os.path.normpath(_expand(spec.cwd, home, None))
    lay = Layout(cwd=cwd, tmpdir=tmpdir)
    extra = [os.path.normpath(_expand(r, home, cwd)) for r in spec.writable_roots]
    workspace_roots = [cwd] + extra

    if spec.mode == "danger-full-access":
        lay.full_access, lay.network = True, NET_FULL
        return lay

    roots: list[str] = []
    denies: list[str] = []
    if spec.fs_entries and not any(e.special and _special(e.special) == "root"
                                   for e in spec.fs_entries):
        base = _builtin_roots(spec, workspace_roots, tmpdir)
        lay.notes.append("profile entries layered on the built-in "
                         + (":workspace" if base else ":read-only") + " grants")
        spec = SandboxSpec(**{**spec.__dict__, "fs_entries": [
            FsEntry("read", special=":root"), *[FsEntry("write", path=r) for r in base],
            *spec.fs_entries]})
    if spec.fs_entries:
        has_root_read = False
        for e in spec.fs_entries:
            if e.access not in ("read", "write", "deny", "none"):
                raise MdmError(f"unknown filesystem access {e.access!r} in the policy")
            deny = e.access in ("deny", "none")
            if e.special:
                kind = _special(e.special)
                if kind in ("root", "minimal"):
                    has_root_read |= kind == "root" and e.access in ("read", "write")
                    if kind == "root" and e.access == "write":
                        lay.notes.append(":root = write grants full disk write")
                        roots.append("/")
                    continue
                targets = {"slash_tmp": ["/tmp"], "tmpdir": [tmpdir] if tmpdir else [],
                           "workspace_roots": workspace_roots}.get(kind)
                if targets is None:
                    lay.notes.append(f"unknown special {e.special!r} ignored (as Codex does)")
                    continue
                if e.access == "write":
                    roots += targets
                elif deny:
                    denies += targets
                continue
            raw = e.path or e.glob
            if not raw:
                raise MdmError("a filesystem entry needs a path, a glob or a special")
            rel = scoped(raw)
            targets = [_expand(raw, home, None)] if rel is None else \
                [r if rel in ("", ".") else os.path.join(r, rel) for r in workspace_roots]
            for p in targets:
                if e.access == "write":
                    roots.append(os.path.normpath(p))
                elif deny:
                    denies.append(p if is_glob(p) else os.path.normpath(p))
        if not has_root_read:
            raise MdmError("this policy restricts reads below the filesystem root; "
                           "prove supports full-read policies only (as Codex's bwrap backend)")
        roots += extra
    else:
        roots = _builtin_roots(spec, workspace_roots, tmpdir)
    for d in spec.deny_read:
        p = _expand(d, home, cwd)
        denies.append(p if is_glob(p) else os.path.normpath(p))

    lay.writable_roots = list(dict.fromkeys(roots))
    if "/" in lay.writable_roots and not denies:
        lay.notes.append("full disk write: bwrap still isolates the network")
    lay.deny_paths = list(dict.fromkeys(d for d in denies if not is_glob(d)))
    lay.deny_globs = list(dict.fromkeys(d for d in denies if is_glob(d)))
    lay.proxy = spec.network
    if not spec.network_access:
        lay.network = NET_OFF
    elif spec.network is not None and spec.network.proxy_active:
        lay.network = NET_PROXY
    else:
        lay.network = NET_ON
    return lay


def _builtin_roots(spec: SandboxSpec, workspace_roots: list[str], tmpdir: str | None) -> list[str]:
    """Writable roots of the legacy modes: workspace-write = workspace roots, /tmp, $TMPDIR."""
    if spec.mode != "workspace-write":
        return []
    roots = list(workspace_roots)
    if not spec.exclude_slash_tmp:
        roots.append("/tmp")
    if not spec.exclude_tmpdir_env_var and tmpdir:
        roots.append(tmpdir)
    return roots


def _expand(path: str, home: str, base: str | None) -> str:
    if path == "~" or path.startswith("~/"):
        return home + path[1:]
    if os.path.isabs(path) or base is None:
        if not os.path.isabs(path):
            raise MdmError(f"policy path {path!r} is not absolute")
        return path
    rel = path[2:] if path.startswith("./") else path
    return base if rel in ("", ".") else os.path.join(base, rel)
